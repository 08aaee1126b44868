"""hmm.coupling: a boundary parameter of the macro law from a second oracle, by a noisy fixed point.

Problems with closed-form fixed points, built from cheap oracles: the bulk is a Newtonian
:class:`oracles.CarreauFluid` (power index 1: tau = eta shear_rate), the "wall oracle" is
:class:`oracles.toy.GaussianNoiseOracle` with states (x, 1) and slope (s, l0), i.e. it answers
l = s x + l0 with Gaussian noise of stderr noise / sqrt(sampling_steps).

* Couette flow between a wall at rest (y = 0) and one moving at U (y = H), Navier slip l at
  both: u = U (y + l)/(H + 2 l), uniform shear rate U/(H + 2 l). Wall oracle at that rate:
  l = l0 + s U/(H + 2 l), whose fixed point is the positive root of 2 l^2 + (H - 2 l0) l -
  (l0 H + s U) = 0. The finite-volume solution is exact for a linear profile (the slip face
  stencil (u_0 - g)/(h/2 + l) is exact for it), so the HMM fixed point equals the closed form.
* Plane Poiseuille flow with force density f: the momentum balance fixes the wall shear rate
  gamma_w = f H / (2 eta) whatever the slip (and the FV fluxes telescope, so exactly so in the
  discrete problem too). Querying, as a near-wall Couette cell of height h would be, at the
  nominal rate gamma_w (1 + 2 l / h) gives l = s gamma_w (1 + 2 l/h) + l0: fixed point
  l* = (s gamma_w + l0)/(1 - q) with contraction factor q = 2 s gamma_w / h.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from hmm import Budget, Coupler
from hmm.coupling import BoundaryCoupling, FixedPointError, noisy_fixed_point, steady_hmm
from macro import DiffusionLaw, Grid1D
from oracles import CarreauFluid
from oracles.toy import GaussianNoiseOracle

RENAME = {"grad_x": "shear_rate", "flux": "shear_stress"}
H, CELLS = 10.0, 8
GRID = Grid1D(CELLS, (0.0, H))
HALF_CELL = H / CELLS / 2


def _wall_rate(ds, slip) -> float:
    """Shear rate at the lower wall from the macro profile: the slip face's own stencil."""
    low = slip if np.ndim(slip) == 0 else slip[0]
    return float(ds["u"].values[0] / (HALF_CELL + low))


def _couette(u_wall: float):
    def boundary(x, t=0.0):
        return np.where(np.asarray(x) > H / 2, u_wall, 0.0)

    return functools.partial(DiffusionLaw, source=0.0, boundary=boundary)


def _poiseuille(force_density: float):
    return functools.partial(DiffusionLaw, source=force_density, boundary=0.0)


@pytest.fixture
def bulk():
    with Coupler(CarreauFluid(eta0=2.0, power_index=1.0), "sync") as c:
        yield c


def test_couette_slip_fixed_point_matches_the_closed_form(bulk):
    """Deterministic wall oracle (zero stderr), so acceptance is by ``atol``: the pass is accepted
    when |F(l_k) - l_k| <= atol, hence |l_k - l*| <= atol / (1 - q), q = |F'(l*)| =
    2 s U / (H + 2 l*)^2; the solves' rounding (~1e-14) is far below."""
    u_wall, s, l0, atol = 1.0, 2.0, 0.5, 1e-10
    l_star = (-(H - 2 * l0) + math.sqrt((H - 2 * l0) ** 2 + 8 * (l0 * H + s * u_wall))) / 4
    q = 2 * s * u_wall / (H + 2 * l_star) ** 2
    with Coupler(GaussianNoiseOracle(slope=(s, l0), noise=0.0), "sync") as wall:
        coupling = BoundaryCoupling("slip_length", wall, lambda ds, slip: [_wall_rate(ds, slip), 1.0], "value")
        res = noisy_fixed_point(steady_hmm(_couette(u_wall), GRID, bulk, parameter="slip_length", rename=RENAME),
                                coupling, atol=atol, max_iterations=30)
    assert res.converged and res.parameter == "slip_length"
    assert abs(res.value - l_star) <= atol / (1 - q)
    x = res.solution["x"].values
    exact = u_wall * (x + l_star) / (H + 2 * l_star)
    assert np.max(np.abs(res.solution["u"].values - exact)) <= 2 * atol  # du/dl = O(U/H): same order
    assert res.n_solves == len(res.iterates) == res.n_queries == res.accounting.fresh_runs
    assert res.iterates[0].value[0] == 0.0 and res.stderr == 0.0


