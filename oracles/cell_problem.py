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
SuperLU). Because the matrix depends on ``X`` but not on ``G``, factorisations
are reused per worker process for repeated ``X`` (``reuse_factorisation``);
this does not change a single bit of the answer.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from functools import lru_cache
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from hmm.budget import Budget
from hmm.estimate import Estimate

_MAX_STORED_NONZEROS = 20_000_000  # LU entries kept per process (about 240 MB)
_factors: "OrderedDict[tuple, tuple]" = OrderedDict()
_stored_nonzeros = 0


def _difference_operators(cells: int, dim: int) -> list[sp.csr_matrix]:
    """Forward periodic differences ``(chi[c + e_k] - chi[c]) / h`` for each axis k."""
    h = 1.0 / cells
    one = sp.identity(cells, format="csr")
    shift = sp.eye(cells, k=1, format="csr") + sp.eye(cells, k=1 - cells, format="csr")
    d1 = (shift - one) / h
    if dim == 1:
        return [d1.tocsr()]
    return [sp.kron(d1, one, format="csr"), sp.kron(one, d1, format="csr")]


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
    column 0 removed). Returns ``(assemble, indices, indptr, n, diffs,
    diffs_t, face_positions)`` where ``assemble @ a_faces`` gives the CSC data.
    """
    n = cells**dim
    diffs = _difference_operators(cells, dim)
    rows, cols, face, weight = [], [], [], []
    cell = np.arange(n).reshape((cells,) * dim)
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
    return (assemble, indices, indptr, m, diffs, [d.T.tocsr() for d in diffs],
            _face_positions(cells, dim))


@dataclass(frozen=True)
class CellProblemOracle:
    """Effective flux of the periodic cell problem at macro position and gradient.

    Parameters
    ----------
    coefficient : callable
        ``a(x, y)``: x macro position (..., dim), y fast variable (..., dim).
        A frozen dataclass such as :class:`oracles.coefficients.LayeredCosine`.
    dim : int
        1 or 2.
    cells : int
        Finite-volume cells per side of the unit cell.
    reuse_factorisation : bool
        Keep the LU factors per macro position in a per-process LRU store.

    Inputs ``("x", "grad_x")`` in 1D and ``("x", "y", "grad_x", "grad_y")`` in
    2D; outputs ``("flux",)`` and ``("flux_x", "flux_y")``. Deterministic:
    ``stderr`` is zero and ``n_eff`` infinite.
    """

    coefficient: Any
    dim: int = 1
    cells: int = 64
    reuse_factorisation: bool = True

    def __post_init__(self) -> None:
        if self.dim not in (1, 2):
            raise ValueError(f"CellProblemOracle: `dim` must be 1 or 2, got {self.dim}")
        if isinstance(self.cells, bool) or not isinstance(self.cells, int) or self.cells < 2:
            raise ValueError(f"CellProblemOracle: `cells` must be an int >= 2, got {self.cells!r}")
        if not callable(self.coefficient):
            raise TypeError("CellProblemOracle: `coefficient` must be callable a(x, y)")

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("x", "grad_x") if self.dim == 1 else ("x", "y", "grad_x", "grad_y")

    @property
    def outputs(self) -> tuple[str, ...]:
        return ("flux",) if self.dim == 1 else ("flux_x", "flux_y")

    def _operator(self, position: np.ndarray):
        """(LU of the reduced stiffness matrix, face coefficients per axis)."""
        global _stored_nonzeros
        key = (self, position.tobytes())
        if self.reuse_factorisation and key in _factors:
            _factors.move_to_end(key)
            return _factors[key]
        assemble, indices, indptr, m, _, _, pos = _structure(self.cells, self.dim)
        a = np.asarray(self.coefficient(np.broadcast_to(position, pos.shape), pos), dtype=float)
        if a.shape != (pos.shape[0],) or not np.all(np.isfinite(a)) or np.any(a <= 0):
            raise ValueError(f"coefficient must be positive and finite on the unit cell at x={position}")
        # minimum degree on A^T + A suits this symmetric pattern (about 2x less fill than COLAMD)
        lu = spla.splu(sp.csc_matrix((assemble @ a, indices, indptr), shape=(m, m)),
                       permc_spec="MMD_AT_PLUS_A")
        entry = (lu, np.split(a, self.dim))
        if self.reuse_factorisation:
            _factors[key] = entry
            _stored_nonzeros += lu.L.nnz + lu.U.nnz
            while _stored_nonzeros > _MAX_STORED_NONZEROS and len(_factors) > 1:
                _, (old_lu, _) = _factors.popitem(last=False)
                _stored_nonzeros -= old_lu.L.nnz + old_lu.U.nnz
        return entry

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        state = np.asarray(state, dtype=float)
        position, gradient = state[:self.dim].copy(), state[self.dim:]
        lu, coeffs = self._operator(position)
        _, _, _, _, diffs, diffs_t, _ = _structure(self.cells, self.dim)
        # K chi = -sum_k D_k^T (a_k G_k): the divergence of the unperturbed flux.
        rhs = -sum(dt @ (a * g) for dt, a, g in zip(diffs_t, coeffs, gradient))
        chi = np.zeros(self.cells**self.dim)
        chi[1:] = lu.solve(rhs[1:])
        flux = np.array([np.mean(a * (g + d @ chi)) for d, a, g in zip(diffs, coeffs, gradient)])
        return Estimate(flux, np.zeros_like(flux), n_eff=np.inf, cost_s=time.perf_counter() - start,
                        provenance={"cells": self.cells})
