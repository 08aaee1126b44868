"""Analytic closures: resolved, noise-free references for tests and validation.

They follow the closure protocol of :mod:`macro.closure` (``closure(points,
*, seed_rows=None) -> ClosureResult``; seed rows are ignored, the answers
have no noise) with query columns ``(positions, gradient components)`` and
return ``q`` in the convention of :class:`macro.DiffusionLaw`, ``q = +A grad u``
(the negative of the physical diffusive flux; units of ``u`` times length
per time). Both offer the exact ``tangent``.

:class:`ClosureResult`, :class:`CountingClosure` and the finite-difference
helpers live in :mod:`macro.closure` and are re-exported here.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._validate import check_float, check_int
from .closure import (ClosureResult, CountingClosure, as_closure, column_copies, forward_differences,
                      gradient_copies)

__all__ = ["ClosureResult", "CoefficientFlux", "LinearFlux", "CountingClosure", "call_closure",
           "gradient_copies", "column_copies", "forward_differences"]


def call_closure(closure: Callable[..., Any], points: np.ndarray, seed_rows: np.ndarray | None = None) -> Any:
    """``closure(points, seed_rows=seed_rows)`` for any closure (see :func:`macro.closure.as_closure`)."""
    return as_closure(closure, "call_closure()")(points, seed_rows=seed_rows)


def _split_points(points: Any, func: str, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] % 2 or pts.shape[1] == 0:
        raise ValueError(f"{func}: `points` must have shape (n, 2*dim), got {pts.shape}")
    d = pts.shape[1] // 2
    if dim is not None and d != dim:
        raise ValueError(f"{func}: `points` must have shape (n, {2 * dim}) for dim={dim}, got {pts.shape}")
    return pts[:, :d], pts[:, d:]


def _exact(mean: np.ndarray) -> ClosureResult:
    return ClosureResult(mean, np.zeros_like(mean), np.zeros(mean.shape[0]))


class CoefficientFlux:
    """Resolved scalar-coefficient flux ``q = a(x, x/eps) G``.

    Used for direct fine-grid solves that resolve the micro scale ``eps``.

    Parameters
    ----------
    coefficient : callable
        ``coefficient(x, y) -> a`` with ``x`` the macro positions and
        ``y = x / eps`` the fast variable, both of shape ``(n, dim)``;
        returns the diffusivity ``a`` of shape ``(n,)`` (length^2 / time).
    eps : float
        Micro length scale (> 0).
    dim : int
        Spatial dimension (1 or 2).
    """

    def __init__(self, coefficient: Callable[[np.ndarray, np.ndarray], np.ndarray], eps: float, dim: int) -> None:
        if not callable(coefficient):
            raise TypeError(
                f"CoefficientFlux(): `coefficient` must be callable, got {type(coefficient).__name__}"
            )
        self.coefficient = coefficient
        self.eps = check_float(eps, "eps", "CoefficientFlux()", positive=True)
        self.dim = check_int(dim, "dim", "CoefficientFlux()", minimum=1)

    def __repr__(self) -> str:
        return f"CoefficientFlux(coefficient={self.coefficient!r}, eps={self.eps}, dim={self.dim})"

    def _a(self, x: np.ndarray) -> np.ndarray:
        a = np.asarray(self.coefficient(x, x / self.eps), dtype=float)
        if a.shape != (x.shape[0],):
            raise ValueError(
                f"CoefficientFlux: `coefficient` must return shape ({x.shape[0]},), got {a.shape}"
            )
        return a

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        x, g = _split_points(points, "CoefficientFlux()", self.dim)
        return _exact(self._a(x)[:, None] * g)

    def tangent(self, points: np.ndarray) -> np.ndarray:
        """Exact ``dq/dG = a I``, shape ``(n, dim, dim)``."""
        x, _ = _split_points(points, "CoefficientFlux.tangent()", self.dim)
        return self._a(x)[:, None, None] * np.eye(self.dim)[None]


class LinearFlux:
    """Linear flux ``q = A(x) G`` with a symmetric (or any) diffusion tensor.

    Used for homogenised reference solutions.

    Parameters
    ----------
    tensor : float, array_like (dim, dim) or callable
        Constant tensor ``A`` (a scalar means ``a I``), or a callable of the
        positions ``x`` of shape ``(n, dim)`` returning ``(n, dim, dim)``.
        Units: length^2 / time.
    """

    def __init__(self, tensor: Any) -> None:
        if callable(tensor):
            self.tensor = tensor
        else:
            arr = np.asarray(tensor, dtype=float)
            if arr.ndim == 0:
                pass
            elif arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
                raise ValueError(f"LinearFlux(): `tensor` must be a scalar or square matrix, got shape {arr.shape}")
            if not np.all(np.isfinite(arr)):
                raise ValueError("LinearFlux(): `tensor` must be finite")
            self.tensor = arr

    def __repr__(self) -> str:
        return f"LinearFlux(tensor={self.tensor!r})"

    def _matrices(self, x: np.ndarray) -> np.ndarray:
        n, d = x.shape
        if callable(self.tensor):
            a = np.asarray(self.tensor(x), dtype=float)
            if a.shape != (n, d, d):
                raise ValueError(f"LinearFlux: `tensor` callable must return shape {(n, d, d)}, got {a.shape}")
            return a
        if self.tensor.ndim == 0:
            return np.broadcast_to(self.tensor * np.eye(d), (n, d, d))
        if self.tensor.shape != (d, d):
            raise ValueError(f"LinearFlux: `tensor` has shape {self.tensor.shape} but points are {d}D")
        return np.broadcast_to(self.tensor, (n, d, d))

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        x, g = _split_points(points, "LinearFlux()")
        return _exact(np.einsum("nij,nj->ni", self._matrices(x), g))

    def tangent(self, points: np.ndarray) -> np.ndarray:
        """Exact ``dq/dG = A(x)``, shape ``(n, dim, dim)``."""
        x, _ = _split_points(points, "LinearFlux.tangent()")
        return np.array(self._matrices(x))
