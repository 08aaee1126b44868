"""Closure noise carried into steady states: macro.steady.steady_uncertainty, newton_correction and
HMMSolver.solve_steady(stderr=..., covariance=..., final_correction=...).

Closed form: for a linear closure q = k grad u + xi (xi the closure's noise, independent per face,
stderr sigma) the finite-volume steady state solves J u + D xi / c + b = 0 exactly, so u is affine
in the face noise, u = u* + M xi, and Cov(u) = M diag(sigma^2) M^T. The test builds M column by
column from deterministic solves with one face's answer offset by 1 (u(e_j) - u(0)), independently
of the propagation code, and requires the propagated stderr/covariance to equal it to round-off.

An ensemble of seeded noisy HMM solves (GaussianNoiseOracle: exact Gaussian noise) must scatter
as predicted: Newton accepts u = u* + M xi_k for the noise xi_k of its last Jacobian evaluation
(with the final correction: of the accepted iterate's evaluation), so N (mean squared deviation
from u*) / sigma_i^2 is chi-square with N degrees of freedom at every cell; the bounds are its
4-sigma two-sided quantiles (probability 6.3e-5 each).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hmm import Budget, Coupler, HMMSolver
from macro import ClosureResult, DiffusionLaw, Grid1D, Grid2D, solve_steady
from macro.steady import SteadyResult, newton_correction, steady_uncertainty
from oracles.toy import GaussianNoiseOracle

K, NOISE, SAMPLES = 2.0, 0.3, 9  # q = K grad u; one sample's noise; samples per estimate
SIGMA = NOISE / math.sqrt(SAMPLES)  # the estimate's stderr
RENAME = {"x": "s0", "grad_x": "s1", "flux": "value"}  # oracle value = 0 * x + K * grad u + noise
EPS = np.finfo(float).eps


def _law(**kw):
    return DiffusionLaw(source=1.5, boundary=0.0, capacity=3.0, fd_step=0.5, **kw)


class _OffsetFlux:
    """q = tensor @ G + offset (deterministic; exact tangent), declaring a stderr per face."""

    def __init__(self, tensor, offset=None, stderr=None):
        self.tensor = np.atleast_2d(np.asarray(tensor, dtype=float))
        self.offset, self.declared = offset, stderr

    def __call__(self, points, *, seed_rows=None):
        dim = len(self.tensor)
        q = points[:, -dim:] @ self.tensor.T
        if self.offset is not None:
            q = q + self.offset
        se = np.zeros_like(q) if self.declared is None else self.declared
        return ClosureResult(q, se, np.zeros(len(q)))

    def tangent(self, points):
        return np.broadcast_to(self.tensor, (len(points),) + self.tensor.shape).copy()


def _exact_map(law, grid, tensor):
    """Columns d u / d (answer (face, component)) from deterministic solves, shape (n_cells, n_faces, dim)."""
    dim = grid.dim
    base = solve_steady(law, grid, _OffsetFlux(tensor), tol=1e-13).u
    out = np.zeros((grid.n_cells, grid.n_faces, dim))
    for f in range(grid.n_faces):
        for j in range(dim):
            offset = np.zeros((grid.n_faces, dim))
            offset[f, j] = 1.0
            out[:, f, j] = solve_steady(law, grid, _OffsetFlux(tensor, offset), tol=1e-13).u - base
    return base, out


def _roundoff(matrix) -> float:
    """Relative round-off allowance of solving with the Jacobian: 1000 eps cond."""
    return 1e3 * EPS * np.linalg.cond(matrix)


def _hmm(seed, **options):
    coupler = Coupler(GaussianNoiseOracle(slope=(0.0, K), noise=NOISE), "sync", seed=seed, cache=True)
    with coupler:
        return HMMSolver(_law(), Grid1D(8, (0.0, 4.0)), coupler, budget=Budget(sampling_steps=SAMPLES),
                         rename=RENAME).solve_steady(**options)


@pytest.mark.parametrize("slip", [0.0, 0.4])
def test_hmm_stderr_and_covariance_equal_the_exact_linear_map(slip):
    law, grid = _law(slip_length=slip), Grid1D(8, (0.0, 4.0))
    _, m = _exact_map(law, grid, [[K]])
    m = m[:, :, 0]
    cov = SIGMA**2 * m @ m.T
    with Coupler(GaussianNoiseOracle(slope=(0.0, K), noise=NOISE), "sync", seed=3, cache=True) as coupler:
        ds = HMMSolver(law, grid, coupler, budget=Budget(sampling_steps=SAMPLES),
                       rename=RENAME).solve_steady(covariance=True)
    rtol = _roundoff(m @ m.T)
    np.testing.assert_allclose(ds["u_stderr"].values, np.sqrt(np.diag(cov)), rtol=rtol, atol=0)
    np.testing.assert_allclose(ds["u_covariance"].values, cov, rtol=0, atol=rtol * np.abs(cov).max())
    assert ds["u_stderr"].dims == ds["u"].dims and ds["u_covariance"].dims == ("state", "state_t")
    np.testing.assert_array_equal(ds["value_stderr"].values, np.full(grid.n_faces, SIGMA))


def test_2d_heterogeneous_stderr_equals_the_exact_linear_map():
    """Anisotropic tensor, a stderr per face and component (tangential components enter nothing)."""
    law, grid = DiffusionLaw(source=1.0), Grid2D((4, 3))
    tensor = [[2.0, 0.3], [0.3, 1.0]]
    base, m = _exact_map(law, grid, tensor)
    declared = 0.01 * (1.0 + np.arange(grid.n_faces * 2, dtype=float).reshape(grid.n_faces, 2) % 5)
    res = solve_steady(law, grid, _OffsetFlux(tensor, stderr=declared))
    unc = steady_uncertainty(law, grid, res, covariance=True, block=5)  # several blocks
    flat = m.reshape(grid.n_cells, -1) * declared.ravel()
    cov = flat @ flat.T
    rtol = _roundoff(cov)
    np.testing.assert_allclose(unc.stderr, np.sqrt(np.diag(cov)), rtol=rtol, atol=0)
    np.testing.assert_allclose(unc.covariance, cov, rtol=0, atol=rtol * np.abs(cov).max())
    assert unc.n_noisy_answers == declared.size
    np.testing.assert_allclose(res.u, base, rtol=0, atol=1e-12)


@pytest.mark.parametrize("final_correction", [False, True])
def test_seeded_ensemble_scatters_as_predicted(final_correction):
    n = 300
    law, grid = _law(), Grid1D(8, (0.0, 4.0))
    exact = solve_steady(law, grid, _OffsetFlux([[K]]), tol=1e-13).u
    predicted = _hmm(0, final_correction=final_correction)["u_stderr"].values
    runs = np.array([_hmm(seed, stderr=False, final_correction=final_correction)["u"].values
                     for seed in range(1, n + 1)])
    ratio = n * np.mean((runs - exact) ** 2, axis=0) / predicted**2  # chi-square, n dof, per cell
    lo, hi = stats.chi2.ppf([stats.norm.cdf(-4.0), stats.norm.cdf(4.0)], n)
    assert np.all((ratio > lo) & (ratio < hi)), (ratio, lo, hi)
    assert np.all(np.abs(runs.mean(axis=0) - exact) < 4 * predicted / math.sqrt(n))


def test_final_correction_is_the_exact_root_for_the_last_evaluations_noise():
    """Linear closure: u_accepted + (-J^-1 R) solves the FV equations with the recorded face answers."""
    ds = _hmm(5, final_correction=True)
    law, grid = _law(), Grid1D(8, (0.0, 4.0))
    accepted = ds["u_accepted"].values
    noise = ds["value"].values - K * law.face_gradients(grid, accepted)[:, 0]  # the last evaluation's xi
    assert np.all(np.abs(noise) < 6 * SIGMA) and np.any(noise != 0)
    root = solve_steady(law, grid, _OffsetFlux([[K]], noise[:, None]), tol=1e-13).u
    np.testing.assert_allclose(ds["u"].values, root, rtol=0, atol=1e-12 * np.abs(root).max())
    assert ds.attrs["final_correction"] == 1 and not np.array_equal(ds["u"].values, accepted)


def test_uncertainty_does_not_touch_the_solution_or_the_micro_work():
    plain, full = _hmm(7, stderr=False), _hmm(7, covariance=True)
    assert "u_stderr" not in plain and "u_accepted" not in plain and plain.attrs["final_correction"] == 0
    for name in ("u", "value", "value_stderr", "micro_runs", "micro_cached_answers"):
        np.testing.assert_array_equal(full[name].values, plain[name].values)


def test_exact_closure_has_zero_stderr_without_probing():
    law, grid = DiffusionLaw(source=1.0), Grid1D(6)
    res = solve_steady(law, grid, _OffsetFlux([[1.0]]))
    unc = steady_uncertainty(law, grid, res)
    assert unc.n_noisy_answers == 0 and unc.covariance is None
    np.testing.assert_array_equal(unc.stderr, np.zeros(6))


def test_arguments_are_checked():
    law, grid = DiffusionLaw(source=1.0), Grid1D(6)
    res = solve_steady(law, grid, _OffsetFlux([[1.0]]))
    bare = SteadyResult(res.u, res.evaluation, res.iterations, res.residual, True)
    with pytest.raises(ValueError, match=r"steady_uncertainty\(\): `result` carries no Newton Jacobian"):
        steady_uncertainty(law, grid, bare)
    with pytest.raises(ValueError, match=r"newton_correction\(\): `result` carries no Newton Jacobian"):
        newton_correction(bare)
    with pytest.raises(TypeError, match=r"steady_uncertainty\(\): `result` must be a macro.SteadyResult"):
        steady_uncertainty(law, grid, res.u)
    with pytest.raises(ValueError, match="block"):
        steady_uncertainty(law, grid, res, block=0)
    with pytest.raises(ValueError, match="linear_solver"):
        newton_correction(res, linear_solver="cholesky")
