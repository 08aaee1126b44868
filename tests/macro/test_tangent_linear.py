"""macro.tangent_linear: closure noise carried through transient runs, exactly and statistically.

Exact: for a closure linear in the gradient, q = A G with a declared stderr per answer, every stepper
is an affine map of the answers, so the state's error is a sum over noise sources of sensitivity
vectors. ``_dense_covariance`` builds those vectors independently of the propagation code, with dense
matrices (the stepper formulas written out, J = d(du_dt)/du and B = d(du_dt)/d(normal flux) from the
law's face operators) and sources keyed by seed row, the closure protocol's identity of a random draw;
the propagated covariance must equal sum_s v_s v_s^T to round-off: ``1000 eps`` times the condition
number of the step matrix, times max |C|.

Statistical: a closure with exact Gaussian noise drawn from its seed rows (common random numbers, as
the Coupler draws them) gives an ensemble of N independent runs per seed; at every cell
(N - 1) s^2 / sigma^2 is chi-square with N - 1 degrees of freedom when sigma is the true std, so the
sample std s over the propagated stderr sigma lies within sqrt(chi2_{N-1}(p) / (N - 1)) for the
4-sigma two-sided quantiles p (probability 6.3e-5 each per cell).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from macro import ClosureResult, DiffusionLaw, Grid1D, Grid2D, get_stepper
from macro.tangent_linear import MAX_COVARIANCE_STATE, TangentLinear

EPS = np.finfo(float).eps
THETA = {"implicit_euler": 1.0, "crank_nicolson": 0.5}
STEPPERS = ["implicit_euler", "crank_nicolson", "explicit_euler", "heun"]


class _Linear:
    """q = tensor @ G with a declared stderr per (face, component); exact tangent; deterministic."""

    def __init__(self, tensor, stderr):
        self.tensor = np.atleast_2d(np.asarray(tensor, dtype=float))
        self.stderr = np.asarray(stderr, dtype=float)

    def __call__(self, points, *, seed_rows=None):
        q = points[:, -len(self.tensor):] @ self.tensor.T
        se = np.broadcast_to(self.stderr, q.shape) if self.stderr.size in (1, q.size) else self.stderr[:len(q)]
        return ClosureResult(q, se, np.zeros(len(q)))

    def tangent(self, points):
        return np.broadcast_to(self.tensor, (len(points),) + self.tensor.shape).copy()


class _ReplayedLaw(DiffusionLaw):
    """The same law without ``answer_jacobian``: B comes from replaying the answers (probed columns)."""

    answer_jacobian = None


def _key(row, j):
    return (np.asarray(row, dtype=float) + 0.0).tobytes(), j


def _dense_covariance(law, grid, closure, name, u_steps, t_steps, n_subs):
    """Sum over sources of v v^T, the sensitivities built with dense matrices (see the module docstring).

    u_steps, t_steps: the states and times at the start of every step (and the last state); n_subs: the
    sub-steps of every step (explicit steppers)."""
    ops = law.operators(grid)
    n, nf = grid.n_cells, grid.n_faces
    axes = ops.face_axes
    tensor = closure.tensor
    # normal flux at face f: tensor[axis_f] @ G_f; G = Gmat u + g
    gmat = ops.gradient.toarray().reshape(nf, grid.dim, n)
    normal = np.einsum("fk,fkc->fc", tensor[axes], gmat)
    div = ops.divergence.toarray() / law.capacity
    a = div @ normal
    sigma = np.broadcast_to(closure.stderr, (nf, grid.dim))[np.arange(nf), axes] if closure.stderr.size > 1 \
        else np.full(nf, float(closure.stderr))
    eye = np.eye(n)
    sens: dict = {}

    def add(rows, coef):  # coef (n, n): applied to B sigma of every face
        cols = coef @ div * sigma
        for f in range(nf):
            key = _key(rows[f], int(axes[f]))
            sens[key] = sens.get(key, 0.0) + cols[:, f]

    def apply(m):
        for key in sens:
            sens[key] = m @ sens[key]

    def rhs(u, t):
        return law.evaluate(grid, u, t, _Linear(tensor, 0.0)).du_dt

    points = law.closure_points
    for k, (u, t) in enumerate(zip(u_steps[:-1], t_steps[:-1])):
        dt = t_steps[k + 1] - t
        if name in THETA:
            th = THETA[name]
            p = np.linalg.inv(eye - dt * th * a)
            apply(p @ (eye + dt * (1 - th) * a))
            if th < 1:  # the start evaluation: the previous step's end (seed rows of its start), or fresh
                add(points(grid, u_steps[k - 1] if k else u, t), dt * (1 - th) * p)
            add(points(grid, u, t), dt * th * p)
        else:
            h, v = dt / n_subs[k], u
            for i in range(n_subs[k]):
                ti = t + i * h
                if name == "explicit_euler":
                    apply(eye + h * a)
                    add(points(grid, v, ti), h * eye)
                    v = v + h * rhs(v, ti)
                else:
                    star = v + h * rhs(v, ti)
                    apply(eye + h * a + 0.5 * h * h * a @ a)
                    add(points(grid, v, ti), 0.5 * h * (eye + h * a))
                    add(points(grid, star, ti + h), 0.5 * h * eye)
                    v = v + 0.5 * h * (rhs(v, ti) + rhs(star, ti + h))
    vs = np.array(list(sens.values()))
    return vs.T @ vs, len(sens), a


def _propagate(law, grid, closure, name, u0, dt, n_steps, keep_steps=True, **options):
    stepper = get_stepper(name)(law, grid, closure, **options)
    stepper.tangent_tape = []
    tl = TangentLinear(law, grid, keep_steps=keep_steps)
    u, t = np.asarray(u0, dtype=float).ravel(), 0.0
    us, ts, subs = [u], [t], []
    for _ in range(n_steps):
        res = stepper.step(u, t, dt)
        tl.advance(stepper)
        u, t = res.u, res.t
        us.append(u)
        ts.append(t)
        subs.append(res.n_substeps)
    return tl, us, ts, subs


def _check_exact(law, grid, closure, name, u0, dt, n_steps, expect_sources=None):
    tl, us, ts, subs = _propagate(law, grid, closure, name, u0, dt, n_steps)
    cov, n_sources, a = _dense_covariance(law, grid, closure, name, us, ts, subs)
    h = dt / max(subs) if name not in THETA else dt
    step_matrix = np.eye(grid.n_cells) - (h * THETA[name] * a if name in THETA else -h * a)
    tol = 1e3 * EPS * np.linalg.cond(step_matrix) * np.abs(cov).max()
    np.testing.assert_allclose(tl.covariance, cov, rtol=0, atol=tol)
    np.testing.assert_allclose(tl.stderr, np.sqrt(np.diag(cov)), rtol=1e3 * EPS * np.linalg.cond(step_matrix))
    assert tl.n_sources == n_sources
    if expect_sources is not None:
        assert n_sources == expect_sources
    # the adjoint sweep equals the forward covariance for a goal
    w = np.linspace(1.0, 2.0, grid.n_cells)
    assert tl.goal_stderr(w) == pytest.approx(math.sqrt(w @ cov @ w), rel=tol / np.abs(cov).max())
    return tl, subs, cov


@pytest.mark.parametrize("law_class", [DiffusionLaw, _ReplayedLaw], ids=["answer_jacobian", "replayed"])
@pytest.mark.parametrize("name", STEPPERS)
def test_1d_covariance_equals_the_dense_closed_form(name, law_class):
    law, grid = law_class(source=1.5, boundary=0.2, capacity=3.0), Grid1D(8, (0.0, 4.0))
    stderr = 0.01 * (1.0 + np.arange(grid.n_faces))[:, None]  # a stderr per face
    u0 = np.sin(np.linspace(0.3, 2.9, 8)) * (1.0 + np.linspace(0.0, 1.0, 8))
    # dt = 0.3 sub-cycles the explicit steppers (the CFL limit is 0.9 / (2 * 2 / 3 / 0.25) = 0.17)
    tl, subs, _ = _check_exact(law, grid, _Linear([[2.0]], stderr), name, u0, 0.3, 5)
    if name in THETA:
        # implicit Euler: 9 faces x 5 steps; Crank-Nicolson: the first start evaluation shares its seed
        # rows (the points of u0) with the first end evaluation, later ones are the previous end
        assert tl.n_sources == 45 and tl.n_jacobians == 0
    else:
        assert subs == [2] * 5 and tl.n_jacobians == 1  # one Jacobian for 5 steps (refresh every 10)


@pytest.mark.parametrize("law_class", [DiffusionLaw, _ReplayedLaw], ids=["answer_jacobian", "replayed"])
@pytest.mark.parametrize("name", ["implicit_euler", "crank_nicolson", "heun"])
def test_2d_anisotropic_covariance_equals_the_dense_closed_form(name, law_class):
    law, grid = law_class(source=1.0, boundary=0.0), Grid2D((4, 3))
    stderr = 0.01 * (1.0 + np.arange(grid.n_faces * 2, dtype=float).reshape(grid.n_faces, 2) % 5)
    x, y = grid.coords()
    u0 = (x * (1 - x) * (1 + y) + 0.1 * y).ravel()
    _check_exact(law, grid, _Linear([[2.0, 0.3], [0.3, 1.0]], stderr), name, u0, 0.05, 3)


@pytest.mark.parametrize("name", ["explicit_euler", "heun"])
def test_repeated_seed_rows_are_one_source(name):
    """From u = 0 on most of the domain, faces ahead of the front keep the same (x, G = 0) query step
    after step (and within a Heun step): one noise source each, so its error adds up coherently. Taken
    as independent draws the variance there would be too small by a factor 1.6 or more."""
    law, grid = DiffusionLaw(), Grid1D(16)
    u0 = np.zeros(16)
    u0[:3] = 1.0
    closure = _Linear([[1.0]], 0.02)
    tl, subs, cov = _check_exact(law, grid, closure, name, u0, 1.0e-3, 6)
    assert subs == [1] * 6
    # the same run with every answer a fresh draw
    fresh = TangentLinear(law, grid)
    stepper = get_stepper(name)(law, grid, closure)
    stepper.tangent_tape = []
    u, t = u0, 0.0
    for _ in range(6):
        u = stepper.step(u, t, 1.0e-3).u
        t += 1.0e-3
        for entry in stepper.tangent_tape:
            fresh._previous = None  # forget the previous step's sources
            fresh._advance(entry, stepper, True)
        stepper.tangent_tape.clear()
    far = slice(10, 15)  # regression pin of the effect: 1.6 to 3.8 times the fresh-draw variance
    assert np.all(np.diag(cov)[far] > 1.5 * np.diag(fresh.covariance)[far])


def test_exact_closure_costs_nothing_and_changes_nothing():
    law, grid = DiffusionLaw(source=1.0), Grid1D(8)
    closure = _Linear([[1.0]], 0.0)
    for name in STEPPERS:
        plain = get_stepper(name)(law, grid, closure)
        taped = get_stepper(name)(law, grid, closure)
        taped.tangent_tape = []
        tl = TangentLinear(law, grid)
        u = v = np.linspace(0.0, 1.0, 8)
        for k in range(3):
            u = plain.step(u, 0.01 * k, 0.01).u
            v = taped.step(v, 0.01 * k, 0.01).u
            tl.advance(taped)
        np.testing.assert_array_equal(u, v)
        assert plain.n_closure_calls == taped.n_closure_calls and tl.n_jacobians == 0
        np.testing.assert_array_equal(tl.covariance, 0.0)


def test_size_limit_and_arguments():
    law = DiffusionLaw()
    with pytest.raises(ValueError, match=r"TangentLinear\(\): the flat state has 2116 entries, more than "
                                         r"`max_state` = 2048"):
        TangentLinear(law, Grid2D((46, 46)))
    assert MAX_COVARIANCE_STATE == 2048
    assert TangentLinear(law, Grid2D((46, 46)), max_state=2116).n == 2116
    with pytest.raises(ValueError, match="jacobian_refresh"):
        TangentLinear(law, Grid1D(4), jacobian_refresh=0)
    with pytest.raises(ValueError, match=r"goal_stderr\(\): the step tangents were not kept"):
        TangentLinear(law, Grid1D(4)).goal_stderr(np.ones(4))
    with pytest.raises(ValueError, match=r"`covariance` must have shape \(4, 4\)"):
        TangentLinear(law, Grid1D(4), covariance=np.eye(3))


# -- statistical ------------------------------------------------------------------------------------
def _normal(rows, seed, column):
    """N(0, 1) per row, a pure function of (seed row bits, seed, column): splitmix64 of the row's words."""
    words = (np.ascontiguousarray(rows, dtype=float) + 0.0).view(np.uint64)
    h = np.full(len(rows), np.uint64(seed * 7919 + column + 1))
    with np.errstate(over="ignore"):
        for k in range(words.shape[1]):
            h = h ^ words[:, k]
            h = (h + np.uint64(0x9E3779B97F4A7C15))
            h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            h = h ^ (h >> np.uint64(31))
    u = ((h >> np.uint64(11)).astype(float) + 0.5) / 2.0**53
    return special.ndtri(u)


