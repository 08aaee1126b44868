"""Sparse face-gradient and divergence operators of the finite-volume grids.

Private: :class:`macro.DiffusionLaw` builds these once per grid and caches
them. Face and cell orderings follow :mod:`macro.grid`.

Face gradient
-------------
The full gradient at every face is affine in the cell values and in samples
of the Dirichlet data ``g`` at fixed boundary points::

    G = gradient @ u + boundary @ g(samples)

with row ``f * dim + k`` holding component ``k`` at face ``f``.

* Normal component: ``(u_R - u_L) / h`` at interior faces; at boundary
  faces the half-cell difference ``(u_cell - g) / (h/2)`` (low side) or
  ``(g - u_cell) / (h/2)`` (high side), ``g`` taken at the face centre
  (1D with a Navier slip length l: ``h/2`` becomes ``h/2 + l``).
* Tangential component at interior faces: the mean of the two neighbouring
  cells' central differences, where a missing neighbour across the boundary
  is the ghost value ``2 g - u`` (``g`` at the boundary point facing the
  cell centre).
* Tangential component at boundary faces: the tangential difference of the
  boundary data along the face, ``(g(face end) - g(face start)) / h_t``.
  On a Dirichlet boundary the tangential derivative of ``u`` *is* that of
  ``g``, so this is second-order accurate and does not depend on ``u``
  (chosen over the single interior cell's difference, which is only first
  order there).

All formulas are exact for affine ``u`` with matching ``g``.

Face value
----------
For closures that depend on the state, ``u`` at every face is affine too::

    u_face = value @ u + value_boundary @ g(samples)

the mean of the two values whose difference is the face's normal gradient:
the two neighbouring cells at interior faces, the boundary cell and ``g`` at
boundary faces. With it a flux ``q = k(u) grad u`` is discretised as
``(K(u_R) - K(u_L)) / dist`` exactly for ``k`` linear in ``u``
(``K' = k``, the Kirchhoff transform).

Divergence
----------
``(div q)_cell = sum_axes (q_n(high face) - q_n(low face)) / h_axis``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

__all__ = ["FaceOperators", "build_operators", "slip_pair"]


@dataclass(frozen=True, eq=False)
class FaceOperators:
    """Cached operators of one grid (see the module docstring)."""

    gradient: sp.csr_matrix
    """(n_faces * dim, n_cells) cell part of the face gradient."""
    boundary: sp.csr_matrix
    """(n_faces * dim, n_samples) boundary-data part of the face gradient."""
    samples: np.ndarray
    """(n_samples, dim) positions where ``g`` is sampled."""
    divergence: sp.csr_matrix
    """(n_cells, n_faces) map from normal face fluxes to ``div q`` per cell."""
    divergence_sq: sp.csr_matrix
    """Element-wise square of ``divergence`` (for noise propagation)."""
    face_points: np.ndarray
    """(n_faces, dim) face centres."""
    face_axes: np.ndarray
    """(n_faces,) normal axis of each face."""
    value: sp.csr_matrix
    """(n_faces, n_cells) cell part of the face value of ``u``."""
    value_boundary: sp.csr_matrix
    """(n_faces, n_samples) boundary-data part of the face value."""


def _normal(n: int, h: float, slip: tuple[float, float] = (0.0, 0.0)) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Normal difference at the ``n + 1`` faces of ``n`` cells, plus g coefficients.

    ``slip`` = (l_low, l_high): Navier slip lengths of the two boundaries
    (see :func:`build_operators`); the boundary rows become
    ``(u_cell - g) / (h/2 + l)`` (0: the Dirichlet half-cell difference)."""
    lo = 2.0 / h if slip[0] == 0.0 else 1.0 / (0.5 * h + slip[0])
    hi = 2.0 / h if slip[1] == 0.0 else 1.0 / (0.5 * h + slip[1])
    inner = np.arange(1, n)
    rows = np.concatenate([[0], inner, inner, [n]])
    cols = np.concatenate([[0], inner - 1, inner, [n - 1]])
    vals = np.concatenate([[lo], np.full(n - 1, -1.0 / h), np.full(n - 1, 1.0 / h), [-hi]])
    d = sp.csr_matrix((vals, (rows, cols)), shape=(n + 1, n))
    bl = np.zeros(n + 1)
    br = np.zeros(n + 1)
    bl[0] = -lo
    br[n] = hi
    return d, bl, br


