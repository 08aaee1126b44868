"""Oracle.run_batch path, HMM determinism across clusters, checkpoint restarts
and HMMSolver input checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

from hmm import Budget, CheckpointError, Coupler, EstimateArrays, HMMSolver, OracleError
from validation import homogenisation as case
from macro import DiffusionLaw, Grid1D, Grid2D
from oracles import CellProblemOracle
from oracles.toy import GaussianNoiseOracle


@dataclass(frozen=True)
class BatchedNoise(GaussianNoiseOracle):
    """GaussianNoiseOracle with a run_batch that is row-for-row identical to run,
    except that it returns NaN for negative s0 (so those rows go through run)."""

    def run_batch(self, states, *, seeds, budget):
        rows = [self.run(s, seed=int(z), budget=budget) for s, z in zip(states, seeds)]
        mean = np.array([r.mean for r in rows])
        mean[states[:, 0] < 0] = np.nan
        return EstimateArrays(mean, np.array([r.stderr for r in rows]),
                              np.array([r.n_eff for r in rows]), np.array([r.cost_s for r in rows]))


@dataclass(frozen=True)
class BrokenBatch(GaussianNoiseOracle):
    def run_batch(self, states, *, seeds, budget):
        raise RuntimeError("batch path broken")


def test_cell_problem_run_batch_equals_run_bit_for_bit():
    oracle = CellProblemOracle(case.coefficient(2), dim=2, cells=32)
    states = np.random.default_rng(0).uniform(0, 1, size=(25, 4))
    batch = oracle.run_batch(states, seeds=np.zeros(25, dtype=np.uint64), budget=Budget())
    for i, row in enumerate(states):
        assert np.array_equal(batch.mean[i], oracle.run(row, seed=0, budget=Budget()).mean)


@pytest.mark.parametrize("oracle_cls", [BatchedNoise, BrokenBatch])
def test_batch_path_gives_the_bits_of_the_per_query_path(oracle_cls):
    states = np.random.default_rng(1).uniform(0, 1, size=(30, 1))
    plain = GaussianNoiseOracle(noise=0.2)
    with Coupler(plain, "sync", seed=4) as a, Coupler(oracle_cls(noise=0.2), "sync", seed=4) as b:
        ref, got = a.evaluate(states, Budget(sampling_steps=5)), b.evaluate(states, Budget(sampling_steps=5))
    assert np.array_equal(ref.mean, got.mean) and np.array_equal(ref.seed, got.seed)


def test_rows_failing_in_the_batch_are_rerun_one_by_one_and_named():
    states = np.array([[0.5], [0.25], [-0.5], [0.75]] * 3)
    with Coupler(BatchedNoise(noise=0.1), "sync") as c:
        batch = c.evaluate(states, Budget(sampling_steps=3))  # negative s0: NaN only in run_batch
    assert np.all(np.isfinite(batch.mean))


def test_hmm_transient_run_is_bitwise_identical_sync_1_and_2_workers(client_1w, client_2w):
    oracle = CellProblemOracle(case.coefficient(1), dim=1, cells=32)
    law = DiffusionLaw(source=1.0)
    results = []
    for client in ("sync", client_1w, client_2w):
        with Coupler(oracle, client, seed=2, batch_size=5 if client != "sync" else None) as c:
            ds = HMMSolver(law, Grid1D(16), c, stepper="crank_nicolson").run(
                0.05, dt=0.01, u0={"kind": "sine", "amplitude": 1.0, "modes": [1]})
        results.append(ds)
    for other in results[1:]:
        assert np.array_equal(results[0]["u"].values, other["u"].values)
        assert np.array_equal(results[0]["flux"].values, other["flux"].values)


def test_hmm_dataset_layout_units_and_provenance_2d():
    oracle = CellProblemOracle(case.coefficient(2), dim=2, cells=16)
    with Coupler(oracle, "sync", cache=True) as c:
        ds = HMMSolver(DiffusionLaw(source=1.0), Grid2D((6, 5)), c, stepper="implicit_euler",
                       units={"u": "K", "x": "m", "time": "s", "flux": "K m/s"}).run(0.02, dt=0.01)
    assert ds["u"].dims == ("time", "x", "y") and ds["u"].shape == (3, 6, 5)
    assert ds["flux_x"].dims == ("time", "x_face", "y") and ds["flux_x"].shape == (3, 7, 5)
    assert ds["flux_y"].dims == ("time", "x", "y_face") and ds["flux_y"].shape == (3, 6, 6)
    assert ds["u"].attrs["units"] == "K" and ds["time"].attrs["units"] == "s"
    assert ds["flux_x_stderr"].attrs["units"] == "K m/s"
    assert ds.attrs["oracle"] == "CellProblemFlux" and len(ds.attrs["oracle_token"]) == 32
    assert ds.attrs["micro_runs"] == int(ds["micro_runs"].sum()) > 0
    assert np.all(ds["micro_cost_s"].values >= 0)


def _checkpointed_run(path, t_end, oracle):
    with Coupler(oracle, "sync", seed=1) as c:
        return HMMSolver(DiffusionLaw(source=1.0), Grid1D(12), c, stepper="implicit_euler").run(
            t_end, dt=0.01, u0={"kind": "sine", "amplitude": 1.0, "modes": [1]}, save_every=2,
            checkpoint=path)


class _Crash(Exception):
    pass


@dataclass(frozen=True)
class CrashAfter(GaussianNoiseOracle):
    """Deterministic oracle (flux = 0.7 grad) that crashes once ``CrashAfter.limit``
    queries ran in this process: a stand-in for a machine going down. The limit
    is process state, not configuration, so the oracle's identity is unchanged."""

    inputs = ("x", "grad_x")
    outputs = ("flux",)
    limit = 0
    count = 0

    def run(self, state, *, seed, budget):
        CrashAfter.count += 1
        if CrashAfter.limit and CrashAfter.count > CrashAfter.limit:
            raise _Crash("killed")
        from hmm import Estimate

        return Estimate([0.7 * state[1]], [0.0])


