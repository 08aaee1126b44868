r"""A cell-problem flux observed through Gaussian sampling noise, with a cost model.

Emulates a stochastic micro model (MD, KMC) whose answer is the homogenised
flux :math:`q = A^*(X) G` of :class:`oracles.CellProblemFlux`, estimated
from ``n = max(1, budget.sampling_steps)`` independent samples of standard
deviation ``noise`` each:

.. math::

    \hat q = q + \frac{\text{noise}}{\sqrt n}\,\xi, \qquad \xi \sim N(0, I),
    \qquad \text{stderr} = \frac{\text{noise}}{\sqrt n}.

The mean of ``n`` independent normal samples is itself normal with that
standard deviation, so one draw of ``xi`` per output is exact in
distribution (and keeps the oracle cheap). ``xi`` comes from
``numpy.random.default_rng(seed)``: the same state, seed and budget give the
same bits.

Cost model: a run is charged ``cost_s = wall + cost_per_sample_s * n``
micro seconds, where ``wall`` is the measured time of the cell solve and
the second term is the *modelled* sampling time of the emulated micro model
(documented, deterministic, reported in ``Estimate.cost_s`` and the
provenance). With ``busy_wait=True`` the oracle really spins for that time
and reports the measured wall time instead (slow; for cluster demos).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, EstimateArrays, resolve_budget

from .._validate import check_positive
from .problem import CellProblemFlux


@dataclass(frozen=True)
class NoisyCellProblemFlux:
    """Cell-problem flux plus Gaussian noise ``noise / sqrt(n)`` (see the module doc).

    Parameters
    ----------
    coefficient : callable
        ``a(x, y)`` of the cell problem (e.g. :class:`oracles.cell.coefficients.InclusionCosine`).
    dim : int
        1 or 2.
    cells : int
        Finite-volume cells per side of the unit cell (>= 2).
    noise : float
        Standard deviation of one sample of the flux (flux units, >= 0).
    cost_per_sample_s : float
        Modelled micro seconds per sample (>= 0).
    busy_wait : bool
        Really spend ``cost_per_sample_s * n`` seconds (busy wait) instead of
        adding the modelled time to the measured one.

    Inputs and outputs are those of :class:`oracles.CellProblemFlux`.
    ``n_eff = n``; with ``noise = 0`` the answer is the exact cell-problem
    flux with zero stderr (and ``n_eff = inf``).
    """

    coefficient: Any
    dim: int = 1
    cells: int = 32
    noise: float = 0.01
    cost_per_sample_s: float = 1e-3
    busy_wait: bool = False

    units: ClassVar[Mapping[str, str]] = CellProblemFlux.units  # nondimensional, as the cell problem
    default_budget: ClassVar[Budget] = Budget(sampling_steps=1)
    supports: ClassVar[frozenset[str]] = frozenset({"sampling_steps"})

    def __post_init__(self) -> None:
        for name in ("noise", "cost_per_sample_s"):
            check_positive(getattr(self, name), name, "NoisyCellProblemFlux", allow_zero=True)
        if not isinstance(self.busy_wait, bool):
            raise TypeError(f"NoisyCellProblemFlux: `busy_wait` must be a bool, got {self.busy_wait!r}")
        _ = self.cell_problem  # validates coefficient, dim and cells

    @property
    def cell_problem(self) -> CellProblemFlux:
        """The deterministic cell-problem oracle underneath."""
        return CellProblemFlux(self.coefficient, dim=self.dim, cells=self.cells)

    @property
    def inputs(self) -> tuple[str, ...]:
        return self.cell_problem.inputs

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.cell_problem.outputs

    def _spend(self, n: int, start: float) -> float:
        modelled = self.cost_per_sample_s * n
        if self.busy_wait:
            while time.perf_counter() - start < modelled:
                pass
            return time.perf_counter() - start
        return time.perf_counter() - start + modelled

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        n = resolve_budget(self, budget, func=f"{type(self).__name__}.run()").sampling_steps
        exact = self.cell_problem.run(state, seed=seed, budget=Budget()).mean
        sigma = self.noise / math.sqrt(n)
        mean = exact + sigma * np.random.default_rng(seed).standard_normal(exact.size)
        n_eff = float(n) if self.noise > 0 else math.inf
        return Estimate(mean, np.full(exact.size, sigma), n_eff=n_eff, cost_s=self._spend(n, start),
                        provenance={"cells": self.cells, "samples": n,
                                    "modelled_cost_s": self.cost_per_sample_s * n})

    def run_batch(self, states: np.ndarray, *, seeds: np.ndarray, budget: Budget) -> EstimateArrays:
        """All rows at once; row ``i`` has the bits of ``run(states[i], seed=seeds[i])``
        except for ``cost_s`` (the block's mean wall time plus the modelled term)."""
        start = time.perf_counter()
        n = resolve_budget(self, budget, func=f"{type(self).__name__}.run_batch()").sampling_steps
        exact = self.cell_problem.run_batch(states, seeds=seeds, budget=Budget()).mean
        sigma = self.noise / math.sqrt(n)
        xi = np.array([np.random.default_rng(int(s)).standard_normal(exact.shape[1]) for s in seeds])
        k = exact.shape[0]
        wall = (time.perf_counter() - start) / max(k, 1)
        modelled = self.cost_per_sample_s * n
        if self.busy_wait:
            while time.perf_counter() - start < modelled * k:
                pass
            cost = (time.perf_counter() - start) / max(k, 1)
        else:
            cost = wall + modelled
        n_eff = float(n) if self.noise > 0 else math.inf
        return EstimateArrays(exact + sigma * xi.reshape(exact.shape), np.full(exact.shape, sigma),
                              np.full(k, n_eff), np.full(k, cost))


NoisyCellProblem = NoisyCellProblemFlux  # the name before the redesign
