"""What every bench script shares: its place on the import path, its command line's ``--output``,
the machine and versions its figures were measured with, and writing its results file.

A script starts, after its standard-library imports, with the one line that cannot live here
(it is how ``bench.harness`` is found)::

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

    from bench.harness import ...

and, as ruff allows imports after a ``sys.path.insert``, needs no ``noqa``. Importing this
module then takes ``bench/`` itself off the path: ``python bench/NAME.py`` puts it first, and
``bench/workstation.py`` and ``bench/tui.py`` would shadow the ``workstation`` and ``tui``
packages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"

sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
if str(REPO) not in sys.path:  # imported without the script's line (e.g. python -m bench.NAME)
    sys.path.insert(0, str(REPO))


def parser(doc: str | None, name: str) -> argparse.ArgumentParser:
    """The script's parser: its docstring's first paragraph as description, and ``--output``
    (default ``bench/results/NAME.json``)."""
    p = argparse.ArgumentParser(description=(doc or name).split("\n\n")[0])
    p.add_argument("--output", type=Path, default=RESULTS / f"{name}.json",
                   help=f"results file (default bench/results/{name}.json)")
    return p


def environment(*packages: str) -> dict[str, Any]:
    """When and on what the figures were measured: UTC time, Python, machine, CPUs, and the
    versions of ``packages`` (distribution names; keys with ``_`` for ``-``)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        **{name.replace("-", "_"): version(name) for name in packages},
        "machine": platform.machine(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
    }


def read_results(path: Path) -> dict[str, Any]:
    """The last results in ``path`` (for a run that updates some parts), else ``{}``."""
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or cut short: start afresh
        return {}
    return report if isinstance(report, dict) else {}


def write_results(path: Path, report: Mapping[str, Any], *, before: str = "") -> None:
    """Write ``report`` as indented JSON (folders created) and say where, after ``before``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    shown = path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path
    print(f"{before}wrote {shown}", flush=True)
