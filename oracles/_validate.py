"""Validators of oracle parameters and states: each returns the cleaned value or raises
an error that names the owner (class or function) and the argument.

A wrong *type* raises :class:`TypeError`; a wrong *value* (out of range,
not finite, not one of the choices) raises
:class:`hmm.contract.OracleSetupError`, a :class:`ValueError` that the
Coupler never retries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import numpy as np

from hmm.contract import OracleSetupError


def check_int(value: Any, name: str, owner: str, *, minimum: int | None = None) -> int:
    """``value`` as an int (bools refused); ``minimum`` inclusive."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{owner}: `{name}` must be an int{_bound('>=', minimum)}, got {value!r}")
    if minimum is not None and value < minimum:
        raise OracleSetupError(f"{owner}: `{name}` must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_real(value: Any, name: str, owner: str, *, minimum: float | None = None, positive: bool = False,
               maximum: float | None = None) -> float:
    """``value`` as a finite float (bools refused): ``>= minimum`` (``> minimum`` with
    ``positive``, where ``minimum`` defaults to 0) and ``<= maximum``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{owner}: `{name}` must be a finite number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise OracleSetupError(f"{owner}: `{name}` must be a finite number, got {value!r}")
    if positive and minimum is None:
        minimum = 0.0
    if minimum is not None and (value <= minimum if positive else value < minimum):
        raise OracleSetupError(f"{owner}: `{name}` must be {'>' if positive else '>='} {minimum:g}, got {value!r}")
    if maximum is not None and value > maximum:
        raise OracleSetupError(f"{owner}: `{name}` must be <= {maximum:g}, got {value!r}")
    return value


def check_positive(value: Any, name: str, owner: str, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (``>= 0`` with ``allow_zero``)."""
    return check_real(value, name, owner, minimum=0.0, positive=not allow_zero)


def check_choice(value: Any, name: str, owner: str, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = tuple(choices)
    if value not in choices:
        raise OracleSetupError(f"{owner}: `{name}` must be one of {choices}, got {value!r}")
    return value


def check_state(state: Any, inputs: Iterable[str], owner: str) -> np.ndarray:
    """One query row as a finite float vector with one value per name in ``inputs``."""
    inputs = tuple(inputs)
    arr = np.asarray(state, dtype=float).reshape(-1)
    if arr.shape != (len(inputs),):
        raise OracleSetupError(f"{owner}: `state` must hold {len(inputs)} values {inputs}, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise OracleSetupError(f"{owner}: `state` must be finite, got {arr}")
    return arr


def check_states(states: Any, inputs: Iterable[str], owner: str) -> np.ndarray:
    """A block of query rows, shape (k, len(inputs)), all finite."""
    inputs = tuple(inputs)
    arr = np.asarray(states, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != len(inputs):
        raise OracleSetupError(f"{owner}: `states` must have shape (k, {len(inputs)}) for {inputs}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise OracleSetupError(f"{owner}: `states` must be finite")
    return arr


def _bound(op: str, limit: Any) -> str:
    return "" if limit is None else f" {op} {limit}"


__all__ = ["check_int", "check_real", "check_positive", "check_choice", "check_state", "check_states"]
