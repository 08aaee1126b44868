r"""Numba kernels of the DPD oracle (see :mod:`oracles.dpd`).

DPD units throughout: bead mass m = 1, cutoff rc, energy kT. For a pair at
distance r < rc with unit vector e = r_ij / r and w = 1 - r / rc the force on
bead i is (Groot & Warren, J. Chem. Phys. 107, 4423, 1997)

    F_ij = [a_ij w - gamma w^2 (e . v_ij) + sigma w theta_ij / sqrt(dt)] e,

with theta_ij = theta_ji of zero mean and unit variance. theta is a uniform
variate on [-sqrt 3, sqrt 3) (Groot & Warren note a uniform distribution
suffices) taken from a counter-based hash of (seed, step, min id, max id):
it depends neither on the loop order nor on the cell sorting, so a run is
reproducible from its seed and each pair's number is symmetric by
construction.

Layout: ``pos``, ``vel``, ``force`` are float64 (n, 3) in an orthorhombic box
``box = (Lx, Ly, Lz)`` with Lees-Edwards images in y: the image of bead j
above the box sits at x_j + ``offset`` and moves with v_x + shear_rate Ly.
Every step the beads are wrapped, counting-sorted by cell (cell side >= rc)
and the arrays permuted into cell order (``ids`` follows the permutation,
``slot_of[id]`` is its inverse for the bonds). Pairs are visited once: the
own cell plus a half stencil of 13 neighbour cells (dy = +1: 9 cells, dy = 0,
dz = +1: 3, dx = +1: 1); across the top y boundary the 3 x-neighbours become
the 4 cells that the Lees-Edwards shift makes adjacent.

DPD-VV (``run_steps`` with ``fparams[F_DPDVV]`` = 1) adds one pass per step,
:func:`dissipative_forces`, over the same stencil: the dissipative force of a
velocity field alone, used to move F_D from the half-kicked to the full-step
velocities; the pair random numbers are not drawn again.

Observables per sample row (``N_OBS`` columns): K (6), W_c, W_d, W_r, W_b
(6 each) and the conservative energy U_c, with tensors ordered xx, yy, zz,
xy, xz, yz; K = sum v' v' with the peculiar velocity v'_x = v_x -
shear_rate (y - Ly / 2) and W = sum_pairs r_ij F_ij for the conservative,
dissipative, random and bond forces. The pressure tensor is (K + W) / V.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

OK, NOT_FINITE, BOND_BROKEN = 0, 1, 2
N_OBS = 31
K0, WC0, WD0, WR0, WB0, UC = 0, 6, 12, 18, 24, 30
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_SALT = np.uint64(0xD1B54A32D192ED03)
_S11, _S27, _S30, _S31, _S32 = (np.uint64(k) for k in (11, 27, 30, 31, 32))
_INV_2_52 = 2.0**-52
MAX_NEIGHBOUR_CELLS = 17  # own cell + 12 (dy=+1 across the shifted boundary) + 3 + 1


@njit(cache=True, inline="always")
def _mix64(z):
    """Stafford's 'Mix13' 64-bit finaliser (the output function of splitmix64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def step_key(seed: int, step: int):
    """The per-step key of the pair noise, a hash of (seed, step)."""
    return _mix64(_mix64(np.uint64(seed) ^ _SALT) + np.uint64(step) * _GOLDEN)


@njit(cache=True, inline="always")
def pair_uniform(key, id_i, id_j) -> float:
    """Uniform variate on [-1, 1) of the unordered pair {id_i, id_j} at this step key."""
    lo, hi = (id_i, id_j) if id_i < id_j else (id_j, id_i)
    z = _mix64(key ^ (((np.uint64(lo) << _S32) | np.uint64(hi)) * _GOLDEN))
    return (z >> _S11) * _INV_2_52 - 1.0


@njit(cache=True)
def pair_uniforms(key, id_i: np.ndarray, id_j: np.ndarray) -> np.ndarray:
    """Vector form of :func:`pair_uniform` (for the NumPy reference and tests)."""
    out = np.empty(id_i.size)
    for k in range(id_i.size):
        out[k] = pair_uniform(key, id_i[k], id_j[k])
    return out


