"""The closure protocol: what a macro law asks and what it gets back.

A *closure* answers the constitutive quantities a law cannot compute itself
(a flux, a stress, a temperature) at a batch of query points::

    closure(points, *, seed_rows=None) -> ClosureResult

* ``points``: ``(n_points, n_in)`` array whose columns the law names
  (``law.closure_inputs(grid)``, e.g. positions then gradient components).
* ``seed_rows``: ``None`` or an array of the shape of ``points``. Rows with
  equal seed rows share their random numbers (common random numbers): a
  finite-difference copy of a point shares the noise of its base point, and
  the iterates of one implicit step share one noise realisation. Every
  closure accepts the keyword; a closure without noise ignores it.
* The result has ``mean`` and ``stderr`` of shape ``(n_points, n_out)``
  (columns ``law.closure_outputs(grid)``), ``cost_s`` of shape
  ``(n_points,)`` (micro wall seconds actually spent for each point: zero
  for an answer that came from a cache, a table or a formula) and ``fresh``,
  a bool per point: did this answer come from a fresh micro run.

A closure may also offer ``tangent(points) -> (n_points, n_out, k)``, the
exact derivative of ``mean`` with respect to the last ``k`` columns of
``points`` (the columns the law differentiates: the gradient components, and
the state when the closure depends on it); without it the law
differentiates by finite differences.

Wrappers (:class:`CountingClosure` here, :class:`macro.TabulatedClosure`,
:class:`macro.QuantisedClosure`, ``hmm.ReuseClosure``) take a closure and
are closures, so they compose. A plain function of the points alone (no
``seed_rows`` keyword) is accepted wherever a closure is and adapted once by
:func:`as_closure`; its rows cannot share random numbers, so the laws treat
the noise of its finite-difference copies as independent.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

__all__ = ["Closure", "ClosureResult", "as_closure", "ignores_seed_rows", "check_result",
           "CountingClosure", "column_copies", "gradient_copies", "forward_differences"]


@runtime_checkable
class Closure(Protocol):
    """A batch closure ``closure(points, *, seed_rows=None) -> ClosureResult`` (see the module docstring)."""

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> Any:
        ...


@dataclass(frozen=True, eq=False)
class ClosureResult:
    """Answers of one closure call.

    Parameters
    ----------
    mean : ndarray, shape (n_points, n_out)
        Estimates of the closure outputs (output units).
    stderr : ndarray, shape (n_points, n_out)
        Their standard errors, finite and >= 0 (zeros for exact answers).
    cost_s : ndarray, shape (n_points,)
        Micro wall seconds spent per point (s), >= 0.
    fresh : ndarray of bool, shape (n_points,), optional
        True where the answer came from a fresh micro run; default all
        False (a formula, a table or a cache answered).
    """

    mean: np.ndarray
    stderr: np.ndarray
    cost_s: np.ndarray
    fresh: np.ndarray | None = None

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
        fresh = np.zeros(mean.shape[0], dtype=bool) if self.fresh is None else np.asarray(self.fresh, dtype=bool)
        if fresh.shape != (mean.shape[0],):
            raise ValueError(f"ClosureResult(): `fresh` must have shape ({mean.shape[0]},), got {fresh.shape}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "stderr", stderr)
        object.__setattr__(self, "cost_s", cost)
        object.__setattr__(self, "fresh", fresh)


class _PointsOnly:
    """A function of the points alone, adapted to the closure protocol (seed rows dropped)."""

    def __init__(self, function: Callable[[np.ndarray], Any]) -> None:
        self.function = function
        if hasattr(function, "tangent"):  # the optional exact tangent of the protocol
            self.tangent = function.tangent

    def __repr__(self) -> str:
        return f"as_closure({self.function!r})"

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> Any:
        return self.function(points)


def _takes_seed_rows(function: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: points only
        return False
    return any(p.name == "seed_rows" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
               or p.kind is p.VAR_KEYWORD for p in params)


def as_closure(closure: Any, func: str = "as_closure()") -> Closure:
    """``closure`` as a :class:`Closure`: returned unchanged if it takes the
    ``seed_rows`` keyword, else adapted (a function of the points alone).

    Raises
    ------
    TypeError
        ``closure`` is not callable (the message names ``func``).
    """
    if not callable(closure):
        raise TypeError(f"{func}: `closure` must be callable closure(points), got {type(closure).__name__}")
    if isinstance(closure, (_PointsOnly, CountingClosure)) or _takes_seed_rows(closure):
        return closure
    return _PointsOnly(closure)


def ignores_seed_rows(closure: Any) -> bool:
    """True when ``closure`` was given as a function of the points alone
    (through :func:`as_closure`, possibly inside a :class:`CountingClosure`):
    its rows cannot share random numbers, so noise in two of its answers is
    independent."""
    while isinstance(closure, CountingClosure):
        closure = closure.closure
    return isinstance(closure, _PointsOnly)


def check_result(res: Any, n_points: int, n_out: int, func: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a closure result; return its ``(mean, stderr, cost_s)`` arrays.

    A single-output ``mean`` of shape ``(n_points,)`` is accepted as a column.

    Raises
    ------
    TypeError
        The result lacks ``mean``, ``stderr`` or ``cost_s``.
    ValueError
        Wrong shapes, or a non-finite ``mean`` (the first bad row is named).
    """
    missing = [a for a in ("mean", "stderr", "cost_s") if not hasattr(res, a)]
    if missing:
        raise TypeError(
            f"{func}: the closure result must have attributes mean, stderr and cost_s; "
            f"{type(res).__name__} lacks {missing}"
        )
    mean = np.asarray(res.mean, dtype=float)
    stderr = np.asarray(res.stderr, dtype=float)
    cost = np.asarray(res.cost_s, dtype=float)
    if n_out == 1 and mean.shape == (n_points,):
        mean, stderr = mean[:, None], stderr.reshape(n_points, 1)
    if mean.shape != (n_points, n_out):
        raise ValueError(f"{func}: closure `mean` must have shape {(n_points, n_out)}, got {mean.shape}")
    if stderr.shape != mean.shape:
        raise ValueError(f"{func}: closure `stderr` must have shape {mean.shape}, got {stderr.shape}")
    if cost.shape != (n_points,):
        raise ValueError(f"{func}: closure `cost_s` must have shape ({n_points},), got {cost.shape}")
    if not np.all(np.isfinite(mean)):
        bad = int(np.argwhere(~np.isfinite(mean))[0, 0])
        raise ValueError(f"{func}: closure returned a non-finite flux at query row {bad}")
    return mean, stderr, cost