def _central(n: int, h: float) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Cell-centred central difference with ghost values ``2 g - u``."""
    i = np.arange(n)
    right = i + 1 < n
    left = i - 1 >= 0
    rows = np.concatenate([i[right], i[~right], i[left], i[~left]])
    cols = np.concatenate([i[right] + 1, i[~right], i[left] - 1, i[~left]])
    c = 0.5 / h
    vals = np.concatenate(
        [np.full(right.sum(), c), np.full((~right).sum(), -c), np.full(left.sum(), -c), np.full((~left).sum(), c)]
    )
    cmat = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))  # duplicates are summed
    cl = np.where(left, 0.0, -1.0 / h)
    cr = np.where(right, 0.0, 1.0 / h)
    return cmat, cl, cr


def _average(n: int) -> sp.csr_matrix:
    """Mean of the two neighbouring cells at interior faces; boundary rows are zero."""
    inner = np.arange(1, n)
    rows = np.concatenate([inner, inner])
    cols = np.concatenate([inner - 1, inner])
    return sp.csr_matrix((np.full(2 * (n - 1), 0.5), (rows, cols)), shape=(n + 1, n))


def _node_difference(n: int, h: float) -> sp.csr_matrix:
    """``(v[i + 1] - v[i]) / h`` from ``n + 1`` nodes to ``n`` intervals."""
    i = np.arange(n)
    rows = np.concatenate([i, i])
    cols = np.concatenate([i, i + 1])
    vals = np.concatenate([np.full(n, -1.0 / h), np.full(n, 1.0 / h)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n + 1))


def _face_mean(n: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Face value at the ``n + 1`` faces of ``n`` cells: the mean of the two
    neighbours, at a boundary face the mean of the boundary cell and ``g``
    (returned as the coefficient vectors of the low and high ``g``)."""
    faces = np.arange(n + 1)
    rows = np.concatenate([faces[1:], faces[:-1]])
    cols = np.concatenate([faces[1:] - 1, faces[:-1]])
    m = sp.csr_matrix((np.full(2 * n, 0.5), (rows, cols)), shape=(n + 1, n))
    return m, 0.5 * _unit(n + 1, 0), 0.5 * _unit(n + 1, n)


def _col(v: np.ndarray) -> sp.csr_matrix:
    return sp.csr_matrix(np.asarray(v, dtype=float)[:, None])


def _unit(n: int, k: int) -> np.ndarray:
    e = np.zeros(n)
    e[k] = 1.0
    return e


def _finish(grid, gradient, boundary, samples, divergence, value, value_boundary) -> FaceOperators:
    divergence = sp.csr_matrix(divergence)
    return FaceOperators(
        gradient=sp.csr_matrix(gradient),
        boundary=sp.csr_matrix(boundary),
        samples=np.asarray(samples, dtype=float),
        divergence=divergence,
        divergence_sq=divergence.multiply(divergence).tocsr(),
        face_points=grid.face_centres(),
        face_axes=grid.face_axes(),
        value=sp.csr_matrix(value),
        value_boundary=sp.csr_matrix(value_boundary),
    )


def _build_1d(grid, slip: tuple[float, float] = (0.0, 0.0)) -> FaceOperators:
    (n,), (h,) = grid.shape, grid.spacing
    a, b = grid.extent
    d, bl, br = _normal(n, h, slip)
    boundary = sp.hstack([_col(bl), _col(br)])
    value, vl, vr = _face_mean(n)
    return _finish(grid, d, boundary, np.array([[a], [b]]), _node_difference(n, h), value,
                   sp.hstack([_col(vl), _col(vr)]))


