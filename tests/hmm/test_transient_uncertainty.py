"""HMMSolver.run(stderr=..., covariance=..., goals=...) and solve_steady(goals=...): closure noise in
transient and steady datasets.

The micro model is :class:`oracles.toy.GaussianNoiseOracle` (flux = K grad u plus exact Gaussian noise
of stderr NOISE / sqrt(SAMPLES) per answer, seeded from the seed rows) behind a synchronous Coupler.
Ensemble check: N runs with independent Coupler seeds; at every cell (N - 1) s^2 / sigma^2 is
chi-square with N - 1 degrees of freedom when sigma (the propagated ``u_stderr``) is the true std,
so s / sigma lies within sqrt(chi2_{N-1}(p) / (N - 1)) for the 4-sigma two-sided quantiles p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import xarray as xr

from hmm.checkpoint import Checkpoint
from scipy import stats

import macro
from hmm import Budget, Coupler, HMMSolver
from hmm.errors import CheckpointError
from macro import DiffusionLaw, FlowRate, Grid1D, Grid2D, PointValue, RegionMean
from oracles.toy import GaussianNoiseOracle

K, NOISE, SAMPLES = 2.0, 0.3, 9
SIGMA = NOISE / math.sqrt(SAMPLES)
RENAME = {"x": "s0", "grad_x": "s1", "flux": "value"}
GOALS = {"flow_rate": FlowRate(), "middle": RegionMean((1.0, 3.0)), "point": PointValue(1.3)}
EPS = np.finfo(float).eps


def _same_bits(full, plain, skip=()):
    """Every variable of ``plain`` equal in ``full`` (micro wall seconds excepted: timings)."""
    for name in plain.data_vars:
        if name != "micro_cost_s" and name not in skip:
            np.testing.assert_array_equal(full[name].values, plain[name].values, err_msg=name)


def _law():
    return DiffusionLaw(source=1.5, boundary=0.0, capacity=3.0)


def _solver(coupler, stepper="crank_nicolson", grid=None, **kw):
    return HMMSolver(_law(), grid or Grid1D(8, (0.0, 4.0)), coupler, budget=Budget(sampling_steps=SAMPLES),
                     rename=RENAME, stepper=stepper, **kw)


def _run(seed, stepper="crank_nicolson", noise=NOISE, **options):
    with Coupler(GaussianNoiseOracle(slope=(0.0, K), noise=noise), "sync", seed=seed, cache=True) as c:
        return _solver(c, stepper).run(1.0, dt=0.1, u0={"kind": "sine", "amplitude": 1.0, "modes": [1]},
                                       save_every=5, **options)


def test_seed_ensemble_spread_matches_u_stderr():
    n = 120
    runs = [_run(seed, stderr=seed == 0) for seed in range(n)]
    predicted = runs[0]["u_stderr"].values[1:]  # (records after the start, cells)
    values = np.array([r["u"].values[1:] for r in runs])
    ratio = values.std(axis=0, ddof=1) / predicted
    lo, hi = (math.sqrt(q / (n - 1)) for q in stats.chi2.ppf([stats.norm.cdf(-4), stats.norm.cdf(4)], n - 1))
    assert np.all((ratio > lo) & (ratio < hi)), (ratio, lo, hi)
    np.testing.assert_array_equal(runs[0]["u_stderr"].values[0], 0.0)  # the given initial state


def test_noise_free_run_keeps_its_bits_and_gets_zero_stderr():
    for stepper in ("implicit_euler", "crank_nicolson", "explicit_euler", "heun"):
        plain = _run(1, stepper, noise=0.0, stderr=False)
        full = _run(1, stepper, noise=0.0, covariance=True, goals=GOALS)
        _same_bits(full, plain)
        np.testing.assert_array_equal(full["u_stderr"].values, 0.0)
        np.testing.assert_array_equal(full["goal_flow_rate_stderr"].values, 0.0)
        assert full.attrs["stderr_jacobians"] == 0 and "u_stderr" not in plain


@pytest.mark.parametrize("stepper", ["implicit_euler", "crank_nicolson", "explicit_euler", "heun"])
def test_noisy_run_keeps_its_bits_and_micro_work(stepper):
    """Implicit steppers: linear algebra only. Explicit ones: their Jacobians are the tangent queries
    of their CFL estimates, answered by the Coupler's cache. Same states, same micro runs."""
    plain, full = _run(2, stepper, stderr=False), _run(2, stepper, goals=GOALS)
    _same_bits(full, plain, skip=("micro_cached_answers", "micro_batches", "micro_queries"))
    assert np.all(full["u_stderr"].values[1:] > 0)
    jacobians = 0 if stepper in ("implicit_euler", "crank_nicolson") else 1
    assert full.attrs["stderr_jacobians"] == jacobians
    # each Jacobian: 9 faces, base points and one finite-difference copy, all from the cache
    extra = full["micro_cached_answers"].values - plain["micro_cached_answers"].values
    assert extra.sum() == jacobians * 2 * 9 and np.all(extra >= 0)
    np.testing.assert_array_equal(full["micro_queries"].values - plain["micro_queries"].values, extra)
    assert full["micro_batches"].values.sum() == plain["micro_batches"].values.sum() + jacobians


