"""Fault tolerance with real processes: a SIGKILLed worker changes no bit and
costs little recomputation, Dask's allowed-failures comes from the Coupler,
the failure policy (raise / surrogate within a bound), the per-run wall-time
cap, and a lost scheduler (exit code 3, the last checkpoint intact and
resumable)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from hmm import Coupler
from hmm.checkpoint import manifest_path, read_manifest
from hmm.cli import main
from hmm.errors import OracleError
from tests.hmm.oracles_for_tests import FailingAt, SlowCountingOracle, marks

ROOT = Path(__file__).resolve().parents[2]


def _same_answers(a, b):
    for name in ("mean", "stderr", "n_eff", "seed"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def _wait(predicate, what, deadline_s=60.0):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_worker_killed_mid_batch_changes_no_bit_and_finished_work_is_kept(tmp_path):
    tag = str(tmp_path / "runs")
    oracle = SlowCountingOracle(tag, delay_s=0.05)
    states = np.arange(40.0)[:, None]
    with Coupler(oracle, "sync", seed=5) as c:
        reference = c.evaluate(states)
    before = marks(tag)
    assert before == 40
    with Coupler(oracle, None, seed=5, n_workers=2, batch_size=1) as c:
        victim = sorted(c.client.run(os.getpid).values())[0]

        def kill():  # part-way: once 60 % of the runs are done
            _wait(lambda: marks(tag) >= before + 24, "runs on the cluster")
            os.kill(victim, signal.SIGKILL)

        killer = threading.Thread(target=kill)
        killer.start()
        batch = c.evaluate(states)
        killer.join()
        assert victim not in c.client.run(os.getpid).values()  # the worker did die (its nanny restarts one)
    _same_answers(batch, reference)
    # answers are pulled off a worker as each task finishes: the kill costs the run that was going on
    # there, plus at most two that finished in the milliseconds before their answers were fetched
    # (gathering at the end of the batch would recompute every run the dead worker had finished)
    rerun = marks(tag) - before - len(states)
    assert 0 <= rerun <= 3, rerun


def test_allowed_failures_is_set_and_a_task_lost_too_often_is_an_oracle_error(tmp_path):
    oracle = SlowCountingOracle(str(tmp_path / "runs"), delay_s=2.0)
    with Coupler(oracle, None, n_workers=1, batch_size=1, allowed_failures=0) as c:
        assert c.client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures) == 0
        (pid,) = c.client.run(os.getpid).values()

        def kill():
            _wait(lambda: any(c.client.processing().values()), "a running task")
            os.kill(pid, signal.SIGKILL)

        killer = threading.Thread(target=kill)
        killer.start()
        with pytest.raises(OracleError, match="allowed_failures") as info:
            c.evaluate(np.arange(2.0)[:, None])
        killer.join()
    assert "KilledWorker" in info.value.cause
    with pytest.raises(ValueError, match="allowed_failures"):
        Coupler(oracle, "sync", allowed_failures=-1)


def test_failed_queries_raise_naming_state_seed_and_worker():
    states = np.arange(10.0)[:, None]
    with Coupler(FailingAt(bad=(4.0,)), "sync", seed=2, retries=2) as c:
        with pytest.raises(OracleError) as info:
            c.evaluate(states)
        assert c.accounting.failed_runs == 3  # the first attempt and two retries with fresh seeds
    err = info.value
    assert err.state.tolist() == [4.0] and err.worker == "sync" and "blew up at s0=4.0" in err.cause
    assert f"with seed {err.seed} on worker sync" in str(err)


def test_the_surrogate_answers_failed_queries_within_the_bound():
    states = np.arange(10.0)[:, None]
    with Coupler(FailingAt(), "sync", seed=2) as c:
        clean = c.evaluate(states)
    with Coupler(FailingAt(bad=(4.0,)), "sync", seed=2, on_failure="surrogate", max_failed_fraction=0.1) as c:
        batch = c.evaluate(states)
        assert c.accounting.surrogate_answers == 1 and c.accounting.queries == 10
        assert c.accounting.fresh_runs == 9 and c.accounting.failed_runs == 3
        ok = np.arange(10) != 4
        for name in ("mean", "stderr", "seed"):  # the other answers are untouched
            assert np.array_equal(getattr(batch, name)[ok], getattr(clean, name)[ok]), name
        # the nearest successful query (s0 = 3; 5 is as near, the first in state order wins), its
        # stderr inflated by the difference to the second nearest answer
        m3, m5, s3 = clean.mean[3, 0], clean.mean[5, 0], clean.stderr[3, 0]
        assert batch.mean[4, 0] == m3 and batch.stderr[4, 0] == np.sqrt(s3 ** 2 + (m3 - m5) ** 2)
        assert batch.worker[4] == "surrogate" and batch.cached[4] and not batch.cached[3]
        # a second batch with another failure: 2 of 20 queries is still within 0.1 ...
        second = c.evaluate(np.r_[4.0, np.arange(11.0, 20.0)][:, None])
        assert second.worker[0] == "surrogate" and c.accounting.surrogate_answers == 2
        # ... a third failure is not: 3 of 21 > 0.1
        with pytest.raises(OracleError, match="more than max_failed_fraction = 0.1"):
            c.evaluate(np.array([[4.0]]))
    # a resumed run counts the queries its checkpoint holds (HMMSolver carries them over)
    from hmm.accounting import Accounting

    with Coupler(FailingAt(bad=(4.0,)), "sync", on_failure="surrogate", max_failed_fraction=0.1) as c:
        with pytest.raises(OracleError, match="1 of 1 queries failed"):
            c.evaluate(np.array([[4.0], [5.0]])[:1])
    with Coupler(FailingAt(bad=(4.0,)), "sync", on_failure="surrogate", max_failed_fraction=0.1) as c:
        c.carry_over(Accounting(queries=19, surrogate_answers=1, fresh_runs=7))
        assert c.evaluate(np.array([[4.0], [5.0]])).worker[0] == "surrogate"  # 2 of 21
        assert c.accounting.fresh_runs == 1  # only the counts of the bound are carried over
    with Coupler(FailingAt(bad=(4.0,)), "sync", on_failure="surrogate", max_failed_fraction=1.0) as c:
        with pytest.raises(OracleError, match="no query of the batch succeeded"):
            c.evaluate(np.array([[4.0]]))


def test_the_surrogate_is_logged_in_the_results_of_a_cli_run(tmp_path, capsys):
    cfg = tmp_path / "holey.toml"
    out = tmp_path / "holey.nc"
    cfg.write_text(f"""
