"""Pharmacy rules over a whole drug library, checked when it loads (and when built in code).

Each problem is one line that names where it is (care area, drug, field) and what to change:
- one dose unit per drug across care areas (heparin in units/h here and units/kg/h there is
  a tenfold-class error waiting for a nurse who moves between units);
- every high-alert drug has a hard minimum and a hard maximum, and its hard maximum is at most
  ``TENFOLD_RATIO`` x its soft maximum, so that a tenfold slip of any dose above a fifth of the
  usual maximum is BLOCKED, not a soft confirmation (noradrenaline 0.3 keyed 3.0);
- a bolus states its minimum interval and its hourly limits, and its rate is within the drug's
  and the care area's rate caps.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # druglib imports this module: types only, no runtime cycle
    from channels.druglib import CareArea, Drug, DrugLibrary

__all__ = ["problems", "search"]

TENFOLD_RATIO = 2.0  # hard_max <= 2 x soft_max: 10 x (soft_max / 5) is above hard_max
_WORD = re.compile(r"[a-z0-9]+")


def search(drugs: list[Drug], text: str) -> list[Drug]:
    """Drugs whose id, name or a synonym has a word starting with ``text`` (any case)."""
    query = text.strip().lower()
    if not query:
        return list(drugs)

    def words(drug: Drug) -> list[str]:
        names = [drug.id, drug.name, *drug.synonyms]
        out = [w for name in names for w in _WORD.findall(name.lower())]
        return out + [name.lower() for name in names]  # 'sodium chl' matches the phrase

    return [d for d in drugs if any(w.startswith(query) for w in words(d))]


def problems(library: DrugLibrary) -> list[str]:
    out: list[str] = []
    out += _one_dose_unit(library)
    for i, area in enumerate(library.care_areas):
        for j, drug in enumerate(area.drugs):
            where = f"care_areas[{i}].drugs[{j}] ({area.id}/{drug.id})"
            out += _tenfold(drug, where)
            out += _bolus(area, drug, where)
    return out


def _one_dose_unit(library: DrugLibrary) -> list[str]:
    first: dict[str, tuple[str, str]] = {}  # drug id -> (unit, care area)
    out = []
    for i, area in enumerate(library.care_areas):
        for j, drug in enumerate(area.drugs):
            unit = str(drug.dose_unit)
            seen = first.setdefault(drug.id, (unit, area.id))
            if seen[0] != unit:
                out.append(f"care_areas[{i}].drugs[{j}].dose_unit ({area.id}/{drug.id}): "
                           f"{drug.id} is dosed in {unit} here but in {seen[0]} in {seen[1]}: "
                           "use one dose unit per drug in every care area")
    return out


def _tenfold(drug: Drug, where: str) -> list[str]:
    if not drug.high_alert:
        return []
    lim, unit = drug.limits, drug.dose_unit
    missing = [name for name in ("soft_min", "soft_max", "hard_min", "hard_max")
               if getattr(lim, name) is None]
    if missing:
        return [f"{where}.limits: a high-alert drug needs {', '.join(missing)} "
                "(hard_min where under-dosing harms, hard_max to block a tenfold error)"]
    assert lim.hard_max is not None and lim.soft_max is not None
    if lim.hard_max > TENFOLD_RATIO * lim.soft_max:
        return [f"{where}.limits.hard_max: {lim.hard_max:g} {unit} is more than "
                f"{TENFOLD_RATIO:g} x soft_max {lim.soft_max:g}: a tenfold error "
                f"(e.g. {lim.hard_max / 10 * 0.99:.3g} keyed as {lim.hard_max * 0.99:.3g}) "
                "would only need a confirmation; lower hard_max to at most "
                f"{TENFOLD_RATIO * lim.soft_max:g}"]
    return []


def _bolus(area: CareArea, drug: Drug, where: str) -> list[str]:
    bolus = drug.bolus
    if bolus is None:
        return []
    out = []
    if bolus.min_interval_min is None or bolus.max_doses_per_hour is None or \
            bolus.max_amount_per_hour is None:
        out.append(f"{where}.bolus: state min_interval_min, max_doses_per_hour and "
                   "max_amount_per_hour (the bolus lockout and the cumulative limit)")
    caps = [(area.max_rate_ml_h, f"the {area.id} care area's max_rate_ml_h")]
    if drug.max_rate_ml_h is not None:
        caps.append((drug.max_rate_ml_h, f"{drug.id}'s max_rate_ml_h"))
    cap, whose = min(caps)
    if bolus.rate_ml_h > cap:
        out.append(f"{where}.bolus.rate_ml_h: {bolus.rate_ml_h:g} mL/h is above {whose} "
                   f"{cap:g} mL/h: a bolus runs within the same rate caps")
    return out
