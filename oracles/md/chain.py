"""1D nearest-neighbour chain oracle (harmonic or Lennard-Jones bonds), canonical ensemble.

Reduced units (sigma, epsilon, m, k_B = 1). Re-exported by :mod:`oracles.md`; the
microcanonical variant is :class:`oracles.md.NVEChain`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Mapping

import numpy as np

from hmm.contract import Budget, Estimate, resolve_budget

from . import _kernels as K
from .common import DEFAULT_EQUILIBRATION_STEPS, DEFAULT_SAMPLING_STEPS, block_average, parse_state


@dataclass(frozen=True)
class LJChain:
    r"""Tension of a periodic 1D chain with nearest-neighbour bonds at strain e and temperature T.

    Bond energy phi(r) = k/2 (r - a0)^2 (``bond="harmonic"``) or
    4 eps (r^-12 - r^-6) (``bond="lj"``, eps = 1). Reference spacing ``a0``
    (default: the potential minimum, 2^(1/6) for LJ); the strained chain has
    spacing a0 (1 + e). The ``stress`` output is the tension (force units, the
    1D stress; tension positive), from the 1D virial
    sigma = [sum_bonds r phi'(r) - sum_i m v_i^2] / L. Reference (Lagrangian)
    density m / a0; at T = 0 the modulus d sigma / d e is a0 phi''(a0 (1 + e))
    and the long-wave speed a0 sqrt(phi'' / m) = sqrt(modulus / density).
    Langevin BAOAB thermostat; same budget rules as :class:`LennardJonesMD`.
    """

    bond: str = "harmonic"
    n_atoms: int = 64
    spring: float = 1.0
    a0: float | None = None
    mass: float = 1.0
    dt: float = 0.01
    friction: float = 1.0
    sample_every: int = 10
    blocks: int = 20

    inputs = ("strain", "temperature")
    outputs = ("stress",)
    units: ClassVar[Mapping[str, str]] = MappingProxyType({
        "strain": "1", "temperature": "epsilon/k_B", "stress": "epsilon/sigma"})
    default_budget: ClassVar[Budget] = Budget(DEFAULT_EQUILIBRATION_STEPS, DEFAULT_SAMPLING_STEPS)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps", "replicas"})

    def __post_init__(self) -> None:
        if self.bond not in ("harmonic", "lj"):
            raise ValueError(f"LJChain: `bond` must be 'harmonic' or 'lj', got {self.bond!r}")
        if isinstance(self.n_atoms, bool) or not isinstance(self.n_atoms, int) or self.n_atoms < 2:
            raise ValueError(f"LJChain: `n_atoms` must be an int >= 2, got {self.n_atoms!r}")
        for field in ("spring", "mass", "dt", "friction"):
            value = getattr(self, field)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"LJChain: `{field}` must be a positive number, got {value!r}")
        if self.a0 is not None and not (math.isfinite(self.a0) and self.a0 > 0):
            raise ValueError(f"LJChain: `a0` must be positive or None, got {self.a0!r}")

    @property
    def spacing(self) -> float:
        """Reference bond length a0."""
        return float(self.a0) if self.a0 is not None else (2.0 ** (1 / 6) if self.bond == "lj" else 1.0)

    @property
    def density(self) -> float:
        """Reference mass per length m / a0."""
        return self.mass / self.spacing

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        budget = resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        strain, temperature = parse_state(type(self).__name__, state)
        a = self.spacing * (1.0 + strain)
        n, length = self.n_atoms, self.n_atoms * a
        x = np.arange(n) * a
        v = np.zeros(n)
        f = np.zeros(n)
        harmonic = self.bond == "harmonic"
        args = (length, harmonic, self.spring, self.spacing, 1.0)
        u, w = K.chain_forces(x, f, *args)
        if temperature == 0.0:
            return Estimate(np.array([w / length]), np.zeros(1), math.inf, time.perf_counter() - start)
        n_eq, n_samp = budget.equilibration_steps, budget.sampling_steps
        seeds = ([np.random.SeedSequence(seed)] if budget.replicas == 1
                 else np.random.SeedSequence(seed).spawn(budget.replicas))
        means, errors, n_effs = [], [], []
        for child in seeds:
            rng = np.random.default_rng(child)
            x = np.arange(n) * a
            K.chain_forces(x, f, *args)
            v[:] = rng.standard_normal(n) * math.sqrt(temperature / self.mass)
            K.seed_numba_rng(int(rng.integers(2**31)))
            status = K.chain_steps(x, v, f, length, self.mass, self.dt, n_eq, harmonic, self.spring, self.spacing,
                                   1.0, self.friction, temperature, n_eq + 1, np.empty((0, 3)))
            samples = np.zeros((n_samp // self.sample_every, 3))
            if status == K.OK:
                status = K.chain_steps(x, v, f, length, self.mass, self.dt, n_samp, harmonic, self.spring,
                                       self.spacing, 1.0, self.friction, temperature, self.sample_every, samples)
            if status != K.OK:
                raise RuntimeError(f"LJChain: run at strain={strain}, temperature={temperature} (seed {seed}) "
                                   f"became non-finite; dt={self.dt} is likely too large")
            m, se, n_eff = block_average((samples[:, 2] - samples[:, 1]) / length, self.blocks)
            means.append(m), errors.append(se), n_effs.append(float(n_eff[0]))
        mean = np.mean(means, axis=0)
        stderr = np.sqrt(np.sum(np.square(errors), axis=0)) / len(means)
        return Estimate(mean, stderr, float(np.sum(n_effs)), time.perf_counter() - start,
                        {"blocks": self.blocks, "replicas": budget.replicas})
