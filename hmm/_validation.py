"""Validators shared by the public functions: each returns the cleaned value
and its error names the function and the argument."""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import QueryError


def check_states(states: Any, n_inputs: int, *, func: str, inputs: tuple[str, ...]) -> np.ndarray:
    """``states`` as a C-contiguous float64 array of shape (n, n_inputs), all finite."""
    try:
        arr = np.asarray(states, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise QueryError(f"{func}: `states` must be a numeric array of shape (n_queries, "
                         f"{n_inputs}) with columns {inputs}; could not convert: {exc}") from exc
    if arr.ndim != 2 or arr.shape[1] != n_inputs:
        raise QueryError(f"{func}: `states` must have shape (n_queries, {n_inputs}) with columns "
                         f"{inputs}, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise QueryError(f"{func}: `states` must be finite; row {row} has {inputs[col]}="
                         f"{arr[row, col]}")
    return np.ascontiguousarray(arr)


def check_int(value: Any, name: str, *, func: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: `{name}` must be an int, got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{func}: `{name}` must be >= {minimum}, got {value}")
    return int(value)
