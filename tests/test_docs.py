"""The code in docs/writing-an-oracle.md runs as pasted."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import xarray as xr

from hmm.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "writing-an-oracle.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", DOC.read_text(), flags=re.S | re.M)


def test_the_python_snippets_run_in_order(capsys):
    namespace: dict = {}
    for code in blocks("python"):
        exec(compile(code, str(DOC), "exec", dont_inherit=True), namespace)  # as pasted: no __future__ flags
    assert "does not honour Budget.target_stderr" in capsys.readouterr().out
    # the sampled oracle's stderr is the correlation-aware one: with phi = 0.9 the naive stderr of the
    # 80000 pooled samples would be sqrt((1 - phi) / (1 + phi)) ~ 0.23 of it
    est = namespace["est"]
    naive = 0.5 / np.sqrt(4 * 20000)
    assert est.stderr[0] > 3 * naive


def test_the_toml_snippet_runs_the_documented_oracle_through_hmm_run(tmp_path, monkeypatch):
    (tmp_path / "my_fluids.py").write_text(blocks("python")[0])
    (tmp_path / "my_channel.toml").write_text(blocks("toml")[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert main(["run", "my_channel.toml", "--scheduler", "sync", "--no-progress",
                 "--out", "channel.nc"]) == 0
    ds = xr.load_dataset(tmp_path / "channel.nc")
    u, y = ds["u"].values, ds["x"].values
    # steady channel flow d tau/dy + f = 0, no slip: tau = f (1/2 - y), so mu g + c g^3 = f (1/2 - y)
    # for the shear rate g = du/dy; integrate that closed form from the wall (fine trapezoid rule)
    mu, c, f = 2.0, 0.5, 4.0
    fine = np.linspace(0.0, 0.5, 4001)
    shear = np.array([np.roots([c, 0.0, mu, -f * (0.5 - s)])[-1].real for s in fine])
    profile = np.concatenate([[0.0], np.cumsum((shear[1:] + shear[:-1]) / 2 * np.diff(fine))])
    exact = np.interp(np.minimum(y, 1 - y), fine, profile)
    # a second-order finite-volume scheme on 32 cells (error ~ h^2 max|d3u/dy3| / 8 ~ 1e-3 here) and a
    # stress noise of 0.01 / sqrt(100) Pa per face (moves u by ~ 1e-3 / mu); 1e-2 bounds both
    assert np.max(np.abs(u - exact)) < 1e-2 and np.all(u > 0)


README = DOC.parents[1] / "README.md"


def test_the_readme_snippets_run_as_pasted(capsys):
    """The README's Python snippet, on a real embedded cluster under its __main__ guard."""
    snippets = re.findall(r"^```python\n(.*?)^```$", README.read_text(), flags=re.S | re.M)
    assert len(snippets) == 1 and 'if __name__ == "__main__":' in snippets[0]
    for code in snippets:
        exec(compile(code, str(README), "exec", dont_inherit=True), {"__name__": "__main__"})
    out = capsys.readouterr().out
    assert "flux_x_stderr" in out and "fresh_runs=" in out


def test_the_config_reference_is_generated_from_the_schema():
    """docs/config-reference.md is what docs/make_config_reference.py writes now (regenerate it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_config_reference", DOC.parent / "make_config_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (DOC.parent / "config-reference.md").read_text()
    assert page == module.render()
    for section in ("[oracle]", "[macro]", "[run]", "[budget]", "[coupler]", "[output]"):
        assert f"## `{section}`" in page
    assert "`checkpoint`" in page and "`target_stderr`" in page
