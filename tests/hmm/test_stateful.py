"""Micro states kept on the workers (hmm.stateful): warm starts, seeds, checkpoints, a SIGKILLed worker.

The FE² problem: a 2x2-square plane-strain body (24 quadrature points), left side fixed,
right side pulled by 1e-3 in x over 4 load steps, with the toy stateful oracle
:class:`oracles.solids.RelaxingStress`. Its stress noise is ~2e-5 on stresses ~0.1, so the
Newton tolerance 2e-3 (relative residual) is ten times the noise of the residual: every step
converges after one update of the linear problem.
"""

from __future__ import annotations

import math
import os
import signal
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.stats

from hmm.checkpoint import manifest_path, read_states
from hmm.contract import Budget, CheckpointError, OracleSetupError, StatefulOracle, check_state
from hmm.fe2 import solve_fe2_stateful, stateful_fe2_closure
from hmm.stateful import StatefulClosure, advance_seed, initial_seed
from macro.solids import Dirichlet, SolidLaw, rectangle, solve_quasistatic
from oracles.solids import RelaxingStress
from oracles.solids.relaxing import BLOCKS

STEPS = 4
TOL = 2e-3


def law() -> SolidLaw:
    return SolidLaw(rectangle(2, 2), dirichlet=[Dirichlet("left", 0.0), Dirichlet("right", 1e-3, components=[0]),
                                                Dirichlet("right", 0.0, components=[1])])


def run(client="sync", *, keep_states=True, checkpoint=None, callback=None, seed=7, n_workers=None):
    body = law()
    closure = stateful_fe2_closure(body, RelaxingStress(), client=client, seed=seed, keep_states=keep_states,
                                   n_workers=n_workers)
    try:
        out = solve_fe2_stateful(body, closure, STEPS, checkpoint=checkpoint, callback=callback, tol=TOL)
    finally:
        closure.close()
    return out