@njit(cache=True)
def sort_by_cell(pos, vel, ids, types, extra, pos_out, vel_out, ids_out, types_out, extra_out,
                 slot_of, cell_of, cell_start, cursor, ncell, box, with_extra) -> None:
    """Counting sort of the beads by cell into the ``*_out`` arrays (stable).

    ``cell_start[c]:cell_start[c + 1]`` are then the slots of cell c, cells in
    C order of (cz, cy, cx); ``slot_of[ids_out[k]] = k``.
    """
    n = pos.shape[0]
    nx, ny, nz = ncell[0], ncell[1], ncell[2]
    sx, sy, sz = nx / box[0], ny / box[1], nz / box[2]
    cell_start[:] = 0
    for i in range(n):
        cx = min(max(int(pos[i, 0] * sx), 0), nx - 1)
        cy = min(max(int(pos[i, 1] * sy), 0), ny - 1)
        cz = min(max(int(pos[i, 2] * sz), 0), nz - 1)
        c = (cz * ny + cy) * nx + cx
        cell_of[i] = c
        cell_start[c + 1] += 1
    for c in range(nx * ny * nz):
        cell_start[c + 1] += cell_start[c]
        cursor[c] = cell_start[c]
    for i in range(n):
        k = cursor[cell_of[i]]
        cursor[cell_of[i]] = k + 1
        for d in range(3):
            pos_out[k, d] = pos[i, d]
            vel_out[k, d] = vel[i, d]
        if with_extra:
            for d in range(3):
                extra_out[k, d] = extra[i, d]
        ids_out[k] = ids[i]
        types_out[k] = types[i]
        slot_of[ids[i]] = k


@njit(cache=True)
def _neighbour_cells(cx, cy, cz, ncell, box, offset, dv_le, lo, hi, shift, self_first):
    """Slot ranges and image shifts (x, y, z, v_x) of the cells bead pairs of
    cell (cx, cy, cz) are taken from; returns their number. Entry 0 is the own cell."""
    nx, ny, nz = ncell[0], ncell[1], ncell[2]
    lx = box[0] / nx
    m = 0
    for dy in (1, 0):
        for dz in (-1, 0, 1):
            if dy == 0 and dz < 0:
                continue
            jz = cz + dz
            wz = (jz + nz) % nz
            sz = (jz - wz) / nz * box[2]
            jy = cy + dy
            crossing = jy >= ny
            wy = jy - ny if crossing else jy
            sy = box[1] if crossing else 0.0
            if crossing:  # the row above is shifted by `offset` in x
                s = offset / lx
                x_lo, x_hi = math.floor(cx - 2 - s) + 1, math.ceil(cx + 2 - s) - 1
            elif dy == 1 or dz == 1:
                x_lo, x_hi = cx - 1, cx + 1
            else:
                x_lo, x_hi = cx + 1, cx + 1
            for jx in range(x_lo, x_hi + 1):
                wx = jx % nx
                c = (wz * ny + wy) * nx + wx
                lo[m] = self_first[c]
                hi[m] = self_first[c + 1]
                shift[m, 0] = (jx - wx) * lx + (offset if crossing else 0.0)
                shift[m, 1] = sy
                shift[m, 2] = sz
                shift[m, 3] = dv_le if crossing else 0.0
                m += 1
    return m


