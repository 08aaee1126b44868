"""The Lennard-Jones MD engine: fcc lattices, :class:`LJSystem` (cell-sorted half Verlet
lists, fused velocity Verlet / Langevin BAOAB, simple shear), trajectories and the slow
all-pairs NumPy reference.

Reduced LJ units (sigma, epsilon, m, k_B = 1); physics and conventions in
:mod:`oracles.md.stress` and :mod:`oracles.md._kernels`. Exported by :mod:`oracles.md`.
"""

from __future__ import annotations

import math
import time

import numpy as np

from hmm.contract import OracleSetupError

from . import _kernels as K


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
        raise OracleSetupError(f"fcc_lattice(): `orientation` must be '100' or '110', got {orientation!r}")
    grid = np.stack(np.meshgrid(*[np.arange(c) for c in cells], indexing="ij"), -1).reshape(-1, 1, 3)
    pos = ((grid + basis[None]) * edges).reshape(-1, 3)
    return np.ascontiguousarray(pos, dtype=np.float64), edges * np.asarray(cells, dtype=float)


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
    cutoff, skin, shift, dt : see :class:`LJStress`.
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
            raise OracleSetupError("LJSystem: positions/velocities must have shape (n, 3) and box (3,)")
        self.shear = float(shear)
        if not math.isfinite(self.shear):
            raise OracleSetupError(f"LJSystem: `shear` must be finite, got {shear!r}")
        g = abs(self.shear)
        self.stretch = 0.5 * (g + math.sqrt(g * g + 4.0))  # ||F^-1||_2 of the simple shear
        if (cutoff + skin) * self.stretch > 0.5 * self.box.min():
            raise OracleSetupError(f"LJSystem: (cutoff + skin) ||F^-1|| = {(cutoff + skin) * self.stretch:g} exceeds half "
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


def trajectory(system: LJSystem, n_frames: int, frame_every: int, *, friction: float = 0.0,
               temperature: float = 0.0) -> np.ndarray:
    """Unwrapped positions (n_frames, n, 3) every ``frame_every`` steps."""
    frames = np.empty((n_frames, system.n_atoms, 3))
    for k in range(n_frames):
        system.run(frame_every, friction=friction, temperature=temperature, sample_every=0)
        frames[k] = system.unwrapped()
    return frames