def _build_2d(grid) -> FaceOperators:
    nx, ny = grid.shape
    hx, hy = grid.spacing
    (ax, bx), (ay, by) = grid.extent
    xc, yc = grid.centres
    xf, yf = grid.face_coords
    ix, iy = sp.identity(nx, format="csr"), sp.identity(ny, format="csr")
    dx, blx, brx = _normal(nx, hx)
    dy, bly, bry = _normal(ny, hy)
    cx, clx, crx = _central(nx, hx)
    cy, cly, cry = _central(ny, hy)
    nodex, nodey = _node_difference(nx, hx), _node_difference(ny, hy)
    avg_x = sp.kron(_average(nx), iy)  # cells -> x-faces
    avg_y = sp.kron(ix, _average(ny))  # cells -> y-faces

    # Sample groups (column blocks after u): L, R, B, T at cell-facing points,
    # then LN, RN, BN, TN at the face end points (nodes) of the boundary.
    samples = np.concatenate(
        [
            np.column_stack([np.full(ny, ax), yc]),
            np.column_stack([np.full(ny, bx), yc]),
            np.column_stack([xc, np.full(nx, ay)]),
            np.column_stack([xc, np.full(nx, by)]),
            np.column_stack([np.full(ny + 1, ax), yf]),
            np.column_stack([np.full(ny + 1, bx), yf]),
            np.column_stack([xf, np.full(nx + 1, ay)]),
            np.column_stack([xf, np.full(nx + 1, by)]),
        ]
    )
    blocks = [
        # x-faces, grad_x (normal)
        [sp.kron(dx, iy), sp.kron(_col(blx), iy), sp.kron(_col(brx), iy), None, None, None, None, None, None],
        # x-faces, grad_y (tangential)
        [
            avg_x @ sp.kron(ix, cy), None, None,
            avg_x @ sp.kron(ix, _col(cly)), avg_x @ sp.kron(ix, _col(cry)),
            sp.kron(_col(_unit(nx + 1, 0)), nodey), sp.kron(_col(_unit(nx + 1, nx)), nodey), None, None,
        ],
        # y-faces, grad_x (tangential)
        [
            avg_y @ sp.kron(cx, iy),
            avg_y @ sp.kron(_col(clx), iy), avg_y @ sp.kron(_col(crx), iy), None, None, None, None,
            sp.kron(nodex, _col(_unit(ny + 1, 0))), sp.kron(nodex, _col(_unit(ny + 1, ny))),
        ],
        # y-faces, grad_y (normal)
        [sp.kron(ix, dy), None, None, sp.kron(ix, _col(bly)), sp.kron(ix, _col(bry)), None, None, None, None],
    ]
    full = sp.bmat(blocks, format="csr")
    # Reorder rows from component-major per face family to f * dim + k.
    nxf, nyf = grid.n_x_faces, grid.n_y_faces
    new = np.arange(2 * grid.n_faces)
    f, k = new // 2, new % 2
    old = np.where(f < nxf, k * nxf + f, 2 * nxf + k * nyf + (f - nxf))
    full = full[old]
    n = grid.n_cells
    divergence = sp.hstack([sp.kron(nodex, iy), sp.kron(ix, nodey)])
    # face values: x-faces see the L/R samples, y-faces the B/T samples (the face centres)
    mx, vlx, vrx = _face_mean(nx)
    my, vby, vty = _face_mean(ny)
    n_nodes = 2 * (nx + 1) + 2 * (ny + 1)
    value_x = sp.hstack([sp.kron(mx, iy), sp.kron(_col(vlx), iy), sp.kron(_col(vrx), iy),
                         sp.csr_matrix((nxf, 2 * nx + n_nodes))])
    value_y = sp.hstack([sp.kron(ix, my), sp.csr_matrix((nyf, 2 * ny)), sp.kron(ix, _col(vby)),
                         sp.kron(ix, _col(vty)), sp.csr_matrix((nyf, n_nodes))])
    value = sp.vstack([value_x, value_y]).tocsr()
    return _finish(grid, full[:, :n], full[:, n:], samples, divergence, value[:, :n], value[:, n:])


def slip_pair(slip_length: Any) -> tuple[float, float]:
    """(low, high) Navier slip lengths from a number or a pair; ValueError otherwise."""
    try:
        values = np.asarray(slip_length, dtype=float)
        pair = np.broadcast_to(values, (2,)) if values.ndim <= 1 else None
    except (TypeError, ValueError):
        pair = None
    if pair is None or not np.all(np.isfinite(pair)) or pair.min() < 0:
        raise ValueError(f"DiffusionLaw(): `slip_length` must be a length >= 0 or a pair (low, high) of them, "
                         f"got {slip_length!r}")
    return float(pair[0]), float(pair[1])


def build_operators(grid, slip: tuple[float, float] = (0.0, 0.0)) -> FaceOperators:
    """Build the face-gradient and divergence operators of ``grid``.

    ``slip`` (1D only) = Navier slip lengths (l_low, l_high) >= 0: at each
    boundary ``u - g = l du/dn`` with n the inward normal, i.e. the profile
    extrapolates linearly to the boundary value ``g`` a distance ``l`` beyond
    the boundary. With the half-cell difference this gives the boundary-face
    gradient ``(u_cell - g) / (h/2 + l)`` (low side), exact for affine u."""
    if grid.dim == 1:
        return _build_1d(grid, slip)
    if any(slip):
        raise ValueError("build_operators(): Navier slip lengths are supported on Grid1D only")
    return _build_2d(grid)
