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

Public names: :class:`LennardJonesMD` (the oracle, 3D orthorhombic box),
:class:`LJChain` (1D nearest-neighbour harmonic/LJ chain oracle),
:class:`LJSystem` (the engine: cell-sorted half Verlet lists, fused velocity
Verlet / Langevin BAOAB), :func:`fcc_lattice`, :func:`block_average`,
:func:`mean_squared_displacement`, :func:`diffusion_coefficient` (Einstein),
:func:`trajectory`, :func:`tail_corrections`, :func:`reference_forces` (slow
NumPy check). Simple shear (a triclinic cell, ``LennardJonesMD(deformation="shear")``,
``LJSystem(shear=gamma)``) is supported; not yet: heat flux.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from hmm.budget import Budget
from hmm.estimate import Estimate

from . import _md_kernels as K

OBSERVABLES = ("stress", "stress_yy", "stress_zz", "stress_xy", "pressure", "energy",
               "total_energy", "temperature")
DEFAULT_EQUILIBRATION_STEPS = 2000
DEFAULT_SAMPLING_STEPS = 10000


def tail_corrections(density: float, cutoff: float) -> tuple[float, float]:
    """(energy per atom, pressure) of the LJ tail beyond ``cutoff`` with g(r) = 1."""
    ri3, ri9 = cutoff**-3, cutoff**-9
    return (8.0 / 3.0 * math.pi * density * (ri9 / 3.0 - ri3),
            16.0 / 3.0 * math.pi * density**2 * (2.0 * ri9 / 3.0 - ri3))


def parse_state(name: str, state) -> tuple[float, float]:
    """Validated (strain, temperature) from a state row; errors name the field."""
    state = np.asarray(state, dtype=float).reshape(-1)
    if state.shape != (2,):
        raise ValueError(f"{name}.run(): `state` must be [strain, temperature], got shape {state.shape}")
    strain, temperature = float(state[0]), float(state[1])
    if not math.isfinite(strain) or strain <= -1.0:
        raise ValueError(f"{name}.run(): `strain` must be > -1 (1 + strain is the stretch; "
                         f"<= -1 inverts the box), got {strain}")
    if not math.isfinite(temperature) or temperature < 0:
        raise ValueError(f"{name}.run(): `temperature` must be >= 0, got {temperature}")
    return strain, temperature


def fcc_lattice(cells: tuple[int, int, int], a: float, orientation: str = "100") -> tuple[np.ndarray, np.ndarray]:
    """Perfect fcc crystal of cubic lattice constant ``a`` in a periodic orthorhombic box.

    ``orientation="100"``: cube edges along x, y, z (4 atoms per a^3 cell).
    ``orientation="110"``: x along [110], y along [-110], z along [001]; the
    repeat cell is a/sqrt2 x a/sqrt2 x a with atoms at (0,0,0) and (1/2,1/2,1/2).
    Returns (positions (n, 3), box (3,)).
    """
    if orientation == "100":
        basis, edges = np.array([[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]), np.full(3, a)
    elif orientation == "110":
        basis, edges = np.array([[0, 0, 0], [0.5, 0.5, 0.5]]), np.array([a / math.sqrt(2), a / math.sqrt(2), a])
    else:
        raise ValueError(f"fcc_lattice(): `orientation` must be '100' or '110', got {orientation!r}")
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in cells], indexing="ij"), -1).reshape(-1, 1, 3)
    pos = ((grid + basis[None]) * edges).reshape(-1, 3)
    return np.ascontiguousarray(pos, dtype=np.float64), edges * np.asarray(cells, dtype=float)


