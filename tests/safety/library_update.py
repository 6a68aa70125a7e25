"""The pharmacy's library update, as the stateful machine loads it at a workstation restart.

H3 came from an update that withdrew a running concentration: titration and boluses then fell
back to the library's first concentration (2x the dose). The update drawn here withdraws every
drug's first concentration (the one the machine starts both lines on) and reverses the rest, so
no library index still means what it meant; a drug with one concentration keeps it.
"""

from __future__ import annotations

from channels.druglib import DrugLibrary


def withdrawn_first_concentrations(library: DrugLibrary, version: str) -> DrugLibrary:
    data = library.model_dump(mode="json")
    data["version"] = version
    data["digest"] = ""
    for area in data["care_areas"]:
        for drug in area["drugs"]:
            concentrations = drug["concentrations"]
            if len(concentrations) > 1:
                drug["concentrations"] = list(reversed(concentrations[1:]))
    return DrugLibrary.model_validate(data)