def same_bits(a, b) -> None:
    np.testing.assert_array_equal(a.result.u, b.result.u)
    np.testing.assert_array_equal(a.result.evaluation.result.mean, b.result.evaluation.result.mean)
    np.testing.assert_array_equal(a.result.evaluation.result.stderr, b.result.evaluation.result.stderr)
    for x, y in zip(a.result.displacements, b.result.displacements, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.fixture(scope="module")
def reference():
    """The undisturbed run, in process (the cluster runs must reproduce its bits)."""
    return run()


# -- protocol and seeds ------------------------------------------------------------------------------

def test_protocol_state_check_and_seeds():
    assert isinstance(RelaxingStress(), StatefulOracle)
    with pytest.raises(TypeError, match="'bad'"):
        check_state({"bad": np.array(["a"])})
    with pytest.raises(TypeError, match="dict of numpy arrays"):
        check_state([1, 2])
    seeds = {advance_seed(3, p, n) for p in range(3) for n in range(3)}
    seeds |= {initial_seed(3, p) for p in range(3)}
    assert len(seeds) == 12
    assert advance_seed(3, 1, 2) == advance_seed(3, 1, 2) != advance_seed(4, 1, 2)
    body = law()
    with pytest.raises(TypeError, match="StatefulOracle"):
        StatefulClosure(object(), body.closure_inputs(), body.closure_outputs(), client="sync")


class _Mutating(RelaxingStress):
    def advance(self, state, macro_input, *, seed, budget):
        state["x"][0, 0] = 1.0  # writes into the committed state: refused
        return super().advance(state, macro_input, seed=seed, budget=budget)


def test_an_advance_that_writes_into_its_state_is_refused():
    body = law()
    closure = StatefulClosure(_Mutating(), body.closure_inputs(), body.closure_outputs(), client="sync")
    with pytest.raises(OracleSetupError, match="read-only"):
        closure(body.closure_points(np.zeros(body.n_dofs)))


def test_commit_and_rollback():
    body = law()
    closure = StatefulClosure(RelaxingStress(), body.closure_inputs(), body.closure_outputs(), client="sync")
    with pytest.raises(RuntimeError, match="no trial states"):
        closure.commit()
    points = body.closure_points(np.zeros(body.n_dofs))
    first = closure(points).mean
    closure.rollback()
    np.testing.assert_array_equal(closure(points).mean, first)  # same step, same iteration: same seeds
    closure.commit()
    assert closure.step == 1 and closure.iteration == 0
    with pytest.raises(ValueError, match="same 24 points"):
        closure(points[:3])


# -- the point of it: warm starts --------------------------------------------------------------------

def test_warm_states_take_fewer_micro_steps_at_equal_stderr(reference):
    cold = run(keep_states=False)
    oracle, budget = RelaxingStress(), RelaxingStress.default_budget
    n = law().n_points
    calls = reference.result.closure_calls
    assert calls == cold.result.closure_calls == 2 * STEPS
    # re-equilibrated: every advance pays the cold equilibration (counted, exact)
    assert cold.closure.log.micro_steps == calls * n * (budget.equilibration_steps + budget.sampling_steps)
    # kept: step 0 (2 calls) starts cold; afterwards each advance relaxes only the strain change
    warm = reference.closure.log.micro_steps
    assert warm < 0.5 * cold.closure.log.micro_steps
    # equal stderr: both sample `sampling_steps` of the same stationary process; a batch-means
    # stderr with B blocks has relative sd ~ 1/sqrt(2 (B - 1)), so the mean of N = points x 3
    # components differs between the runs by ~ sqrt(2 / N) / sqrt(2 (B - 1)); 4 sigma:
    s_warm = reference.result.evaluation.result.stderr[:, :3].mean()
    s_cold = cold.result.evaluation.result.stderr[:, :3].mean()
    bound = 4 * math.sqrt(2 / (3 * n)) / math.sqrt(2 * (BLOCKS - 1))
    assert abs(s_warm / s_cold - 1) < bound
    # both are unbiased: the stress of every point is C eps within the 4-sigma tail of its
    # error / stderr, which is Student t with B - 1 degrees of freedom (batch means, B blocks)
    t4 = scipy.stats.t.isf(scipy.stats.norm.sf(4), BLOCKS - 1)
    for res in (reference, cold):
        ev = res.result.evaluation
        exact = ev.points[:, 2:] @ oracle.stiffness.T
        z = (ev.result.mean[:, :3] - exact) / ev.result.stderr[:, :3]
        assert np.abs(z).max() < t4, z
        assert abs(z.mean()) < 4 * math.sqrt((BLOCKS - 1) / (BLOCKS - 3) / z.size)  # no common bias


# -- checkpoints ---------------------------------------------------------------------------------------

class _Stop(Exception):
    pass


def test_checkpoint_resume_is_bit_for_bit(reference, tmp_path):
    path = tmp_path / "states.npz"

    def stop_after_two(step, load, ev):
        if step == 1:
            raise _Stop

    with pytest.raises(_Stop):
        run(checkpoint=path, callback=stop_after_two)
    step, states, macro = read_states(path, run_token=_token())
    assert step == 2 and len(states) == law().n_points and sorted(states[0]) == ["equilibrated", "steps",
                                                                               "strain", "x", "z"]
    assert manifest_path(path).exists()
    with np.load(path, allow_pickle=False) as data:
        assert data["state/x"].shape == (law().n_points, 32, 3)  # one stacked array per key
    resumed = run(checkpoint=path)
    assert resumed.start_step == 2
    same_bits(resumed, reference)
    with pytest.raises(CheckpointError, match="another run"):
        run(checkpoint=path, seed=8)


def _token():
    from hmm.fe2 import run_token
    from macro.solids import load_factors

    body = law()
    closure = stateful_fe2_closure(body, RelaxingStress(), client="sync", seed=7)
    return run_token(body, closure, load_factors(STEPS))


# -- a real cluster: locality, bits, a SIGKILLed worker ------------------------------------------------

def _kill_one_worker(client) -> None:
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    os.kill(pids[victim], signal.SIGKILL)


def test_cluster_keeps_states_in_place_and_repeats_bits(reference):
    # work stealing off: Dask may otherwise move a (cheap) state to balance an idle worker,
    # which is its choice, not a placement error; here every move would be one
    import dask
    from distributed import Client

    from hmm._client import start_local_cluster

    with dask.config.set({"distributed.scheduler.work-stealing": False}):
        cluster = start_local_cluster(2)
    try:
        with Client(cluster, set_as_default=False) as client:
            out = run(client=client)
    finally:
        cluster.close()
    same_bits(out, reference)
    n = law().n_points
    assert out.state_bytes == 32 * 3 * 8 + 3 * 8 + 8 + 1 + 8  # x, strain, z, equilibrated, steps
    # the states never travel: no state key in the workers' transfer logs; what was sent are the
    # answers gathered by the client (2 calls per step, one per point, a few hundred bytes each)
    assert out.state_transfer_bytes == [0] * STEPS
    assert all(0 < b < 2 * n * out.state_bytes for b in out.transfer_bytes), out.transfer_bytes


@dataclass(frozen=True)
class _Counted(RelaxingStress):
    """RelaxingStress that appends a line to ``log`` at every advance (counts the replays)."""

    log: str = ""

    def advance(self, state, macro_input, *, seed, budget):
        with open(self.log, "a") as fh:
            fh.write("advance\n")
        return super().advance(state, macro_input, seed=seed, budget=budget)


def test_sigkill_a_worker_states_replayed_from_lineage(reference, tmp_path):
    def kill(step, load, ev):
        if step == 1:  # the states of the killed worker are lost between two load steps
            _kill_one_worker(_CURRENT["client"])

    out, advances = _run_with_kill(kill, tmp_path, checkpoint=None)
    same_bits(out, reference)
    # the lost points' committed advances (steps 0 and 1, 2 calls each) were replayed by Dask
    n = law().n_points
    assert advances >= 2 * STEPS * n + 2 * (n // 2), advances


@dataclass(frozen=True)
class _Killer(_Counted):
    """_Counted whose worker process SIGKILLs itself inside its ``kill_at``-th advance (once)."""

    kill_at: int = 0
    guard_pid: int = 0  # never the test process itself

    def advance(self, state, macro_input, *, seed, budget):
        out = super().advance(state, macro_input, seed=seed, budget=budget)
        count = len(open(self.log).read().splitlines())
        # >=, not ==: two workers append to the log concurrently, so a count may be skipped (the
        # O_EXCL marker makes it once)
        if count >= self.kill_at and os.getpid() != self.guard_pid:
            try:
                os.close(os.open(self.log + ".killed", os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return out
            os.kill(os.getpid(), signal.SIGKILL)
        return out


def test_sigkill_a_worker_inside_an_advance_states_rebuilt_from_checkpoint(reference, tmp_path):
    n = law().n_points
    kill_at = 2 * 2 * n + 5  # inside the first batch of load step 2
    out, advances = _run_with_kill(None, tmp_path, checkpoint=tmp_path / "states.npz", kill_at=kill_at)
    same_bits(out, reference)
    assert (tmp_path / "advances.log.killed").exists()
    # the killed advance ran again (and the killed worker's finished trials of that batch);
    # its committed states came back from the step-2 checkpoint's restore tasks, not by replay
    assert 2 * STEPS * n < advances < 2 * STEPS * n + 2 * n, advances


_CURRENT: dict = {}


def _run_with_kill(kill, tmp_path, *, checkpoint, kill_at=None):
    body = law()
    log = tmp_path / "advances.log"
    log.touch()
    oracle = (_Counted(log=str(log)) if kill_at is None
              else _Killer(log=str(log), kill_at=kill_at, guard_pid=os.getpid()))
    closure = stateful_fe2_closure(body, oracle, client=None, seed=7, n_workers=2)
    _CURRENT["client"] = closure.client
    pids = closure.client.run(os.getpid)
    try:
        out = solve_fe2_stateful(body, closure, STEPS, checkpoint=checkpoint, callback=kill, tol=TOL)
        assert set(closure.client.run(os.getpid).values()) != set(pids.values())  # a worker was replaced
    finally:
        closure.close()
        _CURRENT.clear()
    return out, len(log.read_text().splitlines())




def test_solve_quasistatic_commits_and_rolls_back():
    class Recorder:
        def __init__(self):
            self.calls = []
            self.inner = RelaxingStress()

        def __call__(self, points, *, seed_rows=None):
            self.calls.append("call")
            raise RuntimeError("micro model failed")

        def commit(self):
            self.calls.append("commit")

        def rollback(self):
            self.calls.append("rollback")

    rec = Recorder()
    with pytest.raises(RuntimeError, match="micro model failed"):
        solve_quasistatic(law(), rec, 2)
    assert rec.calls == ["call", "rollback"]
    body = law()
    closure = StatefulClosure(RelaxingStress(), body.closure_inputs(), body.closure_outputs(), client="sync")
    solve_quasistatic(body, closure, 2, tol=TOL)
    assert closure.log.commits == 2 and closure.step == 2


def test_budget_of_the_oracle_is_honoured():
    body = law()
    with pytest.raises(Exception, match="target_stderr"):
        StatefulClosure(RelaxingStress(), body.closure_inputs(), body.closure_outputs(),
                        Budget(target_stderr=1e-3), client="sync")


def test_state_files_ragged_keys_and_digest(tmp_path):
    from hmm.checkpoint import write_states

    path = tmp_path / "s.npz"
    states = [{"x": np.arange(3.0), "n": np.array(1)}, {"x": np.arange(5.0), "n": np.array(2)}]
    write_states(path, states, step=3, run_token="tok", macro={"u": np.ones(2)})
    step, back, macro = read_states(path, run_token="tok")
    assert step == 3 and [s["x"].size for s in back] == [3, 5] and [int(s["n"]) for s in back] == [1, 2]
    np.testing.assert_array_equal(macro["u"], np.ones(2))
    with pytest.raises(ValueError, match="point 1 has state keys"):
        write_states(path, [{"x": np.zeros(1)}, {"y": np.zeros(1)}], step=1, run_token="tok")
    path.write_bytes(path.read_bytes()[:-8] + b"\0" * 8)  # damaged after the manifest was written
    with pytest.raises(CheckpointError, match="digest"):
        read_states(path, run_token="tok")
    assert read_states(tmp_path / "none.npz", run_token="tok") is None