@njit(cache=True, fastmath={"contract", "arcp", "nsz"})
def pair_forces(pos, vel, ids, types, cell_start, ncell, box, offset, shear_rate, a_mat, gamma, noise, rc,
                key, force, obs, want_virial, lo, hi, shift) -> None:
    """Pair forces of all beads into ``force`` (overwritten); if ``want_virial``
    add W_c, W_d, W_r and U_c into ``obs``. ``noise`` = sigma sqrt(3 / dt).

    ``vel`` is the velocity the dissipative force sees (v~ of the modified
    velocity Verlet). ``lo``, ``hi``, ``shift`` are scratch of length
    ``MAX_NEIGHBOUR_CELLS``. fastmath allows only contraction, reciprocal and
    signed-zero relaxations (no reassociation of sums).
    """
    nx, ny, nz = ncell[0], ncell[1], ncell[2]
    force[:] = 0.0
    rc2, inv_rc = rc * rc, 1.0 / rc
    dv_le = shear_rate * box[1]
    cxx = cyy = czz = cxy = cxz = cyz = 0.0  # conservative virial
    dxx = dyy = dzz = dxy = dxz = dyz = 0.0  # dissipative
    rxx = ryy = rzz = rxy = rxz = ryz = 0.0  # random
    uc = 0.0
    for cz in range(nz):
        for cy in range(ny):
            for cx in range(nx):
                c = (cz * ny + cy) * nx + cx
                i0, i1 = cell_start[c], cell_start[c + 1]
                if i0 == i1:
                    continue
                m = 1 + _neighbour_cells(cx, cy, cz, ncell, box, offset, dv_le, lo[1:], hi[1:], shift[1:],
                                         cell_start)
                lo[0], hi[0] = i0, i1
                shift[0, :] = 0.0
                for i in range(i0, i1):
                    xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
                    vxi, vyi, vzi = vel[i, 0], vel[i, 1], vel[i, 2]
                    ti, idi = types[i], ids[i]
                    fxi = fyi = fzi = 0.0
                    for k in range(m):
                        j0 = i + 1 if k == 0 else lo[k]
                        sx, sy, sz, sv = shift[k, 0], shift[k, 1], shift[k, 2], shift[k, 3]
                        for j in range(j0, hi[k]):
                            dx = xi - pos[j, 0] - sx
                            dy = yi - pos[j, 1] - sy
                            dz = zi - pos[j, 2] - sz
                            r2 = dx * dx + dy * dy + dz * dz
                            if r2 >= rc2 or r2 == 0.0:
                                continue
                            r = math.sqrt(r2)
                            w = 1.0 - r * inv_rc
                            inv_r = 1.0 / r
                            ex, ey, ez = dx * inv_r, dy * inv_r, dz * inv_r
                            ev = (ex * (vxi - vel[j, 0] - sv) + ey * (vyi - vel[j, 1])
                                  + ez * (vzi - vel[j, 2]))
                            theta = pair_uniform(key, idi, ids[j])
                            fc = a_mat[ti, types[j]] * w
                            fd = -gamma * w * w * ev
                            fr = noise * w * theta
                            f = fc + fd + fr
                            fx, fy, fz = f * ex, f * ey, f * ez
                            fxi += fx
                            fyi += fy
                            fzi += fz
                            force[j, 0] -= fx
                            force[j, 1] -= fy
                            force[j, 2] -= fz
                            if want_virial:
                                uc += 0.5 * fc * w * rc
                                exx, eyy, ezz = ex * ex * r, ey * ey * r, ez * ez * r
                                exy, exz, eyz = ex * ey * r, ex * ez * r, ey * ez * r
                                cxx += fc * exx
                                cyy += fc * eyy
                                czz += fc * ezz
                                cxy += fc * exy
                                cxz += fc * exz
                                cyz += fc * eyz
                                dxx += fd * exx
                                dyy += fd * eyy
                                dzz += fd * ezz
                                dxy += fd * exy
                                dxz += fd * exz
                                dyz += fd * eyz
                                rxx += fr * exx
                                ryy += fr * eyy
                                rzz += fr * ezz
                                rxy += fr * exy
                                rxz += fr * exz
                                ryz += fr * eyz
                    force[i, 0] += fxi
                    force[i, 1] += fyi
                    force[i, 2] += fzi
    if want_virial:
        for d, v in enumerate((cxx, cyy, czz, cxy, cxz, cyz)):
            obs[WC0 + d] += v
        for d, v in enumerate((dxx, dyy, dzz, dxy, dxz, dyz)):
            obs[WD0 + d] += v
        for d, v in enumerate((rxx, ryy, rzz, rxy, rxz, ryz)):
            obs[WR0 + d] += v
        obs[UC] += uc


