r"""Numba time loop of DPD between two walls (see :mod:`oracles.dpd.channel`).

The beads live in an orthorhombic box (Lx, Ly, Lz), periodic in x and z.
The fluid occupies ``y_lo <= y <= y_hi``; the slabs below ``y_lo`` and above
``y_hi`` hold frozen wall beads (ids ``>= n_fluid``, velocity 0, never
moved). All pair forces -- fluid-fluid, fluid-wall and the unused wall-wall
ones -- come from the periodic kernels of :mod:`oracles.dpd._kernels`
(``pair_forces`` with zero shear, ``bond_forces``, ``sort_by_cell``); the
wall slabs are at least rc thick, so a fluid bead never sees the other
wall's slab through the periodic y boundary. A fluid bead that crosses a
wall plane during the drift is bounced back: it retraces its path to the
plane and its velocity is reversed, v -> -v (Revenga, Zuniga & Espanol,
Comput. Phys. Commun. 121, 309, 1999; Pivkin & Karniadakis, J. Comput.
Phys. 207, 114, 2005). A uniform body force ``body`` along x acts on every
fluid bead (force per bead, DPD units kT / rc).

Profile accumulators per y bin of the fluid slab (``profile[b]``): bead
count, sum v_x, sum v_x^2, sum v_y^2, sum v_z^2 over the samples.
Per-sample rows (``obs``): sum over fluid beads of v_x^2, v_y^2, v_z^2, v_x.

Moving walls (Couette): the wall beads of the lower and upper slab carry the
x velocities ``u_lo`` and ``u_hi`` and are translated along x with them
(their random arrangement moves with the wall, so the fluid meets a moving
wall, not a static corrugation); the dissipative forces see that velocity and
the bounce-back reverses the bead's velocity *relative to the wall*,
v -> 2 U_wall - v. Wall momentum accounting (``wall_x``, accumulated every
step): the x force of the fluid on each wall, i.e. the pair forces on its
beads plus the bounce-back impulses / dt, summed over steps. Its time mean
divided by the wall area is the shear stress the wall carries (the caller
must keep the two walls out of each other's reach through the periodic y
boundary, or their mutual forces enter too).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._kernels import (
    N_OBS,
    NOT_FINITE,
    OK,
    bond_forces,
    copy_home,
    dissipative_forces,
    pair_forces,
    sort_swap,
    step_key,
    wrap_xz,
)

N_PROFILE = 5  # count, sum vx, sum vx^2, sum vy^2, sum vz^2
N_SAMPLE = 4  # sum vx^2, vy^2, vz^2, vx over fluid beads
I_STEP, I_SAMPLES, I_BOUNCES, I_LEAKS = range(4)
N_ISTATE = 4
WALL_LO, WALL_HI = 0, 1  # rows of ``wall_x``


@njit(cache=True)
def run_channel_steps(pos, vel, force, vtilde, ids, types, slot_of, bonds, a_mat, pos_b, vel_b, vtilde_b, ids_b,
                      types_b, cell_of, cell_start, cursor, ncell, box, n_fluid, y_lo, y_hi, rc, dt, gamma, sigma,
                      lam, body, bond_k, bond_r0, bond_rmax, istate, seed, nsteps, sample_every, obs, profile,
                      u_lo, u_hi, wall_x, dpd_vv, dv, dforce, lo, hi, shift) -> int:
    """Advance ``nsteps`` modified velocity Verlet steps (Groot & Warren) of the
    fluid beads; wall beads stay put. ``force`` must hold F(t) on entry.

    ``istate`` = [step, samples written, bounces, leaks] is updated (a leak
    is a bead still outside the fluid slab after its bounce, put back on the
    plane; it cannot happen unless |v| dt exceeds the channel width). Every
    ``sample_every`` steps (0: never) a row of ``obs`` (if room) and the
    ``profile`` bins are filled. Wall beads move along x with ``u_lo`` /
    ``u_hi`` (their ``vel`` must hold that velocity); ``wall_x`` (2,)
    accumulates the x force of the fluid on each wall per step (pair forces
    plus bounce-back impulses / dt). Returns OK, NOT_FINITE or BOND_BROKEN.

    ``dpd_vv`` (lambda = 1/2 only): after the second half-kick the dissipative
    forces are brought up to v(t + dt) (Besold et al., Phys. Rev. E 62,
    R7611, 2000) as in :func:`oracles.dpd._kernels.run_steps`: the
    dissipative force of the velocity change ``dv`` = dt F / 2 of the fluid
    beads (0 for the wall beads, whose velocity is imposed) is added, from
    scratch ``dforce``; both (n, 3). The wall stress then counts the mean of
    the forces of the two half-kicks, pair forces + dforce / 2.
    """
    n = pos.shape[0]
    lx, lz = box[0], box[2]
    half, noise = 0.5 * dt, sigma * math.sqrt(3.0 / dt)
    use_vt = lam != 0.5
    moving = u_lo != 0.0 or u_hi != 0.0
    nbins = profile.shape[0]
    bin_scale = nbins / (y_hi - y_lo)
    row = np.zeros(N_OBS)
    status = OK
    swapped = False
    for _ in range(nsteps):
        step = istate[I_STEP] + 1
        for i in range(n):
            if ids[i] >= n_fluid:
                if moving:  # wall beads ride with their wall
                    pos[i, 0] += dt * vel[i, 0]
                    wrap_xz(pos, vel, force, vtilde, i, lx, lz, False, 0.0)
                    if use_vt:
                        for d in range(3):
                            vtilde[i, d] = vel[i, d]
                continue
            for d in range(3):
                vel[i, d] += half * force[i, d]
                pos[i, d] += dt * vel[i, d]
            y = pos[i, 1]
            if y < y_lo or y > y_hi:
                low = y < y_lo
                plane = y_lo if low else y_hi
                wall_u = u_lo if low else u_hi
                t_beyond = (y - plane) / vel[i, 1]
                # back to the plane, then on with the velocity reversed relative to the wall
                pos[i, 0] -= 2.0 * t_beyond * (vel[i, 0] - wall_u)
                pos[i, 1] -= 2.0 * t_beyond * vel[i, 1]
                pos[i, 2] -= 2.0 * t_beyond * vel[i, 2]
                wall_x[WALL_LO if low else WALL_HI] += 2.0 * (vel[i, 0] - wall_u) / dt
                vel[i, 0] = 2.0 * wall_u - vel[i, 0]
                vel[i, 1] = -vel[i, 1]
                vel[i, 2] = -vel[i, 2]
                istate[I_BOUNCES] += 1
                if pos[i, 1] < y_lo or pos[i, 1] > y_hi:
                    pos[i, 1] = min(max(pos[i, 1], y_lo), y_hi)
                    istate[I_LEAKS] += 1
            wrap_xz(pos, vel, force, vtilde, i, lx, lz, use_vt, (lam - 0.5) * dt)
        pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b = sort_swap(
            pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, slot_of, cell_of, cell_start,
            cursor, ncell, box, use_vt)
        swapped = not swapped
        pair_forces(pos, vtilde if use_vt else vel, ids, types, cell_start, ncell, box, 0.0, 0.0, a_mat, gamma,
                    noise, rc, step_key(seed, step), force, row, False, lo, hi, shift)
        if bonds.shape[0] > 0:
            status = bond_forces(pos, slot_of, bonds, box, 0.0, bond_k, bond_r0, bond_rmax, force, row, False)
            if status != OK:
                break
        v2 = 0.0
        for i in range(n):
            if ids[i] >= n_fluid:
                wall_x[WALL_LO if pos[i, 1] < y_lo else WALL_HI] += force[i, 0]
                continue
            force[i, 0] += body
            for d in range(3):
                vel[i, d] += half * force[i, d]
                v2 += vel[i, d] * vel[i, d]
        if dpd_vv:  # F_D(v(t + dt)) - F_D(v~) = F_D of the velocity change (linear in v); walls do not change
            for i in range(n):
                fluid = ids[i] < n_fluid
                for d in range(3):
                    dv[i, d] = force[i, d] if fluid else 0.0
            dissipative_forces(pos, dv, cell_start, ncell, box, 0.0, 0.0, gamma * half, rc, dforce, row, False,
                               lo, hi, shift)
            for i in range(n):
                for d in range(3):
                    force[i, d] += dforce[i, d]
                if ids[i] >= n_fluid:
                    wall_x[WALL_LO if pos[i, 1] < y_lo else WALL_HI] += 0.5 * dforce[i, 0]
        istate[I_STEP] = step
        if not math.isfinite(v2):
            status = NOT_FINITE
            break
        if sample_every > 0 and step % sample_every == 0:
            sxx = syy = szz = sx = 0.0
            for i in range(n):
                if ids[i] >= n_fluid:
                    continue
                vx, vy, vz = vel[i, 0], vel[i, 1], vel[i, 2]
                sxx += vx * vx
                syy += vy * vy
                szz += vz * vz
                sx += vx
                if nbins > 0:
                    b = min(max(int((pos[i, 1] - y_lo) * bin_scale), 0), nbins - 1)
                    profile[b, 0] += 1.0
                    profile[b, 1] += vx
                    profile[b, 2] += vx * vx
                    profile[b, 3] += vy * vy
                    profile[b, 4] += vz * vz
            k = istate[I_SAMPLES]
            if k < obs.shape[0]:
                obs[k, 0], obs[k, 1], obs[k, 2], obs[k, 3] = sxx, syy, szz, sx
                istate[I_SAMPLES] = k + 1
    if swapped:  # the data live in the caller's buffers: copy them home
        copy_home(pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, use_vt)
    return status
