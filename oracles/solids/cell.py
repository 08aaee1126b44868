r"""Periodic finite-element cell problem of a heterogeneous linear-elastic microstructure.

For a macro strain :math:`\bar\varepsilon` the micro displacement on the unit
cell :math:`Y = [0, 1)^d` is :math:`u = \bar\varepsilon\,y + w` with a periodic
fluctuation :math:`w` solving

.. math::

    \int_Y \big(\bar\varepsilon + \varepsilon(w)\big) : C(y) : \varepsilon(v)\,dy = 0
    \quad \forall v \text{ periodic},

(Lagrange P1/P2 on a structured triangle or tetrahedron mesh of the cell,
periodic dofs identified, the rigid translation fixed by pinning the dofs at
the origin; plane strain in 2D). The effective stress is the cell average
:math:`\bar\sigma = \langle C(\bar\varepsilon + \varepsilon(w))\rangle`. The
problem is linear, so the oracle solves it once per microstructure for the
``nv`` unit strains (3 in 2D, 6 in 3D), keeps the effective stiffness
:math:`C^*` and the matrix :math:`H_{jk} = \langle\sigma^{(j)} :
\varepsilon^{(k)}\rangle` in a per-process cache, and answers every query
:math:`\bar\sigma = C^*\bar\varepsilon` with the tangent :math:`C^*` and the
Hill-Mandel residual :math:`\langle\sigma:\varepsilon\rangle -
\langle\sigma\rangle:\langle\varepsilon\rangle = \bar\varepsilon\cdot(H -
C^*)\,\bar\varepsilon`, which vanishes at solver tolerance for periodic
fluctuations (Hill 1963; the discrete Galerkin orthogonality).

A phase is assigned to each element by its centroid, so a laminate whose
interfaces lie on element faces (``cells * fraction`` an integer) is
resolved exactly; a circular inclusion is approximated by a staircase that
converges with ``cells``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from hmm.contract import Budget, Estimate, EstimateArrays, OracleSetupError, resolve_budget

from .._validate import check_int, check_state, check_states
from ._voigt import VOIGT_PAIRS, isotropic_voigt, stiffness_names, strain_names, stress_names, voigt_strain_tensor
from .microstructure import CircularInclusion, Laminate

__all__ = ["CellProblemStress", "cell_solution", "clear_cell_cache"]

_cache: dict[Any, tuple[np.ndarray, np.ndarray]] = {}


def clear_cell_cache() -> int:
    """Empty this process's store of solved cells; return how many were dropped."""
    n = len(_cache)
    _cache.clear()
    return n


def _components(basis: Any, dim: int) -> np.ndarray:
    """Displacement component of every dof of a vector Lagrange basis."""
    comp = np.full(basis.N, -1)
    for name in ("nodal_dofs", "facet_dofs", "edge_dofs", "interior_dofs"):
        dofs = getattr(basis, name, None)
        if dofs is None or dofs.size == 0:
            continue
        k = dofs.shape[0] // dim
        for c in range(dim):
            comp[dofs[c * k:(c + 1) * k].ravel()] = c
    return comp


def _periodic_reduction(basis: Any, dim: int, comp: np.ndarray) -> sp.csr_matrix:
    """Matrix ``(N, N_reduced)`` mapping independent periodic dofs to all dofs, with the
    dofs at the origin (rigid translation) removed."""
    x = basis.doflocs.T.copy()  # (N, dim)
    x[np.isclose(x, 1.0, atol=1e-10)] = 0.0
    key = np.concatenate([comp[:, None], np.round(x * 1e8).astype(np.int64)], axis=1)
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    origin = np.unique(inverse[np.all(key[:, 1:] == 0, axis=1)])
    keep = np.setdiff1d(np.arange(inverse.max() + 1), origin)
    column = np.full(inverse.max() + 1, -1)
    column[keep] = np.arange(keep.size)
    rows = np.flatnonzero(column[inverse] >= 0)
    return sp.csr_matrix((np.ones(rows.size), (rows, column[inverse[rows]])), shape=(basis.N, keep.size))


def cell_solution(microstructure: Any, dim: int = 2, cells: int = 32, order: int = 1) -> dict[str, Any]:
    """Solve the cell problem for the ``nv`` unit macro strains; return the effective
    stiffness ``C`` ``(nv, nv)``, ``H`` (``<sigma^(j) : eps^(k)>``), the micro strain
    fields ``strain`` ``(nv, nv, nel, nqp)`` and the ``basis`` (for plots and tests)."""
    from skfem import Basis, BilinearForm, ElementTetP1, ElementTetP2, ElementTriP1, ElementTriP2, ElementVector
    from skfem import MeshTet, MeshTri
    from skfem.helpers import ddot, div, sym_grad

    axis = np.linspace(0.0, 1.0, cells + 1)
    mesh = MeshTri.init_tensor(axis, axis) if dim == 2 else MeshTet.init_tensor(axis, axis, axis)
    element = {(2, 1): ElementTriP1, (2, 2): ElementTriP2, (3, 1): ElementTetP1, (3, 2): ElementTetP2}[(dim, order)]
    basis = Basis(mesh, ElementVector(element()), intorder=max(1, 2 * (order - 1)))
    centroids = mesh.p[:, mesh.t].mean(axis=1).T
    lam_e, mu_e = microstructure.lame_fields(centroids)
    nq = basis.X.shape[1]
    lam, mu = np.repeat(lam_e[:, None], nq, axis=1), np.repeat(mu_e[:, None], nq, axis=1)

    @BilinearForm
    def stiffness(u, v, w):
        return w.lam * div(u) * div(v) + 2.0 * w.mu * ddot(sym_grad(u), sym_grad(v))

    K = stiffness.assemble(basis, lam=lam, mu=mu).tocsr()
    comp = _components(basis, dim)
    P = _periodic_reduction(basis, dim, comp)
    lu = spla.splu((P.T @ K @ P).tocsc())
    nv = len(VOIGT_PAIRS[dim])
    Cloc = isotropic_voigt(lam_e, mu_e, dim)  # (nel, nv, nv)
    dx = basis.dx  # (nel, nq), sums to the cell volume 1
    strain = np.empty((nv, nv, basis.nelems, nq))
    for j in range(nv):
        e = np.zeros(nv)
        e[j] = 1.0
        Ebar = voigt_strain_tensor(e)
        u_aff = np.einsum("ij,jn->in", Ebar, basis.doflocs)[comp, np.arange(basis.N)]
        w = P @ lu.solve(-(P.T @ (K @ u_aff)))
        g = basis.interpolate(u_aff + w).grad
        strain[j] = np.stack([g[a, a] if a == b else g[a, b] + g[b, a] for a, b in VOIGT_PAIRS[dim]])
    stress = np.einsum("eab,jbeq->jaeq", Cloc, strain)
    C = np.einsum("jaeq,eq->aj", stress, dx)
    H = np.einsum("jaeq,kaeq,eq->jk", stress, strain, dx)
    return {"C": C, "H": H, "strain": strain, "basis": basis, "lu_nnz": lu.L.nnz + lu.U.nnz}