def test_couette_two_wall_parameters_match_the_closed_form(bulk):
    """Vector parameter, one query row per wall: l_low = s gamma + l0, l_high = s gamma + 2 l0 with
    gamma = U/(H + l_low + l_high), i.e. 2 s gamma^2 + (H + 3 l0) gamma - U = 0."""
    u_wall, s, l0, atol = 1.0, 2.0, 0.25, 1e-10
    gamma = (-(H + 3 * l0) + math.sqrt((H + 3 * l0) ** 2 + 8 * s * u_wall)) / (4 * s)
    expected = np.array([s * gamma + l0, s * gamma + 2 * l0])
    q = 2 * s * u_wall / (H + expected.sum()) ** 2  # |d l_i / d l_j| of the map, both i, j

    def query(ds, slip):
        g = _wall_rate(ds, slip)
        return [[g, 1.0], [g, 2.0]]

    with Coupler(GaussianNoiseOracle(slope=(s, l0), noise=0.0), "sync") as wall:
        res = noisy_fixed_point(steady_hmm(_couette(u_wall), GRID, bulk, parameter="slip_length", rename=RENAME),
                                BoundaryCoupling("slip_length", wall, query, "value"), atol=atol, max_iterations=30)
    assert isinstance(res.value, tuple) and len(res.value) == 2
    assert np.all(np.abs(np.array(res.value) - expected) <= atol / (1 - 2 * q))  # row sum of |Jacobian|


@pytest.mark.parametrize("seed", range(5))
def test_noisy_poiseuille_fixed_point_lands_within_its_stopping_band(bulk, seed):
    """Noisy wall oracle, stderr se = noise / sqrt(n) per answer. Acceptance of pass k means
    |l_{k+1} - l_k| = |(1 - q)(l* - l_k) + xi_k| < n_sigma sqrt(2) se; with |xi_k| <= 4 se,
    |l_k - l*| <= (n_sigma sqrt(2) + 4) se / (1 - q). The accepted value keeps the stderr of the
    answer it came from, and the sensitivity du/dl = gamma_w (a uniform shift) carries it into
    the profile."""
    f, eta, s, l0, h_cell, noise, n = 0.1, 2.0, 2.0, 0.2, 10.0, 0.2, 400
    gamma_w = f * H / (2 * eta)
    q = 2 * s * gamma_w / h_cell
    l_star = (s * gamma_w + l0) / (1 - q)
    se = noise / math.sqrt(n)

    def nominal(ds, slip):
        return [_wall_rate(ds, slip) * (1 + 2 * slip / h_cell), 1.0]

    with Coupler(GaussianNoiseOracle(slope=(s, l0), noise=noise), "sync", seed=seed) as wall:
        coupling = BoundaryCoupling("slip_length", wall, nominal, "value", budget=Budget(sampling_steps=n))
        res = noisy_fixed_point(steady_hmm(_poiseuille(f), GRID, bulk, parameter="slip_length", rename=RENAME),
                                coupling, max_iterations=20, sensitivity=lambda ds: np.full(CELLS, gamma_w))
    assert res.converged and res.n_solves >= 2  # l* is 100 se away from the start: pass 0 is refused
    assert abs(res.value - l_star) <= (2 * math.sqrt(2) + 4) * se / (1 - q)
    assert res.stderr == pytest.approx(se, rel=1e-12)
    np.testing.assert_allclose(res.solution_stderr, gamma_w * se, rtol=1e-12)
    assert res.iterates[-1].z[0] < 2.0 and all(it.z[0] >= 2.0 for it in res.iterates[:-1])


def test_repeated_query_state_is_a_cache_hit_and_is_accepted(bulk):
    """Poiseuille queried at gamma_w itself (which the slip does not change): pass 1 repeats pass 0's
    state, the cache answers with the same bits, the difference is 0 and pass 1 is accepted; the
    accepted value is pass 0's answer with its stderr."""
    f, c, noise, n = 0.1, 0.7, 0.1, 100
    with Coupler(GaussianNoiseOracle(slope=(0.0, c), noise=noise), "sync", cache=True) as wall:
        coupling = BoundaryCoupling("slip_length", wall, lambda ds, slip: [_wall_rate(ds, slip), 1.0], "value",
                                    budget=Budget(sampling_steps=n))
        res = noisy_fixed_point(steady_hmm(_poiseuille(f), GRID, bulk, parameter="slip_length", rename=RENAME),
                                coupling)
    first = res.iterates[0]
    assert res.n_solves == 2 and res.converged
    assert res.value == first.answer[0] and res.stderr == first.answer_stderr[0] == noise / math.sqrt(n)
    assert (res.accounting.fresh_runs, res.accounting.cached_answers) == (1, 1)


def test_consistent_start_is_accepted_at_once(bulk):
    """Starting at the oracle's own answer (within n_sigma of its stderr) needs one solve."""
    f, c, noise = 0.1, 0.7, 0.01
    with Coupler(GaussianNoiseOracle(slope=(0.0, c), noise=noise), "sync") as wall:
        coupling = BoundaryCoupling("slip_length", wall, lambda ds, slip: [_wall_rate(ds, slip), 1.0], "value")
        res = noisy_fixed_point(steady_hmm(_poiseuille(f), GRID, bulk, parameter="slip_length", rename=RENAME),
                                coupling, initial=c, initial_stderr=noise)
    assert res.n_solves == 1 and res.converged and (res.value, res.stderr) == (c, noise)


