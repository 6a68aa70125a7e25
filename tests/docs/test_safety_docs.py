"""The safety documents stay true: every hazard names tests that exist, and every hazard the
issues named has its row."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HAZARDS = ROOT / "docs" / "safety" / "hazards.md"
TEST_ID = re.compile(r"(tests/[\w/]+\.py)::([\w:]+)")
REQUIRED = [f"H{n}" for n in range(1, 20)]


def _rows() -> list[list[str]]:
    rows = []
    for line in HAZARDS.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and re.fullmatch(r"[A-Z]+\d+", cells[0]):
            rows.append(cells)
    return rows


def _defined(path: Path) -> set[str]:
    """``test_x`` and ``TestClass::test_x`` names defined in a test module."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def methods(cls: ast.ClassDef) -> set[str]:
        # A scenario class per transport inherits its tests from a base in the same module.
        own = {item.name for item in cls.body
               if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)}
        for base in cls.bases:
            if isinstance(base, ast.Name) and base.id in classes:
                own |= methods(classes[base.id])
        return own

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)  # a Hypothesis machine's TestCase, or a test class
            names.update(f"{node.name}::{name}" for name in methods(node))
        elif isinstance(node, ast.Assign):  # TestX = Machine.TestCase
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_every_hazard_row_has_mitigation_and_verification() -> None:
    rows = _rows()
    assert rows, f"{HAZARDS} has no hazard rows"
    for cells in rows:
        assert len(cells) == 7, f"{cells[0]}: expected 7 columns, got {len(cells)}"
        assert cells[4], f"{cells[0]}: no mitigation"
        assert TEST_ID.search(cells[5]), f"{cells[0]}: names no test (tests/x.py::test_y)"


def test_every_named_test_exists() -> None:
    missing = []
    for cells in _rows():
        for path, name in TEST_ID.findall(cells[5]):
            file = ROOT / path
            if not file.exists() or name not in _defined(file):
                missing.append(f"{cells[0]}: {path}::{name}")
    assert not missing, "hazards.md names tests that do not exist:\n" + "\n".join(missing)


@pytest.mark.parametrize("hazard", REQUIRED)
def test_every_reported_hazard_has_a_row(hazard: str) -> None:
    assert hazard in {cells[0] for cells in _rows()}, f"{hazard} has no row in {HAZARDS}"


def test_the_checker_notices_a_missing_test(tmp_path: Path) -> None:
    # The table check must be able to fail: a made-up name is not found.
    probe = tmp_path / "t.py"
    probe.write_text("def test_real():\n    pass\n\n"
                     "class Base:\n    def test_inherited(self):\n        pass\n\n"
                     "class TestOne(Base):\n    pass\n")
    assert "test_real" in _defined(probe)
    assert "TestOne::test_inherited" in _defined(probe)
    assert "test_made_up" not in _defined(probe)
    assert "TestOne::test_made_up" not in _defined(probe)