@njit(cache=True, fastmath={"contract", "arcp", "nsz"})
def dissipative_forces(pos, u, cell_start, ncell, box, offset, dv_le, gamma, rc, out, obs, want_virial, lo, hi,
                       shift) -> None:
    """Dissipative pair forces of the velocity field ``u`` alone into ``out``
    (overwritten); if ``want_virial`` add their virial into W_d of ``obs``.

    For each pair within rc: F_ij = -gamma w^2 (e . u_ij) e with u_ij = u_i -
    u_j and, for an image across the top y boundary (x shifted by ``offset``),
    u_j's x component raised by ``dv_le`` (shear_rate Ly for velocities, 0 for
    a velocity increment, whose Lees-Edwards jumps cancel). The same cell
    stencil as :func:`pair_forces`; ``pos`` must be cell-sorted with
    ``cell_start``; ``lo``, ``hi``, ``shift`` are scratch of length
    ``MAX_NEIGHBOUR_CELLS``. No random numbers, no conservative force.

    DPD-VV (see :func:`run_steps`) calls it with u = F(t + dt) and gamma ->
    gamma dt / 2: as the dissipative force is linear in the velocities, this
    is F_D(v(t + dt)) - F_D(v~), the update of the dissipative force from the
    half-kicked v~ to v(t + dt) = v~ + dt F / 2.
    """
    nx, ny, nz = ncell[0], ncell[1], ncell[2]
    out[:] = 0.0
    rc2, inv_rc = rc * rc, 1.0 / rc
    dxx = dyy = dzz = dxy = dxz = dyz = 0.0
    for cz in range(nz):
        for cy in range(ny):
            for cx in range(nx):
                c = (cz * ny + cy) * nx + cx
                i0, i1 = cell_start[c], cell_start[c + 1]
                if i0 == i1:
                    continue
                m = 1 + _neighbour_cells(cx, cy, cz, ncell, box, offset, dv_le, lo[1:], hi[1:], shift[1:],
                                         cell_start)
                lo[0], hi[0] = i0, i1
                shift[0, :] = 0.0
                for i in range(i0, i1):
                    xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
                    uxi, uyi, uzi = u[i, 0], u[i, 1], u[i, 2]
                    fxi = fyi = fzi = 0.0
                    for k in range(m):
                        j0 = i + 1 if k == 0 else lo[k]
                        sx, sy, sz, sv = shift[k, 0], shift[k, 1], shift[k, 2], shift[k, 3]
                        for j in range(j0, hi[k]):
                            dx = xi - pos[j, 0] - sx
                            dy = yi - pos[j, 1] - sy
                            dz = zi - pos[j, 2] - sz
                            r2 = dx * dx + dy * dy + dz * dz
                            if r2 >= rc2 or r2 == 0.0:
                                continue
                            r = math.sqrt(r2)
                            w = 1.0 - r * inv_rc
                            inv_r = 1.0 / r
                            ex, ey, ez = dx * inv_r, dy * inv_r, dz * inv_r
                            eu = ex * (uxi - u[j, 0] - sv) + ey * (uyi - u[j, 1]) + ez * (uzi - u[j, 2])
                            fd = -gamma * w * w * eu
                            fx, fy, fz = fd * ex, fd * ey, fd * ez
                            fxi += fx
                            fyi += fy
                            fzi += fz
                            out[j, 0] -= fx
                            out[j, 1] -= fy
                            out[j, 2] -= fz
                            if want_virial:
                                dxx += fd * ex * ex * r
                                dyy += fd * ey * ey * r
                                dzz += fd * ez * ez * r
                                dxy += fd * ex * ey * r
                                dxz += fd * ex * ez * r
                                dyz += fd * ey * ez * r
                    out[i, 0] += fxi
                    out[i, 1] += fyi
                    out[i, 2] += fzi
    if want_virial:
        for d, v in enumerate((dxx, dyy, dzz, dxy, dxz, dyz)):
            obs[WD0 + d] += v


@njit(cache=True)
def bond_forces(pos, slot_of, bonds, box, offset, k_bond, r0, r_max, force, obs, want_virial) -> int:
    """Add the bond forces (harmonic k (r - r0) if ``r_max`` <= 0, else FENE
    -k r / (1 - (r / r_max)^2)) into ``force`` and W_b into ``obs``.
    Returns ``BOND_BROKEN`` if a FENE bond reaches r_max, else ``OK``."""
    lx, ly, lz = box[0], box[1], box[2]
    for b in range(bonds.shape[0]):
        i, j = slot_of[bonds[b, 0]], slot_of[bonds[b, 1]]
        dx, dy, dz = pos[i, 0] - pos[j, 0], pos[i, 1] - pos[j, 1], pos[i, 2] - pos[j, 2]
        if dy > 0.5 * ly:  # j's image above the box is the nearest
            dy -= ly
            dx -= offset
        elif dy < -0.5 * ly:
            dy += ly
            dx += offset
        dx -= lx * math.floor(dx / lx + 0.5)
        dz -= lz * math.floor(dz / lz + 0.5)
        r = math.sqrt(dx * dx + dy * dy + dz * dz)
        if r_max > 0.0:
            q = 1.0 - (r / r_max) ** 2
            if q <= 0.0:
                return BOND_BROKEN
            g = -k_bond / q
        else:
            g = -k_bond * (1.0 - r0 / r) if r > 0.0 else -k_bond
        force[i, 0] += g * dx
        force[i, 1] += g * dy
        force[i, 2] += g * dz
        force[j, 0] -= g * dx
        force[j, 1] -= g * dy
        force[j, 2] -= g * dz
        if want_virial:
            obs[WB0 + 0] += g * dx * dx
            obs[WB0 + 1] += g * dy * dy
            obs[WB0 + 2] += g * dz * dz
            obs[WB0 + 3] += g * dx * dy
            obs[WB0 + 4] += g * dx * dz
            obs[WB0 + 5] += g * dy * dz
    return OK


