r"""Numba kernels of the 2D Lennard-Jones RVEs under a full deformation gradient (private).

Reduced LJ units (sigma, epsilon, m, k_B = 1). Atoms carry reference
coordinates ``X`` (n, 2) in the rectangular periodic reference box
``L = (Lx, Ly)``; the physical cell is the parallelogram ``F L`` (a triclinic
box) and a physical separation is ``r = F dX`` with ``dX`` the minimum image
in reference coordinates (exact for every pair within ``r_c`` when
``r_c ||F^-1||_2 < min(L) / 2``, which the callers check). Velocities and
forces are physical; a drift is ``dX = F^-1 v dt``. Pair potential between
types a, b (shifted to zero at its cutoff ``rc[a, b]``):

.. math:: \phi_{ab}(r) = 4\varepsilon_{ab}[(\sigma_{ab}/r)^{12} - (\sigma_{ab}/r)^6] - \phi_{ab}(r_{c,ab}).

All pairs are visited (O(n^2) per force call; the RVEs here hold a few
hundred atoms). Observable row: ``[U, G_xx, G_xy, G_yx, G_yy, K_xx, K_yy,
K_xy]`` with ``G_iJ = dU/dF_iJ = sum_pairs phi'(r) r_i dX_J / r`` and
``K = sum m v v``; with ``born.size > 0`` the 4x4 Born term ``d^2U/dF dF``
(row-major iJ, kL) is added to ``born``, including the impulsive term of the
cutoff estimated from the pairs in the shell ``rc - delta < r < rc``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_OBS = 8  # U, G (4), K (3)


@njit(cache=True, error_model="numpy")
def seed_rng(seed: int) -> None:
    """Seed numba's generator used by the Langevin step."""
    np.random.seed(seed)


@njit(cache=True, error_model="numpy")
def forces(X, F, L, types, eps, sig, rc, eshift, force, obs, born, delta) -> float:
    """Overwrite ``force`` (n, 2) with the physical forces; add U and G to ``obs[0:5]``
    when ``obs.size`` > 0 and the Born term to ``born`` (16,) when ``born.size`` > 0.
    Returns the potential energy."""
    n = X.shape[0]
    lx, ly = L[0], L[1]
    ilx, ily = 1.0 / lx, 1.0 / ly
    f00, f01, f10, f11 = F[0, 0], F[0, 1], F[1, 0], F[1, 1]
    rc2 = rc * rc
    with_born = born.size > 0
    u = 0.0
    g00 = g01 = g10 = g11 = 0.0
    for i in range(n):
        force[i, 0] = 0.0
        force[i, 1] = 0.0
    for i in range(n - 1):
        xi, yi, ti = X[i, 0], X[i, 1], types[i]
        fxi = fyi = 0.0
        for j in range(i + 1, n):
            dx = xi - X[j, 0]
            dy = yi - X[j, 1]
            dx -= lx * np.rint(dx * ilx)
            dy -= ly * np.rint(dy * ily)
            rx = f00 * dx + f01 * dy
            ry = f10 * dx + f11 * dy
            r2 = rx * rx + ry * ry
            tj = types[j]
            if r2 >= rc2[ti, tj]:
                continue
            rcut = rc[ti, tj]
            e, s = eps[ti, tj], sig[ti, tj]
            s2 = s * s / r2
            s6 = s2 * s2 * s2
            s12 = s6 * s6
            u += 4.0 * e * (s12 - s6) - eshift[ti, tj]
            dphi_r = 24.0 * e * (s6 - 2.0 * s12) / r2  # phi'(r) / r
            fxi -= dphi_r * rx
            fyi -= dphi_r * ry
            force[j, 0] += dphi_r * rx
            force[j, 1] += dphi_r * ry
            g00 += dphi_r * rx * dx
            g01 += dphi_r * rx * dy
            g10 += dphi_r * ry * dx
            g11 += dphi_r * ry * dy
            if with_born:
                r = math.sqrt(r2)
                d2phi = 4.0 * e * (156.0 * s12 - 42.0 * s6) / r2
                a = (d2phi - dphi_r) / r2  # phi''/r^2 - phi'/r^3
                if r > rcut - delta:  # impulsive term of the cutoff, -phi'(rc) delta(r - rc)
                    a -= dphi_r / (r * delta)
                v0, v1, v2, v3 = rx * dx, rx * dy, ry * dx, ry * dy
                vv = (v0, v1, v2, v3)
                for p in range(4):
                    for q in range(4):
                        born[4 * p + q] += a * vv[p] * vv[q]
                born[0] += dphi_r * dx * dx  # phi'/r delta_ik X_J X_L
                born[1] += dphi_r * dx * dy
                born[4] += dphi_r * dy * dx
                born[5] += dphi_r * dy * dy
                born[10] += dphi_r * dx * dx
                born[11] += dphi_r * dx * dy
                born[14] += dphi_r * dy * dx
                born[15] += dphi_r * dy * dy
        force[i, 0] += fxi
        force[i, 1] += fyi
    if obs.size > 0:
        obs[0] += u
        obs[1] += g00
        obs[2] += g01
        obs[3] += g10
        obs[4] += g11
    return u


