r"""Numba kernels of the Lennard-Jones MD oracle (see :mod:`oracles.md`).

Reduced LJ units throughout (sigma = m = k_B = 1, energy in epsilon). The pair
potential is phi(r) = 4 eps (r^-12 - r^-6) - e_shift for r < rc. Kernels take
arrays and scalars, write into preallocated outputs and never allocate in the
step loop; the Python wrappers in :mod:`oracles.md` validate shapes.

Layout: positions, velocities, forces are float64 arrays of shape (n, 3) in an
orthorhombic periodic box ``box = (Lx, Ly, Lz)``. At each neighbour-list
rebuild the atoms are wrapped into the box (periodic image counters kept in
``image`` so unwrapped positions are ``pos + image * box``), sorted by cell
(a counting sort; ``ids`` follows the permutation) and a half Verlet list
(each pair once) of radius rc + skin is built from the 13-cell half stencil.
The list is rebuilt when any atom has moved more than skin / 2 since.

Observables per sample row: ``[U, K_xx, K_yy, K_zz, K_xy, K_xz, K_yz, W_xx, ...,
W_yz]`` with U the potential energy, K = sum m v v and W = sum_pairs r_ij f_ij
(so the pressure tensor is (K + W) / V).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

OK, LIST_OVERFLOW, NOT_FINITE = 0, 1, 2
N_OBS = 13  # U, K (6), W (6)
# half stencil: the 13 neighbour-cell offsets with (dz, dy, dx) > 0 lexicographically
HALF_STENCIL = np.array([(dx, dy, dz) for dz in (-1, 0, 1) for dy in (-1, 0, 1) for dx in (-1, 0, 1)
                         if (dz, dy, dx) > (0, 0, 0)], dtype=np.int64)
# progress array fields (int64), shared between the wrapper and the step kernel
P_STEPS, P_REBUILDS, P_NEED_REBUILD, P_PENDING_KICK, P_SAMPLES, P_NEEDED, P_SINCE_REBUILD = range(7)


@njit(cache=True, error_model="numpy")
def seed_numba_rng(seed: int) -> None:
    """Seed numba's (per-thread) generator used by the Langevin kernels."""
    np.random.seed(seed)


@njit(cache=True, error_model="numpy")
def _cell_coord(x: float, length: float, n: int) -> int:
    c = int(x / length * n)
    if c < 0:
        return 0
    if c >= n:
        return n - 1
    return c