@njit(cache=True, inline="always")
def wrap_xz(pos, vel, force, vtilde, i, lx, lz, use_vt, vt_scale) -> None:
    """Wrap bead i into [0, Lx) x [0, Lz) after its drift; if ``use_vt`` set
    v~ = v + (lambda - 1/2) dt F (``vt_scale`` = (lambda - 1/2) dt)."""
    if pos[i, 0] >= lx or pos[i, 0] < 0.0:
        pos[i, 0] -= lx * math.floor(pos[i, 0] / lx)
    if pos[i, 2] >= lz or pos[i, 2] < 0.0:
        pos[i, 2] -= lz * math.floor(pos[i, 2] / lz)
    if use_vt:
        for d in range(3):
            vtilde[i, d] = vel[i, d] + vt_scale * force[i, d]


@njit(cache=True)
def sort_swap(pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, slot_of, cell_of, cell_start,
              cursor, ncell, box, use_vt):
    """Counting-sort the beads by cell into the spare buffers (``*_b``) and
    return (sorted arrays, spare arrays): the caller swaps its names."""
    sort_by_cell(pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, slot_of, cell_of,
                 cell_start, cursor, ncell, box, use_vt)
    return pos_b, vel_b, ids_b, types_b, vtilde_b, pos, vel, ids, types, vtilde


@njit(cache=True)
def copy_home(pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, use_vt) -> None:
    """After an odd number of swaps the data live in the spare buffers: copy them
    into the caller's arrays (``*_b`` here)."""
    pos_b[:] = pos
    vel_b[:] = vel
    ids_b[:] = ids
    types_b[:] = types
    if use_vt:
        vtilde_b[:] = vtilde


# float parameters of run_steps, in this order (F_DPDVV: 1.0 selects DPD-VV, 0.0 the Groot-Warren scheme)
F_RC, F_DT, F_GAMMA, F_SIGMA, F_LAMBDA, F_SHEAR, F_BOND_K, F_BOND_R0, F_BOND_RMAX, F_BODY, F_DPDVV = range(11)
N_FPARAMS = 11