def test_a_map_that_is_not_a_contraction_raises_with_the_passes_so_far(bulk):
    """l -> l0 + 2 l (F' = 2) runs away from its (negative) fixed point -l0: FixedPointError after
    max_iterations solves, naming the parameter and keeping every pass."""
    l0 = 0.3
    with Coupler(GaussianNoiseOracle(slope=(2.0, l0), noise=0.01), "sync") as wall:
        coupling = BoundaryCoupling("slip_length", wall, lambda ds, slip: [slip, 1.0], "value")
        with pytest.raises(FixedPointError, match=r"`slip_length` did not settle within max_iterations=4") as info:
            noisy_fixed_point(steady_hmm(_poiseuille(0.1), GRID, bulk, parameter="slip_length", rename=RENAME),
                              coupling, max_iterations=4)
    result = info.value.result
    assert not result.converged and result.n_solves == 4 == len(result.iterates)
    assert result.value == result.iterates[-1].value[0]  # the value the returned solution was solved with
    steps = [abs(it.answer[0] - it.value[0]) for it in result.iterates]
    assert all(b > a for a, b in zip(steps, steps[1:]))  # each step twice the last: diverging


def test_exhausted_passes_can_end_with_a_solve_at_the_last_answer(bulk):
    """on_exhausted="solve": after max_iterations refused passes, one more solve with the oracle's last
    answer, returned as not converged with that answer's stderr (carried by the sensitivity)."""
    l0, noise, n = 0.3, 0.01, 4
    solved = []
    plain = steady_hmm(_poiseuille(0.1), GRID, bulk, parameter="slip_length", rename=RENAME)

    def solve(value):
        solved.append(value)
        return plain(value)

    with Coupler(GaussianNoiseOracle(slope=(2.0, l0), noise=noise), "sync") as wall:
        coupling = BoundaryCoupling("slip_length", wall, lambda ds, slip: [slip, 1.0], "value")
        res = noisy_fixed_point(solve, coupling, max_iterations=n, on_exhausted="solve",
                                sensitivity=lambda ds: np.full(CELLS, 3.0))
    last = res.iterates[-1]
    assert not res.converged and res.n_solves == n + 1 == len(solved) and len(res.iterates) == n
    assert res.value == solved[-1] == last.answer[0] and res.stderr == last.answer_stderr[0] == noise
    np.testing.assert_array_equal(res.solution_stderr, np.full(CELLS, 3.0 * noise))
    assert res.accounting.fresh_runs == n  # no query after the final solve
    with pytest.raises(ValueError, match="`on_exhausted` must be 'raise' or 'solve'"):
        noisy_fixed_point(solve, coupling, on_exhausted="continue")


def test_arguments_are_checked(bulk):
    with Coupler(GaussianNoiseOracle(slope=(1.0, 0.0)), "sync") as wall:
        with pytest.raises(ValueError, match=r"`answer` must be one of the oracle's outputs \('value',\)"):
            BoundaryCoupling("slip_length", wall, lambda ds, slip: [0.0, 1.0], "slip")
        with pytest.raises(TypeError, match="`coupler` must be a hmm.Coupler"):
            BoundaryCoupling("slip_length", object(), lambda ds, slip: [0.0, 1.0], "value")
        with pytest.raises(TypeError, match="`query` must be callable"):
            BoundaryCoupling("slip_length", wall, None, "value")
        bad = BoundaryCoupling("slip_length", wall, lambda ds, slip: [[0.0, 1.0, 2.0]], "value")
        solve = steady_hmm(_poiseuille(0.1), GRID, bulk, parameter="slip_length", rename=RENAME)
        with pytest.raises(ValueError, match=r"`query` must return shape \(n_components, 2\).*got shape \(1, 3\)"):
            noisy_fixed_point(solve, bad)
        good = BoundaryCoupling("slip_length", wall, lambda ds, slip: [0.0, 1.0], "value")
        for kwargs, exc in (({"max_iterations": 0}, ValueError), ({"n_sigma": 0.0}, ValueError),
                            ({"atol": -1.0}, ValueError), ({"initial_stderr": -0.1}, ValueError),
                            ({"n_sigma": "2"}, TypeError), ({"max_iterations": 2.0}, TypeError)):
            with pytest.raises(exc, match="noisy_fixed_point"):
                noisy_fixed_point(solve, good, **kwargs)
        with pytest.raises(TypeError, match="`solve` must be callable"):
            noisy_fixed_point(None, good)
