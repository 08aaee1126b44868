"""Analytic closures and the closure result contract.

A *closure* is any callable ``closure(points) -> result`` where ``points``
has shape ``(n_points, n_in)`` with columns named by
``law.closure_inputs(grid)`` (positions, then the macro gradient
components) and ``result`` has attributes

* ``mean``: ``(n_points, n_out)`` flux estimate ``q`` (columns
  ``law.closure_outputs(grid)``), in the convention ``q = A grad u`` (minus
  the physical diffusive flux; units of ``u`` times length per time);
* ``stderr``: same shape, standard error of ``mean`` (>= 0);
* ``cost_s``: ``(n_points,)`` micro wall seconds spent per point.

A closure may also define ``tangent(points) -> (n_points, n_out, dim)``, the
exact derivative ``dq/dG`` with respect to the gradient columns. Otherwise
the law differentiates by finite differences.

This module holds the resolved, noise-free closures used as references and
in tests, plus :class:`CountingClosure`, a transparent wrapper that counts
calls (used by the steppers and :func:`macro.solve_steady`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validate import check_float, check_int

__all__ = ["ClosureResult", "CoefficientFlux", "LinearFlux", "CountingClosure", "call_closure",
           "gradient_copies", "forward_differences"]


def call_closure(closure: Callable[..., Any], points: np.ndarray, seed_rows: np.ndarray | None = None) -> Any:
    """``closure(points)``, passing ``seed_rows`` (common random numbers: rows
    with equal seed rows share their noise) only to closures that declare
    ``accepts_seed_rows``; others ignore it, as their answers have no noise
    to share."""
    if seed_rows is not None and getattr(closure, "accepts_seed_rows", False):
        return closure(points, seed_rows=seed_rows)
    return closure(points)


def gradient_copies(points: np.ndarray, n_grad: int, rel_step: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The query points stacked with one copy per gradient component for forward
    differences: copy ``k`` has gradient column ``k`` (the last ``n_grad``
    columns of ``points``) shifted by ``rel_step * max(max_points |G_k|, 1)``.

    Returns ``(stacked, steps)``: ``stacked`` of shape ``((1 + n_grad) n, cols)``
    (the base points first) and per component the representable step of each
    row (the shifted value minus the original, not the nominal step).
    """
    points = np.asarray(points, dtype=float)
    first = points.shape[1] - n_grad
    copies, steps = [points], []
    for k in range(n_grad):  # loop over components only, never over points
        col = first + k
        shifted = points.copy()
        shifted[:, col] += rel_step * max(float(np.abs(points[:, col]).max()), 1.0)
        copies.append(shifted)
        steps.append(shifted[:, col] - points[:, col])
    return np.vstack(copies), steps


def forward_differences(stacked_mean: np.ndarray, steps: list[np.ndarray]) -> np.ndarray:
    """``dq/dG`` of shape ``(n, n_out, n_grad)`` from the closure means at the
    points of :func:`gradient_copies` (base rows first) and its steps."""
    n = len(steps[0])
    out = np.empty((n, stacked_mean.shape[1], len(steps)))
    for k, step in enumerate(steps):
        out[:, :, k] = (stacked_mean[(k + 1) * n:(k + 2) * n] - stacked_mean[:n]) / step[:, None]
    return out


@dataclass(frozen=True, eq=False)
class ClosureResult:
    """Minimal result satisfying the closure contract.

    Parameters
    ----------
    mean : ndarray, shape (n_points, n_out)
        Flux estimate.
    stderr : ndarray, shape (n_points, n_out)
        Its standard error, finite and non-negative.
    cost_s : ndarray, shape (n_points,)
        Micro wall seconds per point, non-negative.
    """

    mean: np.ndarray
    stderr: np.ndarray
    cost_s: np.ndarray

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, dtype=float)
        if mean.ndim != 2:
            raise ValueError(f"ClosureResult(): `mean` must be 2D (n_points, n_out), got shape {mean.shape}")
        stderr = np.asarray(self.stderr, dtype=float)
        if stderr.shape != mean.shape:
            raise ValueError(
                f"ClosureResult(): `stderr` must have the shape of `mean` {mean.shape}, got {stderr.shape}"
            )
        if not np.all(np.isfinite(stderr)) or np.any(stderr < 0):
            raise ValueError("ClosureResult(): `stderr` must be finite and >= 0")
        cost = np.asarray(self.cost_s, dtype=float)
        if cost.shape != (mean.shape[0],):
            raise ValueError(
                f"ClosureResult(): `cost_s` must have shape ({mean.shape[0]},), got {cost.shape}"
            )
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "stderr", stderr)
        object.__setattr__(self, "cost_s", cost)


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

    def __call__(self, points: np.ndarray) -> ClosureResult:
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

    def __call__(self, points: np.ndarray) -> ClosureResult:
        x, g = _split_points(points, "LinearFlux()")
        return _exact(np.einsum("nij,nj->ni", self._matrices(x), g))

    def tangent(self, points: np.ndarray) -> np.ndarray:
        """Exact ``dq/dG = A(x)``, shape ``(n, dim, dim)``."""
        x, _ = _split_points(points, "LinearFlux.tangent()")
        return np.array(self._matrices(x))


class CountingClosure:
    """Wrap a closure and count its calls; behaves exactly like the wrapped one.

    Closures of noisy estimates may set ``accepts_seed_rows = True`` and take
    ``closure(points, seed_rows=rows)``: points with equal seed rows share
    their random numbers (common random numbers). The law uses it so that
    finite-difference copies share the noise of their base point.

    ``calls`` counts ``closure(points)`` calls (one batch each),
    ``tangent_calls`` counts ``tangent`` calls and ``points_evaluated`` the
    total number of query points sent. ``tangent`` exists on the wrapper
    only if the wrapped closure has it.
    """

    def __init__(self, closure: Callable[[np.ndarray], Any]) -> None:
        if not callable(closure):
            raise TypeError(f"`closure` must be callable, got {type(closure).__name__}")
        self.closure = closure
        self.calls = 0
        self.tangent_calls = 0
        self.points_evaluated = 0
        self.accepts_seed_rows = bool(getattr(closure, "accepts_seed_rows", False))
        if hasattr(self.closure, "tangent"):
            self.tangent = self._tangent

    def __call__(self, points: np.ndarray, seed_rows: np.ndarray | None = None) -> Any:
        self.calls += 1
        self.points_evaluated += int(np.shape(points)[0])
        return call_closure(self.closure, points, seed_rows)

    def _tangent(self, points: np.ndarray) -> np.ndarray:
        self.tangent_calls += 1
        return self.closure.tangent(points)
