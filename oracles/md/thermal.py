r"""Microcanonical (NVE) chain oracle: stress and temperature at given strain and internal energy.

The closure of finite-temperature 1D elastodynamics with an energy equation
(:class:`macro.ThermoElasticWaveLaw`; Li & E, Phys. Rev. B 72, 2005; E,
*Principles of Multiscale Modeling*, 2011, sec. 6.5): the macro state at a
point is the strain e and the specific internal energy u (energy per unit
mass, in the frame moving with the local mean velocity), so the micro model
is the chain constrained to *that energy*, not to a temperature.

Choice made here: a **microcanonical** chain. Periodic chain of N atoms with
nearest-neighbour bonds phi(r) (harmonic or Lennard-Jones, as in
:class:`oracles.md.LJChain`), spacing a = a0 (1 + e), length L = N a, zero
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

Errors are block-averaged (:func:`oracles.md.block_average`), replicas pooled
as in :class:`oracles.md.LennardJonesMD`. A harmonic chain is integrable, so
its NVE time averages depend on the initial mode energies: the estimate is
then an average over the replicas' thermal initial conditions, and only
mode-independent relations (virial: time-averaged potential = kinetic energy
per mode) hold per run.
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
from .chain import LJChain
from .common import block_average

__all__ = ["NVEChain", "CHAIN_OBSERVABLES", "bond_energy"]

CHAIN_OBSERVABLES = ("stress", "temperature", "internal_energy")
MAX_RETHERMALISE = 10


def bond_energy(r, bond: str, spring: float, a0: float):
    """Bond energy phi(r) (epsilon): k/2 (r - a0)^2 or 4 (r^-12 - r^-6)."""
    r = np.asarray(r, dtype=float)
    if bond == "harmonic":
        return 0.5 * spring * (r - a0) ** 2
    inv6 = r**-6.0
    return 4.0 * inv6 * (inv6 - 1.0)


@dataclass(frozen=True)
class NVEChain(LJChain):
    r"""Tension and temperature of a periodic 1D chain at strain e and specific internal energy u.

    ``run(state=[strain, internal_energy])``; see the module docstring for
    the microcanonical protocol. Parameters as :class:`oracles.md.LJChain`
    (``friction`` is used for the Langevin half of the equilibration only),
    plus ``observables``, any of :data:`CHAIN_OBSERVABLES`.

    The ground state at strain e has u_0(e) = phi(a0 (1 + e)) / m (uniform
    spacing; the minimum for a convex bond, i.e. below the LJ inflection
    strain ~0.109). ``u == u_0`` returns the static stress and T = 0 with
    zero stderr; ``u < u_0`` raises ``ValueError``.
    """

    dt: float = 0.005
    observables: tuple[str, ...] = ("stress", "temperature")

    inputs = ("strain", "internal_energy")
    units: ClassVar[Mapping[str, str]] = MappingProxyType({
        "strain": "1", "internal_energy": "epsilon/m", "stress": "epsilon/sigma", "temperature": "epsilon/k_B"})

    def __post_init__(self) -> None:
        super().__post_init__()
        obs = tuple(self.observables)
        bad = [o for o in obs if o not in CHAIN_OBSERVABLES]
        if not obs or bad:
            raise ValueError(f"NVEChain: `observables` must be a non-empty tuple from {CHAIN_OBSERVABLES}, "
                             f"got {bad or obs}")
        object.__setattr__(self, "observables", obs)

    @property
    def outputs(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.observables

    def ground_state_energy(self, strain) -> np.ndarray:
        """u_0(e) = phi(a0 (1 + e)) / m, the specific energy of the static strained chain."""
        a = self.spacing * (1.0 + np.asarray(strain, dtype=float))
        return bond_energy(a, self.bond, self.spring, self.spacing) / self.mass

    def _check_state(self, state) -> tuple[float, float]:
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (2,):
            raise ValueError(f"NVEChain.run(): `state` must be [strain, internal_energy], got shape {state.shape}")
        strain, energy = float(state[0]), float(state[1])
        if not math.isfinite(strain) or strain <= -1.0:
            raise ValueError(f"NVEChain.run(): `strain` must be > -1, got {strain}")
        if not math.isfinite(energy):
            raise ValueError(f"NVEChain.run(): `internal_energy` must be finite, got {energy}")
        u0 = float(self.ground_state_energy(strain))
        if energy < u0 - 1e-12 * max(1.0, abs(u0)):
            raise ValueError(f"NVEChain.run(): `internal_energy` {energy} is below the ground state "
                             f"u_0 = {u0} at strain {strain}")
        return strain, energy

    def _columns(self, samples: np.ndarray, length: float, u_static: float) -> np.ndarray:
        n = self.n_atoms
        u, kin2, w = samples[:, 0], samples[:, 1], samples[:, 2]
        cols = {"stress": (w - kin2) / length, "temperature": kin2 / (n - 1),
                "internal_energy": (u + 0.5 * kin2 - u_static) / ((n - 1) * self.mass) + u_static / (n * self.mass)}
        return np.column_stack([cols[o] for o in self.observables])

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One microcanonical run at ``state = [strain, internal_energy]``."""
        start = time.perf_counter()
        budget = resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        strain, energy = self._check_state(state)
        n, m = self.n_atoms, self.mass
        a = self.spacing * (1.0 + strain)
        length = n * a
        harmonic = self.bond == "harmonic"
        pot = (harmonic, self.spring, self.spacing, 1.0)
        x = np.arange(n) * a
        f = np.zeros(n)
        u_static, w_static = K.chain_forces(x, f, length, *pot)
        thermal = (n - 1) * (m * energy - u_static / n)  # energy above the ground state, step 0
        if thermal <= 1e-12 * max(1.0, abs(u_static)):
            row = np.array([[u_static, 0.0, w_static]])
            values = self._columns(row, length, u_static)[0]
            return Estimate(values, np.zeros_like(values), math.inf, time.perf_counter() - start,
                            {"static": True})
        n_eq, n_samp = budget.equilibration_steps, budget.sampling_steps
        if n_samp // self.sample_every < 2 * self.blocks:
            raise ValueError(f"NVEChain.run(): budget.sampling_steps = {n_samp} gives fewer than "
                             f"2 * blocks = {2 * self.blocks} samples at sample_every = {self.sample_every}")
        t_guess = thermal / (n - 1)  # equipartition, harmonic: kinetic T/2 + potential T/2 per mode
        means, errors, n_effs = [], [], []
        for child in np.random.SeedSequence(seed).spawn(budget.replicas):
            rng = np.random.default_rng(child)
            x = np.arange(n) * a
            v = rng.standard_normal(n) * math.sqrt(t_guess / m)
            K.chain_forces(x, f, length, *pot)
            K.seed_numba_rng(int(rng.integers(2**31)))
            half = n_eq // 2
            status = K.chain_steps(x, v, f, length, m, self.dt, half, *pot, self.friction, t_guess,
                                   half + 1, np.empty((0, 3)))
            samples = np.zeros((n_samp // self.sample_every, 3))
            for _ in range(MAX_RETHERMALISE):  # a thermal fluctuation may leave too little kinetic energy
                if status != K.OK:
                    break
                v -= v.mean()
                u_now, _ = K.chain_forces(x, f, length, *pot)
                kin = 0.5 * m * float(np.dot(v, v))
                target = u_static + thermal - u_now
                if target > 0.25 * thermal and kin > 0.0:
                    v *= math.sqrt(target / kin)
                    break
                status = K.chain_steps(x, v, f, length, m, self.dt, max(1, half // 2), *pot, self.friction,
                                       t_guess, half + 1, np.empty((0, 3)))
            else:
                raise RuntimeError(f"NVEChain: at strain={strain}, internal_energy={energy} (seed {seed}) the "
                                   f"thermalised potential energy {u_now / n:.6g} per atom leaves less than a quarter "
                                   f"of the thermal energy as kinetic energy {MAX_RETHERMALISE} times")
                status = K.chain_steps(x, v, f, length, m, self.dt, n_eq - half, *pot, 0.0, 0.0,
                                       n_eq + 1, np.empty((0, 3)))
            if status == K.OK:
                status = K.chain_steps(x, v, f, length, m, self.dt, n_samp, *pot, 0.0, 0.0,
                                       self.sample_every, samples)
            if status != K.OK:
                raise RuntimeError(f"NVEChain: run at strain={strain}, internal_energy={energy} (seed {seed}) "
                                   f"became non-finite; dt={self.dt} is likely too large")
            mean, se, n_eff = block_average(self._columns(samples, length, u_static), self.blocks)
            means.append(mean), errors.append(se), n_effs.append(n_eff)
        mean = np.mean(means, axis=0)
        stderr = np.sqrt(np.sum(np.square(errors), axis=0)) / len(means)
        return Estimate(mean, stderr, float(np.sum(np.min(n_effs, axis=1))), time.perf_counter() - start,
                        {"blocks": self.blocks, "replicas": budget.replicas, "ensemble": "NVE"})
