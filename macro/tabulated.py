r"""Reuse of closure answers by proximity: a lattice of micro runs filled on demand.

:class:`TabulatedClosure` wraps a closure. The input space is covered by a
uniform lattice (origin o, spacings h_k); a query point p is answered by
multilinear interpolation between the 2^d lattice nodes of its lattice cell.
A node is computed by the wrapped closure the first time a point needs it
(the missing nodes of one call go out as one batch) and kept. Nothing is
tabulated in advance: the table grows only where the macro solution goes.

Error of a reused answer: the interpolation error, bounded by
(1/8) sum_k h_k^2 max |d^2 f / dp_k^2| for a smooth closure (and O(h) near a
kink), plus the statistical error of the nodes, reported as the stderr
sqrt(sum_c w_c^2 s_c^2) of the weighted node estimates (weights w_c,
independent nodes). The interpolated closure is deterministic between
refills, so finite-difference tangents through it are noise-free (they see
the lattice-cell slopes). Measure what it saves and what it costs against
the unwrapped closure on the same problem; :attr:`stats` counts the table's
side (the micro work itself is counted where it runs, e.g. by the
``hmm.Coupler``'s accounting).

It follows the closure protocol of :mod:`macro.closure`: seed rows are
accepted and ignored (interpolated answers have no noise of their own to
share; the nodes are asked without seed rows, so each node's noise is its own).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from .closure import ClosureResult, as_closure

__all__ = ["TabulatedClosure"]


class TabulatedClosure:
    """Closure answered by multilinear interpolation on a lattice whose nodes are micro runs on demand.

    Parameters
    ----------
    closure : Closure
        The wrapped closure (:mod:`macro.closure`), e.g. a
        :class:`hmm.closure.CouplerClosure`.
    spacing : sequence of float
        Lattice spacing per input column (input units).
    origin : sequence of float, optional
        A lattice node (default: zeros).

    Attributes
    ----------
    stats : dict
        ``queries`` (points answered), ``nodes`` (nodes computed = queries
        sent to the wrapped closure), ``calls``.

    Notes
    -----
    ``fresh`` of an answer is True when one of its lattice nodes was computed
    by a fresh micro run in this call.
    """

    def __init__(self, closure: Callable[..., Any], spacing: Sequence[float],
                 origin: Sequence[float] | None = None) -> None:
        self.closure = as_closure(closure, "TabulatedClosure()")
        self.spacing = np.asarray(spacing, dtype=float).reshape(-1)
        if self.spacing.size == 0 or not np.all(np.isfinite(self.spacing)) or np.any(self.spacing <= 0):
            raise ValueError(f"TabulatedClosure(): `spacing` must be positive numbers, got {spacing!r}")
        d = self.spacing.size
        self.origin = np.zeros(d) if origin is None else np.asarray(origin, dtype=float).reshape(-1)
        if self.origin.shape != (d,):
            raise ValueError(f"TabulatedClosure(): `origin` must have {d} entries, got {self.origin.shape}")
        self._corners = np.array(np.meshgrid(*[[0, 1]] * d, indexing="ij")).reshape(d, -1).T  # (2^d, d)
        self._index: dict[tuple[int, ...], int] = {}
        self._mean: list[np.ndarray] = []
        self._stderr: list[np.ndarray] = []
        self.stats = {"queries": 0, "nodes": 0, "calls": 0}

    def __len__(self) -> int:
        return len(self._index)

    def node_states(self) -> np.ndarray:
        """States (n_nodes, d) of the nodes computed so far."""
        keys = np.array(list(self._index), dtype=float).reshape(-1, self.spacing.size)
        return self.origin + keys * self.spacing

    def _fill(self, keys: np.ndarray) -> tuple[float, set[tuple[int, ...]]]:
        """Compute the missing nodes among ``keys`` (m, d) in one batch; return
        their micro cost and the nodes that took a fresh micro run."""
        missing = [k for k in map(tuple, np.unique(keys, axis=0)) if k not in self._index]
        if not missing:
            return 0.0, set()
        states = self.origin + np.array(missing, dtype=float) * self.spacing
        res = self.closure(states, seed_rows=None)
        mean = np.asarray(res.mean, dtype=float).reshape(len(missing), -1)
        stderr = np.asarray(res.stderr, dtype=float).reshape(mean.shape)
        for row, key in enumerate(missing):
            self._index[key] = len(self._mean)
            self._mean.append(mean[row])
            self._stderr.append(stderr[row])
        self.stats["nodes"] += len(missing)
        fresh = {key for key, new in zip(missing, np.asarray(res.fresh, dtype=bool)) if new}
        return float(np.sum(res.cost_s)), fresh

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        pts = np.asarray(points, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != self.spacing.size:
            raise ValueError(f"TabulatedClosure(): `points` must have shape (n, {self.spacing.size}), "
                             f"got {pts.shape}")
        scaled = (pts - self.origin) / self.spacing
        base = np.floor(scaled).astype(np.int64)
        frac = scaled - base
        keys = base[:, None, :] + self._corners[None]  # (n, 2^d, d)
        cost, fresh_nodes = self._fill(keys.reshape(-1, self.spacing.size))
        flat_keys = list(map(tuple, keys.reshape(-1, self.spacing.size)))
        rows = np.array([self._index[k] for k in flat_keys])
        fresh = np.array([k in fresh_nodes for k in flat_keys], dtype=bool).reshape(len(pts), -1).any(axis=1)
        mean = np.asarray(self._mean)[rows].reshape(len(pts), len(self._corners), -1)
        stderr = np.asarray(self._stderr)[rows].reshape(mean.shape)
        w = np.prod(np.where(self._corners[None] == 1, frac[:, None, :], 1.0 - frac[:, None, :]), axis=2)
        self.stats["queries"] += len(pts)
        self.stats["calls"] += 1
        return ClosureResult(np.einsum("nc,nco->no", w, mean),
                             np.sqrt(np.einsum("nc,nco->no", w**2, stderr**2)),
                             np.full(len(pts), cost / max(len(pts), 1)), fresh)
