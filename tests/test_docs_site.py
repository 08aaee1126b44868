"""The documentation site's pages: every Python snippet runs as pasted, and
every public name the API reference lists has a docstring.

The site itself is built by ``.ci/run`` with ``python -m sphinx -W``."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import xarray as xr

from hmm.cli import main

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", page.read_text(), flags=re.S | re.M)


GUIDES = [p for p in sorted((DOCS / "guide").glob("*.md")) if python_blocks(p)]  # pages with code to run


def run_page(page: Path) -> dict:
    namespace: dict = {"__name__": "__main__"}
    for code in python_blocks(page):
        exec(compile(code, str(page), "exec", dont_inherit=True), namespace)  # as pasted
    return namespace


@pytest.mark.parametrize("page", GUIDES, ids=[p.stem for p in GUIDES])
def test_guide_snippets_run_as_pasted(page, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace = run_page(page)
    assert capsys.readouterr().out.strip(), f"{page.name}: the snippets print nothing to check"
    if page.stem == "writing-a-macro-law":
        # the backward-Euler recursion u_n+1 = (u_n + 0.5 dt) / (1 + lam dt) in closed form, to Newton's tolerance
        u, exact = namespace["u"], namespace["exact"]
        assert abs(u - exact).max() < 1e-9
    if page.stem == "equation-free":
        folds = sorted(lam for lam, _ in namespace["branch"].fold_points())
        # y^3/3 - y + lambda = 0 folds at lambda = +-2/3; the coarse map's error is O(eps) = 1e-5
        assert folds == pytest.approx([-2 / 3, 2 / 3], abs=1e-3)


def test_getting_started_reads_the_file_the_first_command_writes(tmp_path, monkeypatch, capsys):
    """The first command's config (made coarse, same structure), then the page's snippets on its file."""
    toml = (DOCS.parent / "examples" / "layered_diffusion.toml").read_text()
    toml = toml.replace("cells = [20, 20]", "cells = [6, 6]").replace("t_end = 0.1", "t_end = 0.02")
    assert "cells = [6, 6]" in toml and "t_end = 0.02" in toml
    (tmp_path / "layered.toml").write_text(toml)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "layered.toml", "--scheduler", "sync", "--no-progress"]) == 0
    run_page(DOCS / "getting-started.md")
    out = capsys.readouterr().out
    assert "fresh micro runs" in out
    ds = xr.load_dataset(tmp_path / "results" / "layered_diffusion.nc")
    assert int(ds["micro_runs"].sum()) > 0


@pytest.mark.parametrize("package", ["hmm", "hmm.uq", "macro", "oracles", "adaptivity"])
def test_every_public_name_has_a_docstring(package):
    module = importlib.import_module(package)
    missing = []
    for name in module.__all__:
        obj = getattr(module, name)
        if callable(obj) and not (getattr(obj, "__doc__", None) or "").strip():
            missing.append(name)
    assert not missing, f"{package}: public names without a docstring: {missing}"
