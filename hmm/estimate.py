"""Micro estimates: one query's answer (:mod:`hmm.contract`) and a batch of them.

An :class:`Estimate` is what an oracle returns for one macro state: the mean
of each output, its standard error (zeros for deterministic oracles), the
effective number of independent samples behind it and the micro wall time it
cost. An :class:`EstimateBatch` holds many estimates as arrays, in the order
of the queries, and converts to a labelled :class:`xarray.Dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from .contract import Estimate, EstimateArrays

__all__ = ["Estimate", "EstimateArrays", "EstimateBatch"]


@dataclass(frozen=True)
class EstimateBatch:
    """Estimates of many queries, as arrays in query order.

    Attributes
    ----------
    inputs, outputs : tuple of str
        Names of the state columns and of the output columns.
    states : ndarray, shape (n, n_inputs)
        The queries.
    mean, stderr : ndarray, shape (n, n_outputs)
    n_eff, cost_s : ndarray, shape (n,)
    seed : ndarray of uint64, shape (n,)
        Per-query seeds the oracle was called with.
    cached : ndarray of bool, shape (n,)
        True where the estimate came without a fresh run: from the cache, or
        as a repeat of an earlier row of the same batch (``cost_s`` is then
        the cost of the original run, not spent again).
    worker : ndarray of str, shape (n,)
        Where each query ran (``"sync"`` in process).
    provenance : dict
        Oracle name and token, root seed, budget, package version.
    units : dict
        Unit string of every input and output (the oracle's ``units``).
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    states: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    n_eff: np.ndarray
    cost_s: np.ndarray
    seed: np.ndarray
    cached: np.ndarray
    worker: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.states.shape[0]
        if self.mean.shape != (n, len(self.outputs)) or self.stderr.shape != self.mean.shape:
            raise ValueError(f"EstimateBatch: mean/stderr must have shape {(n, len(self.outputs))}, "
                             f"got {self.mean.shape} and {self.stderr.shape}")
        for name in ("n_eff", "cost_s", "seed", "cached", "worker"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"EstimateBatch.{name} must have shape ({n},), got {getattr(self, name).shape}")

    def __len__(self) -> int:
        return self.states.shape[0]

    def __getitem__(self, index) -> "EstimateBatch":
        """A sub-batch (``index`` is a slice, an integer array or a boolean mask)."""
        if isinstance(index, (int, np.integer)):
            index = [int(index)]
        return EstimateBatch(self.inputs, self.outputs, self.states[index], self.mean[index],
                             self.stderr[index], self.n_eff[index], self.cost_s[index],
                             self.seed[index], self.cached[index], self.worker[index],
                             dict(self.provenance), dict(self.units))

    def estimate(self, i: int) -> Estimate:
        """The ``i``-th query's answer as an :class:`Estimate`."""
        return Estimate(self.mean[i], self.stderr[i], self.n_eff[i], self.cost_s[i],
                        {"seed": int(self.seed[i]), "worker": str(self.worker[i]),
                         "cached": bool(self.cached[i]), **self.provenance})

    @property
    def total_cost_s(self) -> float:
        """Micro seconds actually spent by this batch (cached answers excluded)."""
        return float(np.sum(self.cost_s[~self.cached]))

    @classmethod
    def concat(cls, batches: Sequence["EstimateBatch"]) -> "EstimateBatch":
        """Concatenate batches of the same oracle along the query axis."""
        if not batches:
            raise ValueError("EstimateBatch.concat() needs at least one batch")
        first = batches[0]
        for b in batches[1:]:
            if b.inputs != first.inputs or b.outputs != first.outputs:
                raise ValueError("EstimateBatch.concat(): batches have different inputs/outputs")
        cat = lambda name: np.concatenate([getattr(b, name) for b in batches])  # noqa: E731
        return cls(first.inputs, first.outputs, cat("states"), cat("mean"), cat("stderr"),
                   cat("n_eff"), cat("cost_s"), cat("seed"), cat("cached"), cat("worker"),
                   dict(first.provenance), dict(first.units))

    def to_xarray(self, units: dict[str, str] | None = None):
        """The batch as an :class:`xarray.Dataset` with dimension ``query``.

        Each output ``name`` becomes a variable ``name`` with a sibling
        ``name_stderr``; inputs become coordinates; ``n_eff``, ``cost_s``,
        ``seed``, ``cached`` and ``worker`` are variables; provenance goes into
        the attributes. ``units`` maps input/output names to unit strings
        (default: the batch's own, i.e. the oracle's).
        """
        import xarray as xr

        units = {**self.units, **(units or {})}
        coords = {name: ("query", self.states[:, j], {"units": units.get(name, "1")})
                  for j, name in enumerate(self.inputs)}
        coords["query"] = np.arange(len(self))
        data: dict[str, Any] = {}
        for j, name in enumerate(self.outputs):
            u = units.get(name, "1")
            data[name] = ("query", self.mean[:, j], {"units": u})
            data[f"{name}_stderr"] = ("query", self.stderr[:, j],
                                      {"units": u, "long_name": f"standard error of {name}"})
        data["n_eff"] = ("query", self.n_eff, {"long_name": "effective number of samples"})
        data["cost_s"] = ("query", self.cost_s, {"units": "s", "long_name": "micro wall time"})
        data["seed"] = ("query", self.seed.astype(np.uint64))
        data["cached"] = ("query", self.cached.astype(np.int8), {"long_name": "answer from cache (1) or fresh run (0)"})
        data["worker"] = ("query", self.worker.astype(str))
        attrs = {k: (v if isinstance(v, (str, int, float)) else str(v))
                 for k, v in self.provenance.items()}
        return xr.Dataset(data, coords=coords, attrs=attrs)
