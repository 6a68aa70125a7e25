"""One direction of dependencies: the import-linter contracts in ``pyproject.toml`` hold.

dbc <- {channels, pumps} <- workstation <- tui <- icu_ws (docs/architecture.md). The contracts
are checked on the real tree, and on copies of it with one forbidden import added, to show the
check fails and names the offending import. The real tree is only read.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = REPO / "pyproject.toml"


def _pyproject() -> dict[str, Any]:
    with PYPROJECT.open("rb") as f:
        return tomllib.load(f)


def _root_packages() -> list[str]:
    roots: list[str] = _pyproject()["tool"]["importlinter"]["root_packages"]
    return roots


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` of this venv, on the packages and pyproject.toml found in ``cwd``."""
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), f"{exe} missing: install the test extras (pip install -e '.[test]')"
    # lint-imports puts cwd first on sys.path, so a copied tree shadows the editable install;
    # --no-cache leaves no cache directory behind; a wide console keeps import lines unwrapped.
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([str(exe), "--no-cache", "--no-logo"], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_every_package_is_under_contract() -> None:
    """A new top-level package must join the contracts, or it could import anything."""
    include = _pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    shipped = {pattern.rstrip("*.") for pattern in include}
    assert shipped == set(_root_packages()), (
        "[tool.importlinter] root_packages must list every package in "
        "[tool.setuptools.packages.find] include, and give it a place in the layers contract"
    )
    contracts = _pyproject()["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    layered = {name.strip() for layer in layers for name in layer.split("|")}
    assert layered == set(_root_packages()), "every root package needs a layer, and only those"


def test_the_contracts_hold() -> None:
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " broken" in result.stdout and "0 broken" in result.stdout, result.stdout


# (file to edit, line to append, the import lint-imports must name)
FORBIDDEN_IMPORTS = [
    pytest.param("channels/__init__.py", "import tui", "channels -> tui", id="channels-tui"),
    pytest.param("dbc/__init__.py", "import workstation", "dbc -> workstation", id="dbc-ws"),
    pytest.param("dbc/__init__.py", "import configs", "dbc -> configs", id="dbc-configs"),
    pytest.param("tui/__init__.py", "import icu_ws", "tui -> icu_ws", id="tui-icu_ws"),
    pytest.param("pumps/__init__.py", "import channels", "pumps -> channels", id="pumps-channels"),
    pytest.param("channels/__init__.py", "import pumps", "channels -> pumps", id="channels-pumps"),
    pytest.param("workstation/api.py", "import pumps.rack", "workstation.api -> pumps.rack",
                 id="api-pumps"),
    pytest.param("workstation/api.py", "import workstation.demo",
                 "workstation.api -> workstation.demo", id="api-demo"),
]


@pytest.mark.parametrize(("path", "line", "offence"), FORBIDDEN_IMPORTS)
def test_a_forbidden_import_breaks_the_contracts(tmp_path: Path, path: str, line: str,
                                                 offence: str) -> None:
    for package in _root_packages():
        shutil.copytree(REPO / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(PYPROJECT, tmp_path / "pyproject.toml")
    target = tmp_path / path
    target.write_text(target.read_text() + f"\n{line}  # added by the test\n")

    result = _lint_imports(tmp_path)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert offence in result.stdout, result.stdout
