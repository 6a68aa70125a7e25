"""docs/safety/state-machines.md is drawn from the tables the code runs on."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "state_machines_doc", ROOT / "scripts" / "state_machines_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_document_matches_the_tables() -> None:
    doc = _generator()
    assert doc.DOC.read_text() == doc.render(), \
        "docs/safety/state-machines.md is out of date: run python scripts/state_machines_doc.py"


def test_document_shows_every_state_and_step() -> None:
    from channels.programming import Step
    from dbc.vocabulary import PumpState

    text = _generator().render()
    for name in [*(s.name for s in PumpState), *(s.name for s in Step)]:
        assert f"| {name} |" in text, f"{name} missing from the generated tables"