@njit(cache=True, error_model="numpy")
def rebuild(pos, vel, force, image, ids, ref_pos, box, ncell, cell_start, cell_index, cursor,
            order, buf3, ibuf3, ibuf, rlist2, nbr_start, nbr_mid, nbr) -> int:
    """Wrap, sort atoms by cell and build the half Verlet list of radius sqrt(rlist2).

    Returns the number of list entries needed; if it exceeds ``nbr.size`` the
    list is incomplete and the caller must enlarge ``nbr`` and call again.
    """
    n = pos.shape[0]
    nx, ny, nz = ncell[0], ncell[1], ncell[2]
    nc = nx * ny * nz
    lx, ly, lz = box[0], box[1], box[2]
    for i in range(n):  # wrap into the box, count images
        for d in range(3):
            s = math.floor(pos[i, d] / box[d])
            if s != 0.0:
                pos[i, d] -= s * box[d]
                image[i, d] += int(s)
    for c in range(nc + 1):
        cell_start[c] = 0
    for i in range(n):  # counting sort by cell
        c = ((_cell_coord(pos[i, 2], lz, nz) * ny + _cell_coord(pos[i, 1], ly, ny)) * nx
             + _cell_coord(pos[i, 0], lx, nx))
        cell_index[i] = c
        cell_start[c + 1] += 1
    for c in range(nc):
        cell_start[c + 1] += cell_start[c]
        cursor[c] = cell_start[c]
    for i in range(n):
        c = cell_index[i]
        order[cursor[c]] = i
        cursor[c] += 1
    for arr in (pos, vel, force):
        for k in range(n):
            o = order[k]
            buf3[k, 0], buf3[k, 1], buf3[k, 2] = arr[o, 0], arr[o, 1], arr[o, 2]
        arr[:, :] = buf3
    for k in range(n):
        o = order[k]
        ibuf3[k, 0], ibuf3[k, 1], ibuf3[k, 2] = image[o, 0], image[o, 1], image[o, 2]
        ibuf[k] = ids[o]
    image[:, :] = ibuf3
    ids[:] = ibuf
    ref_pos[:, :] = pos
    cap = nbr.size
    count = 0
    nbr_start[0] = 0
    # cells of side >= rlist / 2 reached by a +-2 stencil; a smaller grid means a
    # small box: every pair j > i with the minimum image
    reach = 2 if nx >= 5 and ny >= 5 and nz >= 5 else 0
    # per-cell table of the half stencil as segments of x-consecutive cells
    # (contiguous atoms): first atom, end atom, periodic shift added to x_i
    seg_lo = np.empty(26, np.int64)
    seg_hi = np.empty(26, np.int64)
    seg_shift = np.zeros((26, 3))
    wrapped_buf = np.empty(4096, np.int64)
    for c in range(nc):
        cx, cy, cz = c % nx, (c // nx) % ny, c // (nx * ny)
        m = 0
        for oz in range(-reach, reach + 1):
            for oy in range(-reach, reach + 1):
                if reach == 0 or (oz, oy) < (0, 0):
                    continue
                gy, gz = cy + oy, cz + oz
                sy = -ly if gy >= ny else (ly if gy < 0 else 0.0)
                sz = -lz if gz >= nz else (lz if gz < 0 else 0.0)
                row = ((gz % nz) * ny + gy % ny) * nx
                gx0, gx1 = (cx if (oz, oy) == (0, 0) else cx - reach), cx + reach
                for lo, hi, sx in ((gx0, min(gx1, -1), lx), (max(gx0, 0), min(gx1, nx - 1), 0.0),
                                   (max(gx0, nx), gx1, -lx)):
                    if lo > hi:
                        continue
                    seg_lo[m] = cell_start[row + lo % nx]
                    seg_hi[m] = cell_start[row + hi % nx + 1]
                    seg_shift[m, 0], seg_shift[m, 1], seg_shift[m, 2] = sx, sy, sz
                    m += 1
        for i in range(cell_start[c], cell_start[c + 1]):
            xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
            n_wrapped = 0
            if reach == 0:  # all j > i with the minimum image; all entries count as wrapped
                for j in range(i + 1, n):
                    dx = xi - pos[j, 0]
                    dy = yi - pos[j, 1]
                    dz = zi - pos[j, 2]
                    dx -= lx * np.rint(dx / lx)
                    dy -= ly * np.rint(dy / ly)
                    dz -= lz * np.rint(dz / lz)
                    if dx * dx + dy * dy + dz * dz < rlist2:
                        if n_wrapped == wrapped_buf.size:
                            wrapped_buf = np.concatenate((wrapped_buf, wrapped_buf))
                        wrapped_buf[n_wrapped] = j
                        n_wrapped += 1
            for s in range(m):  # segment 0 starts at cell c itself: only j > i
                sx, sy, sz = seg_shift[s, 0], seg_shift[s, 1], seg_shift[s, 2]
                wrapped = sx != 0.0 or sy != 0.0 or sz != 0.0
                xs, ys, zs = xi + sx, yi + sy, zi + sz
                j0, j1 = (i + 1 if s == 0 else seg_lo[s]), seg_hi[s]
                if not wrapped and count + (j1 - j0) <= cap:  # branch-free: write, then keep or not
                    for j in range(j0, j1):
                        dx = xs - pos[j, 0]
                        dy = ys - pos[j, 1]
                        dz = zs - pos[j, 2]
                        nbr[count] = j
                        count += np.int64(dx * dx + dy * dy + dz * dz < rlist2)
                    continue
                for j in range(j0, j1):
                    dx = xs - pos[j, 0]
                    dy = ys - pos[j, 1]
                    dz = zs - pos[j, 2]
                    if dx * dx + dy * dy + dz * dz < rlist2:
                        if wrapped:
                            if n_wrapped == wrapped_buf.size:
                                wrapped_buf = np.concatenate((wrapped_buf, wrapped_buf))
                            wrapped_buf[n_wrapped] = j
                            n_wrapped += 1
                        else:
                            if count < cap:
                                nbr[count] = j
                            count += 1
            nbr_mid[i] = count
            for k in range(n_wrapped):
                if count < cap:
                    nbr[count] = wrapped_buf[k]
                count += 1
            nbr_start[i + 1] = count
    return count


@njit(cache=True, error_model="numpy", fastmath={"contract", "arcp", "nsz"})
def pair_forces(pos, force, box, nbr_start, nbr_mid, nbr, rc2, eps, e_shift, obs, tilt=0.0) -> None:
    """Add LJ forces over the half list to ``force``; if ``obs.size`` > 0 also
    add the potential energy to obs[0] and the virial W to obs[7:13].

    Entries ``nbr_start[i]:nbr_mid[i]`` are pairs inside the box (no periodic
    image needed: atoms move < skin/2 between rebuilds); ``nbr_mid[i]:nbr_start[i+1]``
    cross a periodic boundary and take the minimum image.

    ``tilt`` = gamma != 0: ``pos`` are reference coordinates X in the
    orthorhombic box and the physical separation is r = F dX with the simple
    shear F = I + gamma e_x e_y (r_x = dX_x + gamma dX_y): a triclinic cell with
    edges (Lx, 0, 0), (gamma Ly, Ly, 0), (0, 0, Lz). Forces and virial are in
    physical space; the caller sizes the list radius in X by ||F^-1||.
    """
    n = pos.shape[0]
    lx, ly, lz = box[0], box[1], box[2]
    hx, hy, hz = 0.5 * lx, 0.5 * ly, 0.5 * lz
    c12, c6 = 48.0 * eps, 24.0 * eps
    with_obs = obs.size > 0
    tilted = tilt != 0.0
    u = 0.0
    wxx = wyy = wzz = wxy = wxz = wyz = 0.0
    for i in range(n):
        xi, yi, zi = pos[i, 0], pos[i, 1], pos[i, 2]
        fxi = fyi = fzi = 0.0
        mid = nbr_mid[i]
        for k in range(nbr_start[i], nbr_start[i + 1]):
            j = nbr[k]
            dx = xi - pos[j, 0]
            dy = yi - pos[j, 1]
            dz = zi - pos[j, 2]
            if k >= mid:
                dx = dx - lx if dx > hx else (dx + lx if dx < -hx else dx)
                dy = dy - ly if dy > hy else (dy + ly if dy < -hy else dy)
                dz = dz - lz if dz > hz else (dz + lz if dz < -hz else dz)
            if tilted:
                dx += tilt * dy
            r2 = dx * dx + dy * dy + dz * dz
            if r2 < rc2:
                inv2 = 1.0 / r2
                inv6 = inv2 * inv2 * inv2
                ff = inv6 * (c12 * inv6 - c6) * inv2  # |f| / r
                fx, fy, fz = ff * dx, ff * dy, ff * dz
                fxi += fx
                fyi += fy
                fzi += fz
                force[j, 0] -= fx
                force[j, 1] -= fy
                force[j, 2] -= fz
                if with_obs:
                    u += 4.0 * eps * inv6 * (inv6 - 1.0) - e_shift
                    wxx += fx * dx
                    wyy += fy * dy
                    wzz += fz * dz
                    wxy += fx * dy
                    wxz += fx * dz
                    wyz += fy * dz
        force[i, 0] += fxi
        force[i, 1] += fyi
        force[i, 2] += fzi
    if with_obs:
        obs[0] += u
        obs[7] += wxx
        obs[8] += wyy
        obs[9] += wzz
        obs[10] += wxy
        obs[11] += wxz
        obs[12] += wyz


@njit(cache=True, error_model="numpy")
def kinetic_tensor(vel, mass, obs) -> None:
    """Add K = sum m v v (xx, yy, zz, xy, xz, yz) to obs[1:7]."""
    for i in range(vel.shape[0]):
        vx, vy, vz = vel[i, 0], vel[i, 1], vel[i, 2]
        obs[1] += mass * vx * vx
        obs[2] += mass * vy * vy
        obs[3] += mass * vz * vz
        obs[4] += mass * vx * vy
        obs[5] += mass * vx * vz
        obs[6] += mass * vy * vz


@njit(cache=True, error_model="numpy")
def md_steps(pos, vel, force, image, ids, ref_pos, box, mass, dt, n_steps, rc2, eps, e_shift, skin,
             friction, kT, ncell, cell_start, cell_index, cursor, order, buf3, ibuf3, ibuf, rlist2,
             nbr_start, nbr_mid, nbr, sample_every, samples, progress, rebuild_every, tilt=0.0) -> int:
    """Advance ``n_steps`` steps (counted in ``progress[P_STEPS]``) of velocity
    Verlet (``friction == 0``) or Langevin BAOAB (Leimkuhler & Matthews,
    AMRX 2013) with friction gamma and temperature kT.

    The closing half kick of one step is fused with the opening half kick of
    the next (``progress[P_PENDING_KICK]`` says a half kick is owed), and the
    force reset and the displacement check are fused into the drift loop.
    Every ``sample_every``-th step (counted from the first step of the run)
    writes one row of observables into ``samples``.

    The list is rebuilt when an atom moved more than skin / 2 since the last
    build (``rebuild_every == 0``, always safe) or every ``rebuild_every``
    steps unconditionally (LAMMPS's ``neigh_modify every k check no``, for
    like-for-like benchmarks only: pairs can be missed).

    Resumable: returns LIST_OVERFLOW (with ``progress[P_NEEDED]`` list
    entries needed) to let the caller enlarge ``nbr`` and call again, or
    NOT_FINITE when positions or energies are no longer finite.

    ``tilt`` = gamma != 0 (simple shear, see :func:`pair_forces`): positions
    are reference coordinates X, velocities physical, so the drift is
    dX = F^-1 v dt (X_x += (v_x - gamma v_y) dt); ``skin`` and ``rlist2`` are
    then in X units (the caller scales them by ||F^-1||).
    """
    n = pos.shape[0]
    half = 0.5 * dt
    c1 = math.exp(-friction * dt)
    c2 = math.sqrt((1.0 - c1 * c1) * kT / mass)
    langevin = friction > 0.0
    limit2 = (0.5 * skin) ** 2
    empty = np.empty(0)
    while progress[P_STEPS] < n_steps:
        if progress[P_NEED_REBUILD] == 0:
            kick = (dt if progress[P_PENDING_KICK] == 1 else half) / mass
            max_d2 = 0.0
            for i in range(n):
                if tilt == 0.0:
                    for d in range(3):
                        vel[i, d] += kick * force[i, d]
                        force[i, d] = 0.0
                        if langevin:  # A O A
                            pos[i, d] += half * vel[i, d]
                            vel[i, d] = c1 * vel[i, d] + c2 * np.random.standard_normal()
                            pos[i, d] += half * vel[i, d]
                        else:
                            pos[i, d] += dt * vel[i, d]
                else:  # sheared: dX = F^-1 v dt couples X_x to v_y, so kick all components first
                    for d in range(3):
                        vel[i, d] += kick * force[i, d]
                        force[i, d] = 0.0
                    h = half if langevin else dt
                    pos[i, 0] += h * (vel[i, 0] - tilt * vel[i, 1])
                    pos[i, 1] += h * vel[i, 1]
                    pos[i, 2] += h * vel[i, 2]
                    if langevin:  # O, then the second A
                        for d in range(3):
                            vel[i, d] = c1 * vel[i, d] + c2 * np.random.standard_normal()
                        pos[i, 0] += h * (vel[i, 0] - tilt * vel[i, 1])
                        pos[i, 1] += h * vel[i, 1]
                        pos[i, 2] += h * vel[i, 2]
                dx = pos[i, 0] - ref_pos[i, 0]
                dy = pos[i, 1] - ref_pos[i, 1]
                dz = pos[i, 2] - ref_pos[i, 2]
                d2 = dx * dx + dy * dy + dz * dz
                if d2 > max_d2:
                    max_d2 = d2
            progress[P_PENDING_KICK] = 1
            if not max_d2 < 1e300:
                return NOT_FINITE
            progress[P_SINCE_REBUILD] += 1
            if (max_d2 > limit2) if rebuild_every == 0 else (progress[P_SINCE_REBUILD] >= rebuild_every):
                progress[P_NEED_REBUILD] = 1
        if progress[P_NEED_REBUILD] == 1:
            needed = rebuild(pos, vel, force, image, ids, ref_pos, box, ncell, cell_start, cell_index,
                             cursor, order, buf3, ibuf3, ibuf, rlist2, nbr_start, nbr_mid, nbr)
            if needed > nbr.size:
                progress[P_NEEDED] = needed
                return LIST_OVERFLOW
            progress[P_NEED_REBUILD] = 0
            progress[P_SINCE_REBUILD] = 0
            progress[P_REBUILDS] += 1
        progress[P_STEPS] += 1
        if progress[P_STEPS] % sample_every == 0:
            row = samples[progress[P_SAMPLES]]
            row[:] = 0.0
            pair_forces(pos, force, box, nbr_start, nbr_mid, nbr, rc2, eps, e_shift, row, tilt)
            for i in range(n):
                for d in range(3):
                    vel[i, d] += half / mass * force[i, d]
            progress[P_PENDING_KICK] = 0
            kinetic_tensor(vel, mass, row)
            if not abs(row[0]) + abs(row[1]) < 1e300:
                return NOT_FINITE
            progress[P_SAMPLES] += 1
        else:
            pair_forces(pos, force, box, nbr_start, nbr_mid, nbr, rc2, eps, e_shift, empty, tilt)
    return OK


@njit(cache=True, error_model="numpy")
def close_half_kick(vel, force, mass, dt, progress) -> None:
    """Pay the owed half kick so that velocities sit at the full step."""
    if progress[P_PENDING_KICK] == 1:
        vel += (0.5 * dt / mass) * force
        progress[P_PENDING_KICK] = 0


# ----------------------------------------------------------------------------- 1D chain
@njit(cache=True, error_model="numpy")
def chain_steps(x, v, f, length, mass, dt, n_steps, harmonic, k_spring, a0, eps, friction, kT,
                sample_every, samples) -> int:
    """Periodic nearest-neighbour chain (unwrapped coordinates, bond i joins
    atoms i and i+1, the last bond closes through the period ``length``).

    Bond energy: k/2 (r - a0)^2 if ``harmonic`` else 4 eps (r^-12 - r^-6).
    ``f`` must hold the forces at ``x`` on entry (see :func:`chain_forces`).
    Sample rows: ``[U, sum m v^2, sum_bonds r phi'(r)]``. Returns OK or NOT_FINITE.
    """
    n = x.shape[0]
    half = 0.5 * dt
    c1 = math.exp(-friction * dt)
    c2 = math.sqrt((1.0 - c1 * c1) * kT / mass)
    s = 0
    for step in range(1, n_steps + 1):
        for i in range(n):
            v[i] += half / mass * f[i]
            if friction > 0.0:
                x[i] += half * v[i]
                v[i] = c1 * v[i] + c2 * np.random.standard_normal()
                x[i] += half * v[i]
            else:
                x[i] += dt * v[i]
        sample = step % sample_every == 0
        u, w = chain_forces(x, f, length, harmonic, k_spring, a0, eps)
        kin = 0.0
        for i in range(n):
            v[i] += half / mass * f[i]
            kin += mass * v[i] * v[i]
        if sample:
            samples[s, 0], samples[s, 1], samples[s, 2] = u, kin, w
            s += 1
            if not abs(u) + kin < 1e300:
                return NOT_FINITE
    return OK


@njit(cache=True, error_model="numpy")
def chain_forces(x, f, length, harmonic, k_spring, a0, eps):
    """Overwrite ``f`` with the chain forces; return (U, sum_bonds r phi'(r))."""
    n = x.shape[0]
    u = 0.0
    w = 0.0
    for i in range(n):
        f[i] = 0.0
    for i in range(n):
        j = i + 1 if i + 1 < n else 0
        r = x[j] - x[i] + (length if j == 0 else 0.0)
        if harmonic:
            dphi = k_spring * (r - a0)
            u += 0.5 * k_spring * (r - a0) ** 2
        else:
            inv6 = r ** -6
            dphi = -24.0 * eps * inv6 * (2.0 * inv6 - 1.0) / r
            u += 4.0 * eps * inv6 * (inv6 - 1.0)
        f[i] += dphi  # tension pulls i towards j
        f[j] -= dphi
        w += r * dphi
    return u, w
