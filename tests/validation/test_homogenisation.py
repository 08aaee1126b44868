"""HMM for homogenised diffusion against closed forms and direct fine-grid solves.

Problem (:mod:`validation.homogenisation`): -div(a(x, x/eps) grad u) = 1 on (0, 1)^d, u = 0 on the
boundary, a = (1 + m x_1) / (a0 + amp cos 2 pi y_1) with m = 1/2 (layers normal to x_1).
Theory: Bensoussan, Lions & Papanicolaou (1978), ch. 1; E & Engquist (2003) for the HMM error
decomposition |u_HMM - u_eps| <= O(H^2) + O(eps). Every tolerance below is derived next to its
assertion; no number produced by the code under test is used as a reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hmm import Budget
from macro import Grid1D, Grid2D, LinearFlux, solve_steady
from oracles import CellProblemOracle, LayeredCosine, TwoPhaseLaminate
from validation import homogenisation as case

EPS = np.finfo(float).eps
M = case.SLOPE


def _midpoint_mean_of_a(a0: float, amp: float, n: int) -> float:
    """Mean of 1/(a0 + amp cos 2 pi y) over the n cell centres, in closed form.

    1/(a0 + amp cos t) = (1/s) (1 + 2 sum_k (-r)^k cos k t), s = sqrt(a0^2 - amp^2),
    r = (a0 - s)/amp. The centres t_j = 2 pi (j + 1/2)/n alias k = l n onto
    cos(l pi) = (-1)^l, so the discrete mean is (1/s)(1 - r^n)/(1 + r^n) for even n.
    """
    s = math.sqrt(a0**2 - amp**2)
    r = (a0 - s) / amp
    return (1 - r**n) / (1 + r**n) / s


def _kappa(grid, tensor) -> float:
    """Condition-number estimate of the Dirichlet FV operator on (0, 1)^d:
    lambda_max / lambda_min ~ 4 n^2 sum_k max A_kk / (pi^2 sum_k min A_kk)."""
    n = max(grid.shape)
    x = np.column_stack([np.linspace(0, 1, 101)] + [np.full(101, 0.5)] * (grid.dim - 1))
    diag = np.diagonal(tensor(x), axis1=1, axis2=2)
    return 4 * n**2 * diag.max(axis=0).sum() / (math.pi**2 * diag.min(axis=0).sum())


def _assert_second_order(errors, sizes):
    """e(H) = C H^2 + D H^3 + ... gives observed orders p_k = 2 - O(H_k): they must approach 2
    from one side monotonically, and the last deviation may be at most twice the coarsest one
    scaled by H (the O(H) term, with a factor 2 for the next one)."""
    errors = np.asarray(errors)
    orders = np.log2(errors[:-1] / errors[1:])
    dev = 2.0 - orders
    assert np.all(dev > 0) and np.all(np.diff(dev) < 0), orders
    assert dev[-1] <= 2 * dev[0] * sizes[0] / sizes[-2], orders


# --------------------------------------------------------------------- cell problems
@pytest.mark.parametrize("cells", [8, 16, 32])
def test_cell_problem_along_layers_is_the_midpoint_mean_and_across_the_harmonic_one(cells):
    """A_22 (along the layers) is the mean of a over the cell centres, in closed form
    (:func:`_midpoint_mean_of_a`): this is the exact discrete answer, not just its limit
    1/sqrt(a0^2 - amp^2). A_11 (across) is the harmonic mean 1/a0, exact for any n >= 2 because
    cos sums to zero over the centres; A_12 = 0. Tolerance: rounding of n-term sums, n eps."""
    a0, amp = case.A0_2D, case.AMP_2D
    oracle = CellProblemOracle(LayeredCosine(a0=a0, amp=amp, axis=0), 2, cells)
    across = oracle.run(np.array([0.5, 0.5, 1.0, 0.0]), seed=0, budget=Budget()).mean
    along = oracle.run(np.array([0.5, 0.5, 0.0, 1.0]), seed=0, budget=Budget()).mean
    exact = _midpoint_mean_of_a(a0, amp, cells)
    assert abs(along[1] - exact) <= cells * EPS * exact
    assert abs(across[0] - 1 / a0) <= cells * EPS / a0
    assert abs(across[1]) <= cells * EPS and abs(along[0]) <= cells * EPS


def test_cell_problem_1d_is_the_harmonic_mean():
    """1D: the flux of a unit gradient is the harmonic mean, exactly (n eps rounding)."""
    lam = TwoPhaseLaminate(a_low=1.0, a_high=9.0, fraction=0.25)
    harmonic = 1 / (0.25 / 9 + 0.75)
    for coefficient, exact in ((LayeredCosine(a0=2.0, amp=1.0), 0.5), (lam, harmonic)):
        q = CellProblemOracle(coefficient, 1, 64).run(np.array([0.0, 1.0]), seed=0, budget=Budget()).mean[0]
        assert abs(q - exact) <= 64 * EPS * exact, (coefficient, q)


# --------------------------------------------------------------------- HMM = homogenised FV scheme
def test_hmm_1d_is_the_homogenised_scheme_and_converges_at_second_order():
    """HMM with exact cell problems is the FV scheme of the homogenised equation: the gap to that
    scheme (closed-form A*) is rounding, kappa eps max|u| (forward error of a backward-stable
    solve). Against the closed-form u_0 (quadrature, :func:`validation.homogenisation.u0_1d`) the
    error is second order (:func:`_assert_second_order`)."""
    sizes = (8, 16, 32, 64)
    tensor = case.coefficient(1).effective_tensor
    errors = []
    for n in sizes:
        grid = Grid1D(n)
        u = case.hmm_steady(grid, 64).ravel()
        fv = solve_steady(case.law(), grid, LinearFlux(tensor)).u
        assert np.max(np.abs(u - fv)) <= _kappa(grid, tensor) * EPS * np.max(np.abs(u)), n
        errors.append(np.max(np.abs(u - case.u0_1d(grid.centres[0]))))
    _assert_second_order(errors, sizes)


def test_hmm_2d_is_the_scheme_with_the_discrete_cell_tensor_and_converges_at_second_order():
    """2D: the HMM equals the FV scheme whose A_22 is the cell problem's midpoint mean (closed
    form above) to rounding (kappa eps max|u|). Against u_0 by separation of variables
    (:func:`validation.homogenisation.homogenised_2d_series`, whose own error, O(1e-8) at 2048
    intervals, moves the observed orders by < 1e-4) the error at the cell centres is second order."""
    sizes = (8, 16, 32)
    cells = 32
    factor = np.diag([1.0, _midpoint_mean_of_a(case.A0_2D, case.AMP_2D, cells) * math.sqrt(
        case.A0_2D**2 - case.AMP_2D**2)])

    def discrete_tensor(x):
        return case.coefficient(2).effective_tensor(x) @ factor

    errors = []
    for n in sizes:
        grid = Grid2D((n, n))
        u = case.hmm_steady(grid, cells)
        fv = solve_steady(case.law(), grid, LinearFlux(discrete_tensor)).u.reshape(grid.shape)
        assert np.max(np.abs(u - fv)) <= _kappa(grid, discrete_tensor) * EPS * np.max(np.abs(u)), n
        errors.append(np.max(np.abs(u - case.homogenised_2d_series(n))))
    _assert_second_order(errors, sizes)


# --------------------------------------------------------------------- against direct solves
def _u0_slope_ratio() -> float:
    """|u_0''(0) / u_0'(0)| in 1D, closed form: a* u_0' = C - x with a* = (1 + m x)/a0 and
    C = 1/ln(1 + m) - 1/m give u_0''/u_0' = -1/C - m at x = 0."""
    c = 1 / math.log1p(M) - 1 / M
    return 1 / c + M