@njit(cache=True, error_model="numpy")
def kinetic(V, mass, obs) -> None:
    """Add K = sum m v v (xx, yy, xy) to ``obs[5:8]``."""
    for i in range(V.shape[0]):
        obs[5] += mass * V[i, 0] * V[i, 0]
        obs[6] += mass * V[i, 1] * V[i, 1]
        obs[7] += mass * V[i, 0] * V[i, 1]


@njit(cache=True, error_model="numpy")
def baoab(X, V, force, F, Finv, L, types, eps, sig, rc, eshift, mass, dt, n_steps, friction, kT,
          sample_every, samples, borns, delta) -> bool:
    """``n_steps`` Langevin BAOAB steps (Leimkuhler & Matthews 2013) from ``force`` (the
    forces at ``X`` on entry, updated on exit). Every ``sample_every``-th step writes an
    observable row to ``samples`` and, if ``borns.shape[1]`` > 0, the Born term to
    ``borns``. Returns False if the state became non-finite."""
    n = X.shape[0]
    half = 0.5 * dt
    c1 = math.exp(-friction * dt)
    c2 = math.sqrt((1.0 - c1 * c1) * kT / mass)
    a00, a01, a10, a11 = Finv[0, 0], Finv[0, 1], Finv[1, 0], Finv[1, 1]
    empty = np.empty(0)
    k = 0
    for step in range(1, n_steps + 1):
        for i in range(n):
            vx = V[i, 0] + half / mass * force[i, 0]
            vy = V[i, 1] + half / mass * force[i, 1]
            X[i, 0] += half * (a00 * vx + a01 * vy)
            X[i, 1] += half * (a10 * vx + a11 * vy)
            vx = c1 * vx + c2 * np.random.standard_normal()
            vy = c1 * vy + c2 * np.random.standard_normal()
            X[i, 0] += half * (a00 * vx + a01 * vy)
            X[i, 1] += half * (a10 * vx + a11 * vy)
            V[i, 0], V[i, 1] = vx, vy
        sample = step % sample_every == 0
        row = samples[k] if sample else empty
        if sample:
            row[:] = 0.0
        bo = borns[k] if sample and borns.shape[1] > 0 else empty
        if bo.size > 0:
            bo[:] = 0.0
        u = forces(X, F, L, types, eps, sig, rc, eshift, force, row, bo, delta)
        for i in range(n):
            V[i, 0] += half / mass * force[i, 0]
            V[i, 1] += half / mass * force[i, 1]
        if not abs(u) < 1e300:
            return False
        if sample:
            kinetic(V, mass, row)
            k += 1
    for i in range(n):  # keep reference coordinates inside the box
        X[i, 0] -= L[0] * math.floor(X[i, 0] / L[0])
        X[i, 1] -= L[1] * math.floor(X[i, 1] / L[1])
    return True


@njit(cache=True, error_model="numpy")
def fire(X, F, Finv, L, types, eps, sig, rc, eshift, ftol, max_iter, dt0, dt_max) -> int:
    """Minimise the energy over ``X`` at fixed ``F`` by FIRE (Bitzek et al., PRL 97, 170201,
    2006; physical moves dr = F dX, step length capped at 0.1 sigma) until the largest
    force component is below ``ftol``. Returns the iterations used, or -1 if
    ``max_iter`` was reached first."""
    n = X.shape[0]
    V = np.zeros((n, 2))
    force = np.empty((n, 2))
    empty = np.empty(0)
    dt, alpha, alpha0, since = dt0, 0.1, 0.1, 0
    a00, a01, a10, a11 = Finv[0, 0], Finv[0, 1], Finv[1, 0], Finv[1, 1]
    forces(X, F, L, types, eps, sig, rc, eshift, force, empty, empty, 0.0)
    for it in range(max_iter):
        fmax = 0.0
        for i in range(n):
            fmax = max(fmax, abs(force[i, 0]), abs(force[i, 1]))
        if fmax < ftol:
            return it
        p = vv = ff = 0.0
        for i in range(n):
            p += V[i, 0] * force[i, 0] + V[i, 1] * force[i, 1]
            vv += V[i, 0] ** 2 + V[i, 1] ** 2
            ff += force[i, 0] ** 2 + force[i, 1] ** 2
        if p > 0.0:
            scale = math.sqrt(vv / ff) if ff > 0.0 else 0.0
            for i in range(n):
                V[i, 0] = (1.0 - alpha) * V[i, 0] + alpha * scale * force[i, 0]
                V[i, 1] = (1.0 - alpha) * V[i, 1] + alpha * scale * force[i, 1]
            since += 1
            if since > 5:
                dt = min(1.1 * dt, dt_max)
                alpha *= 0.99
        else:
            since = 0
            dt *= 0.5
            alpha = alpha0
            V[:, :] = 0.0
        vmax = 0.0
        for i in range(n):  # semi-implicit Euler: kick, then drift
            V[i, 0] += dt * force[i, 0]
            V[i, 1] += dt * force[i, 1]
            vmax = max(vmax, abs(V[i, 0]), abs(V[i, 1]))
        h = dt if vmax * dt < 0.1 else 0.1 / vmax
        for i in range(n):
            X[i, 0] += h * (a00 * V[i, 0] + a01 * V[i, 1])
            X[i, 1] += h * (a10 * V[i, 0] + a11 * V[i, 1])
        forces(X, F, L, types, eps, sig, rc, eshift, force, empty, empty, 0.0)
    return -1