def test_dataset_layout_units_and_goals_from_the_covariance():
    with Coupler(GaussianNoiseOracle(slope=(0.0, K), noise=NOISE), "sync", seed=4, cache=True) as c:
        ds = _solver(c, "heun", units={"u": "m/s", "x": "m", "time": "s"}).run(
            0.5, dt=0.1, u0=0.3, save_every=1, covariance=True, goals=GOALS)
    assert ds["u_stderr"].dims == ds["u"].dims and ds["u_stderr"].attrs["units"] == "m/s"
    assert ds["u_covariance"].dims == ("time", "state", "state_t")
    assert ds["goal_flow_rate"].attrs["units"] == "m/s*m" and ds["goal_point_stderr"].attrs["units"] == "m/s"
    cov, u = ds["u_covariance"].values, ds["u"].values
    np.testing.assert_allclose(np.sqrt(np.einsum("tii->ti", cov)), ds["u_stderr"].values, rtol=1e-14)
    grid = Grid1D(8, (0.0, 4.0))
    for name, goal in GOALS.items():
        w = goal.weights(grid).ravel()
        np.testing.assert_allclose(ds[f"goal_{name}"].values, u @ w, rtol=1e-14)
        np.testing.assert_allclose(ds[f"goal_{name}_stderr"].values,
                                   np.sqrt(np.einsum("i,tij,j->t", w, cov, w)), rtol=1e-12)
    assert ds.attrs["stderr_method"].startswith("tangent_linear: law.jacobian every 10 steps")


def test_2d_run_has_stderr_on_the_grid():
    oracle = GaussianNoiseOracle(slope=(0.0, 0.0, 1.0, 0.0), noise=0.1)
    rename = {"x": "s0", "y": "s1", "grad_x": "s2", "grad_y": "s3"}
    law = DiffusionLaw(source=1.0)
    with Coupler(_TwoOutputs(oracle), "sync", seed=0, cache=True) as c:
        ds = HMMSolver(law, Grid2D((5, 4)), c, rename=rename, stepper="implicit_euler").run(
            0.2, dt=0.05, goals={"q": FlowRate()})
    assert ds["u_stderr"].dims == ("time", "x", "y") and ds["u_stderr"].shape == (5, 5, 4)
    assert np.all(ds["u_stderr"].values[1:] > 0)


@dataclass(frozen=True)
class _TwoOutputs(GaussianNoiseOracle):
    """flux_x = grad_x + noise, flux_y = grad_y + noise (the same slope rotated)."""

    base: GaussianNoiseOracle = None
    outputs = ("flux_x", "flux_y")

    def __init__(self, base):
        object.__setattr__(self, "base", base)
        object.__setattr__(self, "slope", base.slope)
        object.__setattr__(self, "noise", base.noise)
        object.__setattr__(self, "curvature", 0.0)
        object.__setattr__(self, "cost_per_sample_s", 0.0)

    @property
    def units(self):
        return dict.fromkeys((*self.inputs, *self.outputs), "1")

    def run(self, state, *, seed, budget):
        from hmm import Estimate

        ex = self.base.run(state, seed=seed, budget=budget)
        ey = self.base.run(np.asarray(state)[[0, 1, 3, 2]], seed=seed + 1, budget=budget)
        return Estimate(np.concatenate([ex.mean, ey.mean]), np.concatenate([ex.stderr, ey.stderr]))


def test_steady_goal_adjoint_equals_the_covariance():
    with Coupler(GaussianNoiseOracle(slope=(0.0, K), noise=NOISE), "sync", seed=3, cache=True) as c:
        ds = _solver(c, units={"u": "m/s", "x": "m"}).solve_steady(covariance=True, goals=GOALS)
    cov = ds["u_covariance"].values
    grid = Grid1D(8, (0.0, 4.0))
    tol = 1e3 * EPS * np.linalg.cond(cov)
    for name, goal in GOALS.items():
        w = goal.weights(grid).ravel()
        assert float(ds[f"goal_{name}"]) == pytest.approx(float(w @ ds["u"].values), rel=1e-14)
        assert float(ds[f"goal_{name}_stderr"]) == pytest.approx(math.sqrt(w @ cov @ w), rel=tol)
    assert ds["goal_flow_rate_stderr"].attrs["units"] == "m/s*m"


# -- checkpoints ------------------------------------------------------------------------------------
class _Crash(Exception):
    pass


@dataclass(frozen=True)
class _CrashAfter(GaussianNoiseOracle):
    limit = 0
    count = 0

    def run(self, state, *, seed, budget):
        _CrashAfter.count += 1
        if _CrashAfter.limit and _CrashAfter.count > _CrashAfter.limit:
            raise _Crash("killed")
        return super().run(state, seed=seed, budget=budget)


