r"""Dissipative particle dynamics (Groot & Warren 1997) under Lees-Edwards shear, as a micro oracle.

Beads of mass m = 1 (DPD units: lengths in rc, energies in kT) interact in
pairs within the cutoff rc through

.. math::

    \mathbf F_{ij} = \Big[a_{ij} w - \gamma w^2 (\hat{\mathbf r}_{ij}\cdot\mathbf v_{ij})
        + \sigma w \,\theta_{ij}/\sqrt{\Delta t}\Big]\hat{\mathbf r}_{ij},
    \qquad w = 1 - r/r_c, \quad \sigma^2 = 2\gamma k_BT,

(soft conservative force, dissipative force with w_D = w_R^2 and random
force tied to it by fluctuation-dissipation; Groot & Warren, J. Chem. Phys.
107, 4423, 1997; Espanol & Warren, Europhys. Lett. 30, 191, 1995). Beads of
several types have their own a_ij; chains are bonded by harmonic springs
F = -k (r - r0) r_hat (Groot & Warren's polymer model with r0 = 0) or FENE
F = -k r / (1 - (r/r_max)^2). Time integration is the modified velocity
Verlet of Groot & Warren with parameter lambda (lambda = 1/2 is plain
velocity Verlet with the half-step velocity in the dissipative force) or,
with ``integrator="dpd-vv"``, DPD-VV (Besold, Vattulainen, Karttunen &
Polson, Phys. Rev. E 62, R7611, 2000; Vattulainen et al., J. Chem. Phys.
116, 3967, 2002): velocity Verlet whose dissipative forces are evaluated
once more with the full-step velocities v(t + dt) after the second
half-kick, the conservative and random forces being kept.

Shear: Lees-Edwards sliding-brick boundaries in y impose the streaming
velocity u_x = shear_rate (y - Ly/2); images across the y boundary are
displaced by shear_rate Ly t in x and move with shear_rate Ly.

Stress: the pressure tensor is P = (K + W_c + W_d + W_r + W_b) / V with K =
sum v' v' (peculiar velocities) and W = sum over pairs/bonds of r_ij F_ij for
the conservative, dissipative, random and bond forces (all included). The
oracle returns shear_stress = -P_xy (= eta * shear_rate in the Newtonian
regime), the normal stress differences N1 = P_yy - P_xx (= sigma_xx -
sigma_yy) and N2 = P_zz - P_yy, the pressure tr P / 3 and the kinetic
temperature kT = tr K / (3 (N - 1)), all in DPD units (kT / rc^3 and kT).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleSetupError, resolve_budget

from .._sampling import chunk_sizes, sample_replicas
from .._validate import check_choice, check_int, check_positive
from .engine import DPDSystem, observables

MAX_PARTICLES = 4_000_000  # about 170 bytes per bead of state and sort buffers: ~0.7 GB
MAX_DENSITY = 10.0  # beads per rc^3: candidates per bead grow as 13.5 * density (cell list cost)
MAX_STRAIN_PER_STEP = 0.04  # |shear_rate| dt: pair velocity change over a step stays << thermal
DEFAULT_EQUILIBRATION, DEFAULT_SAMPLING = 500, 4000  # steps when the budget says 0
CHUNK = 250  # steps between wall-time / target-stderr checks
INTEGRATORS = ("gw", "dpd-vv")  # Groot-Warren modified velocity Verlet; DPD-VV (Besold et al. 2000)
DPD_PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    # the Groot-Warren simple fluid: rho = 3, a = 25, gamma = 4.5, kT = 1 (the field defaults)
    "simple_fluid": MappingProxyType({}),
    # a concentrated polymer solution: 80 % of the beads in chains of 20 beads with Groot-Warren
    # springs k = 4, r0 = 0 (all a_ij = 25), in an 8^3 box; it shear-thins
    "polymer_solution": MappingProxyType({"box": (8.0, 8.0, 8.0), "polymer_fraction": 0.8, "chain_length": 20,
                                          "bond_k": 4.0}),
})
"""Named parameter sets of :class:`DPDShearStress` (see :meth:`DPDShearStress.preset`)."""


@dataclass(frozen=True)
class DPDShearStress:
    """Groot-Warren DPD fluid or polymer solution sheared by Lees-Edwards boundaries.

    All quantities are in DPD units (rc, kT, bead mass 1).

    Parameters
    ----------
    density : float
        Beads per unit volume rho (default 3); N = round(rho V).
    box : tuple of 3 floats
        Box edges (Lx, Ly, Lz); flow along x, gradient along y. Each edge
        must hold at least 4 cells of side rc.
    a : float
        Conservative repulsion a_ij of all pairs when ``a_matrix`` is None.
    a_matrix : tuple of tuples or None
        Symmetric a_ij between bead types (n_types x n_types).
    gamma, kT : float
        Friction (>= 0) and temperature (> 0); sigma = sqrt(2 gamma kT).
    rc, dt : float
        Cutoff and time step.
    vv_lambda : float
        lambda of the modified velocity Verlet (0.5: plain velocity Verlet;
        Groot & Warren recommend 0.65 at dt = 0.04). Must be 0.5 with ``"dpd-vv"``.
    integrator : str
        ``"gw"`` (default): Groot & Warren's modified velocity Verlet,
        F(t + dt) = F(r(t + dt), v~) with v~ = v(t) + lambda dt F(t).
        ``"dpd-vv"``: DPD-VV of Besold et al. (2000), velocity Verlet
        (lambda = 1/2 required: any other ``vv_lambda`` is refused)
        plus one more pass over the pairs per step that replaces the
        dissipative part of F(t + dt) by F_D(r(t + dt), v(t + dt)) after the
        second half-kick; the random force drawn for the step is kept. The
        stress samples use that updated dissipative force (consistent with
        the sampled velocities and with the force of the next step).
    composition : tuple of float
        Fractions of the free (unbonded) beads of each type (sums to 1).
    polymer_fraction, chain_length, chain_type : float, int, int
        Fraction of beads in linear chains of ``chain_length`` beads of type
        ``chain_type`` (0 or chain_length 1: simple fluid).
    bond, bond_k, bond_r0, fene_rmax : str, float, float, float
        ``"harmonic"``: F = -k (r - r0); ``"fene"``: F = -k r / (1 - (r/r_max)^2)
        (from a random start a weak FENE spring can break in the start-up
        transient: :class:`~hmm.contract.OracleRunError`; stiffen ``bond_k``).
    sample_every : int
        Steps between stress samples.
    blocks : int
        Blocks per replica for the block-averaged standard error.

    Inputs ``("shear_rate",)`` (1/time, ``|shear_rate| dt <= 0.04``); outputs
    ``("shear_stress", "N1", "N2", "pressure", "temperature")``. Budget: 0
    equilibration/sampling steps mean 500/4000 (``default_budget``); replicas,
    block averaging, ``target_stderr`` (``sampling_steps`` is then the cap)
    and ``max_wall_s`` (the only non-reproducible option) as in
    :mod:`oracles._sampling`, checked every ``chunk_steps`` (250) steps.

    Temperature: the discrete dynamics samples a kinetic temperature above
    the set kT, the more so the larger dt; lambda = 0.65 (Groot & Warren) or
    ``"dpd-vv"`` bring it close to kT at dt = 0.04, and DPD-VV's pressure is
    closer to the dt -> 0 value. The measured values are tabulated in
    docs/validation.md. DPD-VV's extra pass over the pairs scans the same
    cell stencil as the force pass, so a step costs about twice as much.

    Lees-Edwards limit: ``|shear_rate| dt <= 0.04`` (shear_rate <= 1 at dt =
    0.04). The pairwise thermostat does not remove all viscous heat, so kT
    rises with the shear rate (on top of the time-step excess above); the
    ``temperature`` output reports it. Costs per bead-step are in
    benchmarks/RESULTS.md.
    """

    density: float = 3.0
    box: tuple[float, float, float] = (10.0, 10.0, 10.0)
    a: float = 25.0
    gamma: float = 4.5
    kT: float = 1.0
    rc: float = 1.0
    dt: float = 0.04
    vv_lambda: float = 0.5
    integrator: str = "gw"
    a_matrix: tuple[tuple[float, ...], ...] | None = None
    composition: tuple[float, ...] = (1.0,)
    polymer_fraction: float = 0.0
    chain_length: int = 1
    chain_type: int = 0
    bond: str = "harmonic"
    bond_k: float = 4.0
    bond_r0: float = 0.0
    fene_rmax: float = 2.0
    sample_every: int = 1
    blocks: int = 20

    inputs = ("shear_rate",)
    outputs = ("shear_stress", "N1", "N2", "pressure", "temperature")
    units: ClassVar[Mapping[str, str]] = MappingProxyType({
        "shear_rate": "1/tau", "shear_stress": "kT/rc^3", "N1": "kT/rc^3", "N2": "kT/rc^3",
        "pressure": "kT/rc^3", "temperature": "kT"})
    default_budget: ClassVar[Budget] = Budget(DEFAULT_EQUILIBRATION, DEFAULT_SAMPLING)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps", "replicas",
                                                    "target_stderr", "max_wall_s"})

    def __post_init__(self) -> None:
        for name in ("density", "rc", "dt", "kT"):
            check_positive(getattr(self, name), name, "DPD")
        for name in ("gamma", "a", "bond_k", "bond_r0", "polymer_fraction"):
            check_positive(getattr(self, name), name, "DPD", allow_zero=True)
        if len(self.box) != 3:
            raise OracleSetupError(f"DPD: `box` must be 3 edge lengths, got {self.box!r}")
        object.__setattr__(self, "box", tuple(check_positive(b, "box", "DPD") for b in self.box))
        if min(self.box) < 4 * self.rc:
            raise OracleSetupError(f"DPD: every `box` edge must be >= 4 rc = {4 * self.rc} (cell list), got {self.box}")
        if self.density * self.rc**3 > MAX_DENSITY:
            raise OracleSetupError(f"DPD: `density` rho rc^3 = {self.density * self.rc**3} exceeds {MAX_DENSITY}, "
                             "the most the cell list allows (cost per bead grows as rho)")
        if self.n_particles > MAX_PARTICLES:
            raise OracleSetupError(f"DPD: `density` x `box` volume gives {self.n_particles} beads, more than the "
                             f"{MAX_PARTICLES} the cell-list memory allows")
        if self.n_particles < 2:
            raise OracleSetupError("DPD: `density` x `box` volume must give at least 2 beads")
        if not 0.0 < self.vv_lambda <= 1.0:
            raise OracleSetupError(f"DPD: `vv_lambda` must be in (0, 1], got {self.vv_lambda}")
        check_choice(self.integrator, "integrator", "DPD", INTEGRATORS)
        if self.integrator == "dpd-vv" and self.vv_lambda != 0.5:
            raise OracleSetupError(f"DPD: `integrator` 'dpd-vv' is velocity Verlet and needs `vv_lambda` = 0.5, "
                             f"got {self.vv_lambda}")
        amat = self.a_ij
        if amat.ndim != 2 or amat.shape[0] != amat.shape[1] or not np.allclose(amat, amat.T):
            raise OracleSetupError("DPD: `a_matrix` must be a symmetric square matrix")
        if (amat < 0).any():
            raise OracleSetupError("DPD: `a_matrix` entries must be >= 0")
        comp = np.asarray(self.composition, dtype=float)
        if comp.shape != (amat.shape[0],) or (comp < 0).any() or abs(comp.sum() - 1) > 1e-12:
            raise OracleSetupError(f"DPD: `composition` must give {amat.shape[0]} fractions >= 0 summing to 1, "
                             f"got {self.composition}")
        if self.polymer_fraction > 1:
            raise OracleSetupError(f"DPD: `polymer_fraction` must be in [0, 1], got {self.polymer_fraction}")
        check_int(self.chain_length, "chain_length", "DPD", minimum=1)
        check_int(self.chain_type, "chain_type", "DPD")
        if not 0 <= self.chain_type < amat.shape[0]:
            raise OracleSetupError(f"DPD: `chain_type` must be a bead type in [0, {amat.shape[0]}), got {self.chain_type}")
        check_choice(self.bond, "bond", "DPD", ("harmonic", "fene"))
        check_positive(self.fene_rmax, "fene_rmax", "DPD")
        check_int(self.sample_every, "sample_every", "DPD", minimum=1)
        check_int(self.blocks, "blocks", "DPD", minimum=2)

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> "DPDShearStress":
        """The fluid of :data:`DPD_PRESETS` ``name`` with ``overrides`` (any field)."""
        if name not in DPD_PRESETS:
            raise OracleSetupError(f"DPDShearStress.preset(): unknown preset {name!r}; presets: {sorted(DPD_PRESETS)}")
        return cls(**{**DPD_PRESETS[name], **overrides})

    @classmethod
    def polymer_solution(cls, **overrides: Any) -> "DPDShearStress":
        """The concentrated polymer solution of :data:`DPD_PRESETS` (80 % of the beads in chains
        of 20 Groot-Warren springs, 8^3 box), with ``overrides``."""
        return cls.preset("polymer_solution", **overrides)

    @property
    def a_ij(self) -> np.ndarray:
        """The conservative repulsion matrix (n_types, n_types)."""
        if self.a_matrix is None:
            return np.array([[float(self.a)]])
        return np.array(self.a_matrix, dtype=float)

    @property
    def n_particles(self) -> int:
        return int(round(self.density * self.box[0] * self.box[1] * self.box[2]))

    @property
    def volume(self) -> float:
        return self.box[0] * self.box[1] * self.box[2]

    @property
    def sigma(self) -> float:
        """Random-force amplitude sqrt(2 gamma kT) (fluctuation-dissipation)."""
        return math.sqrt(2.0 * self.gamma * self.kT)

    @property
    def max_shear_rate(self) -> float:
        """Largest |shear_rate| accepted: ``MAX_STRAIN_PER_STEP / dt``."""
        return MAX_STRAIN_PER_STEP / self.dt

    def check_shear_rate(self, shear_rate: float) -> float:
        if not math.isfinite(shear_rate):
            raise OracleSetupError(f"DPD: `shear_rate` must be finite, got {shear_rate}")
        if abs(shear_rate) > self.max_shear_rate:
            raise OracleSetupError(f"DPD: |`shear_rate`| = {abs(shear_rate)} exceeds the Lees-Edwards limit "
                             f"{self.max_shear_rate:g} = {MAX_STRAIN_PER_STEP} / dt supported here")
        return float(shear_rate)

    def system(self, shear_rate: float = 0.0, *, seed: int = 0, body_force: float = 0.0) -> "DPDSystem":
        """A fresh random configuration of this fluid (see :class:`DPDSystem`)."""
        return DPDSystem(self, self.check_shear_rate(shear_rate), seed=seed, body_force=body_force)

    @property
    def chunk_steps(self) -> int:
        """Steps per sampling chunk (``max_wall_s`` / ``target_stderr`` are checked between chunks)."""
        return max(1, CHUNK // self.sample_every) * self.sample_every

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One sheared run at ``state = [shear_rate]``: every replica equilibrates and samples
        (see the class doc); statistics by :func:`oracles._sampling.sample_replicas`."""
        start = time.perf_counter()
        name = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=name)
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (1,):
            raise OracleSetupError(f"DPD.run(): `state` must be (shear_rate,), got shape {state.shape}")
        shear_rate = self.check_shear_rate(float(state[0]))
        n_eq, n_max = budget.equilibration_steps, budget.sampling_steps  # with target_stderr: the cap
        if n_max // self.sample_every < self.blocks:
            raise OracleSetupError(f"{name}: budget.sampling_steps = {n_max} gives {n_max // self.sample_every} "
                                   f"samples, fewer than blocks = {self.blocks}; raise budget.sampling_steps")

        def replica(rng: np.random.Generator):
            system = self.system(shear_rate, seed=int(rng.integers(2**63)))
            system.advance(n_eq)
            for steps in chunk_sizes(n_max, self.chunk_steps):
                yield observables(system.advance(steps, sample_every=self.sample_every)[0], system)

        sampled = sample_replicas(replica, budget, seed, blocks=self.blocks, start=start, name=name)
        steps = budget.replicas * n_eq + sum(sampled.samples) * self.sample_every
        return sampled.estimate({"n_particles": self.n_particles, "steps": steps})


DPD = DPDShearStress  # the name before the redesign