@njit(cache=True)
def run_steps(pos, vel, force, vtilde, ids, types, slot_of, bonds, a_mat, pos_b, vel_b, vtilde_b, ids_b,
              types_b, cell_of, cell_start, cursor, ncell, box, fparams, fstate, istate, seed, nsteps,
              sample_every, obs, profile, lo, hi, shift, dforce) -> int:
    """Advance ``nsteps`` steps of the modified velocity Verlet of Groot & Warren:

        r(t + dt) = r + dt v + dt^2 F / 2,   v~ = v + lambda dt F,
        F(t + dt) = F(r(t + dt), v~(t + dt)),   v(t + dt) = v + dt (F + F(t + dt)) / 2.

    With ``fparams[F_DPDVV]`` = 1 (lambda = 1/2 only) it is DPD-VV (Besold,
    Vattulainen, Karttunen & Polson, Phys. Rev. E 62, R7611, 2000): after the
    second half-kick the dissipative forces are evaluated once more with
    v(t + dt), keeping the conservative and random parts of F(t + dt):

        F(t + dt) <- F(t + dt) + F_D(v(t + dt)) - F_D(v~),

    computed by :func:`dissipative_forces` as the dissipative force of the
    velocity change dt F(t + dt) / 2 (into the scratch ``dforce``, (n, 3));
    the updated force drives the next first half-kick. On sampled steps W_d
    gets the same update, so the stress row holds F_D(v(t + dt)), the force
    consistent with the sampled velocities and the one the next step uses.

    ``force`` must hold F(t) on entry. ``fstate = [Lees-Edwards offset]`` and
    ``istate = [step, samples written]`` are updated. Every ``sample_every``
    steps (0: never) a row of ``obs`` is filled and, if ``profile`` has rows,
    the x velocity is binned in y (``profile[b] += (sum v_x, count)``). A body
    force +F_BODY in x for y < Ly / 2 and -F_BODY above drives a reverse
    Poiseuille flow. ``vtilde``/``vtilde_b`` are used only when lambda != 1/2
    (else the half-kicked velocity is v~). Returns OK, NOT_FINITE or BOND_BROKEN.
    """
    n = pos.shape[0]
    rc, dt, gamma, sigma = fparams[F_RC], fparams[F_DT], fparams[F_GAMMA], fparams[F_SIGMA]
    lam, shear, body = fparams[F_LAMBDA], fparams[F_SHEAR], fparams[F_BODY]
    lx, ly, lz = box[0], box[1], box[2]
    half, noise, dv_le = 0.5 * dt, sigma * math.sqrt(3.0 / dt), shear * ly
    use_vt = lam != 0.5
    dpd_vv = fparams[F_DPDVV] != 0.0
    nbins = profile.shape[0]
    row = np.zeros(N_OBS)
    status = OK
    swapped = False
    offset = fstate[0]
    for _ in range(nsteps):
        step = istate[0] + 1
        offset = (offset + dv_le * dt) % lx
        for i in range(n):
            for d in range(3):
                vel[i, d] += half * force[i, d]
                pos[i, d] += dt * vel[i, d]
            if pos[i, 1] >= ly:  # Lees-Edwards: leave at the top, re-enter shifted at the bottom
                pos[i, 1] -= ly
                pos[i, 0] -= offset
                vel[i, 0] -= dv_le
            elif pos[i, 1] < 0.0:
                pos[i, 1] += ly
                pos[i, 0] += offset
                vel[i, 0] += dv_le
            wrap_xz(pos, vel, force, vtilde, i, lx, lz, use_vt, (lam - 0.5) * dt)
        pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b = sort_swap(
            pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, slot_of, cell_of, cell_start,
            cursor, ncell, box, use_vt)
        swapped = not swapped
        sample = sample_every > 0 and step % sample_every == 0
        row[:] = 0.0
        pair_forces(pos, vtilde if use_vt else vel, ids, types, cell_start, ncell, box, offset, shear, a_mat,
                    gamma, noise, rc, step_key(seed, step), force, row, sample, lo, hi, shift)
        if bonds.shape[0] > 0:
            status = bond_forces(pos, slot_of, bonds, box, offset, fparams[F_BOND_K], fparams[F_BOND_R0],
                                 fparams[F_BOND_RMAX], force, row, sample)
            if status != OK:
                break
        if body != 0.0:
            for i in range(n):
                force[i, 0] += body if pos[i, 1] < 0.5 * ly else -body
        v2 = 0.0
        for i in range(n):
            for d in range(3):
                vel[i, d] += half * force[i, d]
                v2 += vel[i, d] * vel[i, d]
        if dpd_vv:  # F_D(v(t + dt)) - F_D(v~) = F_D of the velocity change dt F / 2 (linear in v)
            dissipative_forces(pos, force, cell_start, ncell, box, offset, 0.0, gamma * half, rc, dforce, row,
                               sample, lo, hi, shift)
            for i in range(n):
                for d in range(3):
                    force[i, d] += dforce[i, d]
        istate[0] = step
        if not math.isfinite(v2):
            status = NOT_FINITE
            break
        if sample:
            for i in range(n):
                ux = vel[i, 0] - shear * (pos[i, 1] - 0.5 * ly)
                uy, uz = vel[i, 1], vel[i, 2]
                row[K0 + 0] += ux * ux
                row[K0 + 1] += uy * uy
                row[K0 + 2] += uz * uz
                row[K0 + 3] += ux * uy
                row[K0 + 4] += ux * uz
                row[K0 + 5] += uy * uz
                if nbins > 0:
                    b = min(int(pos[i, 1] / ly * nbins), nbins - 1)
                    profile[b, 0] += vel[i, 0]
                    profile[b, 1] += 1.0
            k = istate[1]
            if k < obs.shape[0]:
                obs[k, :] = row
                istate[1] = k + 1
    fstate[0] = offset
    if swapped:  # the data live in the caller's buffers: copy them home
        copy_home(pos, vel, ids, types, vtilde, pos_b, vel_b, ids_b, types_b, vtilde_b, use_vt)
    return status
