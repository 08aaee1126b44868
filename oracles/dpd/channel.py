r"""Direct DPD of a whole channel between two walls: Poiseuille and start-up flow.

The fluid of a :class:`~oracles.dpd.DPD` configuration (same beads, forces,
integrator and units: rc, kT, bead mass 1) fills the slab ``0 <= y' <= H``
(``y' = y - y_lo``) of a box periodic in x and z. Each wall is a layer of
frozen beads at the fluid's density, ``wall_thickness >= rc`` thick, placed
uniformly at random beyond the wall plane; fluid-wall pairs interact through
the same conservative, dissipative and random forces as fluid pairs (with
the wall beads' velocity zero), so the walls also thermostat the fluid. A
fluid bead that crosses a wall plane is bounced back (it retraces its path
to the plane with its velocity reversed), which keeps every bead inside and
enforces no slip on average (Revenga, Zuniga & Espanol, Comput. Phys.
Commun. 121, 309, 1999; Pivkin & Karniadakis, J. Comput. Phys. 207, 114,
2005). Without the adaptive wall force of Pivkin & Karniadakis the density
dips within about rc of the walls; the profile is what it is, and the
effective no-slip plane is measured (:func:`fit_parabola`) rather than assumed.

A body force g per bead (DPD units kT / rc) along x drives plane Poiseuille
flow, ``rho du/dt = d tau/dy + rho g``; for a Newtonian fluid of viscosity
eta the steady profile is

.. math:: u(y') = \frac{\rho g}{2 \eta}\,(y' + \delta)(H + \delta - y'),

with delta the distance of the effective no-slip plane beyond each wall
plane (slip length; 0 for perfect no slip at the planes).

Profiles (:mod:`oracles.dpd.profiles`) are binned in y' over the fluid slab; standard errors come from
block averaging (:func:`oracles.dpd.block_estimate`) of profiles taken over
consecutive chunks of the run. All loops over beads are numba kernels
(:mod:`oracles.dpd._wall_kernels` reusing the periodic pair and bond kernels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from hmm.contract import OracleRunError, OracleSetupError

from .._validate import check_int, check_positive
from . import _kernels as K
from . import _wall_kernels as W
from .engine import DPDSystem
from .oracle import DPD


@dataclass(frozen=True)
class WalledChannel:
    """Plane channel of a DPD fluid between frozen-bead walls, driven by a body force.

    Parameters (DPD units: rc, kT, bead mass 1)
    ----------
    fluid : DPD
        The fluid (its ``box`` is ignored; density, forces, chains, dt, lambda and
        integrator are used).
    width : float
        H, distance between the two wall planes (>= 4 rc).
    length, depth : float
        Periodic box edges Lx (flow direction) and Lz (>= 4 rc each).
    wall_thickness : float
        Thickness of each frozen-bead layer (>= rc, so that a fluid bead
        feels the whole wall and never the other wall through the periodic y
        boundary).
    body_force : float
        g >= 0, force per fluid bead along +x (force per volume rho g).
    wall_type : int
        Bead type of the wall beads (their a_ij with the fluid types).
    wall_speed : float
        U: the lower wall moves along x at -U/2 and the upper at +U/2 (plane
        Couette flow of nominal shear rate U / H; 0: walls at rest). Moving
        walls carry their beads along. The box has an empty layer of rc in y
        beyond the upper wall so that the two walls never interact through
        the periodic boundary (their forces on each other would otherwise
        enter the wall stresses).
    """

    fluid: DPD = field(default_factory=DPD)
    width: float = 10.0
    length: float = 6.0
    depth: float = 6.0
    wall_thickness: float = 1.0
    body_force: float = 0.0
    wall_type: int = 0
    wall_speed: float = 0.0

    def __post_init__(self) -> None:
        if not isinstance(self.fluid, DPD):
            raise TypeError(f"WalledChannel: `fluid` must be an oracles.DPD fluid (DPDShearStress), got "
                            f"{type(self.fluid).__name__}")
        rc = self.fluid.rc
        for name in ("width", "length", "depth"):
            value = check_positive(getattr(self, name), name, "WalledChannel")
            if value < 4 * rc:
                raise OracleSetupError(f"WalledChannel: `{name}` must be >= 4 rc = {4 * rc} (cell list), got {value}")
        if check_positive(self.wall_thickness, "wall_thickness", "WalledChannel") < rc:
            raise OracleSetupError(f"WalledChannel: `wall_thickness` must be >= rc = {rc} (a fluid bead must see a "
                             f"whole wall), got {self.wall_thickness}")
        check_positive(self.body_force, "body_force", "WalledChannel", allow_zero=True)
        check_int(self.wall_type, "wall_type", "WalledChannel")
        if not math.isfinite(self.wall_speed) or abs(self.wall_speed) * self.fluid.dt > 0.5 * rc:
            raise OracleSetupError(f"WalledChannel: |`wall_speed`| must be finite and at most 0.5 rc / dt = "
                             f"{0.5 * rc / self.fluid.dt:g} (a wall may not move half a cutoff per step), "
                             f"got {self.wall_speed}")
        if not 0 <= self.wall_type < self.fluid.a_ij.shape[0]:
            raise OracleSetupError(f"WalledChannel: `wall_type` must be a bead type in [0, {self.fluid.a_ij.shape[0]}), "
                             f"got {self.wall_type}")
        n = self.fluid.density * self.length * self.depth * (self.width + 2 * self.wall_thickness)
        if n > 4_000_000:
            raise OracleSetupError(f"WalledChannel: {n:.0f} beads exceed the cell-list memory limit of 4e6")

    @property
    def wall_gap(self) -> float:
        """Empty y layer of rc between the upper wall and the periodic image of the lower one.

        Without it the two frozen random walls would push on each other with a
        fixed conservative force that shifts the stress carried by each wall
        (not their sum)."""
        return self.fluid.rc

    @property
    def box(self) -> tuple[float, float, float]:
        """(Lx, H + 2 wall_thickness + wall_gap, Lz)."""
        return (self.length, self.width + 2 * self.wall_thickness + self.wall_gap, self.depth)

    @property
    def wall_area(self) -> float:
        """Lx Lz, the area of each wall plane."""
        return self.length * self.depth

    @property
    def force_density(self) -> float:
        """rho g, the body force per volume (the macro source term)."""
        return self.fluid.density * self.body_force

    def system(self, *, seed: int = 0) -> "ChannelSystem":
        return ChannelSystem(self, seed=seed)


def _fold(y: np.ndarray, h: float) -> np.ndarray:
    """Reflect y into [0, h] (triangle wave; 1-Lipschitz, so bonds do not stretch)."""
    t = np.mod(y, 2 * h)
    return np.where(t > h, 2 * h - t, t)


class ChannelSystem:
    """A mutable walled-channel configuration and its buffers.

    The fluid starts as :class:`~oracles.dpd.DPDSystem` would start it in the
    box (Lx, H, Lz) (chains random walks, then reflected into the slab), the
    wall beads uniformly in their layers. ``body_force`` may be changed
    between calls of :meth:`advance` (start-up from rest).
    """

    def __init__(self, channel: WalledChannel, *, seed: int = 0):
        self.channel, self.seed = channel, int(seed) % 2**63
        cfg = channel.fluid
        w, h = channel.wall_thickness, channel.width
        fluid = DPDSystem(replace(cfg, box=(channel.length, h, channel.depth)), seed=self.seed)
        order = np.argsort(fluid.ids)
        pos, vel, types = fluid.pos[order], fluid.vel[order], fluid.types[order]
        self.bonds = fluid.bonds
        if len(self.bonds):
            n_chain = len(self.bonds) // (cfg.chain_length - 1)
            y = pos[:n_chain * cfg.chain_length, 1].reshape(n_chain, cfg.chain_length)
            step = np.diff(y, axis=1)
            step -= h * np.round(step / h)  # unwrap the periodic random walk in y
            y = np.concatenate([y[:, :1], y[:, :1] + np.cumsum(step, axis=1)], axis=1)
            pos[:n_chain * cfg.chain_length, 1] = _fold(y, h).ravel()
        pos[:, 1] += w
        rng = np.random.default_rng([self.seed, 1])
        n_wall = int(round(cfg.density * channel.length * channel.depth * w))
        walls = rng.uniform(0.0, 1.0, (2 * n_wall, 3)) * [channel.length, w, channel.depth]
        walls[n_wall:, 1] += h + w
        self.n_fluid = n_fluid = len(pos)
        self.n = n = n_fluid + 2 * n_wall
        self.y_lo, self.y_hi = w, w + h
        self.box = np.array(channel.box, dtype=float)
        self.pos = np.ascontiguousarray(np.vstack([pos, walls]))
        wall_vel = np.zeros((2 * n_wall, 3))
        self.wall_velocity = (-0.5 * channel.wall_speed, 0.5 * channel.wall_speed)
        wall_vel[:n_wall, 0], wall_vel[n_wall:, 0] = self.wall_velocity
        self.vel = np.vstack([vel, wall_vel])
        self.force = np.zeros((n, 3))
        self.ids = np.arange(n, dtype=np.int64)
        self.types = np.concatenate([types, np.full(2 * n_wall, channel.wall_type, np.int64)])
        use_vt = cfg.vv_lambda != 0.5
        self.vtilde = np.zeros((n if use_vt else 0, 3))
        self._buffers = (np.empty((n, 3)), np.empty((n, 3)), np.empty((n if use_vt else 0, 3)),
                         np.empty(n, np.int64), np.empty(n, np.int64))
        self.slot_of, self.cell_of = np.empty(n, np.int64), np.empty(n, np.int64)
        self.ncell = np.maximum((self.box / cfg.rc).astype(np.int64), 3)
        self.cell_start = np.zeros(int(np.prod(self.ncell)) + 1, np.int64)
        self.cursor = np.zeros(int(np.prod(self.ncell)), np.int64)
        self.a_mat = np.ascontiguousarray(cfg.a_ij)
        self.body_force = float(channel.body_force)
        self.istate = np.zeros(W.N_ISTATE, np.int64)
        self.wall_x = np.zeros(2)  # summed x force of the fluid on (lower, upper) wall, one term per step
        vv = cfg.integrator == "dpd-vv"
        self._dpd_vv = (vv, np.zeros((n if vv else 0, 3)), np.zeros((n if vv else 0, 3)))
        self._scratch = (np.zeros(K.MAX_NEIGHBOUR_CELLS, np.int64), np.zeros(K.MAX_NEIGHBOUR_CELLS, np.int64),
                         np.zeros((K.MAX_NEIGHBOUR_CELLS, 4)))
        self._initial_forces()

    def _initial_forces(self) -> None:
        """Sort by cell and evaluate F(t) with v~ = v, as the integrator expects."""
        cfg = self.channel.fluid
        pb, vb, tb, ib, yb = self._buffers
        K.sort_by_cell(self.pos, self.vel, self.ids, self.types, self.vtilde, pb, vb, ib, yb, tb, self.slot_of,
                       self.cell_of, self.cell_start, self.cursor, self.ncell, self.box, self.vtilde.size > 0)
        self.pos, self.vel, self.ids, self.types, self.vtilde, self._buffers = (
            pb, vb, ib, yb, tb, (self.pos, self.vel, self.vtilde, self.ids, self.types))
        row = np.zeros(K.N_OBS)
        K.pair_forces(self.pos, self.vel, self.ids, self.types, self.cell_start, self.ncell, self.box, 0.0, 0.0,
                      self.a_mat, cfg.gamma, cfg.sigma * math.sqrt(3 / cfg.dt), cfg.rc,
                      np.uint64(K.step_key(self.seed, 0)), self.force, row, False, *self._scratch)
        if len(self.bonds):
            K.bond_forces(self.pos, self.slot_of, self.bonds, self.box, 0.0, cfg.bond_k, cfg.bond_r0,
                          cfg.fene_rmax if cfg.bond == "fene" else 0.0, self.force, row, False)
        self.force[self.ids < self.n_fluid, 0] += self.body_force

    @property
    def step(self) -> int:
        return int(self.istate[W.I_STEP])

    @property
    def bounces(self) -> int:
        """Bounce-back reflections so far."""
        return int(self.istate[W.I_BOUNCES])

    @property
    def leaks(self) -> int:
        """Beads found outside the fluid slab after their bounce (should stay 0)."""
        return int(self.istate[W.I_LEAKS])

    def fluid_positions(self) -> np.ndarray:
        """Positions of the fluid beads (n_fluid, 3), bead-id order."""
        keep = self.ids < self.n_fluid
        return self.pos[keep][np.argsort(self.ids[keep])]

    def advance(self, nsteps: int, *, sample_every: int = 0, profile_bins: int = 0):
        """Run ``nsteps`` steps; return (rows (n_samples, 4) of fluid sums of
        v_x^2, v_y^2, v_z^2, v_x; profile (profile_bins, 5) of bead count and
        sums of v_x, v_x^2, v_y^2, v_z^2 per y bin over the samples)."""
        cfg = self.channel.fluid
        n_samples = nsteps // sample_every if sample_every else 0
        obs = np.zeros((n_samples, W.N_SAMPLE))
        profile = np.zeros((profile_bins, W.N_PROFILE))
        self.istate[W.I_SAMPLES] = 0
        pb, vb, tb, ib, yb = self._buffers
        status = W.run_channel_steps(
            self.pos, self.vel, self.force, self.vtilde, self.ids, self.types, self.slot_of, self.bonds, self.a_mat,
            pb, vb, tb, ib, yb, self.cell_of, self.cell_start, self.cursor, self.ncell, self.box, self.n_fluid,
            self.y_lo, self.y_hi, cfg.rc, cfg.dt, cfg.gamma, cfg.sigma, cfg.vv_lambda, self.body_force, cfg.bond_k,
            cfg.bond_r0, cfg.fene_rmax if cfg.bond == "fene" else 0.0, self.istate, self.seed, int(nsteps),
            int(sample_every), obs, profile, self.wall_velocity[0], self.wall_velocity[1], self.wall_x,
            *self._dpd_vv, *self._scratch)
        if status != K.OK:
            what = "a FENE bond reached r_max" if status == K.BOND_BROKEN else "non-finite velocities"
            raise OracleRunError(f"walled DPD channel: {what} at step {self.step} (dt={cfg.dt} too large, "
                               f"body_force={self.body_force} too strong or bad parameters)")
        return obs[:self.istate[W.I_SAMPLES]], profile

    def temperature_series(self, nsteps: int, sample_every: int = 1) -> np.ndarray:
        """Kinetic temperature sum v^2 / (3 N_fluid) per sample (no flow subtracted:
        for a fluid at rest; walls break momentum conservation, so 3 N_fluid dof)."""
        obs, _ = self.advance(nsteps, sample_every=sample_every)
        return obs[:, :3].sum(axis=1) / (3.0 * self.n_fluid)


# the profile sampling and fits live in oracles.dpd.profiles; their names stay importable from here
from .profiles import PROFILE_CHUNK, fit_parabola, parabola, sample_chunks, startup_profiles, steady_profile  # noqa: E402,F401
