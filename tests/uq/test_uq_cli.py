"""`hmm run` with a [uq] section: validation before anything runs, and end to end (subprocess) runs.

The ensemble run goes through the embedded LocalCluster (real scheduler and worker processes); the
Sobol' run in process ("sync"). Both read back the netCDF file they wrote.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from scipy import stats

from hmm.config import parse_config
from hmm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

BASE = """
title = "uq small"
[oracle]
kind = "carreau_shear_stress"
noise = 0.02
[macro]
cells = [8]
source = 4.0
rename = {{ grad_x = "shear_rate", flux = "shear_stress" }}
[run]
mode = "steady"
[budget]
sampling_steps = 16
[coupler]
{coupler}
[output]
path = "{out}"
[uq]
{uq}
"""

SOBOL = """method = "sobol"
n = 8
goal = "flow_rate"
[uq.parameters]
eta0 = { dist = "uniform", low = 0.8, high = 1.2 }
power_index = { dist = "norm", loc = 0.4, scale = 0.02 }
"""


def _data(uq: str, coupler: str = 'scheduler = "sync"', out: str = "out.nc") -> dict:
    import tomllib

    return tomllib.loads(BASE.format(uq=uq, coupler=coupler, out=out))


def _cli(tmp_path, text: str, *extra: str) -> subprocess.CompletedProcess:
    cfg = tmp_path / "uq.toml"
    cfg.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hmm", "run", str(cfg), "--no-progress", *extra],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)


def test_ensemble_end_to_end_on_a_real_cluster(tmp_path):
    out = tmp_path / "ens.nc"
    uq = 'method = "ensemble"\nn = 6\nseed = 3\ngoal = "flow_rate"\nconfidence = 0.9'
    proc = _cli(tmp_path, BASE.format(uq=uq, coupler="seed = 0", out=out.as_posix()), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "ensemble uq, 6 run(s); goal flow_rate" in proc.stdout and "LocalCluster" in proc.stdout
    ds = xr.load_dataset(out)
    assert ds.attrs["uq_method"] == "ensemble" and ds.attrs["uq_n"] == 6 and ds.attrs["uq_confidence"] == 0.9
    for name in ("u", "u_stderr", "u_spread", "u_lower", "u_upper"):
        assert ds[name].dims == ("x",) and ds[name].attrs["units"] == ds["u"].attrs["units"]
    t = stats.t.ppf(0.95, 5)
    np.testing.assert_allclose(ds["u_upper"] - ds["u"], t * ds["u_stderr"], rtol=1e-12)
    assert np.all(ds["u_spread"].values > 0) and ds.sizes["member"] == 6
    assert len(set(ds["member_seed"].values.tolist())) == 6 and np.all(ds["member_micro_runs"].values > 0)
    assert ds["goal_mean"] == pytest.approx(float(ds["goal"].mean()), rel=1e-14)
    assert ds.attrs["micro_runs"] == int(ds["member_micro_runs"].sum())


def test_sobol_end_to_end(tmp_path):
    out = tmp_path / "sobol.nc"
    proc = _cli(tmp_path, BASE.format(uq=SOBOL, coupler='scheduler = "sync"', out=out.as_posix()))
    assert proc.returncode == 0, proc.stderr
    assert "sobol uq, 32 design points x 1 run(s)" in proc.stdout and "aleatoric" in proc.stdout
    ds = xr.load_dataset(out)
    assert list(ds["parameter"].values) == ["eta0", "power_index"] and ds["design"].shape == (32, 2)
    for name in ("sobol_first", "sobol_first_conf", "sobol_total", "sobol_total_lower", "sobol_total_upper"):
        assert ds[name].dims == ("parameter",) and ds[name].attrs["units"] == "1"
    assert ds["variance_total"] == pytest.approx(float(ds["variance_aleatoric"] + ds["variance_epistemic"]))
    assert ds["variance_aleatoric"] > 0 and ds["variance_epistemic"] > 0
    assert np.all((ds["design"].values[:, 0] >= 0.8) & (ds["design"].values[:, 0] <= 1.2))
    assert ds.attrs["distribution_power_index"] == "norm(loc=0.4, scale=0.02)"
    assert ds.attrs["uq_method"] == "sobol" and ds.attrs["title"] == "uq small"


def test_bad_uq_config_exits_2_without_a_traceback(tmp_path):
    uq = SOBOL.replace("eta0 = {", "viscosity = {")
    proc = _cli(tmp_path, BASE.format(uq=uq, coupler='scheduler = "sync"', out=(tmp_path / "x.nc").as_posix()))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "uq.parameters.viscosity: not a parameter of CarreauShearStress" in proc.stderr
    assert not (tmp_path / "x.nc").exists()


@pytest.mark.parametrize("uq, match", [
    (SOBOL.replace('low = 0.8, high = 1.2', 'low = 1.2, high = 0.8'), r"uq.parameters.*eta0.*low < high"),
    (SOBOL.replace('dist = "norm"', 'dist = "normal"'), r"uq.parameters.*power_index.*continuous distribution"),
    (SOBOL.replace('scale = 0.02', 'scale = -0.02'), r"uq.parameters.*power_index.*invalid parameters for norm"),
    (SOBOL.replace("n = 8", "n = 4"), r"power of two >= 8"),
    (SOBOL.replace("n = 8", "n = 12"), r"power of two >= 8"),
    (SOBOL + "", None),
    ('method = "ensemble"\nn = 1', r"uq.n must be >= 2"),
    ('method = "linear"\nconfidence = 1.5', r"uq.confidence: Input should be less than 1"),
    ('method = "linear"\nconfidence = 0.0', r"uq.confidence: Input should be greater than 0"),
    ('method = "bootstrap"', r"uq.method: Input should be"),
    ('method = "sobol"\ngoal = "flow_rate"', r"needs \[uq.parameters\]"),
    ('method = "ensemble"\n[uq.parameters]\neta0 = { dist = "norm", loc = 1.0, scale = 0.1 }',
     r"are used by uq.method 'sobol' or 'qmc'"),
    ('method = "linear"\ngoal = "maximum"', r"uq.goal.*unknown goal 'maximum'"),
    (SOBOL.replace('goal = "flow_rate"\n', ""), r"needs uq.goal"),
    ('method = "linear"\nwhatever = 1', r"uq.whatever: Extra inputs are not permitted"),
])
def test_uq_config_is_validated(uq, match):
    if match is None:
        cfg = parse_config(_data(uq))
        assert cfg.uq.method == "sobol" and cfg.uq.n_points == 8 and set(cfg.uq.parameters) == {"eta0", "power_index"}
        return
    with pytest.raises(ConfigError, match=match):
        parse_config(_data(uq))


def test_no_uq_section_is_a_single_run():
    data = _data("method = 'linear'")
    del data["uq"]
    assert parse_config(data).uq is None


@pytest.mark.parametrize("name", ["uq_carreau_ensemble.toml", "uq_carreau_sobol.toml", "uq_layered_sobol.toml"])
def test_example_uq_configs_are_valid(name):
    from hmm.config import load_config

    cfg = load_config(ROOT / "examples" / name)
    assert cfg.uq is not None and cfg.uq.goal == "flow_rate"


LAYERED = """
[oracle]
kind = "noisy_cell_problem_flux"
cells = 8
coefficient = {{ kind = "layered_cosine", a0 = 2.0, amp = 0.75 }}
[macro]
cells = [4]
source = 1.0
[run]
mode = "{mode}"
t_end = 0.1
dt = 0.05
[coupler]
scheduler = "sync"
[uq]
method = "qmc"
n = 8
goal = "flow_rate"
{extra}
[uq.parameters]
"{name}" = {{ dist = "uniform", low = 1.8, high = 2.2 }}
"""


@pytest.mark.parametrize("name, mode, extra, match", [
    ("coefficient.a0", "steady", "", None),
    ("coefficient.a0", "steady", "surrogate = { tol = 1e-3, linear_in_gradient = true }", None),
    ("coefficient.b0", "steady", "", r"uq.parameters.coefficient.b0: not a parameter of NoisyCellProblemFlux "
                                     r"\(its parameters: coefficient, coefficient.a0, coefficient.amp"),
    ("coefficient.a0", "transient", "surrogate = { tol = 1e-3 }", r"uq.surrogate: .*needs run.mode = 'steady'"),
    ("coefficient.a0", "steady", "surrogate = { tol = -1.0 }", r"uq.surrogate.*`tol` must be a finite number > 0"),
    ("coefficient.a0", "steady", "surrogate = { tol = 1e-3, tolerance = 2 }", r"uq.surrogate.*unexpected keyword"),
    ("coefficient.a0", "steady", "n_aleatoric = 2\nsurrogate = { tol = 1e-3 }", r"uq.n_aleatoric = 1"),
])
def test_nested_parameters_and_the_shared_surrogate_in_configs(name, mode, extra, match):
    import tomllib

    data = tomllib.loads(LAYERED.format(name=name, mode=mode, extra=extra))
    if match is None:
        cfg = parse_config(data)
        assert list(cfg.uq.parameters) == [name]
        return
    with pytest.raises(ConfigError, match=match):
        parse_config(data)


def test_layered_qmc_study_with_nested_parameters_runs_in_process():
    import tomllib

    from hmm import Coupler, HMMSolver
    from hmm.uq.study import run_study

    cfg = parse_config(tomllib.loads(LAYERED.format(name="coefficient.a0", mode="steady", extra="")))
    with Coupler(cfg.build_oracle(), "sync", seed=0, cache=True) as coupler:
        ds, summary = run_study(cfg, HMMSolver(cfg.build_law(), cfg.build_grid(), coupler))
    a0 = ds["design"].values[:, 0]
    assert np.all((a0 >= 1.8) & (a0 <= 2.2)) and ds.attrs["uq_design"] == "sobol"
    # Q is proportional to 1 / A* = a0 (the harmonic mean across layers): the noisy goal rises with a0
    assert stats.spearmanr(a0, ds["goal"].values).statistic > 0.9
    assert "qmc uq, 8 design points x 1 run(s)" in summary and ds.attrs["micro_runs"] > 0


def test_uq_study_is_not_checkpointed():
    data = _data('method = "ensemble"\nn = 4')
    data["output"]["checkpoint"] = "ck.nc"
    with pytest.raises(ConfigError, match=r"output.checkpoint: a \[uq\] study is not checkpointed"):
        parse_config(data)