@dataclass(frozen=True)
class CellProblemStress:
    """Effective stress and tangent of a periodic linear-elastic cell under a macro strain.

    Parameters
    ----------
    microstructure : Laminate or CircularInclusion
        The two-phase cell (moduli in the unit ``stress_unit``).
    dim : int
        2 (plane strain) or 3.
    cells : int
        Elements per side of the cell mesh (a laminate needs ``cells * fraction``
        to be an integer, so that its interfaces lie on element faces).
    order : int
        Lagrange order 1 or 2.
    stress_unit : str
        Unit of the moduli, hence of stress, tangent and Hill-Mandel residual.

    Inputs: the Voigt macro strain ``eps_xx, eps_yy, gamma_xy`` (3D: six,
    engineering shears). Outputs: ``sigma_*`` (Voigt), the effective stiffness
    ``C_11 .. C_nn`` and ``hill_mandel`` (energy density). Deterministic.
    """

    microstructure: Any
    dim: int = 2
    cells: int = 32
    order: int = 1
    stress_unit: str = "Pa"

    deterministic = True
    default_budget: ClassVar[Budget] = Budget()
    supports: ClassVar[frozenset[str]] = frozenset()  # a direct solve: no budget field changes the answer

    def __post_init__(self) -> None:
        owner = type(self).__name__
        if not isinstance(self.microstructure, (Laminate, CircularInclusion)):
            raise TypeError(f"{owner}: `microstructure` must be a Laminate or CircularInclusion, "
                            f"got {type(self.microstructure).__name__}")
        if self.dim not in (2, 3):
            raise OracleSetupError(f"{owner}: `dim` must be 2 or 3, got {self.dim!r}")
        check_int(self.cells, "cells", owner, minimum=2)
        if self.order not in (1, 2):
            raise OracleSetupError(f"{owner}: `order` must be 1 or 2, got {self.order!r}")
        ms = self.microstructure
        if isinstance(ms, Laminate):
            if ms.axis >= self.dim:
                raise OracleSetupError(f"{owner}: Laminate axis {ms.axis} is not an axis of a {self.dim}D cell")
            if not math.isclose(self.cells * ms.fraction, round(self.cells * ms.fraction), abs_tol=1e-9):
                raise OracleSetupError(f"{owner}: `cells` * fraction must be an integer so that the laminate's "
                                       f"interfaces lie on element faces, got {self.cells} * {ms.fraction}")

    @property
    def inputs(self) -> tuple[str, ...]:
        return strain_names(self.dim)

    @property
    def outputs(self) -> tuple[str, ...]:
        return stress_names(self.dim) + stiffness_names(self.dim) + ("hill_mandel",)

    @property
    def units(self) -> Mapping[str, str]:
        return {**dict.fromkeys(self.inputs, "1"), **dict.fromkeys(self.outputs, self.stress_unit)}

    def effective(self) -> tuple[np.ndarray, np.ndarray]:
        """``(C*, H)`` of this cell, solved once per process and cached."""
        key = (self.microstructure, self.dim, self.cells, self.order)
        if key not in _cache:
            sol = cell_solution(self.microstructure, self.dim, self.cells, self.order)
            _cache[key] = (sol["C"], sol["H"])
        return _cache[key]

    def _answer(self, eps: np.ndarray, C: np.ndarray, H: np.ndarray) -> np.ndarray:
        sigma = C @ eps
        return np.concatenate([sigma, C.ravel(), [eps @ H @ eps - sigma @ eps]])

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        eps = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        mean = self._answer(eps, *self.effective())
        return Estimate(mean, np.zeros(mean.size), n_eff=math.inf, cost_s=time.perf_counter() - start,
                        provenance={"cells": self.cells, "order": self.order})

    def run_batch(self, states: np.ndarray, *, seeds: np.ndarray, budget: Budget) -> EstimateArrays:
        """All rows at once (the bits of :meth:`run` row by row); each row is charged the
        block's mean wall time."""
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run_batch()")
        states = check_states(states, self.inputs, f"{type(self).__name__}.run_batch()")
        C, H = self.effective()
        mean = np.stack([self._answer(s, C, H) for s in states]) if len(states) else np.empty((0, len(self.outputs)))
        k = len(states)
        cost = (time.perf_counter() - start) / max(k, 1)
        return EstimateArrays(mean, np.zeros_like(mean), np.full(k, math.inf), np.full(k, cost))
