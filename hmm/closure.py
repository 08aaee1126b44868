"""Lifting and restriction: a macro closure built from a Coupler.

A macro law asks its closure for quantities (``closure_outputs``) at points
described by named columns (``closure_inputs``, e.g. position and gradient).
The oracle takes its own named inputs. :class:`CouplerClosure` maps between
the two *by name*: law columns are routed to the oracle inputs of the same
name, oracle inputs the law does not provide come from ``fixed_inputs``
(e.g. a temperature), and the outputs are restricted to what the law uses.
It follows the closure protocol of :mod:`macro.closure`: seed rows are
always accepted, and its answers carry a ``fresh`` mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from .budget import Budget
from .coupler import Coupler
from .estimate import EstimateBatch


@dataclass(frozen=True)
class ClosureBatch(EstimateBatch):
    """The :class:`hmm.EstimateBatch` a :class:`CouplerClosure` returns, with the
    ``fresh`` mask of the closure protocol (``~cached``: answers that took a
    fresh micro run)."""

    @property
    def fresh(self) -> np.ndarray:
        return ~np.asarray(self.cached, dtype=bool)


@dataclass
class ClosureLog:
    """What one closure asked for: calls, queries and (``keep_batches``) the batches.

    The micro work itself (fresh runs, cached answers, micro seconds) is
    counted once, by the Coupler (:attr:`hmm.Coupler.accounting`); drivers
    record that ledger, so this log keeps no cost counters of its own.
    """

    calls: int = 0
    queries: int = 0
    batches: list[EstimateBatch] = field(default_factory=list)


class CouplerClosure:
    """Closure ``closure(points, *, seed_rows=None) -> ClosureBatch`` that queries a Coupler.

    Parameters
    ----------
    coupler : Coupler
    inputs : tuple of str
        Names of the columns of ``points`` (the law's ``closure_inputs``).
    outputs : tuple of str
        Names of the quantities the law needs (the law's ``closure_outputs``).
    budget : Budget
        Budget of each micro run.
    fixed_inputs : mapping, optional
        Values of oracle inputs that are not columns of ``points``.
    keep_batches : bool
        Keep every EstimateBatch in :attr:`log` (for adaptivity and plots).
    rename : mapping, optional
        Law name -> oracle name, for inputs and outputs whose names differ,
        e.g. ``{"grad_x": "shear_rate", "flux": "shear_stress"}`` to drive a
        shear-stress oracle from the 1D momentum law.

    Notes
    -----
    In the returned batch ``cost_s`` is zero where the answer came from the
    cache, so that summing it gives micro seconds actually spent.
    """

    def __init__(self, coupler: Coupler, inputs: tuple[str, ...], outputs: tuple[str, ...],
                 budget: Budget | None = None, *, fixed_inputs: Mapping[str, float] | None = None,
                 keep_batches: bool = False, rename: Mapping[str, str] | None = None) -> None:
        fixed = dict(fixed_inputs or {})
        rename = dict(rename or {})
        self.coupler = coupler
        self.law_inputs, self.law_outputs = tuple(inputs), tuple(outputs)
        unused = sorted(set(rename) - set(self.law_inputs) - set(self.law_outputs))
        if unused:
            raise ValueError(f"rename keys {unused} are not law inputs {self.law_inputs} or "
                             f"outputs {self.law_outputs}")
        self.inputs = tuple(rename.get(n, n) for n in inputs)
        self.outputs = tuple(rename.get(n, n) for n in outputs)
        self.budget = budget or Budget()
        oracle_inputs, oracle_outputs = coupler.inputs, coupler.outputs
        unknown = sorted(set(fixed) - set(oracle_inputs))
        if unknown:
            raise ValueError(f"fixed_inputs {unknown} are not inputs of the oracle {oracle_inputs}")
        missing = [n for n in oracle_inputs if n not in self.inputs and n not in fixed]
        if missing:
            raise ValueError(
                f"the oracle needs inputs {missing} that the macro law does not provide "
                f"(law provides {self.inputs}); give them in fixed_inputs")
        absent = [n for n in self.outputs if n not in oracle_outputs]
        if absent:
            raise ValueError(f"the macro law needs outputs {absent}, but the oracle only "
                             f"returns {oracle_outputs}")
        # column j of the oracle state comes from law column source[j] (or a fixed value)
        self._source = [self.inputs.index(n) if n in self.inputs else -1 for n in oracle_inputs]
        self._fixed = np.array([fixed.get(n, 0.0) for n in oracle_inputs], dtype=float)
        self._restrict = [oracle_outputs.index(n) for n in self.outputs]
        self.keep_batches = keep_batches
        self.log = ClosureLog()

    def lift(self, points: np.ndarray) -> np.ndarray:
        """Macro points (n, len(inputs)) -> oracle states (n, len(oracle.inputs))."""
        points = np.asarray(points, dtype=float)
        states = np.tile(self._fixed, (points.shape[0], 1))
        for j, src in enumerate(self._source):
            if src >= 0:
                states[:, j] = points[:, src]
        return states

    def restrict(self, batch: EstimateBatch) -> ClosureBatch:
        """Keep the outputs the law uses; zero the cost of cached answers."""
        cost = np.where(batch.cached, 0.0, batch.cost_s)
        return ClosureBatch(batch.inputs, self.law_outputs, batch.states,
                             batch.mean[:, self._restrict], batch.stderr[:, self._restrict],
                             batch.n_eff, cost, batch.seed, batch.cached, batch.worker,
                             batch.provenance)

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureBatch:
        """Estimates at ``points``; rows with equal ``seed_rows`` share their
        random numbers (the seeds derive from the lifted seed rows)."""
        seed_from = None if seed_rows is None else self.lift(seed_rows)
        batch = self.coupler.evaluate(self.lift(points), self.budget, seed_from=seed_from)
        result = self.restrict(batch)
        self.log.calls += 1
        self.log.queries += len(batch)
        if self.keep_batches:
            self.log.batches.append(batch)
        return result