title = "holey"
[oracle]
kind = "tests.hmm.oracles_for_tests:HoleyFlux"
[macro]
cells = [8]
source = 1.0
[run]
t_end = 0.02
dt = 0.002
stepper = "explicit_euler"
save_every = 5
[coupler]
scheduler = "sync"
on_failure = "surrogate"
max_failed_fraction = 0.2
[output]
path = "{out.as_posix()}"
""")
    assert main(["run", str(cfg), "--no-progress"]) == 0
    ds = xr.load_dataset(out)
    per_record = ds["micro_surrogate_answers"].values
    assert per_record[0] >= 1 and np.all(per_record >= 1)  # the face x = 0.5 fails at every evaluation
    assert ds.attrs["accounting_surrogate_answers"] == per_record.sum()
    assert ds.attrs["accounting_surrogate_answers"] <= 0.2 * ds.attrs["accounting_queries"]
    assert f"{per_record.sum()} failed queries answered by the surrogate" in capsys.readouterr().out
    # the same run under the default policy stops with exit code 4 naming the state
    cfg.write_text(cfg.read_text().replace('on_failure = "surrogate"', 'on_failure = "raise"'))
    assert main(["run", str(cfg), "--no-progress", "--out", str(tmp_path / "raise.nc")]) == 4
    err = capsys.readouterr().err
    assert "HoleyFlux failed at state (x=0.5" in err and "the micro model has a hole here" in err


def test_a_micro_run_over_the_wall_time_cap_is_a_failed_run():
    states = np.array([[1.0], [2.0], [3.0]])
    with Coupler(FailingAt(slow=2.0, sleep_s=3.0), "sync", seed=1, retries=1, task_timeout_s=0.2) as c:
        with pytest.raises(OracleError) as info:
            c.evaluate(states)
        assert c.accounting.failed_runs == 2 and c.accounting.fresh_runs == 2
    assert info.value.state.tolist() == [2.0]
    assert "MicroTimeoutError: micro run exceeded task_timeout_s = 0.2 s" in info.value.cause
    # a cap that is not reached changes no bit
    with Coupler(FailingAt(), "sync", seed=1) as c:
        free = c.evaluate(states)
    with Coupler(FailingAt(), "sync", seed=1, task_timeout_s=30.0) as c:
        _same_answers(c.evaluate(states), free)
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="task_timeout_s"):
            Coupler(FailingAt(), "sync", task_timeout_s=bad)


SCHEDULER_RUN = """
title = "scheduler loss"
[oracle]
kind = "tests.hmm.oracles_for_tests:SlowNoisyFlux"
delay_s = 0.002
[macro]
cells = [8]
source = 1.0
initial = {{ kind = "sine", amplitude = 1.0, modes = [1] }}
[run]
t_end = 0.4
dt = 0.002
stepper = "explicit_euler"
save_every = 5
checkpoint_every = 10
[coupler]
allowed_failures = 7
[output]
path = "{out}"
"""


def test_a_lost_scheduler_exits_3_and_the_checkpoint_resumes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    sched_file = tmp_path / "scheduler.json"
    procs = []
    try:
        procs.append(subprocess.Popen(dask + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                              "--scheduler-file", str(sched_file)],
                                      env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        _wait(lambda: sched_file.exists() and sched_file.stat().st_size > 0, "the scheduler file")
        address = json.loads(sched_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address,
                                       "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
                                      env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        cfg = tmp_path / "run.toml"
        cfg.write_text(SCHEDULER_RUN.format(out=(tmp_path / "out.nc").as_posix()))
        ckpt = tmp_path / "ckpt.nc"
        run = subprocess.Popen([sys.executable, "-m", "hmm", "run", str(cfg), "--no-progress", "--scheduler",
                                address, "--checkpoint", str(ckpt), "--timeout", "3"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(run)
        _wait(lambda: run.poll() is not None or (manifest_path(ckpt).exists() and read_manifest(ckpt)["step"] > 0),
              "a checkpoint", deadline_s=120)
        assert run.poll() is None, run.communicate()
        procs[0].kill()  # SIGKILL the scheduler
        out, err = run.communicate(timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait(timeout=60)
    assert run.returncode == 3, err
    assert "lost the connection to the Dask scheduler" in err and address in err
    assert "Traceback" not in err and not (tmp_path / "out.nc").exists()
    assert "allowed_failures=7 applies to the embedded cluster only" in err  # not silently ignored
    step = read_manifest(ckpt)["step"]
    assert 0 < step < 200
    # the last checkpoint is intact: it resumes (in process now) to the bits of an uninterrupted run
    assert main(["run", str(cfg), "--no-progress", "--scheduler", "sync", "--resume", str(ckpt),
                 "--out", str(tmp_path / "resumed.nc")]) == 0
    assert main(["run", str(cfg), "--no-progress", "--scheduler", "sync", "--checkpoint",
                 str(tmp_path / "ref-ckpt.nc"), "--out", str(tmp_path / "full.nc")]) == 0
    a, b = xr.load_dataset(tmp_path / "full.nc"), xr.load_dataset(tmp_path / "resumed.nc")
    for name in a.variables:
        assert np.array_equal(a[name].values, b[name].values), name
    skip = {"wall_s"}
    assert {k: v for k, v in a.attrs.items() if k not in skip} == {k: v for k, v in b.attrs.items() if k not in skip}