def test_checkpoint_restart_gives_the_same_bits(tmp_path):
    oracle = CrashAfter()
    full = _checkpointed_run(tmp_path / "full.nc", 0.1, oracle)
    # the same run, killed part-way through (the oracle fails for good), then resumed
    path = tmp_path / "crash.nc"
    CrashAfter.count, CrashAfter.limit = 0, 120
    try:
        with pytest.raises(OracleError):
            _checkpointed_run(path, 0.1, oracle)
    finally:
        CrashAfter.limit = 0
    partial = xr.load_dataset(path)
    assert 0 < partial.attrs["completed_steps"] < 10
    # resuming needs the same run: a different oracle configuration is refused
    with pytest.raises(CheckpointError, match="different run"):
        _checkpointed_run(path, 0.1, CrashAfter(noise=0.5))
    resumed = _checkpointed_run(path, 0.1, oracle)
    assert np.array_equal(resumed["u"].values, full["u"].values)
    assert np.array_equal(resumed["time"].values, full["time"].values)


def test_solver_rejects_bad_arguments():
    oracle = CellProblemOracle(case.coefficient(1), dim=1, cells=16)
    with Coupler(oracle, "sync") as c:
        solver = HMMSolver(DiffusionLaw(), Grid1D(8), c)
        with pytest.raises(ValueError, match="`dt` must be a positive number"):
            solver.run(1.0, dt=-0.1)
        with pytest.raises(ValueError, match="`t_end` must be a number > t0"):
            solver.run(0.0, dt=0.1)
        with pytest.raises(ValueError, match=r"`u0` must have shape \(8,\)"):
            solver.run(1.0, dt=0.1, u0=np.zeros(3))
        with pytest.raises(TypeError, match="`coupler` must be a hmm.Coupler"):
            HMMSolver(DiffusionLaw(), Grid1D(8), object())
        with pytest.raises(ValueError, match="needs inputs"):  # a 2D oracle on a 1D grid
            HMMSolver(DiffusionLaw(), Grid1D(8),
                      Coupler(CellProblemOracle(case.coefficient(2), dim=2), "sync"))


