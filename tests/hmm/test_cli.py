"""The command line: `hmm run CONFIG.toml` and `hmm info`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hmm.cli import main
from hmm.config import load_config, parse_config
from hmm.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

SMALL = """
title = "small"
[oracle]
kind = "cell_problem"
cells = 16
coefficient = {{ kind = "layered_cosine", a0 = 2.0, amp = 1.0, macro_slope = 0.5 }}
[macro]
cells = [12]
source = 1.0
initial = {{ kind = "sine", amplitude = 1.0, modes = [1] }}
[run]
mode = "{mode}"
t_end = 0.05
dt = 0.01
stepper = "crank_nicolson"
[coupler]
scheduler = "sync"
[output]
path = "{out}"
{extra}
"""


def write(tmp_path, mode="transient", extra="", name="run.toml"):
    out = tmp_path / "results" / "out.nc"
    cfg = tmp_path / name
    cfg.write_text(SMALL.format(mode=mode, out=out.as_posix(), extra=extra))
    return cfg, out


@pytest.mark.parametrize("mode", ["transient", "steady"])
def test_run_writes_netcdf_and_prints_summary(tmp_path, capsys, mode):
    cfg, out = write(tmp_path, mode)
    assert main(["run", str(cfg), "--no-progress"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("small: 1D 12 grid") and "micro runs" in line and str(out) in line
    ds = xr.load_dataset(out)
    assert ds.attrs["title"] == "small" and np.all(np.isfinite(ds["u"].values))
    assert ("time" in ds.dims) == (mode == "transient")


def test_example_config_is_valid():
    cfg = load_config(ROOT / "examples" / "layered_diffusion.toml")
    assert cfg.macro.dim == 2 and cfg.build_oracle().dim == 2


@pytest.mark.parametrize("extra, key", [
    ("colour = 'red'", "output.colour"),
])
def test_unknown_key_is_rejected_naming_it_and_nothing_is_written(tmp_path, capsys, extra, key):
    cfg, out = write(tmp_path, extra=extra)
    assert main(["run", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert key in err and "Extra inputs are not permitted" in err
    assert not out.exists() and not out.parent.exists()


@pytest.mark.parametrize("patch, key, words", [
    ({"macro": {"cells": "many"}}, "macro.cells", "valid integer"),
    ({"run": {"dt": -1.0, "t_end": 1.0}}, "run.dt", "greater than 0"),
    ({"oracle": {"kind": "cell_problem", "cells": 8, "coefficient": {"kind": "layered_cosine", "a00": 1}}},
     "oracle.coefficient", "'a00'"),
    ({"oracle": {"kind": "cell_problem", "colour": 8, "coefficient": {"kind": "constant"}}},
     "oracle.colour", "not a parameter of CellProblemFlux"),
    ({"oracle": {"kind": "md", "cells": 8}}, "oracle.kind", "unknown oracle 'md'; valid names are"),
    ({"oracle": {"kind": "no_such_module:Flux"}}, "oracle.kind", "cannot import"),
    ({"run": {"mode": "steady", "stepper": "rk45"}}, "run.stepper", "unknown stepper 'rk45'"),
    ({"run": {"mode": "transient"}}, "run", "needs run.t_end and run.dt"),
    ({"budget": {"sampling_steps": -3}}, "budget.sampling_steps", "greater than or equal to 0"),
    ({"macro": {"cells": [4], "initial": {"kind": "blob"}}}, "macro.initial", "unknown"),
    ({"macro": {"cells": [4], "slip_length": -0.5}}, "macro.slip_length", "greater than or equal to 0"),
    ({"macro": {"cells": [4], "slip_length": [0.1, 0.2, 0.3]}}, "macro", "pair [low, high]"),
    ({"macro": {"cells": [4, 4], "slip_length": 0.5}}, "macro", "1D grids only"),
    # hostile sizes are refused before anything is allocated
    ({"macro": {"cells": [100000, 100000]}}, "macro.cells", "at most 4e+06"),
    ({"run": {"mode": "transient", "t_end": float("inf"), "dt": 0.1}}, "run.t_end", "finite number"),
    ({"run": {"mode": "transient", "t_end": 1e308, "dt": 0.1}}, "run", "time steps; at most 1e+07"),
    ({"run": {"mode": "transient", "t_end": 1.0, "dt": float("nan")}}, "run.dt", "finite number"),
])
def test_wrong_types_and_values_name_the_key(patch, key, words):
    base = {"oracle": {"kind": "cell_problem", "coefficient": {"kind": "constant"}},
            "macro": {"cells": [4]}, "run": {"mode": "steady"}}
    for section, values in patch.items():
        base[section] = {**base.get(section, {}), **values} if section != "oracle" else values
    with pytest.raises(ConfigError) as info:
        parse_config(base, "test")
    assert key in str(info.value) and words in str(info.value)


@pytest.mark.parametrize("workers", ["-2", "0", "two"])
def test_a_bad_worker_count_is_a_usage_error(tmp_path, capsys, workers):
    cfg, out = write(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(["run", str(cfg), "--workers", workers])
    assert info.value.code == 2 and "--workers: must be an integer >= 1" in capsys.readouterr().err
    assert not out.exists()


def test_a_binary_config_file_is_a_config_error(tmp_path, capsys):
    binary = tmp_path / "run.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    assert main(["run", str(binary)]) == 2
    assert "is not a text file" in capsys.readouterr().err


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[oracle\nkind=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_unreachable_scheduler_exits_3_naming_address_and_writes_nothing(tmp_path, capsys):
    cfg, out = write(tmp_path)
    assert main(["run", str(cfg), "--scheduler", "tcp://127.0.0.1:9", "--timeout", "1"]) == 3
    assert "tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not out.exists()


def test_info_and_entry_point():
    proc = subprocess.run([sys.executable, "-m", "hmm", "info"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "distributed" in proc.stdout and "embedded LocalCluster on 127.0.0.1" in proc.stdout


def test_slip_length_reaches_the_law():
    base = {"oracle": {"kind": "cell_problem", "coefficient": {"kind": "constant"}},
            "macro": {"cells": [4], "slip_length": [0.25, 0.5]}, "run": {"mode": "steady"}}
    assert parse_config(base, "test").build_law().slip_length == (0.25, 0.5)


USER_ORACLE = '''
from dataclasses import dataclass

import numpy as np

from hmm.contract import Budget, Estimate


@dataclass(frozen=True)
class QuadraticFlux:
    """A user's own oracle: q = k (1 + u) grad u ... here simply q = k grad_x."""

    k: float = 2.0
    inputs = ("x", "grad_x")
    outputs = ("flux",)
    units = {"x": "m", "grad_x": "K/m", "flux": "W/m^2"}
    default_budget = Budget()
    supports = frozenset()
    deterministic = True

    def __post_init__(self):
        if not self.k > 0:
            raise ValueError(f"QuadraticFlux: `k` must be > 0, got {self.k}")

    def run(self, state, *, seed, budget):
        return Estimate(np.array([self.k * state[1]]), np.zeros(1))
