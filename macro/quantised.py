r"""Reuse of closure answers by rounding the query to a lattice.

:class:`QuantisedClosure` wraps a closure and rounds every query point (and
the seed rows its random numbers derive from) to the nearest node of a
lattice before asking it,

.. math:: p_k \mapsto o_k + h_k\,\mathrm{round}\bigl((p_k - o_k) / h_k\bigr)

for the columns ``k`` with a spacing ``h_k > 0`` (columns with ``h_k = 0``
pass unchanged). Queries that fall on the same node then are the same
query: a caching closure (an ``hmm.Coupler`` with a cache, or the repeats of
one batch) answers them with one micro run. The price is the closure's
change over half a lattice spacing, ``|dq/dp_k| h_k / 2`` per column, which
makes the answered closure piecewise constant: finite-difference tangents
through it need steps well above ``h_k``, and Newton converges only to the
noise floor the wrapped closure reports. :class:`macro.TabulatedClosure`
interpolates between nodes instead (smooth, at ``2^d`` nodes per cell).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .closure import as_closure

__all__ = ["QuantisedClosure"]


class QuantisedClosure:
    """Closure that rounds its query columns to a lattice, then asks the wrapped closure.

    Parameters
    ----------
    closure : Closure
        The wrapped closure (:mod:`macro.closure`), e.g. a
        :class:`hmm.closure.CouplerClosure`.
    spacing : float or sequence of float
        Lattice spacing ``h_k >= 0`` per query column (input units); one
        number applies to every column, ``0`` leaves a column unrounded.
    origin : sequence of float, optional
        A lattice node (default: zeros).

    Attributes
    ----------
    stats : dict
        ``calls`` and ``queries`` (points answered).

    Examples
    --------
    Round the shear rate (column 1 of a 1D diffusion law's ``(x, grad_x)``)
    to multiples of 0.02 in an HMM run::

        HMMSolver(law, grid, coupler, closure_wrapper=lambda cc: QuantisedClosure(cc, [0.0, 0.02]))
    """

    def __init__(self, closure: Any, spacing: float | Sequence[float],
                 origin: Sequence[float] | None = None) -> None:
        self.closure = as_closure(closure, "QuantisedClosure()")
        spacing = np.asarray(spacing, dtype=float)
        if spacing.ndim > 1 or spacing.size == 0 or not np.all(np.isfinite(spacing)) or np.any(spacing < 0):
            raise ValueError(f"QuantisedClosure(): `spacing` must be a number or a sequence of numbers >= 0, "
                             f"got {spacing!r}")
        self.spacing = spacing
        self.origin = None if origin is None else np.asarray(origin, dtype=float).reshape(-1)
        self.stats = {"calls": 0, "queries": 0}

    def __repr__(self) -> str:
        return f"QuantisedClosure({self.closure!r}, spacing={self.spacing.tolist()!r})"

    def quantise(self, points: np.ndarray) -> np.ndarray:
        """``points`` (n, n_in) rounded to the lattice (columns with spacing 0 unchanged)."""
        pts = np.array(points, dtype=float)
        if pts.ndim != 2:
            raise ValueError(f"QuantisedClosure(): `points` must be 2D (n, n_in), got shape {pts.shape}")
        h = np.broadcast_to(self.spacing, (pts.shape[1],)) if self.spacing.ndim == 0 else self.spacing
        if h.shape != (pts.shape[1],):
            raise ValueError(f"QuantisedClosure(): `spacing` has {h.size} entries but the points have "
                             f"{pts.shape[1]} columns")
        if self.origin is not None and self.origin.shape != (pts.shape[1],):
            raise ValueError(f"QuantisedClosure(): `origin` must have {pts.shape[1]} entries, "
                             f"got {self.origin.shape}")
        for k in np.flatnonzero(h > 0):  # loop over columns, never over points
            if self.origin is None:  # round(p / h) h keeps the sign of a zero (it enters seeds and cache keys)
                pts[:, k] = np.round(pts[:, k] / h[k]) * h[k]
            else:
                pts[:, k] = self.origin[k] + np.round((pts[:, k] - self.origin[k]) / h[k]) * h[k]
        return pts

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> Any:
        """The wrapped closure's answers at the rounded points (rounded seed rows too)."""
        snapped = self.quantise(points)
        rows = None if seed_rows is None else self.quantise(seed_rows)
        self.stats["calls"] += 1
        self.stats["queries"] += len(snapped)
        return self.closure(snapped, seed_rows=rows)
