"""Cheap analytic oracles for tests, benchmarks and method development.

They have exactly known answers, so the framework's seeding, error bars and
overheads can be checked against closed forms.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, resolve_budget

from ._validate import check_state


@dataclass(frozen=True)
class TrivialSum:
    """Returns the sum of the state's components; costs next to nothing.

    Used to measure the framework's per-query overhead against raw Dask.
    """

    n_inputs: int = 1

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(f"s{i}" for i in range(self.n_inputs))

    outputs = ("value",)

    @property
    def units(self) -> Mapping[str, str]:
        """Dimensionless: ``"1"`` for every input and output."""
        return dict.fromkeys((*self.inputs, *self.outputs), "1")

    default_budget: ClassVar[Budget] = Budget()
    supports: ClassVar[frozenset[str]] = frozenset()
    deterministic = True

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        state = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        return Estimate(np.array([state.sum()]), np.zeros(1), np.inf, 0.0)


@dataclass(frozen=True)
class NoisyQuadratic:
    """``value = slope . state + curvature |state|^2`` observed with Gaussian noise.

    Each of ``budget.sampling_steps`` (at least 1) samples adds independent
    N(0, noise^2) noise; the estimate is their mean with stderr
    ``noise / sqrt(n)`` (exact: the samples are independent).
    ``cost_per_sample_s`` makes each sample take that many wall seconds
    (a busy wait), to emulate an expensive micro model.
    """

    slope: tuple[float, ...] = (1.0,)
    curvature: float = 0.0
    noise: float = 0.1
    cost_per_sample_s: float = 0.0

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(f"s{i}" for i in range(len(self.slope)))

    outputs = ("value",)

    @property
    def units(self) -> Mapping[str, str]:
        """Dimensionless: ``"1"`` for every input and output."""
        return dict.fromkeys((*self.inputs, *self.outputs), "1")

    default_budget: ClassVar[Budget] = Budget(sampling_steps=1)
    supports: ClassVar[frozenset[str]] = frozenset({"sampling_steps"})

    def exact(self, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, dtype=float)
        return state @ np.asarray(self.slope) + self.curvature * np.sum(state**2, axis=-1)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        n = resolve_budget(self, budget, func=f"{type(self).__name__}.run()").sampling_steps
        state = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        samples = self.exact(state) + self.noise * np.random.default_rng(seed).standard_normal(n)
        if self.cost_per_sample_s > 0:
            while time.perf_counter() - start < n * self.cost_per_sample_s:
                pass
        return Estimate(np.array([samples.mean()]), np.array([self.noise / np.sqrt(n)]),
                        n_eff=float(n), cost_s=time.perf_counter() - start)


TrivialOracle = TrivialSum  # the name before the redesign


GaussianNoiseOracle = NoisyQuadratic  # the name before the redesign
