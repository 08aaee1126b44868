"""Checkpoint and resume from the command line: a real `hmm run` process is
SIGKILLed part-way and resumed; the results must equal an uninterrupted run's
bit for bit. Also: refused resumes (another configuration, a missing file, an
existing checkpoint without --resume), the checkpoint interval and a crash
between the records file and the manifest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hmm import Coupler, HMMSolver
from hmm.checkpoint import Checkpoint, differing_keys, manifest_path, parse_every, read_manifest
from hmm.cli import main
from tests.hmm.oracles_for_tests import SlowNoisyFlux

ROOT = Path(__file__).resolve().parents[2]
N_STEPS = 200

CONFIG = """
title = "kill and resume"
[oracle]
kind = "tests.hmm.oracles_for_tests:SlowNoisyFlux"
delay_s = {delay}
[macro]
cells = [{cells}]
source = 1.0
initial = {{ kind = "sine", amplitude = 1.0, modes = [1] }}
[run]
t_end = 0.4
dt = 0.002
stepper = "explicit_euler"
save_every = 5
checkpoint_every = 10
[coupler]
scheduler = "sync"
seed = {seed}
{coupler_extra}
[output]
path = "{out}"
"""


def _config(tmp_path, name="run.toml", *, delay=0.002, cells=8, seed=0, coupler_extra="", out=None):
    path = tmp_path / name
    out = out or (tmp_path / "default-out.nc")
    path.write_text(CONFIG.format(delay=delay, cells=cells, seed=seed, coupler_extra=coupler_extra,
                                  out=Path(out).as_posix()))
    return path


def _hmm(*args, **kw):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "hmm", "run", *map(str, args), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300, **kw)


def _assert_same_results(a: xr.Dataset, b: xr.Dataset, ignore=("wall_s",)):
    """Every data variable and coordinate equal bit for bit, with its attrs; the
    dataset attrs equal except ``ignore`` (wall times)."""
    assert set(a.data_vars) == set(b.data_vars) and set(a.coords) == set(b.coords)
    for name in list(a.data_vars) + list(a.coords):
        assert a[name].dtype == b[name].dtype, name
        assert np.array_equal(a[name].values, b[name].values), name
        assert a[name].attrs == b[name].attrs, name
    assert {k: v for k, v in a.attrs.items() if k not in ignore} == {k: v for k, v in b.attrs.items()
                                                                     if k not in ignore}


def _wait_for_checkpoint(path: Path, proc: subprocess.Popen, deadline_s: float = 120.0) -> int:
    """Poll until the manifest of ``path`` names a step > 0; return that step."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        assert proc.poll() is None, f"the run ended before a checkpoint was seen: {proc.communicate()}"
        manifest = read_manifest(path) if manifest_path(path).exists() else None
        if manifest and manifest["step"] > 0:
            return int(manifest["step"])
        time.sleep(0.01)
    raise AssertionError("no checkpoint appeared")