class CountingClosure:
    """Wrap a closure and count its calls; answers exactly like the wrapped one.

    Attributes
    ----------
    calls : int
        Closure calls (batches).
    tangent_calls : int
        ``tangent`` calls (``tangent`` exists on the wrapper only if the
        wrapped closure has it).
    points_evaluated : int
        Query points sent.
    cost_s : float
        Sum of the answers' ``cost_s`` (micro seconds the answers report;
        the micro work itself is counted once, by whoever ran it, e.g. the
        ``hmm.Coupler``'s accounting).
    """

    def __init__(self, closure: Any) -> None:
        self.closure = as_closure(closure, "CountingClosure()")
        self.calls = 0
        self.tangent_calls = 0
        self.points_evaluated = 0
        self.cost_s = 0.0
        if hasattr(self.closure, "tangent"):
            self.tangent = self._tangent

    def __repr__(self) -> str:
        return f"CountingClosure({self.closure!r})"

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> Any:
        self.calls += 1
        self.points_evaluated += int(np.shape(points)[0])
        result = self.closure(points, seed_rows=seed_rows)
        if hasattr(result, "cost_s"):  # a malformed result is reported by the law that reads it
            self.cost_s += float(np.sum(result.cost_s))
        return result

    def _tangent(self, points: np.ndarray) -> np.ndarray:
        self.tangent_calls += 1
        return self.closure.tangent(points)


def column_copies(points: np.ndarray, n_cols: int, rel_step: float | np.ndarray
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """The query points stacked with one copy per differentiated column for
    forward differences: copy ``k`` has column ``k`` of the last ``n_cols``
    columns shifted by ``rel_step[k] * max(max_points |c_k|, 1)``.

    Returns ``(stacked, steps)``: ``stacked`` of shape ``((1 + n_cols) n, cols)``
    (the base points first) and per column the representable step of each
    row (the shifted value minus the original, not the nominal step).
    """
    points = np.asarray(points, dtype=float)
    rel = np.broadcast_to(np.asarray(rel_step, dtype=float), (n_cols,))
    first = points.shape[1] - n_cols
    copies, steps = [points], []
    for k in range(n_cols):  # loop over columns only, never over points
        col = first + k
        shifted = points.copy()
        shifted[:, col] += rel[k] * max(float(np.abs(points[:, col]).max()), 1.0)
        copies.append(shifted)
        steps.append(shifted[:, col] - points[:, col])
    return np.vstack(copies), steps


def gradient_copies(points: np.ndarray, n_grad: int, rel_step: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """:func:`column_copies` of the last ``n_grad`` (gradient) columns with one relative step."""
    return column_copies(points, n_grad, rel_step)


def forward_differences(stacked_mean: np.ndarray, steps: list[np.ndarray]) -> np.ndarray:
    """``d mean / d c`` of shape ``(n, n_out, n_cols)`` from the closure means at
    the points of :func:`column_copies` (base rows first) and its steps."""
    n = len(steps[0])
    out = np.empty((n, stacked_mean.shape[1], len(steps)))
    for k, step in enumerate(steps):
        out[:, :, k] = (stacked_mean[(k + 1) * n:(k + 2) * n] - stacked_mean[:n]) / step[:, None]
    return out