def block_average(values: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, block stderr and effective sample count of a correlated series.

    ``values`` (n_samples, k) is cut into ``blocks`` equal consecutive blocks
    (the first ``n mod blocks`` samples are dropped); the stderr is the
    standard deviation of the block means over sqrt(blocks), with
    ``blocks - 1`` degrees of freedom (use Student's t for intervals). It is
    unbiased once a block spans many correlation times (Flyvbjerg & Petersen,
    J. Chem. Phys. 91, 461, 1989). n_eff = sample variance / stderr^2.
    """
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1)
    length = len(values) // blocks
    if length < 1:
        raise ValueError(f"block_average(): {len(values)} samples cannot make {blocks} blocks")
    kept = values[len(values) - blocks * length:]
    means = kept.reshape(blocks, length, -1).mean(axis=1)
    stderr = means.std(axis=0, ddof=1) / math.sqrt(blocks)
    var = kept.var(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(stderr > 0, var / stderr**2, np.inf)
    return kept.mean(axis=0), stderr, n_eff


def reference_forces(pos: np.ndarray, box: np.ndarray, cutoff: float, shift: bool = True,
                     eps: float = 1.0) -> tuple[np.ndarray, float, np.ndarray]:
    """Slow, obviously correct all-pairs NumPy reference: (forces, U, virial W (6,))."""
    d = pos[:, None, :] - pos[None, :, :]
    d -= box * np.round(d / box)
    r2 = (d**2).sum(-1)
    iu = np.triu_indices(len(pos), 1)
    mask = np.zeros_like(r2, dtype=bool)
    mask[iu] = r2[iu] < cutoff**2
    r2s = np.where(mask, r2, 1.0)
    inv6 = r2s**-3
    phi_c = 4 * eps * (cutoff**-12 - cutoff**-6) if shift else 0.0
    u = np.where(mask, 4 * eps * inv6 * (inv6 - 1) - phi_c, 0.0).sum()
    ff = np.where(mask, 24 * eps * inv6 * (2 * inv6 - 1) / r2s, 0.0)
    fij = ff[..., None] * d
    forces = fij.sum(1) - fij.sum(0)
    w = np.einsum("ija,ijb->ab", fij, d)
    return forces, float(u), w[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]


class LJSystem:
    """A mutable LJ configuration with its neighbour list: the engine behind the oracle.

    Parameters
    ----------
    positions, velocities : array (n, 3)
        With ``shear`` != 0 the positions are reference coordinates X in the
        orthorhombic box (physical r = F X); velocities are always physical.
    box : array (3,)
        Orthorhombic periodic box edges; r_c + skin (times ||F^-1|| when
        sheared) must not exceed half of each.
    cutoff, skin, shift, dt : see :class:`LennardJonesMD`.
    seed : int
        Seed of the Langevin noise (numba's per-thread generator, seeded here
        and at each :meth:`run`, so runs are reproducible).
    eps : float
        LJ well depth (1 in reduced units; 0 gives an ideal gas, for tests).
    mass : float
        Atom mass (1 in reduced units).
    rebuild_every : int
        0 (default): rebuild the Verlet list when an atom moved > skin / 2.
        k > 0: rebuild every k steps unconditionally, like LAMMPS's
        ``neigh_modify every k check no`` (benchmarks only; can miss pairs).
    shear : float
        Simple shear gamma: the periodic cell is triclinic with edges
        (Lx, 0, 0), (gamma Ly, Ly, 0), (0, 0, Lz) (LAMMPS's xy tilt = gamma Ly),
        F = I + gamma e_x e_y. Neighbour lists are built in the reference
        coordinates with radius (r_c + skin) ||F^-1||, which contains every
        physical pair within r_c + skin.
    """

    def __init__(self, positions, velocities, box, *, cutoff=2.5, skin=0.3, shift=True, dt=0.005,
                 seed=0, eps=1.0, mass=1.0, rebuild_every=0, shear=0.0):
        self.pos = np.ascontiguousarray(positions, dtype=np.float64).copy()
        self.vel = np.ascontiguousarray(velocities, dtype=np.float64).copy()
        self.box = np.ascontiguousarray(box, dtype=np.float64).copy()
        n = len(self.pos)
        if self.pos.shape != (n, 3) or self.vel.shape != (n, 3) or self.box.shape != (3,):
            raise ValueError("LJSystem: positions/velocities must have shape (n, 3) and box (3,)")
        self.shear = float(shear)
        if not math.isfinite(self.shear):
            raise ValueError(f"LJSystem: `shear` must be finite, got {shear!r}")
        g = abs(self.shear)
        self.stretch = 0.5 * (g + math.sqrt(g * g + 4.0))  # ||F^-1||_2 of the simple shear
        if (cutoff + skin) * self.stretch > 0.5 * self.box.min():
            raise ValueError(f"LJSystem: (cutoff + skin) ||F^-1|| = {(cutoff + skin) * self.stretch:g} exceeds half "
                             f"the smallest box edge {0.5 * self.box.min():g}")
        self.cutoff, self.skin, self.dt, self.eps, self.mass = float(cutoff), float(skin), float(dt), float(eps), float(mass)
        self.e_shift = 4 * eps * (cutoff**-12 - cutoff**-6) if shift else 0.0
        self._seed = int(seed) % 2**32
        self.rebuild_every = int(rebuild_every)
        self.rlist2 = ((cutoff + skin) * self.stretch) ** 2  # in reference coordinates
        ncell = np.floor(self.box / (0.5 * (cutoff + skin) * self.stretch)).astype(np.int64)  # cells >= rlist / 2
        self.ncell = ncell if ncell.min() >= 5 else np.ones(3, np.int64)  # else all pairs (small box)
        nc = int(np.prod(self.ncell))
        self.force = np.zeros_like(self.pos)
        self.image = np.zeros((n, 3), dtype=np.int64)
        self.ids = np.arange(n, dtype=np.int64)
        self.ref_pos = np.empty_like(self.pos)
        self._cell = (np.zeros(nc + 1, np.int64), np.empty(n, np.int64), np.empty(nc, np.int64),
                      np.empty(n, np.int64), np.empty_like(self.pos), np.empty((n, 3), np.int64),
                      np.empty(n, np.int64))
        density = n / self.volume
        guess = 4.2 * density * ((cutoff + skin) * self.stretch) ** 3 / 2 * 1.3 + 8  # (4/3) pi r^3 rho / 2, 30% margin
        self.nbr_start = np.zeros(n + 1, np.int64)
        self.nbr_mid = np.zeros(n, np.int64)
        self.nbr = np.empty(int(n * guess), np.int64)
        self.progress = np.zeros(7, np.int64)
        self._build()
        K.pair_forces(self.pos, self.force, self.box, self.nbr_start, self.nbr_mid, self.nbr, self.cutoff**2, self.eps,
                      self.e_shift, np.empty(0), self.shear)

    n_atoms = property(lambda self: len(self.pos))
    volume = property(lambda self: float(np.prod(self.box)))
    rebuilds = property(lambda self: int(self.progress[K.P_REBUILDS]))

    def _build(self) -> None:
        while True:
            needed = K.rebuild(self.pos, self.vel, self.force, self.image, self.ids, self.ref_pos, self.box,
                               self.ncell, *self._cell, self.rlist2, self.nbr_start, self.nbr_mid, self.nbr)
            if needed <= self.nbr.size:
                return
            self.nbr = np.empty(int(needed * 1.2) + 16, np.int64)

    def run(self, n_steps: int, *, friction: float = 0.0, temperature: float = 0.0,
            sample_every: int = 1, deadline: float | None = None) -> np.ndarray:
        """Advance ``n_steps``; return the sampled rows (U, K (6), W (6)) every
        ``sample_every`` steps (0: no samples). Velocities end at the full step.
        ``deadline`` (a ``time.perf_counter`` value) stops early between chunks.
        Raises FloatingPointError if the state became non-finite."""
        every = sample_every if sample_every > 0 else n_steps + 1
        samples = np.zeros((n_steps // every, K.N_OBS))
        chunk = n_steps if deadline is None else max(every, 200 // every * every)
        K.seed_numba_rng(self._seed)
        self._seed = (self._seed * 1103515245 + 12345) % 2**31  # next run gets a fresh stream
        p = self.progress
        p[K.P_SAMPLES] = 0
        done = 0
        while done < n_steps:
            p[K.P_STEPS] = 0
            todo = min(chunk, n_steps - done)
            while True:
                status = K.md_steps(self.pos, self.vel, self.force, self.image, self.ids, self.ref_pos, self.box,
                                    self.mass, self.dt, todo, self.cutoff**2, self.eps, self.e_shift,
                                    self.skin * self.stretch, friction, temperature, self.ncell, *self._cell,
                                    self.rlist2, self.nbr_start, self.nbr_mid, self.nbr, every, samples, p,
                                    self.rebuild_every, self.shear)
                if status != K.LIST_OVERFLOW:
                    break
                self.nbr = np.empty(int(p[K.P_NEEDED] * 1.2) + 16, np.int64)
            if status == K.NOT_FINITE:
                raise FloatingPointError(f"positions or energies not finite after {done + p[K.P_STEPS]} steps")
            done += todo
            if deadline is not None and time.perf_counter() > deadline:
                break
        K.close_half_kick(self.vel, self.force, self.mass, self.dt, p)
        return samples[: p[K.P_SAMPLES]]

    def static(self) -> np.ndarray:
        """Observables row (U, K, W) at the current positions and velocities."""
        row = np.zeros(K.N_OBS)
        self.force[:] = 0.0
        K.pair_forces(self.pos, self.force, self.box, self.nbr_start, self.nbr_mid, self.nbr, self.cutoff**2, self.eps,
                      self.e_shift, row, self.shear)
        K.kinetic_tensor(self.vel, self.mass, row)
        return row

    def unwrapped(self) -> np.ndarray:
        """Unwrapped physical positions (r = F X) in the original atom order."""
        out = np.empty_like(self.pos)
        out[self.ids] = self.pos + self.image * self.box
        out[:, 0] += self.shear * out[:, 1]
        return out


@dataclass(frozen=True)
class LennardJonesMD:
    r"""Stress of an LJ crystal or fluid under homogeneous uniaxial strain at temperature T.

    ``run(state=[strain, temperature])`` maps the reference fcc configuration
    by F = diag(1 + strain, 1, 1) (box and positions), equilibrates with the
    thermostat, samples, and returns block-averaged means with honest standard
    errors. At T = 0 the strained perfect lattice is a static equilibrium (a
    Bravais lattice has no internal relaxation): ``run`` returns the static
    values with zero stderr and no dynamics.

    Parameters
    ----------
    cells : int
        fcc unit cells per box side (4 cells^3 atoms).
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
        Number of blocks for the block-averaged stderr (fixed-count rule:
        the stderr has ``blocks - 1`` degrees of freedom; choose the sampling
        run at least ~20 correlation times per block).
    observables : tuple of str
        Outputs, any of ``OBSERVABLES``: ``stress`` (sigma_xx), ``stress_yy``,
        ``stress_zz``, ``stress_xy``, ``pressure``, ``energy`` (potential
        energy per atom, epsilon), ``total_energy`` (potential + kinetic per
        atom), ``temperature`` (kinetic).

    Notes
    -----
    Budget: ``equilibration_steps``/``sampling_steps`` default to 2000/10000
    when 0; ``replicas`` independent runs are pooled (stderr combined from
    their block stderrs); ``max_wall_s`` stops sampling early (the result
    then depends on the machine's speed); ``target_stderr`` is not used.
    ``deformation="shear"``: inputs ``("shear_strain", "temperature")``; the
    reference lattice is mapped by the simple shear F = I + gamma e_x e_y
    (a triclinic periodic cell, tilt xy = gamma L; |gamma| <= 1), and
    ``stress_xy`` is the shear stress (for a cubic crystal at T = 0,
    d sigma_xy / d gamma = C44). Velocities are thermal about zero mean flow
    (a static homogeneous deformation, not a streaming shear flow).
    """

    cells: int = 4
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

    @property
    def inputs(self) -> tuple[str, ...]:
        return ("shear_strain", "temperature") if self.deformation == "shear" else ("strain", "temperature")

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.deformation not in ("uniaxial", "shear"):
            raise ValueError(f"{name}: `deformation` must be 'uniaxial' or 'shear', got {self.deformation!r}")
        if isinstance(self.cells, bool) or not isinstance(self.cells, int) or self.cells < 1:
            raise ValueError(f"{name}: `cells` must be an int >= 1, got {self.cells!r}")
        for field, value in (("density", self.density), ("cutoff", self.cutoff), ("dt", self.dt)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name}: `{field}` must be a positive number, got {value!r}")
        for field, value in (("skin", self.skin), ("friction", self.friction)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"{name}: `{field}` must be >= 0, got {value!r}")
        if self.thermostat not in ("langevin", "nve"):
            raise ValueError(f"{name}: `thermostat` must be 'langevin' or 'nve', got {self.thermostat!r}")
        if self.thermostat == "langevin" and self.friction <= 0:
            raise ValueError(f"{name}: `friction` must be > 0 with the Langevin thermostat")
        for field in ("sample_every", "blocks"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if field == "sample_every" else 2):
                raise ValueError(f"{name}: `{field}` must be an int >= {1 if field == 'sample_every' else 2}, got {value!r}")
        obs = tuple(self.observables)
        bad = [o for o in obs if o not in OBSERVABLES]
        if not obs or bad:
            raise ValueError(f"{name}: `observables` must be a non-empty tuple from {OBSERVABLES}, got {bad or obs}")
        object.__setattr__(self, "observables", obs)
        side = self.reference_box_length
        if self.cutoff + self.skin > 0.5 * side:
            raise ValueError(f"{name}: `cutoff` + `skin` = {self.cutoff + self.skin:g} exceeds half the "
                             f"box side {0.5 * side:g}; use more `cells` or a smaller cutoff")

    @property
    def outputs(self) -> tuple[str, ...]:
        return self.observables

    @property
    def lattice_constant(self) -> float:
        """Cubic fcc lattice constant of the reference state, (4 / density)^(1/3)."""
        return (4.0 / self.density) ** (1.0 / 3.0)

    @property
    def reference_box_length(self) -> float:
        return self.cells * self.lattice_constant

    @property
    def n_atoms(self) -> int:
        return 4 * self.cells**3

    def system(self, strain: float = 0.0, temperature: float = 0.0, seed: int = 0, shear: float = 0.0) -> LJSystem:
        """The strained (uniaxial ``strain`` along x, then simple ``shear`` gamma)
        reference lattice as an :class:`LJSystem`, velocities drawn from
        Maxwell-Boltzmann at ``temperature`` (zero net momentum)."""
        pos, box = fcc_lattice((self.cells,) * 3, self.lattice_constant)
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
                raise ValueError(f"{name}.run(): `state` must be [shear_strain, temperature], got shape {state.shape}")
            shear = float(state[0])
            if not (math.isfinite(shear) and abs(shear) <= 1.0):
                raise ValueError(f"{name}.run(): `shear_strain` must be in [-1, 1], got {shear}")
            _, temperature = parse_state(name, [0.0, state[1]])
            strain = 0.0
        else:
            (strain, temperature), shear = parse_state(name, state), 0.0
        box_min = min(self.reference_box_length * (1.0 + strain), self.reference_box_length)
        g = abs(shear)
        reach = (self.cutoff + self.skin) * 0.5 * (g + math.sqrt(g * g + 4.0))
        if reach > 0.5 * box_min:
            raise ValueError(f"{name}.run(): at strain {strain}, shear {shear} the box side {box_min:g} is less "
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

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One micro simulation at ``state = [strain, temperature]``; see the class doc."""
        start = time.perf_counter()
        strain, shear, temperature = self._check_state(state)
        if temperature == 0.0:
            sysm = self.system(strain, 0.0, seed, shear)
            values = self._reduce(sysm.static()[None, :], sysm.volume, sysm.n_atoms, 3 * sysm.n_atoms)[0]
            return Estimate(values, np.zeros_like(values), math.inf, time.perf_counter() - start,
                            {"n_atoms": sysm.n_atoms, "static": True})
        n_eq = budget.equilibration_steps or DEFAULT_EQUILIBRATION_STEPS
        n_samp = budget.sampling_steps or DEFAULT_SAMPLING_STEPS
        if n_samp // self.sample_every < 2 * self.blocks:
            raise ValueError(f"{type(self).__name__}.run(): budget.sampling_steps = {n_samp} gives fewer than "
                             f"2 * blocks = {2 * self.blocks} samples at sample_every = {self.sample_every}")
        friction = self.friction if self.thermostat == "langevin" else 0.0
        means, errors, n_effs, rebuilds = [], [], [], 0
        for r, child in enumerate(np.random.SeedSequence(seed).spawn(budget.replicas)):
            sysm = self.system(strain, temperature, int(child.generate_state(1)[0]), shear)
            dof = 3 * sysm.n_atoms - (3 if friction == 0.0 else 0)
            deadline = None if budget.max_wall_s is None else start + budget.max_wall_s * (r + 1) / budget.replicas
            try:
                sysm.run(n_eq, friction=friction, temperature=temperature, sample_every=0)
                samples = sysm.run(n_samp, friction=friction, temperature=temperature,
                                   sample_every=self.sample_every, deadline=deadline)
            except FloatingPointError as exc:
                raise RuntimeError(f"{type(self).__name__}: run at strain={strain}, temperature={temperature} "
                                   f"(seed {seed}) became non-finite: {exc}; dt={self.dt} is likely too large") from None
            rebuilds += sysm.rebuilds
            values = self._reduce(samples, sysm.volume, sysm.n_atoms, dof)
            m, se, n_eff = block_average(values, min(self.blocks, len(values) // 2))
            means.append(m), errors.append(se), n_effs.append(n_eff)
        mean = np.mean(means, axis=0)
        stderr = np.sqrt(np.sum(np.square(errors), axis=0)) / len(means)
        return Estimate(mean, stderr, float(np.sum(np.min(n_effs, axis=1))), time.perf_counter() - start,
                        {"n_atoms": self.n_atoms, "blocks": self.blocks, "replicas": budget.replicas,
                         "rebuilds": rebuilds, "dof": len(means) * (self.blocks - 1)})


def mean_squared_displacement(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """MSD(lag) for lags 0..max_lag from unwrapped frames (n_frames, n, d),
    averaged over atoms and all time origins, centre-of-mass drift removed."""
    frames = np.asarray(frames, dtype=float)
    frames = frames - frames.mean(axis=1, keepdims=True)
    msd = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):  # a loop over lags; atoms and origins are vectorised
        msd[lag] = np.mean(np.sum((frames[lag:] - frames[:-lag]) ** 2, axis=-1))
    return msd


def diffusion_coefficient(frames: np.ndarray, frame_dt: float, *, blocks: int = 8,
                          fit_from: float = 0.3) -> tuple[float, float]:
    """Self-diffusion coefficient by the Einstein relation, MSD(t) ~ 2 d D t.

    The trajectory (n_frames, n, d) is cut into ``blocks`` consecutive
    segments; in each, D is the slope of MSD over lags from ``fit_from`` to 1
    times a quarter of the segment length, divided by 2 d. Returns the mean
    over blocks and its stderr (blocks are nearly independent when a segment
    is much longer than the velocity correlation time).
    """
    frames = np.asarray(frames, dtype=float)
    length = len(frames) // blocks
    max_lag = length // 4
    lo = max(1, int(fit_from * max_lag))
    if max_lag - lo < 2:
        raise ValueError(f"diffusion_coefficient(): {len(frames)} frames are too few for {blocks} blocks")
    lags = np.arange(lo, max_lag + 1) * frame_dt
    d = frames.shape[-1]
    slopes = [np.polyfit(lags, mean_squared_displacement(frames[b * length:(b + 1) * length], max_lag)[lo:], 1)[0]
              for b in range(blocks)]
    slopes = np.asarray(slopes) / (2 * d)
    return float(slopes.mean()), float(slopes.std(ddof=1) / math.sqrt(blocks))


def trajectory(system: LJSystem, n_frames: int, frame_every: int, *, friction: float = 0.0,
               temperature: float = 0.0) -> np.ndarray:
    """Unwrapped positions (n_frames, n, 3) every ``frame_every`` steps."""
    frames = np.empty((n_frames, system.n_atoms, 3))
    for k in range(n_frames):
        system.run(frame_every, friction=friction, temperature=temperature, sample_every=0)
        frames[k] = system.unwrapped()
    return frames


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
        n_eq = budget.equilibration_steps or DEFAULT_EQUILIBRATION_STEPS
        n_samp = budget.sampling_steps or DEFAULT_SAMPLING_STEPS
        rng = np.random.default_rng(np.random.SeedSequence(seed))
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
        return Estimate(m, se, float(n_eff[0]), time.perf_counter() - start, {"blocks": self.blocks})