def test_save_every_zero_is_refused_alike_for_every_law():
    from macro import ElasticWaveLaw
    from oracles.constitutive import NonlinearElastic

    messages = []
    with Coupler(CellProblemOracle(case.coefficient(1), dim=1, cells=16), "sync") as c:
        with pytest.raises(ValueError, match="`save_every` must be an int >= 1, got 0") as info:
            HMMSolver(DiffusionLaw(), Grid1D(8), c).run(0.1, dt=0.01, save_every=0)
        messages.append(str(info.value))
    with Coupler(NonlinearElastic(), "sync") as c:
        with pytest.raises(ValueError, match="`save_every` must be an int >= 1, got 0") as info:
            HMMSolver(ElasticWaveLaw(), Grid1D(8), c).run(0.1, dt=0.01, save_every=0)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_records_hold_the_couplers_accounting():
    oracle = CellProblemOracle(case.coefficient(1), dim=1, cells=16)
    with Coupler(oracle, "sync", cache=True) as c:
        solver = HMMSolver(DiffusionLaw(source=1.0), Grid1D(8), c, stepper="heun")
        ds = solver.run(0.02, dt=0.01, save_every=1)
        total = c.accounting
    # every micro run and cached answer of the run is in exactly one record (a fresh coupler)
    assert int(ds["micro_runs"].sum()) == total.fresh_runs == ds.attrs["micro_runs"] > 0
    assert int(ds["micro_cached_answers"].sum()) == total.cached_answers > 0  # explicit: records re-ask
    assert int(ds["micro_batches"].sum()) == total.batches
    assert float(ds["micro_cost_s"].sum()) == pytest.approx(total.micro_seconds, rel=1e-12)
    assert ds.attrs["accounting_fresh_runs"] == total.fresh_runs


@dataclass(frozen=True)
class LinearRateOracle:
    """Reaction rate r = (1 + x) u of a first-order decay, as an oracle."""

    inputs = ("x", "u")
    outputs = ("rate",)
    units = {"rate": "mol/(m^3 s)"}

    def run(self, state, *, seed, budget):
        from hmm import Estimate

        return Estimate([(1.0 + state[0]) * state[1]], [0.0])


def test_one_loop_runs_a_user_written_law():
    """The relaxation law of tests/macro/test_law.py, du/dt = s - (1 + x) u, through
    the HMM driver: CN gives u* + g^n (u0 - u*) with g = (1 - z/2) / (1 + z/2),
    z = (1 + x) dt (the closure is linear: its FD tangent, step 1e-6, is off by ~1e-10)."""
    from tests.macro.test_law import Relaxation

    grid = Grid1D(10)
    lam = 1.0 + grid.centres[0]
    with Coupler(LinearRateOracle(), "sync") as c:
        solver = HMMSolver(Relaxation(source=0.5), grid, c, stepper="crank_nicolson")
        ds = solver.run(1.0, dt=0.1, u0=1.0, save_every=5)
        steady = solver.solve_steady()
    star, z = 0.5 / lam, lam * 0.1
    np.testing.assert_allclose(ds["u"].values[-1], star + ((1 - z / 2) / (1 + z / 2)) ** 10 * (1 - star),
                               rtol=1e-8)
    assert ds["u"].attrs["units"] == "mol/m^3" and ds["rate"].attrs["units"] == "mol/(m^3 s)"
    assert ds["rate"].dims == ("time", "x") and ds.sizes["time"] == 3
    np.testing.assert_allclose(steady["u"].values, star, rtol=1e-8)


@dataclass(frozen=True)
class NonlinearDiffusivity:
    """q = (1 + u) grad_x: a flux that depends on the state as well as its gradient."""

    inputs = ("u", "grad_x")
    outputs = ("flux",)

    def run(self, state, *, seed, budget):
        from hmm import Estimate

        return Estimate([(1.0 + state[0]) * state[1]], [0.0])


def test_state_dependent_law_through_the_coupler():
    """The oracle is asked at (u at the face, gradient); the steady state is the
    Kirchhoff closed form of tests/macro/test_diffusion.py (u = g = 1 at both ends,
    f = 2: K(u) = 3/2 + x (1 - x) + f h^2 / 8 in the discrete solution)."""
    grid = Grid1D(12)
    law = DiffusionLaw(source=2.0, boundary=1.0, state_dependent=True)
    with Coupler(NonlinearDiffusivity(), "sync") as c:
        ds = HMMSolver(law, grid, c).solve_steady(tol=1e-12)
    x, h = grid.centres[0], 1.0 / 12
    np.testing.assert_allclose(ds["u"].values, -1 + np.sqrt(1 + 2 * (1.5 + x * (1 - x) + 2.0 * h**2 / 8)),
                               rtol=0, atol=1e-10)
