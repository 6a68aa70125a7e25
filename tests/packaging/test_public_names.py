"""Every package says what it holds: a docstring and an ``__all__`` of its modules, and every
``__all__`` in a module names something that module defines or imports. Read from the
sources (AST), nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.packaging.test_package_data import PACKAGES, ROOT

# Modules left out of their package's __all__ on purpose, and why.
NOT_EXPORTED = {
    "dbc.build_dbc": "a developer tool that writes infusion.dbc, run as a script",
}
DATA_ONLY = {"configs"}  # holds files, no modules: a docstring, no __all__


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                assert node.value is not None
                value = ast.literal_eval(node.value)
                assert isinstance(value, list | tuple)
                return [str(v) for v in value]
    return None


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):  # definitions under if/try at module level count too
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _submodules(directory: Path) -> set[str]:
    modules = {p.stem for p in directory.glob("*.py") if not p.stem.startswith("_")}
    packages = {p.parent.name for p in directory.glob("*/__init__.py")}
    return modules | packages


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_has_a_docstring_and_exports_its_modules(package: str) -> None:
    directory = PACKAGES[package]
    tree = _tree(directory / "__init__.py")
    assert ast.get_docstring(tree), f"{package}/__init__.py: add a docstring saying what it holds"
    exported = _all(tree)
    if package in DATA_ONLY:
        assert exported is None and not _submodules(directory), f"{package} is data only"
        return
    assert exported is not None, f"{package}/__init__.py: add __all__ listing its modules"
    submodules = _submodules(directory)
    unknown = sorted(set(exported) - submodules - _top_level_names(tree))
    assert not unknown, f"{package}.__all__ names no module or name of the package: {unknown}"
    missing = sorted(name for name in submodules - set(exported)
                     if f"{package}.{name}" not in NOT_EXPORTED)
    assert not missing, (
        f"{package}.__all__ lacks modules {missing}: add them to the __all__ of "
        f"{directory.relative_to(ROOT)}/__init__.py, or to NOT_EXPORTED in this test with why")


def _modules_with_all() -> list[tuple[str, Path]]:
    found = []
    for package, directory in PACKAGES.items():
        for path in sorted(directory.glob("*.py")):
            if path.stem != "__init__" and "__all__" in path.read_text(encoding="utf-8"):
                found.append((f"{package}.{path.stem}", path))
    return found


@pytest.mark.parametrize(("module", "path"), _modules_with_all(), ids=lambda v: str(v))
def test_a_modules_all_names_what_it_defines(module: str, path: Path) -> None:
    tree = _tree(path)
    exported = _all(tree)
    assert exported is not None, f"{module}: __all__ is not a literal list at the top level"
    unknown = sorted(set(exported) - _top_level_names(tree))
    assert not unknown, f"{module}.__all__ names what the module does not define: {unknown}"
    assert len(exported) == len(set(exported)), f"{module}.__all__ repeats a name"


@pytest.mark.parametrize("package", ["dbc", "channels", "pumps"])
def test_the_contract_and_both_sides_declare_their_public_names(package: str) -> None:
    # The lower layers are what everyone imports: each module says what it offers.
    without = sorted(p.stem for p in PACKAGES[package].glob("*.py")
                     if not p.stem.startswith("_") and f"{package}.{p.stem}" not in NOT_EXPORTED
                     and _all(_tree(p)) is None)
    assert not without, f"{package} modules without __all__: {without}"
