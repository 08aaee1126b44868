"""FE²: the quasi-static solid law of :mod:`macro.solids` with a micro model at every
quadrature point, through a :class:`hmm.Coupler`.

:func:`fe2_closure` maps the law's closure columns to the oracle's inputs by
name (:class:`hmm.closure.CouplerClosure`: positions the oracle does not take
are dropped, fixed inputs added), so each Newton iteration of
:func:`macro.solids.solve_quasistatic` is one Coupler batch of all quadrature
points. :func:`solve_fe2` runs the load stepping and records the ledger
difference of the run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from macro.solids import QuasiStaticResult, SolidLaw, solve_quasistatic

from .accounting import Accounting
from .budget import Budget
from .closure import CouplerClosure
from .coupler import Coupler

__all__ = ["fe2_closure", "solve_fe2", "FE2Result"]


def fe2_closure(coupler: Coupler, law: SolidLaw, budget: Budget | None = None, *,
                fixed_inputs: Mapping[str, float] | None = None, rename: Mapping[str, str] | None = None,
                keep_batches: bool = False) -> CouplerClosure:
    """A closure answering ``law``'s stress and tangent columns from ``coupler``'s oracle.

    Raises
    ------
    TypeError
        ``law`` is not a :class:`macro.solids.SolidLaw`.
    ValueError
        The oracle lacks an output the law needs, or needs an input the law does
        not provide (the message names them).
    """
    if not isinstance(law, SolidLaw):
        raise TypeError(f"fe2_closure(): `law` must be a macro.solids.SolidLaw, got {type(law).__name__}")
    return CouplerClosure(coupler, law.closure_inputs(), law.closure_outputs(), budget,
                          fixed_inputs=fixed_inputs, rename=rename, keep_batches=keep_batches)


@dataclass(eq=False)
class FE2Result:
    """:class:`macro.solids.QuasiStaticResult` of an FE² run, the closure that ran it
    and the Coupler's :class:`hmm.Accounting` difference over the run (fresh runs,
    cached answers, micro seconds, batches)."""

    result: QuasiStaticResult
    closure: CouplerClosure
    ledger: Accounting


def solve_fe2(law: SolidLaw, coupler: Coupler, steps: int | Sequence[float] = 1, *, budget: Budget | None = None,
              fixed_inputs: Mapping[str, float] | None = None, rename: Mapping[str, str] | None = None,
              **newton: Any) -> FE2Result:
    """Quasi-static FE² solve: :func:`macro.solids.solve_quasistatic` with :func:`fe2_closure`.

    ``newton`` is passed on (``tol``, ``max_iterations``, ``u0``, ``callback``).
    """
    closure = fe2_closure(coupler, law, budget, fixed_inputs=fixed_inputs, rename=rename)
    before = coupler.accounting
    result = solve_quasistatic(law, closure, steps, **newton)
    return FE2Result(result, closure, coupler.accounting - before)
