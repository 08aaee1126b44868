r"""The periodic cell problem of homogenisation, as a micro oracle.

For a macro position :math:`X` and macro gradient :math:`G` the oracle solves,
on the unit cell :math:`Y = [0, 1)^d` with periodic boundary conditions,

.. math::

    -\nabla_y \cdot \big(a(X, y)\,(G + \nabla_y \chi)\big) = 0,
    \qquad \chi \text{ periodic}, \quad \chi(0) = 0,

and returns the effective flux :math:`q = \langle a(X, y)(G + \nabla_y\chi)\rangle_Y`
(the cell average), i.e. :math:`q = A^*(X) G` with :math:`A^*` the homogenised
tensor -- but nothing here assumes linearity of the answer in ``G`` for the
caller. Units: ``q`` has the units of ``a`` times those of ``G``.

Discretisation: cell-centred finite volumes with ``cells`` cells per side,
``a`` evaluated at face midpoints, and the periodic system reduced by
pinning ``chi`` in cell 0 (symmetric positive definite, factorised with
SuperLU). Because the matrix depends on the micro coefficient field but not
on ``G``, factorisations are reused per worker process, keyed by that field
(``reuse_factorisation``); this does not change a single bit of the answer.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from hmm.contract import Budget, Estimate, EstimateArrays, OracleSetupError, resolve_budget

from .._validate import check_int, check_state, check_states

_MAX_STORED_NONZEROS = 20_000_000  # LU entries kept per process (about 240 MB)
_MAX_POINTS = 200_000  # remembered macro points (a 16-byte key each)
_factors: "OrderedDict[tuple, Any]" = OrderedDict()  # field key -> (LU, coefficients per axis)
_field_of: "OrderedDict[tuple, tuple]" = OrderedDict()  # (oracle, point) -> field key
_stored_nonzeros = 0


def clear_factorisations() -> int:
    """Empty this process's store of cell-problem factorisations; return how
    many were dropped (benchmarks call it on every worker between runs)."""
    global _stored_nonzeros
    n = len(_factors)
    _factors.clear()
    _field_of.clear()
    _stored_nonzeros = 0
    return n


def _face_positions(cells: int, dim: int) -> np.ndarray:
    """Fast-variable positions (dim * n_cells, dim) of all faces, axis by axis.

    Face ``c`` of axis ``k`` lies between cell ``c`` and cell ``c + e_k``
    (periodically), cells in C order.
    """
    h = 1.0 / cells
    centres = (np.arange(cells) + 0.5) * h
    faces = (np.arange(cells) + 1.0) * h
    if dim == 1:
        return faces[:, None]
    out = []
    for k in range(2):
        axes = [faces if j == k else centres for j in range(2)]
        grid = np.meshgrid(*axes, indexing="ij")
        out.append(np.stack([g.ravel() for g in grid], axis=-1))
    return np.concatenate(out)


@lru_cache(maxsize=16)
def _structure(cells: int, dim: int):
    """Sparsity pattern of the reduced stiffness matrix and its assembly map.

    ``K = sum_k D_k^T diag(a_k) D_k`` with chi pinned to 0 in cell 0 (row and
    column 0 removed). Returns ``(assemble, indices, indptr, n, after, before,
    face_positions)`` where ``assemble @ a_faces`` gives the CSC data and
    ``after[k]``/``before[k]`` index the periodic neighbours ``c +- e_k``.
    """
    n = cells**dim
    rows, cols, face, weight = [], [], [], []
    cell = np.arange(n).reshape((cells,) * dim)
    after = [np.roll(cell, -1, axis=k).ravel() for k in range(dim)]  # index of c + e_k
    before = [np.roll(cell, 1, axis=k).ravel() for k in range(dim)]  # index of c - e_k
    for k in range(dim):
        c0 = cell.ravel()
        c1 = np.roll(cell, -1, axis=k).ravel()  # neighbour c + e_k
        f = k * n + np.arange(n)
        w = np.full(n, cells**2, dtype=float)  # 1 / h^2
        for r, c, sign in ((c0, c0, 1.0), (c1, c1, 1.0), (c0, c1, -1.0), (c1, c0, -1.0)):
            rows.append(r), cols.append(c), face.append(f), weight.append(sign * w)
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    face, weight = np.concatenate(face), np.concatenate(weight)
    keep = (rows > 0) & (cols > 0)
    rows, cols, face, weight = rows[keep] - 1, cols[keep] - 1, face[keep], weight[keep]
    m = n - 1
    slots, inverse = np.unique(cols * m + rows, return_inverse=True)  # CSC order
    assemble = sp.csr_matrix((weight, (inverse.ravel(), face)), shape=(slots.size, dim * n))
    indices = (slots % m).astype(np.int32)
    indptr = np.concatenate([[0], np.cumsum(np.bincount(slots // m, minlength=m))]).astype(np.int32)
    return assemble, indices, indptr, m, after, before, _face_positions(cells, dim)


@dataclass(frozen=True)
class CellProblemFlux:
    """Effective flux of the periodic cell problem at macro position and gradient.

    Parameters
    ----------
    coefficient : callable
        ``a(x, y)``: x macro position (..., dim), y fast variable (..., dim).
        A frozen dataclass such as :class:`oracles.cell.coefficients.LayeredCosine`.
    dim : int
        1 or 2.
    cells : int
        Finite-volume cells per side of the unit cell.
    reuse_factorisation : bool
        Keep LU factors in a per-process LRU store (capped at about 240 MB),
        keyed by the coefficient values on the cell, and reuse them when the
        same micro operator comes back (another gradient at the same point,
        or another point with the same micro coefficient).

    Inputs ``("x", "grad_x")`` in 1D and ``("x", "y", "grad_x", "grad_y")`` in
    2D; outputs ``("flux",)`` and ``("flux_x", "flux_y")``. Deterministic:
    ``stderr`` is zero and ``n_eff`` infinite.
    """

    coefficient: Any
    dim: int = 1
    cells: int = 64
    reuse_factorisation: bool = True

    deterministic = True  # the seed is never used
    units: ClassVar[Mapping[str, str]] = dict.fromkeys(  # nondimensional (q has a's units times G's)
        ("x", "y", "grad_x", "grad_y", "flux", "flux_x", "flux_y"), "1")
    default_budget: ClassVar[Budget] = Budget()
    supports: ClassVar[frozenset[str]] = frozenset()  # a direct solve: no budget field changes the answer

    def __post_init__(self) -> None:
        if self.dim not in (1, 2):
            raise OracleSetupError(f"CellProblemFlux: `dim` must be 1 or 2, got {self.dim}")
        check_int(self.cells, "cells", type(self).__name__, minimum=2)
        if not callable(self.coefficient):
            raise TypeError("CellProblemFlux: `coefficient` must be callable a(x, y)")

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("x", "grad_x") if self.dim == 1 else ("x", "y", "grad_x", "grad_y")

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("flux",) if self.dim == 1 else ("flux_x", "flux_y")

    def _operator(self, position: np.ndarray):
        """(LU of the reduced stiffness matrix, face coefficients per axis).

        Factorisations are keyed by the coefficient field on the cell's faces
        itself, so two macro points with the same micro coefficient share one
        (e.g. all points of a laminate modulated along x_1 with equal x_1).
        """
        global _stored_nonzeros
        if self.reuse_factorisation:  # fast path: this point was seen before
            key = _field_of.get((self, position.tobytes()))
            if key is not None and key in _factors:
                _factors.move_to_end(key)
                return _factors[key]
        assemble, indices, indptr, m, _, _, pos = _structure(self.cells, self.dim)
        a = np.asarray(self.coefficient(np.broadcast_to(position, pos.shape), pos), dtype=float)
        if a.shape != (pos.shape[0],) or not (a.min() > 0 and np.isfinite(a.max())):
            raise OracleSetupError(f"coefficient must be positive and finite on the unit cell at x={position}")
        n = self.cells**self.dim
        per_axis = [a[k * n:(k + 1) * n] for k in range(self.dim)]
        key = (self.cells, self.dim, hashlib.blake2b(a.tobytes(), digest_size=16).digest())
        if self.reuse_factorisation:
            _field_of[(self, position.tobytes())] = key
            if len(_field_of) > _MAX_POINTS:
                _field_of.popitem(last=False)
            if key in _factors:
                _factors.move_to_end(key)
                return _factors[key]
        # minimum degree on A^T + A suits this symmetric pattern (about 2x less fill than COLAMD)
        lu = spla.splu(sp.csc_matrix((assemble @ a, indices, indptr), shape=(m, m)),
                       permc_spec="MMD_AT_PLUS_A")
        if self.reuse_factorisation:
            _factors[key] = (lu, per_axis)
            _stored_nonzeros += lu.L.nnz + lu.U.nnz
            while _stored_nonzeros > _MAX_STORED_NONZEROS and len(_factors) > 1:
                _, (old_lu, _) = _factors.popitem(last=False)
                _stored_nonzeros -= old_lu.L.nnz + old_lu.U.nnz
        return lu, per_axis

    def _flux(self, lu, coeffs: list[np.ndarray], gradient: np.ndarray) -> np.ndarray:
        """Solve the cell problem for one macro gradient; return the mean flux."""
        _, _, _, _, after, before, _ = _structure(self.cells, self.dim)
        inv_h = float(self.cells)
        # K chi = -sum_k D_k^T (a_k G_k), the divergence of the unperturbed flux, with
        # D_k v = (v[c + e_k] - v[c]) / h and D_k^T w = (w[c - e_k] - w[c]) / h (periodic).
        rhs = np.zeros(coeffs[0].size)
        for a, g, prev in zip(coeffs, gradient, before):
            w = a * g
            rhs -= (w[prev] - w) * inv_h
        chi = np.zeros_like(rhs)
        chi[1:] = lu.solve(rhs[1:])
        flux = np.array([a @ (g + (chi[nxt] - chi) * inv_h) for a, g, nxt in zip(coeffs, gradient, after)])
        return flux / chi.size

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        state = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        flux = self._flux(*self._operator(state[:self.dim].copy()), state[self.dim:])
        return Estimate(flux, np.zeros(flux.size), n_eff=math.inf, cost_s=time.perf_counter() - start,
                        provenance={"cells": self.cells})

    def run_batch(self, states: np.ndarray, *, seeds: np.ndarray, budget: Budget) -> EstimateArrays:
        """All rows of ``states`` at once (same bits as :meth:`run` row by row);
        each row is charged the block's mean wall time."""
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run_batch()")
        states = check_states(states, self.inputs, f"{type(self).__name__}.run_batch()")
        k, d = states.shape[0], self.dim
        flux = np.empty((k, d))
        for i in range(k):
            flux[i] = self._flux(*self._operator(states[i, :d].copy()), states[i, d:])
        cost = (time.perf_counter() - start) / max(k, 1)
        return EstimateArrays(flux, np.zeros((k, d)), np.full(k, math.inf), np.full(k, cost))


CellProblemOracle = CellProblemFlux  # the name before the redesign
