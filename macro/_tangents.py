"""Private: closure tangents at a batch of query points, exact or by finite differences.

Used by :class:`macro.DiffusionLaw`. The differentiated columns are the last
``n_cols`` of the query (the state, when the closure depends on it, then the
gradient components).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .closure import check_result, column_copies, forward_differences, ignores_seed_rows


def closure_tangents(closure: Any, points: np.ndarray, n_out: int, n_cols: int, fd_step: float,
                     seed_points: np.ndarray | None, func: str
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(tangent, mean, stderr, cost_s)`` at ``points`` (n, n_in).

    ``tangent`` (n, n_out, n_cols) is ``d mean / d c_k`` over the last
    ``n_cols`` columns: ``closure.tangent`` when the closure has it (one
    closure call without seed rows, plus the tangent call), else forward
    differences in ONE stacked closure call of ``(1 + n_cols) n`` points
    whose copies share their base point's seed rows (common random numbers),
    column ``k`` shifted by ``fd_step * max(max |c_k|, 1)``; ``cost_s`` then
    sums a base point and its copies. Warns (``RuntimeWarning``) when the
    noise of a closure whose rows cannot share random numbers, divided by
    the step, exceeds 10% of the tangent scale.
    """
    n = len(points)
    if hasattr(closure, "tangent"):
        mean, stderr, cost = check_result(closure(points, seed_rows=None), n, n_out, func)
        tangent = np.asarray(closure.tangent(points), dtype=float)
        if tangent.shape != (n, n_out, n_cols):
            raise ValueError(f"{func}: closure.tangent must return shape {(n, n_out, n_cols)}, got {tangent.shape}")
        return tangent, mean, stderr, cost
    stacked, steps = column_copies(points, n_cols, fd_step)
    base_seeds = points if seed_points is None else seed_points
    result = closure(stacked, seed_rows=np.vstack([base_seeds] * (1 + n_cols)))
    allmean, allerr, allcost = check_result(result, (1 + n_cols) * n, n_out, func)
    mean, stderr = allmean[:n], allerr[:n]
    cost = allcost.reshape(1 + n_cols, n).sum(axis=0)
    tangent = forward_differences(allmean, steps)
    noise = 0.0
    if ignores_seed_rows(closure):  # independent noise in base and copy
        noise = max(float(np.max(np.sqrt(2.0) * stderr / step[:, None])) for step in steps)
    scale = float(np.abs(tangent).max())
    if noise > 0.1 * scale:
        warnings.warn(
            f"{func}: closure noise / FD step ~ {noise:.3g} exceeds 10% of the tangent "
            f"scale {scale:.3g}; finite-difference tangents are unreliable, increase "
            f"`fd_step` (now {fd_step:g}) or give the closure a `tangent` method",
            RuntimeWarning,
            stacklevel=3,
        )
    return tangent, mean, stderr, cost
