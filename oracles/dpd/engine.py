"""The DPD engine: :class:`DPDSystem` (beads, cell lists, Lees-Edwards images and the
numba time loop behind :class:`~oracles.dpd.DPD`) and the per-sample observables.

DPD units (rc, kT, bead mass 1); the physics is in :mod:`oracles.dpd.oracle`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from hmm.contract import OracleRunError

from . import _kernels as K

if TYPE_CHECKING:
    from .oracle import DPD


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
        :func:`~oracles.dpd._kernels.dissipative_forces` pass (tests, DPD-VV)."""
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
            raise OracleRunError(f"DPD at shear_rate={self.shear_rate}: {what} at step {self.step} "
                               f"(dt={self.config.dt} too large or bad parameters)")
        return obs[:self.istate[1]], profile
