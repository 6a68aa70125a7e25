"""Package data in pyproject.toml matches the data the code opens, without building a wheel.

The code finds its data files with ``importlib.resources.files("PACKAGE") / "name"`` (the DBC,
the styles, the example configs, the drug library); a wheel holds only what
``[tool.setuptools.package-data]`` lists. So: every such reference names a file that exists in
a shipped package and that package-data matches, and every non-Python file inside a package is
shipped unless NOT_SHIPPED says why not. A data file added without a package-data line fails
here, not in an installed wheel (scripts/wheel_smoke.sh checks the built wheel itself).
"""

from __future__ import annotations

import ast
import fnmatch
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]
PACKAGE_DATA: dict[str, list[str]] = SETUPTOOLS["package-data"]

# Files inside a package directory that the wheel leaves out on purpose, and why.
NOT_SHIPPED = {
    "dbc/README.md": "the bus documentation, read in the repository",
    "configs/mosquitto/*": "the production broker's config and ACLs, for the broker host",
}
# What the scanner must find, so that a change in how the code spells a resource look-up
# cannot make the reference test pass by finding nothing.
EXPECTED = {
    "dbc/infusion.dbc",
    "tui/styles.tcss",
    "tui/screens/forms.tcss",
    "tui/screens/views.tcss",
    "tui/monitor/monitor.tcss",
    "configs/drug-library/adult-icu.toml",
    "configs/workstation.toml",
}


def _packages() -> dict[str, Path]:
    """Dotted name -> directory of every package ``packages.find`` includes (regular ones)."""
    include = SETUPTOOLS["packages"]["find"]["include"]
    found = {}
    for init in sorted(ROOT.rglob("__init__.py")):
        rel = init.parent.relative_to(ROOT)
        if ".venv" in rel.parts or any(part.startswith(".") for part in rel.parts):
            continue
        name = ".".join(rel.parts)
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in include):
            found[name] = init.parent
    return found


PACKAGES = _packages()


def _owner(path: Path) -> str:
    """The package a file belongs to: its nearest directory with an ``__init__.py``."""
    for parent in path.parents:
        name = ".".join(parent.relative_to(ROOT).parts)
        if name in PACKAGES:
            return name
    raise AssertionError(f"{path.relative_to(ROOT)} is in no shipped package")


def _shipped(package: str) -> set[Path]:
    """The files package-data puts in the wheel for this package (setuptools globs them)."""
    patterns = PACKAGE_DATA.get("*", []) + PACKAGE_DATA.get(package, [])
    directory = PACKAGES[package]
    return {p for pattern in patterns for p in directory.glob(pattern) if p.is_file()}


@dataclass(frozen=True)
class Reference:
    where: str  # file:line of the look-up
    package: str
    parts: tuple[str, ...]
    call: tuple[str, int, int]  # the files() call: file, line, column

    @property
    def path(self) -> Path:
        return PACKAGES[self.package].joinpath(*self.parts) if self.package in PACKAGES \
            else ROOT.joinpath(*self.package.split("."), *self.parts)


def _is_files_call(node: ast.expr) -> str | None:
    """``files("pkg")`` or ``importlib.resources.files("pkg")``: the package name, else None."""
    if not (isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords):
        return None
    func = node.func
    named = (isinstance(func, ast.Name) and func.id == "files") or (
        isinstance(func, ast.Attribute) and func.attr == "files")
    arg = node.args[0]
    if named and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    return None


def _references() -> list[Reference]:
    """Every ``files("pkg") / "a" / "b"`` in the shipped packages' sources."""
    found = []
    for directory in PACKAGES.values():
        for source in sorted(directory.glob("*.py")):
            tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
            for node in ast.walk(tree):
                if not (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)):
                    continue
                parts: list[str] = []
                left: ast.expr = node
                while isinstance(left, ast.BinOp) and isinstance(left.op, ast.Div) \
                        and isinstance(left.right, ast.Constant) \
                        and isinstance(left.right.value, str):
                    parts.insert(0, left.right.value)
                    left = left.left
                target = _is_files_call(left)
                if target is not None:
                    where = f"{source.relative_to(ROOT)}:{left.lineno}"
                    call = (str(source), left.lineno, left.col_offset)
                    found.append(Reference(where, target, tuple(parts), call))
    # a/b/c parses as (a/b)/c: keep only the longest chain from each files() call
    return [r for r in found if not any(o.call == r.call and len(o.parts) > len(r.parts)
                                        for o in found)]


REFERENCES = _references()


def test_the_scanner_finds_every_known_data_look_up() -> None:
    seen = {str(r.path.relative_to(ROOT)) for r in REFERENCES}
    assert seen >= EXPECTED, f"look-ups not found by the scanner: {sorted(EXPECTED - seen)}"


@pytest.mark.parametrize("ref", REFERENCES, ids=lambda r: r.where)
def test_every_data_look_up_is_a_shipped_file(ref: Reference) -> None:
    rel = ref.path.relative_to(ROOT)
    assert ref.package in PACKAGES, (
        f"{ref.where}: files({ref.package!r}) names no package that packages.find includes; "
        "add it to [tool.setuptools.packages.find] include (with an __init__.py)")
    assert ref.path.is_file(), f"{ref.where}: {rel} does not exist"
    assert ref.path in _shipped(ref.package), (
        f"{ref.where}: {rel} is not in [tool.setuptools.package-data] {ref.package!r}; "
        "add a pattern that matches it, or the wheel lacks it")


def _not_shipped_reason(rel: str) -> str | None:
    return next((why for pattern, why in NOT_SHIPPED.items()
                 if fnmatch.fnmatchcase(rel, pattern)), None)


def test_every_data_file_in_a_package_is_shipped_or_excused() -> None:
    forgotten = []
    for package, directory in PACKAGES.items():
        for path in directory.rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} \
                    or "__pycache__" in path.parts or _owner(path) != package:
                continue
            rel = str(path.relative_to(ROOT))
            if path not in _shipped(package) and _not_shipped_reason(rel) is None:
                forgotten.append(rel)
    assert not forgotten, (
        f"data files the wheel would leave out: {forgotten}; add them to "
        "[tool.setuptools.package-data] in pyproject.toml, or to NOT_SHIPPED here with why")


def test_excused_files_are_really_left_out() -> None:
    # An exclusion that no longer matches anything, or matches a shipped file, is stale.
    for pattern in NOT_SHIPPED:
        matches = [p for p in ROOT.glob(pattern) if p.is_file()]
        assert matches, f"NOT_SHIPPED {pattern!r} matches no file"
        for path in matches:
            assert path not in _shipped(_owner(path)), f"{pattern!r}: {path} is shipped"


@pytest.mark.parametrize("package", sorted(p for p in PACKAGES if "." not in p))
def test_every_top_level_package_is_typed(package: str) -> None:
    # PEP 561: py.typed in a top-level package covers its subpackages.
    marker = PACKAGES[package] / "py.typed"
    assert marker.is_file() and marker in _shipped(package), f"{package}: py.typed not shipped"