class _Noisy:
    """q = k(G) G + sigma xi(seed row), xi exact N(0, 1) (common random numbers); exact mean tangent."""

    def __init__(self, seed, sigma, curvature=0.0, lattice=0.0):
        self.seed, self.sigma, self.curvature, self.lattice = seed, sigma, curvature, lattice

    def __call__(self, points, *, seed_rows=None):
        g = points[:, -1:]
        rows = points if seed_rows is None else seed_rows
        if self.lattice:  # the noise of a gradient lattice node, reused for every gradient rounding to it
            rows = np.column_stack([rows[:, :-1], np.round(rows[:, -1] / self.lattice) * self.lattice])
        noise = self.sigma * _normal(rows, self.seed, 0)[:, None] if self.sigma else 0.0
        q = (2.0 + self.curvature * g**2) * g + noise
        return ClosureResult(q, np.full_like(q, self.sigma), np.zeros(len(q)))

    def tangent(self, points):
        g = points[:, -1]
        return (2.0 + 3.0 * self.curvature * g**2)[:, None, None]


def _chi_bounds(n):
    lo, hi = stats.chi2.ppf([stats.norm.cdf(-4.0), stats.norm.cdf(4.0)], n - 1)
    return math.sqrt(lo / (n - 1)), math.sqrt(hi / (n - 1))


