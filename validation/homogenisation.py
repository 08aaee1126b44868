"""Homogenised diffusion: HMM against closed forms and a direct fine-grid solve.

Problem: -div(a(x, x/eps) grad u) = 1 on (0,1)^d, u = 0 on the boundary, with
a(x, y) = (1 + x_1 / 2) / (a0 + amp cos(2 pi y_1)) (layers normal to x_1).

Theory (Bensoussan, Lions & Papanicolaou 1978, ch. 1; E & Engquist 2003,
"The heterogeneous multiscale methods", Comm. Math. Sci. 1, for HMM):

* the homogenised tensor is diagonal: (1 + x_1/2)/a0 across the layers
  (harmonic mean), (1 + x_1/2)/sqrt(a0^2 - amp^2) along them (arithmetic);
* u_eps = u_0 + eps chi(x/eps) d_1 u_0 + O(eps) boundary layers, with the
  first-order corrector chi' = a*/a - 1 = (amp/a0) cos(2 pi y): max|chi| =
  amp / (2 pi a0), so ||u_eps - u_0||_inf ~ eps max|chi| max|d_1 u_0|;
* HMM with exact cell problems is the finite-volume scheme of the homogenised
  equation: its error against u_0 is O(H^2), against u_eps O(eps) + O(H^2).

Errors are maxima over the fine grid, with the macro solution interpolated
piecewise linearly (a pointwise comparison at macro centres would sample the
corrector at a phase that depends on eps).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.integrate import quad
from scipy.interpolate import RegularGridInterpolator

from hmm import Coupler, HMMSolver

from .table import Column, Section, Text

A0_1D, AMP_1D = 2.0, 1.0
A0_2D, AMP_2D = 2.0, 1.5
SLOPE = 0.5


def coefficient(dim: int):
    from oracles import LayeredCosine

    if dim == 1:
        return LayeredCosine(a0=A0_1D, amp=AMP_1D, macro_slope=SLOPE)
    return LayeredCosine(a0=A0_2D, amp=AMP_2D, macro_slope=SLOPE, axis=0)


def law():
    from macro import DiffusionLaw

    return DiffusionLaw(source=1.0, boundary=0.0)


def corrector_amplitude(dim: int) -> float:
    """max|chi| of the first-order corrector."""
    return (AMP_1D / A0_1D if dim == 1 else AMP_2D / A0_2D) / (2 * np.pi)


def u0_1d(x) -> np.ndarray:
    """Closed form of (a* u')' = -1, u(0) = u(1) = 0, a* = (1 + x/2)/a0:
    a* u' = C - x with C = int s/a* / int 1/a*, u(x) = int_0^x (C - s)/a* ds."""
    inv = lambda s: A0_1D / (1 + SLOPE * s)  # noqa: E731
    c = quad(lambda s: s * inv(s), 0, 1, epsabs=1e-14)[0] / quad(inv, 0, 1, epsabs=1e-14)[0]
    return np.array([quad(lambda s: (c - s) * inv(s), 0, xi, epsabs=1e-14)[0]
                     for xi in np.atleast_1d(x)])


def interpolate(grid, u: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation of cell-centred values on the unit
    domain, with the zero Dirichlet data on the boundary."""
    axes = [np.concatenate([[0.0], c, [1.0]]) for c in grid.centres]
    padded = np.zeros([len(a) for a in axes])
    padded[(slice(1, -1),) * grid.dim] = np.asarray(u).reshape(grid.shape)
    return RegularGridInterpolator(axes, padded)(points)


def hmm_steady(grid, cells: int, client="sync") -> np.ndarray:
    """Steady HMM solution with the cell-problem oracle (``cells`` per side)."""
    from oracles import CellProblemOracle

    with Coupler(CellProblemOracle(coefficient(grid.dim), dim=grid.dim, cells=cells), client) as c:
        return HMMSolver(law(), grid, c).solve_steady()["u"].values


def direct_steady(eps: float, cells_per_period: int, dim: int) -> tuple:
    """Direct finite-volume solve resolving eps: (fine grid, u_eps)."""
    from macro import CoefficientFlux, Grid1D, Grid2D, solve_steady

    n = int(round(cells_per_period / eps))
    fine = Grid1D(n) if dim == 1 else Grid2D((n, n))
    return fine, solve_steady(law(), fine, CoefficientFlux(coefficient(dim), eps, dim)).u


@lru_cache(maxsize=1)
def homogenised_2d_reference(n: int = 256):
    """Homogenised 2D solution with the closed-form tensor on an n x n grid."""
    from macro import Grid2D, LinearFlux, solve_steady

    fine = Grid2D((n, n))
    return fine, solve_steady(law(), fine, LinearFlux(coefficient(2).effective_tensor)).u


def homogenised_2d_series(n_cells: int, *, fine: int = 2048, modes: int = 1000) -> np.ndarray:
    """u_0 of the 2D problem at the centres of an ``n_cells`` x ``n_cells`` grid, by separation of variables.

    The homogenised tensor depends on x_1 only, so with f = 1 = sum_{m odd} (4 / (m pi)) sin(m pi x_2)
    the solution is u_0 = sum_m v_m(x_1) sin(m pi x_2) with

        -(A_11 v_m')' + (m pi)^2 A_22 v_m = 4 / (m pi),   v_m(0) = v_m(1) = 0,

    each solved by second-order finite differences on ``fine`` intervals (the cell centres are
    nodes when ``fine`` is a multiple of 2 ``n_cells``). Errors: O(fine^-2) from the differences,
    O(modes^-2) from the sine terms left out. Returns shape (n_cells, n_cells), index [i_1, i_2].
    """
    from scipy.linalg import solve_banded

    if fine % (2 * n_cells):
        raise ValueError(f"homogenised_2d_series(): `fine` must be a multiple of 2 n_cells = {2 * n_cells}, "
                         f"got {fine}")
    h = 1.0 / fine
    nodes = np.arange(1, fine) * h
    mids = (np.arange(fine) + 0.5) * h
    tensor = coefficient(2).effective_tensor
    a11 = tensor(np.column_stack([mids, np.zeros(fine)]))[:, 0, 0]
    a22 = tensor(np.column_stack([nodes, np.zeros(fine - 1)]))[:, 1, 1]
    centres = (np.arange(n_cells) + 0.5) / n_cells
    rows = np.rint(centres * fine).astype(int) - 1  # index of each centre among the interior nodes
    u = np.zeros((n_cells, n_cells))
    bands = np.zeros((3, fine - 1))
    bands[0, 1:] = bands[2, :-1] = -a11[1:-1] / h**2
    for m in range(1, 2 * modes, 2):
        k = m * np.pi
        bands[1] = (a11[:-1] + a11[1:]) / h**2 + k**2 * a22
        v = solve_banded((1, 1), bands, np.full(fine - 1, 4.0 / k))
        u += np.outer(v[rows], np.sin(k * centres))
    return u


def convergence_in_H(dim: int, sizes=None, cells: int | None = None) -> dict:
    """HMM error against the homogenised solution for several macro sizes H."""
    from macro import Grid1D, Grid2D, LinearFlux, solve_steady

    sizes = sizes or ((8, 16, 32, 64) if dim == 1 else (8, 16, 32))
    cells = cells or (64 if dim == 1 else 32)
    errors, scheme_gap = [], []
    for n in sizes:
        grid = Grid1D(n) if dim == 1 else Grid2D((n, n))
        u = hmm_steady(grid, cells).ravel()
        same = solve_steady(law(), grid, LinearFlux(coefficient(dim).effective_tensor)).u
        scheme_gap.append(float(np.max(np.abs(u - same))))
        if dim == 1:
            ref = u0_1d(grid.centres[0])
        else:
            fine, uref = homogenised_2d_reference()
            x, y = grid.coords()
            ref = interpolate(fine, uref, np.column_stack([x.ravel(), y.ravel()]))
        errors.append(float(np.max(np.abs(u - ref))))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    return {"H": [1.0 / n for n in sizes], "errors": errors, "orders": orders.tolist(),
            "scheme_gap": scheme_gap}


def against_direct(dim: int, eps_values, H_cells: int = 32, cells_per_period: int = 32) -> list[dict]:
    """HMM on an H = 1/H_cells grid against direct fine solves at each eps."""
    from macro import Grid1D, Grid2D

    grid = Grid1D(H_cells) if dim == 1 else Grid2D((H_cells, H_cells))
    u_hmm = hmm_steady(grid, 64 if dim == 1 else 32)
    rows = []
    for eps in eps_values:
        fine, u_eps = direct_steady(eps, cells_per_period, dim)
        pts = np.column_stack([c.ravel() for c in fine.coords()])
        if dim == 1:
            xs = np.linspace(0, 1, 2001)
            u0 = np.interp(pts[:, 0], xs, u0_1d(xs))
            du0 = np.max(np.abs(np.gradient(u0, pts[:, 0])))
        else:
            ref_grid, uref = homogenised_2d_reference()
            u0 = interpolate(ref_grid, uref, pts)
            du0 = np.max(np.abs(np.gradient(u0.reshape(fine.shape), fine.centres[0], axis=0)))
        hmm_fine = interpolate(grid, u_hmm, pts)
        rows.append({"eps": eps, "H": 1.0 / H_cells,
                     "err_hmm_direct": float(np.max(np.abs(u_eps - hmm_fine))),
                     "err_hmm_homogenised": float(np.max(np.abs(u0 - hmm_fine))),
                     "gap_direct_homogenised": float(np.max(np.abs(u_eps - u0))),
                     "corrector_estimate": float(eps * corrector_amplitude(dim) * du0)})
    return rows


# --------------------------------------------------------------------- report sections
def cell_problem_rows() -> list[dict]:
    """Cell-problem oracle against the closed-form homogenised coefficients of
    1D media and laminates: rows (case, reference, reference_value, measured, relative_error)."""
    from hmm import Budget
    from oracles import CellProblemOracle, LayeredCosine, TwoPhaseLaminate

    cases = []
    b = Budget()
    coef = LayeredCosine(a0=2.0, amp=1.0)
    for cells in (16, 64):
        q = CellProblemOracle(coef, 1, cells).run(np.array([0.0, 1.0]), seed=0, budget=b).mean[0]
        cases.append((f"1D a = 1/(2 + cos 2 pi y), {cells} cells", "harmonic mean 1/2", 0.5, q))
    lam = TwoPhaseLaminate(a_low=1.0, a_high=9.0, fraction=0.25)
    q = CellProblemOracle(lam, 1, 64).run(np.array([0.0, 1.0]), seed=0, budget=b).mean[0]
    cases.append(("1D two-phase (9, 1), fraction 1/4, 64 cells", "harmonic mean 1/(0.25/9 + 0.75)",
                  1 / (0.25 / 9 + 0.75), q))
    coef2 = LayeredCosine(a0=2.0, amp=1.5, axis=0)
    o2 = CellProblemOracle(coef2, 2, 32)
    qx = o2.run(np.array([0.5, 0.5, 1.0, 0.0]), seed=0, budget=b).mean
    qy = o2.run(np.array([0.5, 0.5, 0.0, 1.0]), seed=0, budget=b).mean
    cases.append(("2D laminate 1/(2 + 1.5 cos 2 pi y_1), 32^2: A_11 (across)", "harmonic mean 1/2", 0.5, qx[0]))
    cases.append(("2D laminate, 32^2: A_22 (along)", "arithmetic mean 1/sqrt(4 - 2.25)", 1 / np.sqrt(1.75),
                  qy[1]))
    cases.append(("2D laminate, 32^2: A_12", "0 (layers aligned with axes)", 0.0, qx[1]))
    return [{"case": name, "reference": ref_name, "reference_value": ref, "measured": got,
             "relative_error": abs(got - ref) / abs(ref) if ref else abs(got)}
            for name, ref_name, ref, got in cases]


def cell_problem_section() -> Section:
    """Report section: the cell-problem oracle against closed-form coefficients."""
    return Section(
        "Cell-problem oracle (periodic homogenisation)",
        (Column("case", "case"), Column("reference", "reference"),
         Column("reference_value", "reference value", ".15g"), Column("measured", "measured", ".15g"),
         Column("relative_error", "relative error", ".1e")),
        tuple(cell_problem_rows()),
        intro=("Source: Bensoussan, Lions & Papanicolaou, *Asymptotic Analysis for Periodic Structures* "
               "(1978), ch. 1: 1D and laminates have closed-form homogenised coefficients.",))


def convergence_section() -> Section:
    """Report section: HMM error against the homogenised solution for several H, 1D and 2D."""
    rows = []
    for dim in (1, 2):
        res = convergence_in_H(dim)
        for i, (h, e) in enumerate(zip(res["H"], res["errors"])):
            rows.append({"dim": f"{dim}D", "H": Text("1/{n}", n=round(1 / h)), "error": e,
                         "order": res["orders"][i - 1] if i else "-", "scheme_gap": res["scheme_gap"][i]})
    return Section(
        "HMM convergence to the homogenised solution in H",
        (Column("dim", "dim"), Column("H", "H"), Column("error", "max error vs u_0", ".3e"),
         Column("order", "observed order", ".2f"), Column("scheme_gap", "scheme gap", ".1e")),
        tuple(rows),
        intro=("Problem: -div(a(x, x/eps) grad u) = 1, u = 0 on the boundary, a = (1 + x_1/2)/(a0 + amp cos 2 pi "
               "y_1). Expected: second order in H (finite volumes; E & Engquist 2003 for the HMM error "
               "decomposition). 'scheme gap' = max |u_HMM - u_FV(closed-form A*)| on the same grid.",))


DIRECT_CASES = ((1, (1e-2, 1e-3), 32, 32), (2, (1 / 10, 1 / 20, 1 / 40), 16, 8))  # dim, eps, 1/H, cells/period


def direct_section() -> Section:
    """Report section: HMM against direct fine-grid solves resolving eps."""
    rows = []
    for dim, eps_values, h_cells, cpp in DIRECT_CASES:
        for r in against_direct(dim, list(eps_values), H_cells=h_cells, cells_per_period=cpp):
            rows.append({"dim": f"{dim}D", "eps": r["eps"], "H": Text("1/{n}", n=h_cells), "cells_per_period": cpp,
                         **{k: r[k] for k in ("err_hmm_direct", "err_hmm_homogenised", "gap_direct_homogenised",
                                              "corrector_estimate")}})
    return Section(
        "HMM against a direct fine-grid solve resolving eps",
        (Column("dim", "dim"), Column("eps", "eps", ".3g"), Column("H", "H"),
         Column("cells_per_period", "fine cells/period", "d"),
         Column("err_hmm_direct", "max abs(u_HMM - u_eps)", ".3e"),
         Column("err_hmm_homogenised", "max abs(u_HMM - u_0)", ".3e"),
         Column("gap_direct_homogenised", "max abs(u_eps - u_0)", ".3e"),
         Column("corrector_estimate", "corrector estimate", ".3e")),
        tuple(rows),
        intro=("Expected: |u_HMM - u_eps| <= |u_HMM - u_0| + |u_eps - u_0| with |u_eps - u_0| ~ eps max|chi| "
               "max|d_1 u_0| (first-order corrector, max|chi| = amp/(2 pi a0)). Maxima over the fine grid.",))
