"""The import structure of DESIGN.md, checked on the source tree (no imports executed).

* ``hmm`` imports ``oracles`` only inside functions (through the registry);
* ``oracles`` imports from ``hmm`` only ``hmm.contract``;
* ``hmm.contract`` imports nothing else of the project;
* ``macro`` and ``adaptivity`` import neither ``hmm``, ``oracles`` nor Dask;
* validation studies live outside the installed packages;
* examples are wiring (< 300 lines) and import no private module of the packages.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hmm", "oracles", "macro", "adaptivity")


def imported(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, imported at module level) of every import in ``path``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = path.relative_to(ROOT).parent.parts
    top_level = {id(node) for stmt in tree.body for node in ast.walk(stmt)
                 if not isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    top_level |= {id(node) for cls in tree.body if isinstance(cls, ast.ClassDef)
                  for node in cls.body if isinstance(node, (ast.Import, ast.ImportFrom))}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                names = [".".join([*base, node.module] if node.module else base)]
            else:
                names = [node.module or ""]
        else:
            continue
        out += [(name, id(node) in top_level) for name in names]
    return out


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def root(name: str) -> str:
    return name.split(".")[0]


@pytest.mark.parametrize("path", sources("hmm"), ids=lambda p: str(p.relative_to(ROOT)))
def test_hmm_imports_oracles_only_inside_functions(path):
    assert not [n for n, top in imported(path) if top and root(n) == "oracles"]


@pytest.mark.parametrize("path", sources("oracles"), ids=lambda p: str(p.relative_to(ROOT)))
def test_oracles_import_only_the_contract_of_hmm(path):
    assert all(n == "hmm.contract" for n, _ in imported(path) if root(n) == "hmm")


def test_the_contract_imports_nothing_of_the_project():
    assert not [n for n, _ in imported(ROOT / "hmm" / "contract.py") if root(n) in PACKAGES]


@pytest.mark.parametrize("path", sources("macro") + sources("adaptivity"), ids=lambda p: str(p.relative_to(ROOT)))
def test_macro_and_adaptivity_import_neither_hmm_oracles_nor_dask(path):
    assert not [n for n, _ in imported(path) if root(n) in ("hmm", "oracles", "dask", "distributed")]


def test_validation_studies_are_not_installed():
    assert not (ROOT / "hmm" / "validation").exists() and (ROOT / "validation").is_dir()


@pytest.mark.parametrize("path", sorted((ROOT / "examples").glob("*.py")), ids=lambda p: p.name)
def test_examples_are_wiring_over_public_modules(path):
    assert len(path.read_text().splitlines()) < 300
    private = [n for n, _ in imported(path)
               if root(n) in PACKAGES and any(part.startswith("_") for part in n.split(".")[1:])]
    assert not private