@pytest.mark.parametrize("name,curvature", [("implicit_euler", 0.0), ("crank_nicolson", 0.0),
                                            ("explicit_euler", 0.0), ("heun", 0.0),
                                            ("crank_nicolson", 0.5), ("heun", 0.5)])
def test_ensemble_spread_matches_the_propagated_stderr(name, curvature):
    n, sigma = 150, 0.05
    law, grid = DiffusionLaw(source=1.5, boundary=0.0, capacity=3.0), Grid1D(8, (0.0, 4.0))
    u0 = np.sin(np.linspace(0.3, 2.9, 8))
    dt, n_steps = 0.25, 6
    finals, stderrs = [], []
    for seed in range(n):
        tl, us, _, _ = _propagate(law, grid, _Noisy(seed, sigma, curvature), name, u0, dt, n_steps,
                                  keep_steps=False)
        finals.append(us[-1])
        stderrs.append(tl.stderr)
    finals, stderrs = np.array(finals), np.array(stderrs)
    predicted = np.sqrt(np.mean(stderrs**2, axis=0))  # the runs' own linearisations (equal if linear)
    ratio = finals.std(axis=0, ddof=1) / predicted
    lo, hi = _chi_bounds(n)
    assert np.all((ratio > lo) & (ratio < hi)), (ratio, lo, hi)
    exact = _propagate(law, grid, _Noisy(0, 0.0, curvature), name, u0, dt, n_steps)[1][-1]
    if curvature == 0.0:  # linear: the ensemble is unbiased and every run has the same stderr
        assert np.all(np.abs(finals.mean(axis=0) - exact) < 4 * predicted / math.sqrt(n))
        np.testing.assert_allclose(stderrs, stderrs[:1].repeat(n, axis=0), rtol=1e-12)