def _direct_bands(eps: float, cells_per_period: int) -> tuple[float, float]:
    """Band of max|u_eps - u_0| / (eps max|chi| max|u_0'|) for the fine FV solve (1D).

    u_eps - u_0 = eps chi(x/eps) u_0'(x) + O(eps^2) (1D, 1/eps integer: no boundary layer).
    Below 1: the fine grid samples the oscillation at phases pi/cells_per_period from its peak
    (factor cos, 1 - (pi/c)^2 / 2), and the peak next to the wall sits eps/4 inside, where |u_0'|
    is smaller by (eps/4)|u_0''/u_0'|. Above 1: the fine FV scheme integrates (C - s)/a by the
    midpoint rule, which enlarges an oscillation of wavenumber k by (k h / 2)/sin(k h / 2) - 1
    ~ (2 pi / c)^2 / 24.
    """
    c = cells_per_period
    return (1 - (math.pi / c) ** 2 / 2 - eps / 4 * _u0_slope_ratio(), 1 + (2 * math.pi / c) ** 2 / 24)


@pytest.mark.parametrize("eps", [1e-2, 1e-3])
def test_direct_1d_solve_differs_from_u0_by_the_first_order_corrector(eps):
    (row,) = case.against_direct(1, [eps], H_cells=32, cells_per_period=32)
    low, high = _direct_bands(eps, 32)
    assert low <= row["gap_direct_homogenised"] / row["corrector_estimate"] <= high, row
    # the HMM-vs-direct error is then bounded by its two parts: O(H^2) (the HMM's own error against
    # u_0 on the same points) plus the corrector term
    assert row["err_hmm_direct"] <= row["err_hmm_homogenised"] + high * row["corrector_estimate"], row


def test_direct_1d_gap_is_linear_in_eps():
    """Tenfold smaller eps, tenfold smaller gap: the sampling and midpoint factors are the same at
    both eps (same cells per period) and cancel; what is left is the wall offset of the corrector
    peak, 10 ratio - 1 = (eps_1 - eps_2)/4 |u_0''/u_0'| + O(eps^2), allowed twice."""
    rows = case.against_direct(1, [1e-2, 1e-3], H_cells=32, cells_per_period=32)
    ratio = rows[1]["gap_direct_homogenised"] / rows[0]["gap_direct_homogenised"]
    assert abs(10 * ratio - 1) <= 2 * (1e-2 - 1e-3) / 4 * _u0_slope_ratio(), rows


def test_direct_2d_gap_is_linear_in_eps_and_bounds_the_hmm_error():
    """2D, H = 1/16, 8 fine cells per period: halving eps halves |u_eps - u_0| up to a relative
    O(eps) (the corrector's wall offset as in 1D, eps/4 |d_1^2 u_0 / d_1 u_0| ~ 0.7 eps, plus the
    O(eps) boundary layer of the same size): |2 ratio - 1| <= eps. The HMM-vs-direct error is at
    most the HMM's error against u_0 plus the corrector estimate enlarged by the midpoint factor."""
    eps_values = [1 / 10, 1 / 20, 1 / 40]
    rows = case.against_direct(2, eps_values, H_cells=16, cells_per_period=8)
    high = _direct_bands(0.0, 8)[1]
    for row in rows:
        assert row["err_hmm_direct"] <= row["err_hmm_homogenised"] + high * row["corrector_estimate"], row
    gaps = [r["gap_direct_homogenised"] for r in rows]
    for k in range(2):
        assert abs(2 * gaps[k + 1] / gaps[k] - 1) <= eps_values[k], rows