def _checkpointed(path, oracle, stepper, **kw):
    with Coupler(oracle, "sync", seed=1, retries=0) as c:
        return _solver(c, stepper).run(0.6, dt=0.05, u0=0.5, save_every=2, checkpoint=path, **kw)


@pytest.mark.parametrize("stepper", ["crank_nicolson", "heun"])
def test_checkpoint_resume_gives_the_same_stderr_bits(tmp_path, stepper):
    oracle = _CrashAfter(slope=(0.0, K), noise=NOISE)
    full = _checkpointed(tmp_path / "full.nc", oracle, stepper, goals=GOALS)
    path = tmp_path / "crash.nc"
    _CrashAfter.count, _CrashAfter.limit = 0, 150
    try:
        with pytest.raises(Exception):  # noqa: B017 (the Coupler wraps the crash)
            _checkpointed(path, oracle, stepper, goals=GOALS)
    finally:
        _CrashAfter.limit = 0
    assert 0 < xr.load_dataset(path).attrs["completed_steps"] < 12
    resumed = _checkpointed(path, oracle, stepper, goals=GOALS)
    for name in ("u", "u_stderr", "goal_flow_rate", "goal_flow_rate_stderr"):
        np.testing.assert_array_equal(resumed[name].values, full[name].values)
    # the restart covariance is not a result: it sits in the checkpoint's extra .npz, named by the manifest
    assert "tangent_covariance" not in full and "tangent_covariance" not in xr.load_dataset(path)
    assert "tangent_covariance" in Checkpoint(path).load_extra()


def test_a_checkpoint_without_propagation_is_not_resumed_with_stderr(tmp_path):
    path = tmp_path / "plain.nc"
    oracle = _CrashAfter(slope=(0.0, K), noise=NOISE)
    _checkpointed(path, oracle, "implicit_euler", stderr=False)
    assert Checkpoint(path).load_extra() is None
    with pytest.raises(CheckpointError, match="holds no closure-noise propagation"):
        _checkpointed(path, oracle, "implicit_euler")
    assert "u_stderr" not in _checkpointed(path, oracle, "implicit_euler", stderr=False)


# -- bad input and limits ---------------------------------------------------------------------------
def test_bad_arguments_and_the_size_limit():
    with Coupler(GaussianNoiseOracle(slope=(0.0, K), noise=NOISE), "sync", seed=0) as c:
        solver = _solver(c)
        with pytest.raises(TypeError, match=r"HMMSolver.run\(\): `goals` must be a mapping"):
            solver.run(0.2, dt=0.1, goals=[FlowRate()])
        with pytest.raises(ValueError, match="goal names must be identifiers"):
            solver.run(0.2, dt=0.1, goals={"flow rate": FlowRate()})
        with pytest.raises(TypeError, match="a goal must have methods weights"):
            solver.run(0.2, dt=0.1, goals={"q": 1.0})
        with pytest.raises(ValueError, match="reads field 'v'"):
            solver.run(0.2, dt=0.1, goals={"q": FlowRate(field="v")})
        with pytest.raises(ValueError, match=r"unknown `stderr_options` \['max_size'\]"):
            solver.run(0.2, dt=0.1, stderr_options={"max_size": 3})
        with pytest.raises(ValueError, match=r"`covariance=True`: TangentLinear\(\): the flat state has 8 entries"):
            solver.run(0.2, dt=0.1, covariance=True, stderr_options={"max_state": 4})
        with pytest.warns(RuntimeWarning, match="closure noise not propagated"):
            ds = solver.run(0.2, dt=0.1, goals={"q": FlowRate()}, stderr_options={"max_state": 4})
        assert "u_stderr" not in ds and "goal_q_stderr" not in ds and "goal_q" in ds
        assert ds.attrs["stderr_method"].startswith("none: TangentLinear(): the flat state has 8 entries")
        with pytest.raises(ValueError, match="no cell centre"):
            solver.solve_steady(goals={"q": RegionMean((4.5, 5.0))})
    with pytest.raises(ValueError, match="outside the domain"):
        PointValue(5.0).weights(Grid1D(8, (0.0, 4.0)))
    with pytest.raises(ValueError, match="`box` must be"):
        RegionMean((2.0, 1.0))


def test_flux_form_law_says_it_has_no_stderr():
    law = macro.ElasticWaveLaw()
    oracle = GaussianNoiseOracle(slope=(1.0,), noise=0.01)
    with Coupler(oracle, "sync", seed=0) as c:
        solver = HMMSolver(law, Grid1D(8), c, rename={"strain": "s0", "stress": "value"})
        ds = solver.run(0.02, dt=0.01, u0={"strain": 0.01})
        assert ds.attrs["stderr_method"].startswith("none: stepper 'nessyahu_tadmor' has no tangent-linear")
        assert "strain_stderr" not in ds
        with pytest.raises(ValueError, match="`covariance=True` needs a stepper with a tangent-linear model"):
            solver.run(0.02, dt=0.01, u0={"strain": 0.01}, covariance=True)