def test_a_sigkilled_run_resumes_to_the_same_bits(tmp_path):
    cfg = _config(tmp_path)
    # the uninterrupted run, with the same checkpoint settings (the stepper restarts at records)
    full = _hmm(cfg, "--checkpoint", tmp_path / "ref-ckpt.nc", "--out", tmp_path / "full.nc")
    assert full.returncode == 0, full.stderr
    # the same run, SIGKILLed once a checkpoint past step 0 exists
    ckpt, part = tmp_path / "ckpt.nc", tmp_path / "part.nc"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "hmm", "run", str(cfg), "--no-progress", "--checkpoint",
                             str(ckpt), "--out", str(part)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        seen = _wait_for_checkpoint(ckpt, proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert not part.exists()  # killed: no results file, half-written or otherwise
    step = read_manifest(ckpt)["step"]
    assert 0 < seen <= step < N_STEPS and step % 5 == 0  # part-way, at a record
    resumed = _hmm(cfg, "--resume", ckpt, "--out", part)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from step {step} of {N_STEPS} (checkpoint {ckpt})" in resumed.stdout
    a, b = xr.load_dataset(tmp_path / "full.nc"), xr.load_dataset(part)
    assert a.sizes["time"] == N_STEPS // 5 + 1
    _assert_same_results(a, b)
    assert int(b["micro_runs"].sum()) == b.attrs["micro_runs"] > 0
    # the checkpoint of the resumed run is complete as well: one cache generation, the last step
    assert read_manifest(ckpt)["step"] == N_STEPS
    assert [p.name for p in tmp_path.glob("ckpt.nc.cache-*.npz")] == [f"ckpt.nc.cache-{N_STEPS}.npz"]
    assert not list(tmp_path.glob("*.tmp"))


def test_resume_refuses_another_configuration_naming_the_keys(tmp_path):
    cfg = _config(tmp_path, delay=0.0)
    ckpt = tmp_path / "ckpt.nc"
    assert main(["run", str(cfg), "--no-progress", "--checkpoint", str(ckpt)]) == 0
    other = _config(tmp_path, "other.toml", delay=0.0, cells=10, seed=3)
    proc = _hmm(other, "--resume", ckpt, "--out", tmp_path / "other.nc")
    assert proc.returncode == 2
    assert ("differing keys: coupler.seed: checkpoint 0, config 3; macro.cells: checkpoint [8], config [10]"
            in proc.stderr)
    assert "Traceback" not in proc.stderr and not (tmp_path / "other.nc").exists()
    # where results and checkpoints go and where micro runs are placed may differ
    moved = _config(tmp_path, "moved.toml", delay=0.0, coupler_extra="workers = 2\nbatch_size = 4",
                    out=tmp_path / "elsewhere.nc")
    proc = _hmm(moved, "--resume", ckpt)
    assert proc.returncode == 0, proc.stderr
    assert f"resumed from step {N_STEPS} of {N_STEPS}" in proc.stdout
    _assert_same_results(xr.load_dataset(tmp_path / "default-out.nc"), xr.load_dataset(tmp_path / "elsewhere.nc"),
                         ignore=("wall_s", "config"))  # `config` names the config file


def test_resume_of_a_missing_or_foreign_file_and_an_existing_checkpoint(tmp_path, capsys):
    cfg = _config(tmp_path, delay=0.0)
    out = tmp_path / "default-out.nc"
    assert main(["run", str(cfg), "--no-progress", "--resume", str(tmp_path / "nope.nc")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err and not out.exists()
    ckpt = tmp_path / "ckpt.nc"
    assert main(["run", str(cfg), "--no-progress", "--checkpoint", str(ckpt)]) == 0
    capsys.readouterr()
    assert main(["run", str(cfg), "--no-progress", "--checkpoint", str(ckpt)]) == 2
    assert f"continue it with --resume {ckpt}" in capsys.readouterr().err
    assert main(["run", str(cfg), "--no-progress", "--resume", str(out)]) == 2  # a results file
    assert "has no manifest" in capsys.readouterr().err
    manifest_path(ckpt).write_text("{not json")
    assert main(["run", str(cfg), "--no-progress", "--resume", str(ckpt)]) == 2
    assert "cannot read checkpoint manifest" in capsys.readouterr().err


def test_checkpoint_every_steps_and_seconds(tmp_path):
    assert parse_every(None) == (None, None) and parse_every(7) == (7, None)
    assert parse_every("30s") == (None, 30.0) and parse_every("5min") == (None, 300.0)
    assert parse_every("0.5h") == (None, 1800.0)
    for bad in (0, -3, "5", "5 parsecs", "0s", True, 2.5):
        with pytest.raises(ValueError, match="checkpoint_every"):
            parse_every(bad)
    # steps: checkpoints at the first record >= N steps after the previous one, and the final one
    steps = []
    ck = Checkpoint(tmp_path / "c.nc", every=12)
    ck.start(0)
    for step in range(5, N_STEPS + 1, 5):
        if ck.due(step, final=step == N_STEPS):
            steps.append(step)
            ck.start(step)
    assert steps == list(range(15, N_STEPS, 15)) + [N_STEPS]
    # seconds: nothing is due before the interval has passed
    ck = Checkpoint(tmp_path / "c.nc", every="1h")
    ck.start(0)
    assert not ck.due(5) and ck.due(5, final=True)


def test_config_comparison_is_key_by_key():
    a = {"macro": {"cells": [8], "source": 1.0}, "coupler": {"seed": 0, "workers": None},
         "output": {"path": "a.nc"}, "cluster": {"local": {"n_workers": 2}}}
    b = {"macro": {"cells": [8], "source": 2.0}, "coupler": {"seed": 0, "workers": 4},
         "output": {"path": "b.nc"}, "cluster": {"local": {"n_workers": 1}}, "run": {"dt": 0.1}}
    assert differing_keys(a, b) == ["macro.source", "run.dt"]


def _solver_run(path, *, crash_after=None):
    import hmm.checkpoint as checkpoint

    oracle = SlowNoisyFlux()
    from macro import DiffusionLaw, Grid1D

    real, calls = checkpoint._write_json, []

    def crashing(data, target):  # a crash right before the manifest's commit
        calls.append(1)
        if crash_after is not None and len(calls) > crash_after:
            raise KeyboardInterrupt("killed before the manifest was renamed")
        real(data, target)

    checkpoint._write_json = crashing
    try:
        with Coupler(oracle, "sync", seed=4, cache=True) as coupler:
            return HMMSolver(DiffusionLaw(source=1.0), Grid1D(8), coupler, stepper="explicit_euler").run(
                0.1, dt=0.002, u0={"kind": "sine", "amplitude": 1.0, "modes": [1]}, save_every=5,
                checkpoint=path)
    finally:
        checkpoint._write_json = real


def test_a_crash_between_records_and_manifest_resumes_from_the_manifest(tmp_path):
    full = _solver_run(tmp_path / "full.nc")
    path = tmp_path / "crash.nc"
    with pytest.raises(KeyboardInterrupt):
        _solver_run(path, crash_after=3)
    # the records file already holds the 5th record, the manifest (the commit) names the 4th
    assert xr.load_dataset(path).sizes["time"] == 5
    manifest = json.loads(manifest_path(path).read_text())
    assert manifest["records"] == 4 and manifest["step"] == 15
    assert sorted(p.name for p in tmp_path.glob("crash.nc.cache-*.npz")) == ["crash.nc.cache-15.npz",
                                                                             "crash.nc.cache-20.npz"]
    resumed = _solver_run(path)
    _assert_same_results(full, resumed)
    # a damaged cache file is refused, not silently recomputed
    cache = tmp_path / "crash.nc.cache-50.npz"
    cache.write_bytes(cache.read_bytes()[:-7] + b"garbage")
    from hmm.errors import CheckpointError

    with pytest.raises(CheckpointError, match="digest"):
        _solver_run(path)
