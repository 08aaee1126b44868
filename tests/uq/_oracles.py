"""Test oracles with closed-form homogenised answers for the hmm.uq tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, EstimateArrays, resolve_budget

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1
ISHIGAMI_SHIFT = 11.0  # > max |Ishigami| (1 + 0.1 pi^4 = 10.74): the conductivity stays positive


def ishigami(x1, x2, x3, a=ISHIGAMI_A, b=ISHIGAMI_B):
    """Ishigami & Homma (1990): sin x1 + a sin^2 x2 + b x3^4 sin x1."""
    return np.sin(x1) + a * np.sin(x2) ** 2 + b * x3**4 * np.sin(x1)


@dataclass(frozen=True)
class ResistiveFlux:
    """q = grad_x / (r1 + r2 + ishigami(x1, x2, x3) [+ shift]) + noise / sqrt(n) xi.

    A steady 1D diffusion solve with a constant source has u proportional to the resistance
    R = 1 / conductivity exactly (the discrete equations are linear in u with matrix ~ 1 / R), so the
    flow rate is c R with c the flow rate at R = 1: an affine function of the parameters.
    With ``ishigami_on`` False the resistance is ``r1 + r2``.
    """

    r1: float = 1.0
    r2: float = 1.0
    x1: float = 0.0
    x2: float = 0.0
    x3: float = 0.0
    ishigami_on: bool = False
    noise: float = 0.0

    inputs = ("x", "grad_x")
    outputs = ("flux",)
    units: ClassVar[dict] = {"x": "1", "grad_x": "1", "flux": "1"}
    default_budget: ClassVar[Budget] = Budget(sampling_steps=1)
    supports: ClassVar[frozenset] = frozenset({"sampling_steps"})

    def __post_init__(self) -> None:
        if not self.resistance > 0:
            raise ValueError(f"ResistiveFlux: the resistance must be > 0, got {self.resistance} ({self})")

    @property
    def deterministic(self) -> bool:
        return self.noise == 0.0

    @property
    def resistance(self) -> float:
        if self.ishigami_on:
            return float(ishigami(self.x1, self.x2, self.x3) + ISHIGAMI_SHIFT)
        return self.r1 + self.r2

    def run_batch(self, states, *, seeds, budget) -> EstimateArrays:
        n = resolve_budget(self, budget, func="ResistiveFlux.run_batch()").sampling_steps
        states = np.asarray(states, dtype=float)
        sigma = self.noise / math.sqrt(n)
        mean = states[:, 1:2] / self.resistance
        if sigma > 0:
            mean = mean + sigma * np.array([np.random.default_rng(int(s)).standard_normal(1) for s in seeds])
        k = len(states)
        return EstimateArrays(mean, np.full((k, 1), sigma), np.full(k, float(n)), np.full(k, 1e-6))

    def run(self, state, *, seed, budget) -> Estimate:
        out = self.run_batch(np.asarray(state, dtype=float)[None, :], seeds=np.array([seed]), budget=budget)
        return Estimate(out.mean[0], out.stderr[0], n_eff=float(out.n_eff[0]), cost_s=float(out.cost_s[0]))
