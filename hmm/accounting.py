"""One ledger of micro work: what a Coupler ran, answered from its cache, and spent.

Micro cost is counted once, at the :class:`hmm.Coupler` that ran it. Drivers
(the HMM solver, equation-free steppers, adaptive runners, UQ ensembles) take
:meth:`hmm.Coupler.accounting` snapshots and record differences between them;
nothing else keeps a counter of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class Accounting:
    """Totals of a Coupler's micro work since it was created.

    Attributes
    ----------
    fresh_runs : int
        Micro runs that were actually executed (and succeeded).
    cached_answers : int
        Queries answered without a run: from the cache, or as a repeat of an
        earlier row of the same batch.
    micro_seconds : float
        Micro wall seconds spent by the fresh runs (s).
    failed_runs : int
        Attempts that raised or returned non-finite values (retries included).
    batches : int
        Calls of :meth:`hmm.Coupler.evaluate`.
    surrogate_answers : int
        Queries that failed on every attempt and were answered by the
        Coupler's failure surrogate (``on_failure="surrogate"``).
    queries : int
        Rows asked of :meth:`hmm.Coupler.evaluate` (the denominator of the
        failed fraction).
    """

    fresh_runs: int = 0
    cached_answers: int = 0
    micro_seconds: float = 0.0
    failed_runs: int = 0
    batches: int = 0
    surrogate_answers: int = 0
    queries: int = 0

    def __add__(self, other: "Accounting") -> "Accounting":
        return Accounting(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __sub__(self, other: "Accounting") -> "Accounting":
        """The work done between two snapshots (``later - earlier``)."""
        return Accounting(*(getattr(self, f.name) - getattr(other, f.name) for f in fields(self)))

    def to_attrs(self, prefix: str = "micro_") -> dict[str, int | float]:
        """The totals as netCDF-compatible attributes (``micro_fresh_runs``, ...)."""
        return {f"{prefix}{f.name}": getattr(self, f.name) for f in fields(self)}
