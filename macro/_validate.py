"""Private argument validators for :mod:`macro`.

Each helper returns the cleaned value and names the calling function and the
offending argument in its message: ``ValueError`` for bad values,
``TypeError`` for bad types.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def check_int(value: Any, name: str, func: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as ``int``; reject bools, floats and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{func}: `{name}` must be an int, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{func}: `{name}` must be >= {minimum}, got {value}")
    return value


def check_float(
    value: Any,
    name: str,
    func: str,
    *,
    positive: bool = False,
    nonnegative: bool = False,
) -> float:
    """Return ``value`` as a finite ``float`` (optionally > 0 or >= 0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: `{name}` must be a real number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{func}: `{name}` must be finite, got {value}")
    if positive and value <= 0.0:
        raise ValueError(f"{func}: `{name}` must be positive, got {value}")
    if nonnegative and value < 0.0:
        raise ValueError(f"{func}: `{name}` must be non-negative, got {value}")
    return value


def check_extent(value: Any, name: str, func: str) -> tuple[float, float]:
    """Return a finite, strictly increasing interval ``(a, b)``."""
    try:
        a, b = value
    except (TypeError, ValueError):
        raise TypeError(
            f"{func}: `{name}` must be a pair (a, b) of floats, got {value!r}"
        ) from None
    a = check_float(a, name, func)
    b = check_float(b, name, func)
    if not b > a:
        raise ValueError(f"{func}: `{name}` must be increasing (a < b), got ({a}, {b})")
    return (a, b)


def as_state(u: Any, n_cells: int, shape: tuple[int, ...], func: str, name: str = "u") -> np.ndarray:
    """Return the cell state as a flat float array of length ``n_cells``.

    Accepts a flat array of length ``n_cells`` or an array of the grid
    ``shape`` (flattened in C order).
    """
    arr = np.asarray(u, dtype=float)
    if arr.shape == (n_cells,):
        return arr
    if arr.shape == tuple(shape):
        return arr.reshape(n_cells)
    raise ValueError(
        f"{func}: `{name}` must have shape ({n_cells},) or the grid shape {tuple(shape)}, "
        f"got {arr.shape}"
    )
