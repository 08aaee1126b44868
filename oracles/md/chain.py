"""1D nearest-neighbour chain oracle (harmonic or Lennard-Jones bonds), canonical ensemble.

Reduced units (sigma, epsilon, m, k_B = 1). :class:`ChainModel` holds the chain's
parameters (shared with the microcanonical :class:`oracles.md.NVEChainStress`);
:class:`ChainStress` is the canonical oracle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError

from .._sampling import SampledOracle, chunk_sizes
from .._validate import check_choice, check_int, check_positive
from .chain_engine import BONDS, ChainSystem
from .common import CHUNK_STEPS, DEFAULT_EQUILIBRATION_STEPS, DEFAULT_SAMPLING_STEPS, check_samples, parse_state

__all__ = ["ChainModel", "ChainStress", "LJChain"]


@dataclass(frozen=True)
class ChainModel:
    """Parameters of a periodic 1D chain with nearest-neighbour bonds (reduced LJ units).

    Parameters
    ----------
    bond : {"harmonic", "lj"}
        Bond energy k/2 (r - a0)^2 or 4 eps (r^-12 - r^-6) (eps = 1).
    n_atoms : int
        Atoms (= bonds) of the periodic chain.
    spring : float
        k of the harmonic bond (epsilon / sigma^2).
    a0 : float or None
        Reference spacing (sigma; default the potential minimum: 1 harmonic,
        2^(1/6) LJ).
    mass : float
        Atom mass m.
    dt : float
        Time step (tau).
    friction : float
        Langevin friction (1 / tau).
    sample_every : int
        Steps between samples.
    blocks : int
        Blocks per replica of the block-averaged stderr (:mod:`oracles._sampling`).
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

    default_budget: ClassVar[Budget] = Budget(DEFAULT_EQUILIBRATION_STEPS, DEFAULT_SAMPLING_STEPS)

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_choice(self.bond, "bond", name, BONDS)
        check_int(self.n_atoms, "n_atoms", name, minimum=2)
        for field in ("spring", "mass", "dt", "friction"):
            check_positive(getattr(self, field), field, name)
        if self.a0 is not None:
            check_positive(self.a0, "a0", name)
        check_int(self.sample_every, "sample_every", name, minimum=1)
        check_int(self.blocks, "blocks", name, minimum=2)

    @property
    def spacing(self) -> float:
        """Reference bond length a0."""
        return float(self.a0) if self.a0 is not None else (2.0 ** (1 / 6) if self.bond == "lj" else 1.0)

    @property
    def density(self) -> float:
        """Reference mass per length m / a0."""
        return self.mass / self.spacing

    @property
    def chunk_steps(self) -> int:
        """Steps per sampling chunk (``max_wall_s`` / ``target_stderr`` are checked between chunks)."""
        return max(1, CHUNK_STEPS // self.sample_every) * self.sample_every

    def system(self, strain: float = 0.0) -> ChainSystem:
        """The chain at rest with uniform spacing a0 (1 + strain)."""
        return ChainSystem.uniform(self.n_atoms, self.spacing * (1.0 + strain), bond=self.bond, spring=self.spring,
                                   a0=self.spacing, mass=self.mass, dt=self.dt)


@dataclass(frozen=True)
class ChainStress(ChainModel, SampledOracle):
    r"""Tension of a periodic 1D chain with nearest-neighbour bonds at strain e and temperature T.

    Parameters: :class:`ChainModel` (``bond`` defaults to ``"harmonic"``;
    ``bond="lj"`` for the Lennard-Jones chain). The strained chain has
    spacing a0 (1 + e). The ``stress`` output is the tension (force units,
    the 1D stress; tension positive), from the 1D virial
    sigma = [sum_bonds r phi'(r) - sum_i m v_i^2] / L. Reference (Lagrangian)
    density m / a0; at T = 0 the modulus d sigma / d e is a0 phi''(a0 (1 + e))
    and the long-wave speed a0 sqrt(phi'' / m) = sqrt(modulus / density).
    Langevin BAOAB thermostat (the engine is :class:`~oracles.md.ChainSystem`);
    sampling, replicas and every :class:`~hmm.contract.Budget` field as in
    :mod:`oracles._sampling` (``blocks`` blocks per replica).
    """

    inputs = ("strain", "temperature")
    outputs = ("stress",)
    units: ClassVar[Mapping[str, str]] = MappingProxyType({
        "strain": "1", "temperature": "epsilon/k_B", "stress": "epsilon/sigma"})

    def check_state(self, state: Any) -> tuple[float, float]:
        return parse_state(type(self).__name__, state)

    def static_estimate(self, state: tuple[float, float]) -> Estimate | None:
        """At T = 0 the uniform chain is a static equilibrium: its virial tension, exactly."""
        strain, temperature = state
        if temperature != 0.0:
            return None
        chain = self.system(strain)
        return Estimate(np.array([chain.forces()[1] / chain.length]), np.zeros(1), math.inf)

    def sample_replica(self, state: tuple[float, float], rng: np.random.Generator, n_equilibration: int,
                       n_sampling: int):
        """Langevin BAOAB at T from Maxwell velocities: equilibrate, then tension samples."""
        strain, temperature = state
        check_samples(type(self).__name__, n_sampling, self.sample_every, self.blocks)
        chain = self.system(strain)
        chain.v[:] = rng.standard_normal(self.n_atoms) * math.sqrt(temperature / self.mass)
        chain.seed_noise(int(rng.integers(2**31)))
        try:
            chain.run(n_equilibration, friction=self.friction, temperature=temperature)
            for steps in chunk_sizes(n_sampling, self.chunk_steps):
                rows = chain.run(steps, friction=self.friction, temperature=temperature,
                                 sample_every=self.sample_every)
                yield (rows[:, 2] - rows[:, 1]) / chain.length
        except FloatingPointError:
            raise OracleRunError(f"{type(self).__name__}: run at strain={strain}, temperature={temperature} "
                                 f"became non-finite; dt={self.dt} is likely too large") from None


LJChain = ChainStress  # the name before the redesign (its default bond is harmonic)
