r"""Lennard-Jones molecular dynamics: stress(strain, temperature) for continuum mechanics.

Reduced LJ units throughout: length sigma, energy epsilon, mass m, time
sigma sqrt(m / epsilon), temperature epsilon / k_B, stress epsilon / sigma^3.
Pair potential, truncated (``shift=False``) or truncated and shifted
(``shift=True``) at the cutoff r_c:

.. math::

    \phi(r) = 4\varepsilon\,[(\sigma/r)^{12} - (\sigma/r)^6] - \phi_{\rm shift},
    \qquad r < r_c .

The stress is the virial (Irving-Kirkwood, homogeneous) Cauchy stress,
tension positive, kinetic part included:

.. math::

    \sigma_{ab} = -\frac{1}{V}\Big[\sum_i m v_{ia} v_{ib}
                  + \sum_{i<j} r_{ij,a} f_{ij,b}\Big],
    \qquad p = -\tfrac13 \operatorname{tr}\sigma .

For uniaxial strain e along x (deformation gradient F = diag(1 + e, 1, 1)) the
first Piola-Kirchhoff stress P_xx = J sigma_xx / F_xx equals sigma_xx, so the
``stress`` output is also the Lagrangian stress of 1D elastodynamics.

Standard long-range (tail) corrections for a homogeneous fluid with g(r) = 1
beyond r_c (Allen & Tildesley, *Computer Simulation of Liquids*, 2nd ed.,
sec. 2.8) are added to energy, pressure and the stress diagonal when
``tail_correction=True``: u_tail = (8/3) pi rho (r_c^-9 / 3 - r_c^-3),
p_tail = (16/3) pi rho^2 (2 r_c^-9 / 3 - r_c^-3).

Simple shear (a triclinic cell, ``deformation="shear"``) is supported; not yet: heat flux.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from .._moved import renamed_fields
from .._sampling import SampledOracle, chunk_sizes, sample_replicas
from .._validate import check_choice, check_int, check_positive
from .common import (
    CHUNK_STEPS,
    DEFAULT_EQUILIBRATION_STEPS,
    DEFAULT_SAMPLING_STEPS,
    OBSERVABLES,
    check_samples,
    parse_state,
    tail_corrections,
)
from .engine import LJSystem, fcc_lattice

__all__ = ["LJStress", "LennardJonesMD", "LJ_UNITS"]

LJ_UNITS: Mapping[str, str] = MappingProxyType({
    "strain": "1", "shear_strain": "1", "temperature": "epsilon/k_B",
    "stress": "epsilon/sigma^3", "stress_yy": "epsilon/sigma^3", "stress_zz": "epsilon/sigma^3",
    "stress_xy": "epsilon/sigma^3", "pressure": "epsilon/sigma^3", "energy": "epsilon",
    "total_energy": "epsilon"})
"""Unit of every input and observable of :class:`LJStress` (reduced LJ units;
energies per atom)."""


@renamed_fields(cells="unit_cells")
@dataclass(frozen=True)
class LJStress:
    r"""Stress of an LJ crystal or fluid under homogeneous uniaxial strain at temperature T.

    ``run(state=[strain, temperature])`` maps the reference fcc configuration
    by F = diag(1 + strain, 1, 1) (box and positions), equilibrates with the
    thermostat, samples, and returns block-averaged means with honest standard
    errors. At T = 0 the strained perfect lattice is a static equilibrium (a
    Bravais lattice has no internal relaxation): ``run`` returns the static
    values with zero stderr and no dynamics.

    Parameters
    ----------
    unit_cells : int
        fcc unit cells per box side (4 unit_cells^3 atoms); the old keyword
        ``cells=`` is accepted.
    density : float
        Number density of the unstrained reference state (sigma^-3).
    cutoff : float
        Cutoff radius r_c (sigma). Must satisfy r_c + skin <= L_min / 2.
    shift : bool
        Shift the potential to zero at r_c (forces unchanged).
    tail_correction : bool
        Add homogeneous-fluid tail corrections to energy, pressure, stress.
    skin : float
        Verlet-list skin (sigma); the list is rebuilt when an atom moved > skin/2.
    dt : float
        Time step (sigma sqrt(m/epsilon)).
    thermostat : {"langevin", "nve"}
        Langevin BAOAB (samples the canonical ensemble; Leimkuhler & Matthews,
        Appl. Math. Res. Express 2013, 34) or plain velocity Verlet (NVE,
        velocities drawn at the target temperature).
    friction : float
        Langevin friction gamma (1 / time).
    sample_every : int
        Steps between recorded samples.
    blocks : int
        Blocks per replica for the block-averaged stderr (fixed-count rule of
        :func:`oracles._sampling.block_stats`; choose the sampling run at
        least ~20 correlation times per block).
    observables : tuple of str
        Outputs, any of ``OBSERVABLES``: ``stress`` (sigma_xx), ``stress_yy``,
        ``stress_zz``, ``stress_xy``, ``pressure``, ``energy`` (potential
        energy per atom, epsilon), ``total_energy`` (potential + kinetic per
        atom), ``temperature`` (kinetic).

    Notes
    -----
    Budget: ``default_budget`` is 2000 equilibration / 10000 sampling steps;
    replicas, block averaging (``blocks - 1`` degrees of freedom per
    replica), ``max_wall_s`` and ``target_stderr`` (checked every
    ``chunk_steps``) as in :mod:`oracles._sampling`.
    ``deformation="shear"``: inputs ``("shear_strain", "temperature")``; the
    reference lattice is mapped by the simple shear F = I + gamma e_x e_y
    (a triclinic periodic cell, tilt xy = gamma L; ``|gamma| <= 1``), and
    ``stress_xy`` is the shear stress (for a cubic crystal at T = 0,
    d sigma_xy / d gamma = C44). Velocities are thermal about zero mean flow
    (a static homogeneous deformation, not a streaming shear flow).
    """

    unit_cells: int = 4
    density: float = 0.8442
    cutoff: float = 2.5
    shift: bool = True
    tail_correction: bool = False
    skin: float = 0.3
    dt: float = 0.005
    thermostat: str = "langevin"
    friction: float = 1.0
    sample_every: int = 10
    blocks: int = 20
    observables: tuple[str, ...] = ("stress", "pressure", "energy")
    deformation: str = "uniaxial"

    units: ClassVar[Mapping[str, str]] = LJ_UNITS
    default_budget: ClassVar[Budget] = Budget(DEFAULT_EQUILIBRATION_STEPS, DEFAULT_SAMPLING_STEPS)
    supports: ClassVar[frozenset[str]] = SampledOracle.supports

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("shear_strain", "temperature") if self.deformation == "shear" else ("strain", "temperature")

    def __post_init__(self) -> None:
        name = type(self).__name__
        check_choice(self.deformation, "deformation", name, ("uniaxial", "shear"))
        check_int(self.unit_cells, "unit_cells", name, minimum=1)
        for field in ("density", "cutoff", "dt"):
            check_positive(getattr(self, field), field, name)
        for field in ("skin", "friction"):
            check_positive(getattr(self, field), field, name, allow_zero=True)
        check_choice(self.thermostat, "thermostat", name, ("langevin", "nve"))
        if self.thermostat == "langevin" and self.friction <= 0:
            raise OracleSetupError(f"{name}: `friction` must be > 0 with the Langevin thermostat")
        check_int(self.sample_every, "sample_every", name, minimum=1)
        check_int(self.blocks, "blocks", name, minimum=2)
        obs = tuple(self.observables)
        bad = [o for o in obs if o not in OBSERVABLES]
        if not obs or bad:
            raise OracleSetupError(f"{name}: `observables` must be a non-empty tuple from {OBSERVABLES}, got {bad or obs}")
        object.__setattr__(self, "observables", obs)
        side = self.reference_box_length
        if self.cutoff + self.skin > 0.5 * side:
            raise OracleSetupError(f"{name}: `cutoff` + `skin` = {self.cutoff + self.skin:g} exceeds half the "
                             f"box side {0.5 * side:g}; use more `unit_cells` or a smaller cutoff")

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.observables

    @property
    def lattice_constant(self) -> float:
        """Cubic fcc lattice constant of the reference state, (4 / density)^(1/3)."""
        return (4.0 / self.density) ** (1.0 / 3.0)

    @property
    def reference_box_length(self) -> float:
        return self.unit_cells * self.lattice_constant

    @property
    def n_atoms(self) -> int:
        return 4 * self.unit_cells**3

    def system(self, strain: float = 0.0, temperature: float = 0.0, seed: int = 0, shear: float = 0.0) -> LJSystem:
        """The strained (uniaxial ``strain`` along x, then simple ``shear`` gamma)
        reference lattice as an :class:`LJSystem`, velocities drawn from
        Maxwell-Boltzmann at ``temperature`` (zero net momentum)."""
        pos, box = fcc_lattice((self.unit_cells,) * 3, self.lattice_constant)
        stretch = np.array([1.0 + strain, 1.0, 1.0])
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        vel = rng.standard_normal(pos.shape) * math.sqrt(temperature)
        vel -= vel.mean(axis=0)
        return LJSystem(pos * stretch, vel, box * stretch, cutoff=self.cutoff, skin=self.skin,
                        shift=self.shift, dt=self.dt, seed=int(rng.integers(2**31)), shear=shear)

    def _check_state(self, state) -> tuple[float, float, float]:
        """Validated (strain, shear, temperature) from a state row."""
        name = type(self).__name__
        if self.deformation == "shear":
            state = np.asarray(state, dtype=float).reshape(-1)
            if state.shape != (2,):
                raise OracleSetupError(f"{name}.run(): `state` must be [shear_strain, temperature], got shape {state.shape}")
            shear = float(state[0])
            if not (math.isfinite(shear) and abs(shear) <= 1.0):
                raise OracleSetupError(f"{name}.run(): `shear_strain` must be in [-1, 1], got {shear}")
            _, temperature = parse_state(name, [0.0, state[1]])
            strain = 0.0
        else:
            (strain, temperature), shear = parse_state(name, state), 0.0
        box_min = min(self.reference_box_length * (1.0 + strain), self.reference_box_length)
        g = abs(shear)
        reach = (self.cutoff + self.skin) * 0.5 * (g + math.sqrt(g * g + 4.0))
        if reach > 0.5 * box_min:
            raise OracleSetupError(f"{name}.run(): at strain {strain}, shear {shear} the box side {box_min:g} is less "
                             f"than 2 (cutoff + skin) ||F^-1|| = {2 * reach:g}")
        return strain, shear, temperature

    def _reduce(self, samples: np.ndarray, volume: float, n: int, dof: int) -> np.ndarray:
        """Per-sample values of the requested observables from raw kernel rows."""
        u, kin, vir = samples[:, 0], samples[:, 1:7], samples[:, 7:13]
        stress = -(kin + vir) / volume  # xx, yy, zz, xy, xz, yz
        pressure = -stress[:, :3].mean(axis=1)
        energy = u / n
        if self.tail_correction:
            u_tail, p_tail = tail_corrections(n / volume, self.cutoff)
            stress[:, :3] -= p_tail
            pressure = pressure + p_tail
            energy = energy + u_tail
        columns = {"stress": stress[:, 0], "stress_yy": stress[:, 1], "stress_zz": stress[:, 2],
                   "stress_xy": stress[:, 3], "pressure": pressure, "energy": energy,
                   "total_energy": energy + 0.5 * kin[:, :3].sum(axis=1) / n,
                   "temperature": kin[:, :3].sum(axis=1) / dof}
        return np.column_stack([columns[o] for o in self.observables])

    @property
    def chunk_steps(self) -> int:
        """Steps per sampling chunk (``max_wall_s`` / ``target_stderr`` are checked between chunks)."""
        return max(1, CHUNK_STEPS // self.sample_every) * self.sample_every

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One micro simulation at ``state = [strain, temperature]``; see the class doc."""
        start = time.perf_counter()
        name = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=name)
        strain, shear, temperature = self._check_state(state)
        if temperature == 0.0:
            sysm = self.system(strain, 0.0, seed, shear)
            values = self._reduce(sysm.static()[None, :], sysm.volume, sysm.n_atoms, 3 * sysm.n_atoms)[0]
            return Estimate(values, np.zeros_like(values), math.inf, time.perf_counter() - start,
                            {"n_atoms": sysm.n_atoms, "static": True})
        n_eq, n_samp = budget.equilibration_steps, budget.sampling_steps
        check_samples(type(self).__name__, n_samp, self.sample_every, self.blocks)
        friction = self.friction if self.thermostat == "langevin" else 0.0
        rebuilds = [0]

        def replica(rng: np.random.Generator):
            sysm = self.system(strain, temperature, int(rng.integers(2**63)), shear)
            dof = 3 * sysm.n_atoms - (3 if friction == 0.0 else 0)
            try:
                sysm.run(n_eq, friction=friction, temperature=temperature, sample_every=0)
                for steps in chunk_sizes(n_samp, self.chunk_steps):
                    rows = sysm.run(steps, friction=friction, temperature=temperature, sample_every=self.sample_every)
                    yield self._reduce(rows, sysm.volume, sysm.n_atoms, dof)
            except FloatingPointError as exc:
                raise OracleRunError(f"{type(self).__name__}: run at strain={strain}, temperature={temperature} "
                                     f"became non-finite: {exc}; dt={self.dt} is likely too large") from None
            finally:
                rebuilds[0] += sysm.rebuilds

        sampled = sample_replicas(replica, budget, seed, blocks=self.blocks, start=start, name=name)
        return sampled.estimate({"n_atoms": self.n_atoms, "rebuilds": rebuilds[0]})


LennardJonesMD = LJStress  # the name before the redesign