'''


def test_a_users_own_oracle_runs_by_module_and_class_name(tmp_path, capsys, monkeypatch):
    (tmp_path / "my_oracles.py").write_text(USER_ORACLE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # for the workers of a real cluster
    cfg = tmp_path / "user.toml"
    out = tmp_path / "user.nc"
    cfg.write_text(f"""
[oracle]
kind = "my_oracles:QuadraticFlux"
k = 2.0
[macro]
cells = [16]
source = 1.0
[run]
mode = "steady"
[coupler]
scheduler = "sync"
[output]
path = "{out.as_posix()}"
""")
    assert main(["run", str(cfg), "--no-progress"]) == 0
    ds = xr.load_dataset(out)
    # the user's oracle is q = k grad u: the HMM run is the finite-volume solve with that closed-form flux
    from macro import DiffusionLaw, Grid1D, LinearFlux, solve_steady

    reference = solve_steady(DiffusionLaw(source=1.0), Grid1D(16), LinearFlux(2.0)).u
    assert np.allclose(ds["u"].values, reference, rtol=0, atol=1e-12)
    assert abs(ds["u"].values.max() - 1 / 16) < 1e-3  # u = x (1 - x) / (2 k): max 1/16 (O(h^2) scheme)
    assert ds["flux"].attrs["units"] == "W/m^2" and ds["x"].attrs["units"] == "m"  # the oracle's own units
    bad = cfg.read_text().replace("k = 2.0", "k = -1.0")
    cfg.write_text(bad)
    assert main(["run", str(cfg), "--no-progress"]) == 2
    assert "QuadraticFlux: `k` must be > 0" in capsys.readouterr().err


def test_results_files_get_the_users_umask(tmp_path):
    import os
    import stat

    cfg, out = write(tmp_path, mode="steady")
    old = os.umask(0o027)
    try:
        assert main(["run", str(cfg), "--no-progress"]) == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == 0o640  # 0o666 less the umask, not mkstemp's 0o600
    assert not list(out.parent.glob("*.tmp"))
