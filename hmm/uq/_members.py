"""Running one member of a study through the solver's own Coupler.

Every member of an ensemble or of a parameter design is a whole multiscale
run of the *same* :class:`hmm.HMMSolver`, on the same Coupler: the same
Dask client, task batching, cache and :class:`hmm.Accounting` ledger. Only
the Coupler's root seed (ensemble members) and its oracle (design points,
a ``dataclasses.replace`` of the oracle) differ, swapped in for the
member's run and restored afterwards. The Coupler's cache keys hold the
root seed and the oracle token, so answers of different members never mix.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, Mapping

import numpy as np

from ..provenance import oracle_token

MODES = ("steady", "transient")


def member_seeds(seed: int, n: int) -> list[int]:
    """Root seeds of ``n`` members: ``SeedSequence(seed).spawn(n)``, each child's first 64-bit word
    shifted to 63 bits (a valid Coupler seed)."""
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
            for child in np.random.SeedSequence(seed).spawn(n)]


@contextlib.contextmanager
def coupler_as(coupler: Any, *, seed: int | None = None, oracle: Any = None) -> Iterator[Any]:
    """Run with the Coupler's root ``seed`` and/or ``oracle`` replaced; restored on exit.

    The replacement oracle must have the same ``inputs`` and ``outputs``.
    Not thread-safe: members run one after the other.
    """
    saved = (coupler.seed, coupler.oracle, coupler.token, coupler.units)
    try:
        if seed is not None:
            coupler.seed = int(seed)
        if oracle is not None:
            if tuple(oracle.inputs) != coupler.inputs or tuple(oracle.outputs) != coupler.outputs:
                raise ValueError(f"the oracle of a design point must keep inputs {coupler.inputs} and outputs "
                                 f"{coupler.outputs}, got {tuple(oracle.inputs)} -> {tuple(oracle.outputs)}")
            from ..contract import oracle_units

            coupler.oracle, coupler.token, coupler.units = oracle, oracle_token(oracle), oracle_units(oracle)
        yield coupler
    finally:
        coupler.seed, coupler.oracle, coupler.token, coupler.units = saved


def check_mode(mode: str, func: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{func}: unknown mode {mode!r}; valid modes are {list(MODES)}")
    return mode


def run_member(solver: Any, mode: str, run_kwargs: Mapping[str, Any], *, linear: bool,
               covariance: bool = False) -> Any:
    """One whole run of ``solver``: ``solve_steady`` (with the linear stderr if ``linear``) or ``run``."""
    kwargs = dict(run_kwargs)
    if mode == "steady":
        return solver.solve_steady(stderr=linear, covariance=covariance and linear, **kwargs)
    if "t_end" not in kwargs or "dt" not in kwargs:
        raise ValueError("transient runs need `run_kwargs` with `t_end` and `dt` (HMMSolver.run)")
    return solver.run(kwargs.pop("t_end"), **kwargs)


def wants_covariance(goal: Any, solver: Any, limit: int = 4096) -> bool:
    """Ask a steady solve for the state covariance when a linear goal needs it (small grids only)."""
    from .goals import LinearGoal

    return isinstance(goal, LinearGoal) and solver.grid.n_cells * len(solver.fields) <= limit


def goal_value(goal: Any, ds: Any) -> float:
    if goal is None:
        return math.nan
    value = goal(ds)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"goal must return a number, got {type(value).__name__}") from None
