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
from dataclasses import dataclass

import numpy as np

from hmm.contract import Budget, Estimate

from . import _kernels as K

MAX_PARTICLES = 4_000_000  # about 170 bytes per bead of state and sort buffers: ~0.7 GB
MAX_DENSITY = 10.0  # beads per rc^3: candidates per bead grow as 13.5 * density (cell list cost)
MAX_STRAIN_PER_STEP = 0.04  # |shear_rate| dt: pair velocity change over a step stays << thermal
DEFAULT_EQUILIBRATION, DEFAULT_SAMPLING = 500, 4000  # steps when the budget says 0
CHUNK = 250  # steps between wall-time / target-stderr checks
INTEGRATORS = ("gw", "dpd-vv")  # Groot-Warren modified velocity Verlet; DPD-VV (Besold et al. 2000)


def _positive(name: str, value, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError(f"DPD: `{name}` must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"DPD: `{name}` must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


@dataclass(frozen=True)
class DPD:
    """Groot-Warren DPD fluid or polymer solution sheared by Lees-Edwards boundaries.

    Parameters (DPD units: rc, kT, bead mass 1)
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
        lambda of the modified velocity Verlet (0.5 default, as asked; Groot &
        Warren recommend 0.65 at dt = 0.04). Must be 0.5 with ``"dpd-vv"``.
    integrator : str
        ``"gw"`` (default): Groot & Warren's modified velocity Verlet,
        F(t + dt) = F(r(t + dt), v~) with v~ = v(t) + lambda dt F(t).
        ``"dpd-vv"``: DPD-VV of Besold et al. (2000), velocity Verlet
        (lambda = 1/2 required: any other ``vv_lambda`` raises ValueError)
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
        (from a random start at a = 25, dt = 0.04, FENE needs k >~ 10 with
        r_max = 2, or a bond breaks in the start-up transient: RuntimeError).
    sample_every : int
        Steps between stress samples.
    blocks : int
        Blocks per replica for the block-averaged standard error.

    Inputs ``("shear_rate",)`` (1/time, |shear_rate| dt <= 0.04); outputs
    ``("shear_stress", "N1", "N2", "pressure", "temperature")``. Budget: 0
    equilibration/sampling steps mean 500/4000; ``replicas`` independent runs
    (different seeds) are pooled block by block (see :func:`block_estimate`); ``target_stderr`` stops
    sampling (at chunks of 250 steps) once every output's stderr is below it;
    ``max_wall_s`` stops early (the only non-reproducible option).

    Temperature: the discrete dynamics samples a kinetic temperature above
    the set kT, the more so the larger dt. Measured at rho = 3, a = 25,
    gamma = 4.5 (docs/validation.md, box 8^3): ``"gw"`` with lambda = 1/2
    gives kT = 1.027 at dt = 0.04 and 1.012 at dt = 0.02, with lambda = 0.65
    (Groot & Warren's recommendation) 1.002 at dt = 0.04; ``"dpd-vv"``
    (lambda = 1/2) gives 1.010 at dt = 0.04 and 0.998 at dt = 0.02, and its
    pressure is closer to the dt -> 0 value (23.67 against 23.84 for
    ``"gw"`` at dt = 0.04, limit 23.63). DPD-VV costs about 2x per step:
    its extra pass over the pairs scans the same cell stencil as the force
    pass.

    Lees-Edwards limit: |shear_rate| dt <= 0.04 (shear_rate <= 1 at dt =
    0.04). The pairwise thermostat does not remove all viscous heat: for the
    simple fluid kT rises by ~2% at shear rate 0.5 and ~9% at 1 (on top of the
    time-step excess above); the ``temperature`` output reports it.
    Cost: ~0.35 us per bead-step on one core for ``"gw"``, virial every step
    (3000 beads, 4500 steps: ~5 s for the default budget).
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

    def __post_init__(self) -> None:
        for name in ("density", "rc", "dt", "kT"):
            _positive(name, getattr(self, name))
        for name in ("gamma", "a", "bond_k", "bond_r0", "polymer_fraction"):
            _positive(name, getattr(self, name), allow_zero=True)
        if len(self.box) != 3:
            raise ValueError(f"DPD: `box` must be 3 edge lengths, got {self.box!r}")
        object.__setattr__(self, "box", tuple(_positive("box", float(b)) for b in self.box))
        if min(self.box) < 4 * self.rc:
            raise ValueError(f"DPD: every `box` edge must be >= 4 rc = {4 * self.rc} (cell list), got {self.box}")
        if self.density * self.rc**3 > MAX_DENSITY:
            raise ValueError(f"DPD: `density` rho rc^3 = {self.density * self.rc**3} exceeds {MAX_DENSITY}, "
                             "the most the cell list allows (cost per bead grows as rho)")
        if self.n_particles > MAX_PARTICLES:
            raise ValueError(f"DPD: `density` x `box` volume gives {self.n_particles} beads, more than the "
                             f"{MAX_PARTICLES} the cell-list memory allows")
        if self.n_particles < 2:
            raise ValueError("DPD: `density` x `box` volume must give at least 2 beads")
        if not 0.0 < self.vv_lambda <= 1.0:
            raise ValueError(f"DPD: `vv_lambda` must be in (0, 1], got {self.vv_lambda}")
        if self.integrator not in INTEGRATORS:
            raise ValueError(f"DPD: `integrator` must be one of {INTEGRATORS}, got {self.integrator!r}")
        if self.integrator == "dpd-vv" and self.vv_lambda != 0.5:
            raise ValueError(f"DPD: `integrator` 'dpd-vv' is velocity Verlet and needs `vv_lambda` = 0.5, "
                             f"got {self.vv_lambda}")
        amat = self.a_ij
        if amat.ndim != 2 or amat.shape[0] != amat.shape[1] or not np.allclose(amat, amat.T):
            raise ValueError("DPD: `a_matrix` must be a symmetric square matrix")
        if (amat < 0).any():
            raise ValueError("DPD: `a_matrix` entries must be >= 0")
        comp = np.asarray(self.composition, dtype=float)
        if comp.shape != (amat.shape[0],) or (comp < 0).any() or abs(comp.sum() - 1) > 1e-12:
            raise ValueError(f"DPD: `composition` must give {amat.shape[0]} fractions >= 0 summing to 1, "
                             f"got {self.composition}")
        if self.polymer_fraction > 1:
            raise ValueError(f"DPD: `polymer_fraction` must be in [0, 1], got {self.polymer_fraction}")
        if isinstance(self.chain_length, bool) or not isinstance(self.chain_length, int) or self.chain_length < 1:
            raise ValueError(f"DPD: `chain_length` must be an int >= 1, got {self.chain_length!r}")
        if not 0 <= self.chain_type < amat.shape[0]:
            raise ValueError(f"DPD: `chain_type` must be a bead type in [0, {amat.shape[0]}), got {self.chain_type}")
        if self.bond not in ("harmonic", "fene"):
            raise ValueError(f"DPD: `bond` must be 'harmonic' or 'fene', got {self.bond!r}")
        _positive("fene_rmax", self.fene_rmax)
        for name in ("sample_every", "blocks"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (2 if name == "blocks" else 1):
                raise ValueError(f"DPD: `{name}` must be an int >= {2 if name == 'blocks' else 1}, got {value!r}")

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
            raise ValueError(f"DPD: `shear_rate` must be finite, got {shear_rate}")
        if abs(shear_rate) > self.max_shear_rate:
            raise ValueError(f"DPD: |`shear_rate`| = {abs(shear_rate)} exceeds the Lees-Edwards limit "
                             f"{self.max_shear_rate:g} = {MAX_STRAIN_PER_STEP} / dt supported here")
        return float(shear_rate)

    def system(self, shear_rate: float = 0.0, *, seed: int = 0, body_force: float = 0.0) -> "DPDSystem":
        """A fresh random configuration of this fluid (see :class:`DPDSystem`)."""
        return DPDSystem(self, self.check_shear_rate(shear_rate), seed=seed, body_force=body_force)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (1,):
            raise ValueError(f"DPD.run(): `state` must be (shear_rate,), got shape {state.shape}")
        shear_rate = self.check_shear_rate(float(state[0]))
        n_eq = budget.equilibration_steps or DEFAULT_EQUILIBRATION
        n_max = budget.sampling_steps or (10**6 if budget.target_stderr else DEFAULT_SAMPLING)
        datasets, steps = [], 0
        for replica in range(budget.replicas):
            rseed = int(np.random.SeedSequence([seed, replica]).generate_state(1, np.uint64)[0])
            sys_ = self.system(shear_rate, seed=rseed)
            sys_.advance(n_eq)
            series, taken = [], 0
            while taken * self.sample_every < n_max:
                chunk = min(CHUNK, n_max - taken * self.sample_every)
                series.append(observables(sys_.advance(chunk, sample_every=self.sample_every)[0], sys_))
                taken += len(series[-1])
                if _should_stop(datasets + [np.concatenate(series)], self.blocks, budget, start):
                    break
            datasets.append(np.concatenate(series))
            if len(datasets[-1]) < self.blocks:
                raise RuntimeError(f"DPD at shear_rate={shear_rate}: {len(datasets[-1])} samples cannot make "
                                   f"{self.blocks} blocks; raise budget.sampling_steps")
            steps += n_eq + len(datasets[-1]) * self.sample_every
        mean, stderr, n_eff = block_estimate(datasets, self.blocks)
        if not (np.isfinite(mean).all() and np.isfinite(stderr).all()):
            raise RuntimeError(f"DPD at shear_rate={shear_rate}: non-finite estimate {mean}")
        return Estimate(mean, stderr, n_eff=n_eff, cost_s=time.perf_counter() - start,
                        provenance={"n_particles": self.n_particles, "steps": steps})


def _block_means(series: np.ndarray, blocks: int) -> np.ndarray:
    length = len(series) // blocks
    kept = series[len(series) - blocks * length:]
    return kept.reshape(blocks, length, -1).mean(axis=1)


def block_estimate(datasets: list[np.ndarray], blocks: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, standard error and effective sample count of correlated series.

    Each series (one per independent replica, shape (n_samples, k)) is cut
    into ``blocks`` consecutive blocks (the first ``n mod blocks`` samples
    dropped); the stderr is the standard deviation of all block means over
    the square root of their number (Flyvbjerg & Petersen, J. Chem. Phys. 91,
    461, 1989), taken as the larger of the estimates with ``blocks`` and with
    ``blocks // 2`` blocks per series: if blocks are not yet much longer than
    the correlation time the second is larger, and it is used. n_eff is the
    smallest over outputs of sample variance / stderr^2.
    """
    fine = np.concatenate([_block_means(d, blocks) for d in datasets])
    coarse = np.concatenate([_block_means(d, max(blocks // 2, 2)) for d in datasets])
    mean = fine.mean(axis=0)
    stderr = np.maximum(fine.std(axis=0, ddof=1) / math.sqrt(len(fine)),
                        coarse.std(axis=0, ddof=1) / math.sqrt(len(coarse)))
    var = np.mean([d.var(axis=0, ddof=1) for d in datasets], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = float(np.min(np.where(stderr > 0, var / stderr**2, np.inf)))
    return mean, stderr, n_eff


def pooled_blocks(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and stderr of independent block estimates (rows of ``means``)."""
    return means.mean(axis=0), means.std(axis=0, ddof=1) / math.sqrt(len(means))


def _should_stop(datasets, blocks, budget, start) -> bool:
    if (budget.max_wall_s is not None and time.perf_counter() - start > budget.max_wall_s
            and len(datasets[-1]) >= blocks):
        return True
    if budget.target_stderr is None or len(datasets[-1]) < 4 * blocks:
        return False
    return bool((block_estimate(datasets, blocks)[1] < budget.target_stderr).all())


def observables(obs: np.ndarray, system: "DPDSystem") -> np.ndarray:
    """Per-sample (shear_stress, N1, N2, pressure, temperature) from kernel rows."""
    p = pressure_tensor(obs, system.volume)
    kt = obs[:, K.K0:K.K0 + 3].sum(axis=1) / (3.0 * (system.n - 1))
    return np.column_stack([-p[:, 3], p[:, 1] - p[:, 0], p[:, 2] - p[:, 1], p[:, :3].mean(axis=1), kt])


def pressure_tensor(obs: np.ndarray, volume: float, parts: str = "kcdrb") -> np.ndarray:
    """P (n, 6: xx yy zz xy xz yz) from the contributions named in ``parts``:
    k kinetic, c conservative, d dissipative, r random, b bonds."""
    start = {"k": K.K0, "c": K.WC0, "d": K.WD0, "r": K.WR0, "b": K.WB0}
    return sum(obs[:, start[p]:start[p] + 6] for p in parts) / volume


class DPDSystem:
    """A mutable DPD configuration and its buffers: the engine behind :class:`DPD`.

    Beads start at random positions (chains as random walks of step 0.7 rc)
    with Maxwell velocities around the shear profile; ``seed`` fixes both and
    the pair noise. ``body_force`` (per bead, along x, +g below Ly/2 and -g
    above) drives a periodic reverse Poiseuille flow.
    """

    def __init__(self, config: DPD, shear_rate: float = 0.0, *, seed: int = 0, body_force: float = 0.0):
        self.config, self.shear_rate, self.seed = config, float(shear_rate), int(seed) % 2**63
        rng = np.random.default_rng(self.seed)
        box = self.box = np.array(config.box, dtype=float)
        n = self.n = config.n_particles
        self.volume = config.volume
        n_chain = int(config.polymer_fraction * n + 1e-9) // config.chain_length if config.chain_length > 1 else 0
        n_bonded = n_chain * config.chain_length
        pos = rng.uniform(0.0, 1.0, (n, 3)) * box
        types = np.empty(n, dtype=np.int64)
        if n_chain:
            steps = rng.normal(size=(n_chain, config.chain_length, 3))
            steps *= 0.7 * config.rc / np.linalg.norm(steps, axis=-1, keepdims=True)
            steps[:, 0] = pos[:n_bonded:config.chain_length]
            pos[:n_bonded] = np.cumsum(steps, axis=1).reshape(-1, 3) % box
            types[:n_bonded] = config.chain_type
        counts = np.floor(np.asarray(config.composition) * (n - n_bonded)).astype(int)
        counts[0] += n - n_bonded - counts.sum()
        types[n_bonded:] = rng.permutation(np.repeat(np.arange(len(counts)), counts))
        chain_ids = np.arange(n_bonded).reshape(max(n_chain, 0), config.chain_length) if n_chain else None
        self.bonds = (np.stack([chain_ids[:, :-1].ravel(), chain_ids[:, 1:].ravel()], axis=1).astype(np.int64)
                      if n_chain else np.zeros((0, 2), dtype=np.int64))
        vel = rng.normal(0.0, math.sqrt(config.kT), (n, 3))
        vel -= vel.mean(axis=0)
        vel[:, 0] += self.shear_rate * (pos[:, 1] - 0.5 * box[1])
        self.pos, self.vel, self.force = pos, vel, np.zeros((n, 3))
        self.ids, self.types = np.arange(n, dtype=np.int64), types
        use_vt = config.vv_lambda != 0.5
        self.vtilde = np.zeros((n if use_vt else 0, 3))
        self._dforce = np.zeros((n if config.integrator == "dpd-vv" else 0, 3))  # DPD-VV scratch
        self._buffers = (np.empty((n, 3)), np.empty((n, 3)), np.empty((n if use_vt else 0, 3)),
                         np.empty(n, np.int64), np.empty(n, np.int64))
        self.slot_of, self.cell_of = np.empty(n, np.int64), np.empty(n, np.int64)
        self.ncell = np.maximum((box / config.rc).astype(np.int64), 3)
        self.cell_start = np.zeros(int(np.prod(self.ncell)) + 1, np.int64)
        self.cursor = np.zeros(int(np.prod(self.ncell)), np.int64)
        self.a_mat = np.ascontiguousarray(config.a_ij)
        self.fparams = np.zeros(K.N_FPARAMS)
        self.fparams[[K.F_RC, K.F_DT, K.F_GAMMA, K.F_SIGMA, K.F_LAMBDA, K.F_SHEAR, K.F_BOND_K, K.F_BOND_R0,
                      K.F_BOND_RMAX, K.F_BODY, K.F_DPDVV]] = (
            config.rc, config.dt, config.gamma, config.sigma, config.vv_lambda, self.shear_rate, config.bond_k,
            config.bond_r0, config.fene_rmax if config.bond == "fene" else 0.0, body_force,
            1.0 if config.integrator == "dpd-vv" else 0.0)
        self.fstate, self.istate = np.zeros(1), np.zeros(2, np.int64)
        self._scratch = (np.zeros(K.MAX_NEIGHBOUR_CELLS, np.int64), np.zeros(K.MAX_NEIGHBOUR_CELLS, np.int64),
                         np.zeros((K.MAX_NEIGHBOUR_CELLS, 4)))
        self._initial_forces()

    @property
    def step(self) -> int:
        return int(self.istate[0])

    @property
    def offset(self) -> float:
        """Lees-Edwards displacement of the image row above the box, in [0, Lx)."""
        return float(self.fstate[0])

    def _initial_forces(self) -> None:
        """Sort by cell and evaluate F(t) (v~ = v), as the integrator expects on entry
        (for DPD-VV this is already the dissipative force of v(t))."""
        pb, vb, tb, ib, yb = self._buffers
        K.sort_by_cell(self.pos, self.vel, self.ids, self.types, self.vtilde, pb, vb, ib, yb, tb, self.slot_of,
                       self.cell_of, self.cell_start, self.cursor, self.ncell, self.box, self.vtilde.size > 0)
        self.pos, self.vel, self.ids, self.types, self.vtilde, self._buffers = (
            pb, vb, ib, yb, tb, (self.pos, self.vel, self.vtilde, self.ids, self.types))
        self._evaluate_forces(False)

    def _evaluate_forces(self, want_virial: bool) -> np.ndarray:
        row = np.zeros(K.N_OBS)
        cfg = self.config
        K.pair_forces(self.pos, self.vel, self.ids, self.types, self.cell_start, self.ncell, self.box, self.offset,
                      self.shear_rate, self.a_mat, cfg.gamma, cfg.sigma * math.sqrt(3 / cfg.dt), cfg.rc,
                      np.uint64(K.step_key(self.seed, self.step)), self.force, row, want_virial, *self._scratch)
        if len(self.bonds):
            K.bond_forces(self.pos, self.slot_of, self.bonds, self.box, self.offset, *self.fparams[[
                K.F_BOND_K, K.F_BOND_R0, K.F_BOND_RMAX]], self.force, row, want_virial)
        body = self.fparams[K.F_BODY]
        if body:
            self.force[:, 0] += np.where(self.pos[:, 1] < 0.5 * self.box[1], body, -body)
        return row

    def forces(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Forces at the current state with v~ = v and the noise of the current
        step: (positions, velocities, forces, each (n, 3) in bead-id order, and
        the virial row of ``N_OBS``). Also resets the stored force (tests);
        right after a DPD-VV step it recomputes the stored force exactly."""
        row = self._evaluate_forces(True)
        order = np.argsort(self.ids)
        return self.pos[order].copy(), self.vel[order].copy(), self.force[order].copy(), row

    def stored_forces(self) -> np.ndarray:
        """The force the next step starts from, F(t) (n, 3), bead-id order."""
        return self.force[np.argsort(self.ids)].copy()

    def dissipative_forces(self, vel: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Dissipative pair forces of bead-id ordered velocities ``vel`` (default
        the current ones) at the current positions, Lees-Edwards images moving
        with shear_rate Ly: (forces (n, 3) in bead-id order, W_d (6,)). One
        :func:`~oracles._dpd_kernels.dissipative_forces` pass (tests, DPD-VV)."""
        order = np.argsort(self.ids)
        u = self.vel if vel is None else np.asarray(vel, dtype=float)[self.ids]
        out, row = np.zeros((self.n, 3)), np.zeros(K.N_OBS)
        K.dissipative_forces(self.pos, np.ascontiguousarray(u), self.cell_start, self.ncell, self.box, self.offset,
                             self.shear_rate * self.box[1], self.config.gamma, self.config.rc, out, row, True,
                             *self._scratch)
        return out[order], row[K.WD0:K.WD0 + 6].copy()

    def advance(self, nsteps: int, *, sample_every: int = 0, profile_bins: int = 0):
        """Run ``nsteps`` steps; return (obs rows (n_samples, N_OBS), profile
        (profile_bins, 2) of summed v_x and counts per y bin over the samples)."""
        n_samples = nsteps // sample_every if sample_every else 0
        obs = np.zeros((n_samples, K.N_OBS))
        profile = np.zeros((profile_bins, 2))
        self.istate[1] = 0
        pb, vb, tb, ib, yb = self._buffers
        status = K.run_steps(self.pos, self.vel, self.force, self.vtilde, self.ids, self.types, self.slot_of,
                             self.bonds, self.a_mat, pb, vb, tb, ib, yb, self.cell_of, self.cell_start, self.cursor,
                             self.ncell, self.box, self.fparams, self.fstate, self.istate, self.seed, int(nsteps),
                             int(sample_every), obs, profile, *self._scratch, self._dforce)
        if status != K.OK:
            what = "a FENE bond reached r_max" if status == K.BOND_BROKEN else "non-finite velocities"
            raise RuntimeError(f"DPD at shear_rate={self.shear_rate}: {what} at step {self.step} "
                               f"(dt={self.config.dt} too large or bad parameters)")
        return obs[:self.istate[1]], profile


def reference_forces(system: "DPDSystem", pos: np.ndarray, vel: np.ndarray, *,
                     parts: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Slow, obviously correct all-pairs NumPy forces of bead-id ordered
    ``pos``/``vel`` in ``system``'s box, Lees-Edwards offset, bonds and noise
    key (the same pair random numbers as the kernel): (forces (n, 3), W (4, 6)
    for the conservative, dissipative, random and bond virials). With
    ``parts`` the forces are split the same way, (4, n, 3)."""
    cfg, box = system.config, system.box
    types = system.types[np.argsort(system.ids)]
    i, j = np.triu_indices(len(pos), 1)

    def separation(i, j):
        d, dv = pos[i] - pos[j], vel[i] - vel[j]
        for sign in (1.0, -1.0):  # nearest image across the sheared y boundary
            cross = sign * d[:, 1] > 0.5 * box[1]
            d[cross, 1] -= sign * box[1]
            d[cross, 0] -= sign * system.offset
            dv[cross, 0] -= sign * system.shear_rate * box[1]
        d[:, [0, 2]] -= box[[0, 2]] * np.round(d[:, [0, 2]] / box[[0, 2]])
        return d, dv

    d, dv = separation(i, j)
    r = np.linalg.norm(d, axis=1)
    keep = r < cfg.rc
    i, j, d, dv, r = i[keep], j[keep], d[keep], dv[keep], r[keep]
    e, w = d / r[:, None], 1.0 - r / cfg.rc
    theta = math.sqrt(3.0) * K.pair_uniforms(np.uint64(K.step_key(system.seed, system.step)), i, j)
    scalars = [system.a_mat[types[i], types[j]] * w, -cfg.gamma * w**2 * np.einsum("ij,ij->i", e, dv),
               cfg.sigma * w * theta / math.sqrt(cfg.dt)]
    force, virial = np.zeros((4,) + pos.shape), np.zeros((4, 6))
    for k, f in enumerate(scalars):
        np.add.at(force[k], i, f[:, None] * e)
        np.add.at(force[k], j, -f[:, None] * e)
        virial[k] = _outer6(d, f[:, None] * e)
    if len(system.bonds):
        a, b = system.bonds[:, 0], system.bonds[:, 1]
        d, _ = separation(a, b)
        r = np.linalg.norm(d, axis=1)
        if cfg.bond == "fene":
            fb = -cfg.bond_k * d / (1 - (r / cfg.fene_rmax) ** 2)[:, None]
        else:
            fb = -cfg.bond_k * (1 - cfg.bond_r0 / r)[:, None] * d
        np.add.at(force[3], a, fb)
        np.add.at(force[3], b, -fb)
        virial[3] = _outer6(d, fb)
    return (force if parts else force.sum(axis=0)), virial


def _outer6(d: np.ndarray, f: np.ndarray) -> np.ndarray:
    w = np.einsum("ka,kb->ab", d, f)
    return w[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]