def test_goal_weights():
    from macro import FlowRate, PointValue, RegionMean

    g1, g2 = Grid1D(8, (0.0, 4.0)), Grid2D((4, 5), ((0.0, 2.0), (1.0, 2.0)))
    np.testing.assert_array_equal(FlowRate().weights(g1), np.full(8, 0.5))
    assert FlowRate().weights(g2).sum() == pytest.approx(2.0, rel=1e-15)  # the domain's area
    assert FlowRate().units(g1, "m/s", "m") == "m/s*m" and FlowRate().units(g2, "1", "m") == "m^2"
    w = RegionMean((1.0, 2.6)).weights(g1)  # centres 1.25, 1.75, 2.25
    np.testing.assert_array_equal(w, np.where((g1.centres[0] > 1) & (g1.centres[0] < 2.6), 1 / 3, 0.0))
    # a point value is exact on a field linear between the outermost centres
    for grid, x in ((g1, (1.6,)), (g2, (0.9, 1.37))):
        coords = grid.coords()
        u = 0.3 + sum((k + 1.5) * c for k, c in enumerate(coords))
        value = PointValue(x).value(grid, u)
        assert value == pytest.approx(0.3 + sum((k + 1.5) * v for k, v in enumerate(x)), rel=1e-14)
        assert PointValue(x).weights(grid).sum() == pytest.approx(1.0, rel=1e-15)
    # beyond the outermost centre: the nearest centre's value
    np.testing.assert_array_equal(PointValue(3.9).weights(g1), np.eye(8)[7])


def test_answers_reused_under_other_seed_rows_are_a_documented_underestimate():
    """A closure that reuses one answer's noise for every gradient rounding to the same lattice node
    (as a quantised or tabulated closure does) near a steady state: consecutive steps draw the same
    noise, which the propagation (identity = seed row) counts as fresh draws. The ensemble spreads
    more than the propagated stderr, beyond the upper chi-square bound: the approximation the module
    docstring states."""
    n, sigma = 100, 0.05
    law, grid = DiffusionLaw(source=1.0, boundary=0.0), Grid1D(8)
    x = grid.centres[0]
    u0 = x * (1 - x) / 4  # the steady state of q = 2 G
    finals, predicted = [], None
    for seed in range(n):
        tl, us, _, _ = _propagate(law, grid, _Noisy(seed, sigma, lattice=1.0), "implicit_euler", u0, 2e-3, 10,
                                  keep_steps=False)
        finals.append(us[-1])
        predicted = tl.stderr
    ratio = np.array(finals).std(axis=0, ddof=1) / predicted
    assert np.all(ratio > _chi_bounds(n)[1]), ratio
