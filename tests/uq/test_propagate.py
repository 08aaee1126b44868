"""hmm.uq.propagate: a seed ensemble of a noisy linear closure scatters as the linear method says.

Closure q = K grad u + noise (NoisyQuadratic: exact Gaussian noise of stderr SIGMA per face). The
steady finite-volume state is affine in the face noise, u = u* + M xi, so every member is a normal
draw with the variance the linear propagation gives (tests/hmm/test_steady_uncertainty.py checks
that variance against the exact map), and members are independent (independent root seeds).

* Spread: the sample variance s^2 of N members satisfies (N - 1) s^2 / sigma^2 ~ chi-square(N - 1)
  at every cell; the bounds are its two-sided 4-sigma quantiles (probability 6.3e-5 each side).
* Mean: the ensemble mean is normal around u* with stderr sigma / sqrt(N): within 4 of them.
* Goal (flow rate, a linear functional): the same two checks with the goal's linear stderr
  sqrt(w^T C w) from the state covariance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hmm import Budget, Coupler, HMMSolver
from hmm.uq import goals, propagate
from macro import ClosureResult, DiffusionLaw, Grid1D, solve_steady
from oracles.toy import NoisyQuadratic

K, NOISE, SAMPLES = 2.0, 0.3, 9
RENAME = {"x": "s0", "grad_x": "s1", "flux": "value"}
N = 120
CHI_LO, CHI_HI = stats.chi2.ppf([stats.norm.cdf(-4.0), stats.norm.cdf(4.0)], N - 1)


def _law():
    return DiffusionLaw(source=1.5, boundary=0.0, capacity=3.0, fd_step=0.5)


def _solver(coupler, cells=8):
    return HMMSolver(_law(), Grid1D(cells, (0.0, 4.0)), coupler, budget=Budget(sampling_steps=SAMPLES),
                     rename=RENAME)


class _Linear:
    """The noise-free closure q = K grad u (exact tangent)."""

    def __call__(self, points, *, seed_rows=None):
        q = K * points[:, -1:]
        return ClosureResult(q, np.zeros_like(q), np.zeros(len(q)))

    def tangent(self, points):
        return np.full((len(points), 1, 1), K)


@pytest.fixture(scope="module")
def studies():
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=11, cache=True) as coupler:
        solver = _solver(coupler)
        linear = propagate(solver, "linear", goal="flow_rate")
        ensemble = propagate(solver, "ensemble", n=N, goal=goals.flow_rate(), seed=5, linear_check=True)
        runs = coupler.accounting.fresh_runs
    exact = solve_steady(_law(), Grid1D(8, (0.0, 4.0)), _Linear(), tol=1e-13).u
    return linear, ensemble, exact, runs


def test_ensemble_spread_agrees_with_the_linear_stderr(studies):
    linear, ensemble, _, _ = studies
    sigma = linear.spread("u").values
    ratio = (N - 1) * ensemble.spread("u").values ** 2 / sigma**2
    assert np.all((ratio > CHI_LO) & (ratio < CHI_HI)), (ratio, CHI_LO, CHI_HI)
    # every member's own linear stderr is the same for a linear closure (the Jacobian does not move)
    np.testing.assert_allclose(ensemble.dataset["u_linear_stderr"].values, sigma, rtol=1e-10)
    goal_ratio = (N - 1) * float(ensemble.dataset["goal_spread"]) ** 2 / float(linear.dataset["goal_spread"]) ** 2
    assert CHI_LO < goal_ratio < CHI_HI


def test_ensemble_mean_agrees_with_the_noise_free_solution(studies):
    linear, ensemble, exact, _ = studies
    se = linear.spread("u").values / math.sqrt(N)
    assert np.all(np.abs(ensemble.mean("u").values - exact) < 4 * se)
    np.testing.assert_allclose(ensemble.stderr("u").values, ensemble.spread("u").values / math.sqrt(N))
    q_exact = float(np.sum(exact) * 0.5)  # flow rate: cell sum times the cell width 4/8
    assert abs(ensemble.goal_mean - q_exact) < 4 * float(linear.dataset["goal_spread"]) / math.sqrt(N)


def test_result_structure_seeds_and_bounds(studies):
    linear, ensemble, _, runs = studies
    ds = ensemble.dataset
    assert ensemble.method == "ensemble" and ensemble.n == N and ds.attrs["uq_method"] == "ensemble"
    assert len(set(ensemble.seeds)) == N and list(ds["member_seed"].values) == list(ensemble.seeds)
    expected = [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in np.random.SeedSequence(5).spawn(N)]
    assert list(ensemble.seeds) == expected
    t = stats.t.ppf(0.975, N - 1)
    np.testing.assert_allclose(ds["u_upper"] - ds["u"], t * ds["u_stderr"], rtol=1e-12)
    np.testing.assert_allclose(ds["u"] - ds["u_lower"], t * ds["u_stderr"], rtol=1e-12)
    assert ds["goal"].shape == (N,) and ds["u"].dims == ("x",) and ds["u_spread"].attrs["units"] == "1"
    assert int(ds["member_micro_runs"].sum()) + int(linear.dataset["micro_runs"]) == runs
    z = stats.norm.ppf(0.975)
    lds = linear.dataset
    np.testing.assert_allclose(lds["u_upper"] - lds["u"], z * lds["u_stderr"], rtol=1e-12)
    assert linear.n == 1 and linear.seeds == (11,) and math.isfinite(linear.goal_stderr) and linear.goal_stderr > 0


def test_members_do_not_change_the_coupler():
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=3, cache=True) as coupler:
        solver = _solver(coupler)
        before = solver.solve_steady()["u"].values
        propagate(solver, "ensemble", n=3)
        assert coupler.seed == 3
        np.testing.assert_array_equal(solver.solve_steady()["u"].values, before)


def test_transient_ensemble_keeps_the_time_axis():
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=0, cache=True) as coupler:
        res = propagate(_solver(coupler, cells=6), "ensemble", n=3, mode="transient", goal="flow_rate",
                        run_kwargs={"t_end": 0.2, "dt": 0.1}, keep_members=True)
    ds = res.dataset
    assert ds["u"].dims == ("time", "x") and ds.sizes["time"] == 3 and len(res.members) == 3
    stack = np.stack([m["u"].values for m in res.members])
    np.testing.assert_allclose(ds["u"].values, stack.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(ds["u_spread"].values, stack.std(axis=0, ddof=1), rtol=1e-12)
    np.testing.assert_allclose(ds["goal"].values, [goals.flow_rate()(m) for m in res.members])


def test_goals_are_linear_functionals():
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=0, cache=True) as coupler:
        ds = _solver(coupler).solve_steady(covariance=True)
    u, cov = ds["u"].values, ds["u_covariance"].values
    mean = goals.regional_mean([1.0], [2.0])
    assert mean(ds) == pytest.approx(u[2:4].mean(), rel=1e-14)  # centres 1.25 and 1.75
    # (bi)linear between the centres 3.25 and 3.75 (macro.PointValue): 0.9 u6 + 0.1 u7
    assert goals.point_value(3.3)(ds) == pytest.approx(0.9 * u[6] + 0.1 * u[7], rel=1e-12)
    w = np.zeros(8)
    w[2:4] = 0.5
    assert goals.linear_goal_stderr(mean, ds) == pytest.approx(math.sqrt(w @ cov @ w), rel=1e-12)
    # below the first centre (0.25) the first centre's value: a one-cell weight
    assert goals.linear_goal_stderr(goals.point_value([0.2]), ds) == pytest.approx(math.sqrt(cov[0, 0]), rel=1e-12)
    assert goals.make_goal({"kind": "point_value", "point": [0.2]})(ds) == u[0]
    assert goals.make_goal("flow_rate").units(ds) == "1"


@pytest.mark.parametrize("kwargs, error, match", [
    ({"method": "bootstrap"}, ValueError, "unknown method 'bootstrap'"),
    ({"method": "ensemble", "n": 1}, ValueError, "`n` must be >= 2"),
    ({"method": "ensemble", "n": 2.5}, TypeError, "`n` must be an int"),
    ({"method": "linear", "confidence": 1.0}, ValueError, r"`confidence` must lie in \(0, 1\)"),
    ({"method": "linear", "mode": "quasi"}, ValueError, "unknown mode 'quasi'"),
    ({"method": "linear", "goal": "maximum"}, ValueError, "unknown goal 'maximum'"),
    ({"method": "linear", "goal": 3}, TypeError, "goal must be"),
    ({"method": "ensemble", "mode": "transient", "n": 2}, ValueError, "`t_end` and `dt`"),
    ({"method": "ensemble", "mode": "transient", "n": 2, "run_kwargs": {"t_end": 1.0, "dt": 0.5, "checkpoint": "c.nc"}},
     ValueError, "must not name a checkpoint"),
])
def test_bad_input_is_refused_before_any_micro_run(kwargs, error, match):
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=0) as coupler:
        with pytest.raises(error, match=match):
            propagate(_solver(coupler), **kwargs)
        assert coupler.accounting.fresh_runs == 0


def test_concurrent_members_on_a_real_cluster_give_the_sequential_bits():
    """Members in flight together (threads sharing the Coupler's client) change nothing: each member's
    micro seeds come from its own root seed, whatever the order tasks finish in."""
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), None, seed=0, cache=None, n_workers=2) as coupler:
        solver = _solver(coupler)
        together = propagate(solver, "ensemble", n=6, goal="flow_rate", seed=9, concurrency=6)
        ledger = coupler.accounting
        alone = propagate(solver, "ensemble", n=6, goal="flow_rate", seed=9, concurrency=1)
        assert "LocalCluster" in coupler.describe()
    np.testing.assert_array_equal(together.dataset["goal"].values, alone.dataset["goal"].values)
    np.testing.assert_array_equal(together.mean("u").values, alone.mean("u").values)
    assert ledger.fresh_runs == int(together.dataset["member_micro_runs"].sum()) > 0
    assert len(set(together.dataset["goal"].values.tolist())) == 6  # independent members


def test_progress_bar_over_members(capsys):
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=0) as coupler:
        propagate(_solver(coupler), "ensemble", n=3, progress=True)
    err = capsys.readouterr().err
    assert "UQ members" in err and "3/3" in err


def test_flow_rate_units_carry_the_length():
    import xarray as xr

    ds = xr.Dataset({"u": ("x", np.ones(4), {"units": "m/s"})}, coords={"x": ("x", np.arange(4.0) + 0.5, {"units": "m"})})
    assert goals.flow_rate().units(ds) == "m/s*m" and goals.flow_rate()(ds) == pytest.approx(4.0)
    assert goals.regional_mean([0.0], [1.0]).units(ds) == "m/s"


def test_transient_linear_carries_the_goal_by_the_solvers_adjoint():
    """method="linear" on a transient run: u_stderr from the tangent-linear model, the flow rate's
    stderr from the solver's adjoint sweep; both equal the covariance forms to round-off."""
    with Coupler(NoisyQuadratic(slope=(0.0, K), noise=NOISE), "sync", seed=2, cache=True) as coupler:
        solver = _solver(coupler, cells=6)
        res = propagate(solver, "linear", mode="transient", goal="flow_rate",
                        run_kwargs={"t_end": 0.3, "dt": 0.1})
        full = solver.run(0.3, dt=0.1, covariance=True)
    ds = res.dataset
    np.testing.assert_array_equal(ds["u"].values, full["u"].values)
    np.testing.assert_array_equal(ds["u_stderr"].values, full["u_stderr"].values)
    w = np.full(6, 4.0 / 6)  # the cell volume: the flow rate is sum u_i h
    cov = full["u_covariance"].values[-1]
    assert float(ds["goal_stderr"].values[0]) == pytest.approx(math.sqrt(w @ cov @ w), rel=1e-10)
    assert float(ds["goal_stderr"].values[0]) > 0
