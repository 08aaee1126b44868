r"""Microcanonical (NVE) chain oracle: stress and temperature at given strain and internal energy.

The closure of finite-temperature 1D elastodynamics with an energy equation
(:class:`macro.ThermoElasticWaveLaw`; Li & E, Phys. Rev. B 72, 2005; E,
*Principles of Multiscale Modeling*, 2011, sec. 6.5): the macro state at a
point is the strain e and the specific internal energy u (energy per unit
mass, in the frame moving with the local mean velocity), so the micro model
is the chain constrained to *that energy*, not to a temperature.

Choice made here: a **microcanonical** chain. Periodic chain of N atoms with
nearest-neighbour bonds phi(r) (harmonic or Lennard-Jones, as in
:class:`oracles.md.ChainStress`), spacing a = a0 (1 + e), length L = N a, zero
total momentum:

0. the chain's energy is E = U_static + (N - 1) m (u - u_0), u_0 = phi(a) / m
   the ground state: the macro thermal energy m (u - u_0) per atom is given
   to each of the N - 1 thermal degrees of freedom the chain has (its
   centre-of-mass mode is frozen: zero momentum, fixed length). This removes
   the leading O(1/N) finite-size bias of a small periodic chain (exact for
   harmonic bonds: T = m (u - u_0) for every N, as in the infinite chain);
1. velocities drawn at the harmonic-equipartition guess T_g = m (u - u_0)
   (potential and kinetic T/2 per thermal degree of freedom), then Langevin
   BAOAB at T_g for half the equilibration (puts positions into a thermal
   state);
2. the centre-of-mass velocity is removed and the velocities are rescaled so
   that U + K = E *exactly* (K = sum m v^2 / 2); if a thermal fluctuation
   left the potential energy so high that less than a quarter of the thermal
   energy E - U_static would be kinetic, Langevin continues for another
   quarter of the equilibration first (up to 10 times);
3. velocity Verlet (NVE) for the other half of the equilibration, then NVE
   sampling: the energy stays at N m u up to the O(dt^2) Verlet fluctuation.

Outputs (reduced LJ units, epsilon = sigma = m = k_B = 1):

* ``stress``: tension (force; the 1D Lagrangian stress), virial with the
  kinetic part, sigma = [sum_bonds r phi'(r) - sum_i m v_i^2] / L;
* ``temperature``: kinetic, T = sum m v^2 / (N - 1) (one momentum constraint);
* ``internal_energy``: measured, u_0 + (U + K - U_static) / ((N - 1) m)
  (checks steps 0-2 and the NVE integration; equals the input to O(dt^2)).

Errors by the block rule of :mod:`oracles._sampling` (``blocks`` blocks per
replica, replicas pooled). A harmonic chain is integrable, so
its NVE time averages depend on the initial mode energies: the estimate is
then an average over the replicas' thermal initial conditions, and only
mode-independent relations (virial: time-averaged potential = kinetic energy
per mode) hold per run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Estimate, OracleRunError, OracleSetupError

from .._sampling import SampledOracle, chunk_sizes
from .chain import ChainModel
from .chain_engine import ChainSystem, bond_energy
from .common import check_samples

__all__ = ["NVEChainStress", "NVEChain", "CHAIN_OBSERVABLES", "bond_energy"]

CHAIN_OBSERVABLES = ("stress", "temperature", "internal_energy")
MAX_RETHERMALISE = 10


@dataclass(frozen=True)
class NVEChainStress(ChainModel, SampledOracle):
    r"""Tension and temperature of a periodic 1D chain at strain e and specific internal energy u.

    ``run(state=[strain, internal_energy])``; see the module docstring for
    the microcanonical protocol. Parameters as :class:`oracles.md.ChainModel`
    (``friction`` is used for the Langevin half of the equilibration only),
    plus ``observables``, any of :data:`CHAIN_OBSERVABLES`.

    The ground state at strain e has u_0(e) = phi(a0 (1 + e)) / m (uniform
    spacing; the minimum for a convex bond, i.e. below the LJ inflection
    strain ~0.109). ``u == u_0`` returns the static stress and T = 0 with
    zero stderr; ``u < u_0`` raises :class:`~hmm.contract.OracleSetupError`.
    """

    dt: float = 0.005
    observables: tuple[str, ...] = ("stress", "temperature")

    inputs = ("strain", "internal_energy")
    units: ClassVar[Mapping[str, str]] = MappingProxyType({
        "strain": "1", "internal_energy": "epsilon/m", "stress": "epsilon/sigma", "temperature": "epsilon/k_B"})

    def __post_init__(self) -> None:
        ChainModel.__post_init__(self)
        obs = tuple(self.observables)
        bad = [o for o in obs if o not in CHAIN_OBSERVABLES]
        if not obs or bad:
            raise OracleSetupError(f"NVEChainStress: `observables` must be a non-empty tuple from {CHAIN_OBSERVABLES}, "
                             f"got {bad or obs}")
        object.__setattr__(self, "observables", obs)

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.observables

    def ground_state_energy(self, strain) -> np.ndarray:
        """u_0(e) = phi(a0 (1 + e)) / m, the specific energy of the static strained chain."""
        a = self.spacing * (1.0 + np.asarray(strain, dtype=float))
        return bond_energy(a, self.bond, self.spring, self.spacing) / self.mass

    def check_state(self, state: Any) -> tuple[float, float]:
        """Validated (strain, internal_energy); below the ground state is refused."""
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (2,):
            raise OracleSetupError(f"NVEChainStress.run(): `state` must be [strain, internal_energy], got shape "
                                   f"{state.shape}")
        strain, energy = float(state[0]), float(state[1])
        if not math.isfinite(strain) or strain <= -1.0:
            raise OracleSetupError(f"NVEChainStress.run(): `strain` must be > -1, got {strain}")
        if not math.isfinite(energy):
            raise OracleSetupError(f"NVEChainStress.run(): `internal_energy` must be finite, got {energy}")
        u0 = float(self.ground_state_energy(strain))
        if energy < u0 - 1e-12 * max(1.0, abs(u0)):
            raise OracleSetupError(f"NVEChainStress.run(): `internal_energy` {energy} is below the ground state "
                                   f"u_0 = {u0} at strain {strain}")
        return strain, energy

    def _columns(self, samples: np.ndarray, length: float, u_static: float) -> np.ndarray:
        n = self.n_atoms
        u, kin2, w = samples[:, 0], samples[:, 1], samples[:, 2]
        cols = {"stress": (w - kin2) / length, "temperature": kin2 / (n - 1),
                "internal_energy": (u + 0.5 * kin2 - u_static) / ((n - 1) * self.mass) + u_static / (n * self.mass)}
        return np.column_stack([cols[o] for o in self.observables])

    def _energies(self, strain: float, energy: float) -> tuple[ChainSystem, float, float, float]:
        """(static chain, U_static, W_static, thermal energy (N - 1) m (u - u_0) of step 0)."""
        chain = self.system(strain)
        u_static, w_static = chain.forces()
        thermal = (self.n_atoms - 1) * (self.mass * energy - u_static / self.n_atoms)
        return chain, u_static, w_static, thermal

    def static_estimate(self, state: tuple[float, float]) -> Estimate | None:
        """At the ground state (no thermal energy) the static stress and T = 0, exactly."""
        chain, u_static, w_static, thermal = self._energies(*state)
        if thermal > 1e-12 * max(1.0, abs(u_static)):
            return None
        values = self._columns(np.array([[u_static, 0.0, w_static]]), chain.length, u_static)[0]
        return Estimate(values, np.zeros_like(values), math.inf, provenance={"static": True})

    def equilibrated(self, state: tuple[float, float], rng: np.random.Generator,
                     n_equilibration: int) -> tuple[ChainSystem, float, int]:
        """Steps 0-3 of the module docstring for one replica: the chain at energy N m u after
        ``n_equilibration`` steps (half Langevin, half NVE), the static energy U_static and
        the extra Langevin steps of step 2's rethermalisations (``chain.steps`` is
        ``n_equilibration`` plus those)."""
        strain, energy = state
        chain, u_static, _, thermal = self._energies(strain, energy)
        n, m = self.n_atoms, self.mass
        t_guess = thermal / (n - 1)  # equipartition, harmonic: kinetic T/2 + potential T/2 per mode
        chain.v[:] = rng.standard_normal(n) * math.sqrt(t_guess / m)
        chain.seed_noise(int(rng.integers(2**31)))
        half = n_equilibration // 2
        chain.run(half, friction=self.friction, temperature=t_guess)  # step 1
        extra = 0
        for _ in range(MAX_RETHERMALISE):  # step 2; a thermal fluctuation may leave too little kinetic energy
            chain.v -= chain.v.mean()
            u_now, _ = chain.forces()
            kin = chain.kinetic_energy
            target = u_static + thermal - u_now
            if target > 0.25 * thermal and kin > 0.0:
                chain.v *= math.sqrt(target / kin)
                break
            chain.run(max(1, half // 2), friction=self.friction, temperature=t_guess)
            extra += max(1, half // 2)
        else:
            raise OracleRunError(f"NVEChainStress: at strain={strain}, internal_energy={energy} the thermalised potential "
                                 f"energy {u_now / n:.6g} per atom leaves less than a quarter of the thermal energy "
                                 f"as kinetic energy {MAX_RETHERMALISE} times")
        chain.run(n_equilibration - half)  # step 3: the NVE half of the equilibration
        return chain, u_static, extra

    def sample_replica(self, state: tuple[float, float], rng: np.random.Generator, n_equilibration: int,
                       n_sampling: int):
        """One replica: :meth:`equilibrated`, then NVE samples."""
        check_samples(type(self).__name__, n_sampling, self.sample_every, self.blocks)
        chain, u_static, _ = self.equilibrated(state, rng, n_equilibration)
        try:
            for steps in chunk_sizes(n_sampling, self.chunk_steps):
                rows = chain.run(steps, sample_every=self.sample_every)
                yield self._columns(rows, chain.length, u_static)
        except FloatingPointError:
            raise OracleRunError(f"NVEChainStress: run at strain={state[0]}, internal_energy={state[1]} became "
                                 f"non-finite; dt={self.dt} is likely too large") from None


NVEChain = NVEChainStress  # the name before the redesign
