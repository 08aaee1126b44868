r"""Numba kernels of the 3D Lennard-Jones RVE under a full deformation gradient (private).

The 3D counterpart of :mod:`oracles.md._kernels2d` (same conventions: reference
coordinates X in the orthorhombic reference box L, physical separations
r = F dX with the minimum image taken in X, physical velocities and forces,
drift dX = F^-1 v dt, one atom type, LJ shifted at r_c). Observable row:
``[U, G (9, row-major iJ), K_xx, K_yy, K_zz, K_xy, K_xz, K_yz]``; the Born term
``d^2U/dF dF`` is (81,) row-major (iJ, kL), with the impulsive cutoff term
estimated from the shell ``rc - delta < r < rc``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

N_OBS = 16  # U, G (9), K (6)


@njit(cache=True, error_model="numpy")
def forces(X, F, L, rc, eshift, force, obs, born, delta) -> float:
    """Overwrite ``force`` (n, 3); add U and G to ``obs[0:10]`` when ``obs.size`` > 0 and the
    Born term to ``born`` (81,) when ``born.size`` > 0. Returns the potential energy."""
    n = X.shape[0]
    rc2 = rc * rc
    with_obs = obs.size > 0
    with_born = born.size > 0
    d = np.empty(3)
    r = np.empty(3)
    v = np.empty(9)
    g = np.zeros(9)
    u = 0.0
    force[:, :] = 0.0
    for i in range(n - 1):
        for j in range(i + 1, n):
            for a in range(3):
                x = X[i, a] - X[j, a]
                d[a] = x - L[a] * np.rint(x / L[a])
            r2 = 0.0
            for a in range(3):
                r[a] = F[a, 0] * d[0] + F[a, 1] * d[1] + F[a, 2] * d[2]
                r2 += r[a] * r[a]
            if r2 >= rc2:
                continue
            s6 = 1.0 / (r2 * r2 * r2)
            s12 = s6 * s6
            u += 4.0 * (s12 - s6) - eshift
            dphi_r = 24.0 * (s6 - 2.0 * s12) / r2  # phi'(r) / r
            for a in range(3):
                force[i, a] -= dphi_r * r[a]
                force[j, a] += dphi_r * r[a]
            if with_obs or with_born:
                for a in range(3):
                    for b in range(3):
                        v[3 * a + b] = r[a] * d[b]
                for p in range(9):
                    g[p] += dphi_r * v[p]
            if with_born:
                rr = math.sqrt(r2)
                c = (4.0 * (156.0 * s12 - 42.0 * s6) / r2 - dphi_r) / r2  # phi''/r^2 - phi'/r^3
                if rr > rc - delta:  # impulsive term of the cutoff, -phi'(rc) delta(r - rc)
                    c -= dphi_r / (rr * delta)
                for p in range(9):
                    for q in range(9):
                        born[9 * p + q] += c * v[p] * v[q]
                for a in range(3):  # phi'/r delta_ik X_J X_L
                    for J in range(3):
                        for Lq in range(3):
                            born[9 * (3 * a + J) + 3 * a + Lq] += dphi_r * d[J] * d[Lq]
    if with_obs:
        obs[0] += u
        for p in range(9):
            obs[1 + p] += g[p]
    return u


@njit(cache=True, error_model="numpy")
def kinetic(V, obs) -> None:
    """Add K = sum v v (unit mass; xx, yy, zz, xy, xz, yz) to ``obs[10:16]``."""
    for i in range(V.shape[0]):
        obs[10] += V[i, 0] * V[i, 0]
        obs[11] += V[i, 1] * V[i, 1]
        obs[12] += V[i, 2] * V[i, 2]
        obs[13] += V[i, 0] * V[i, 1]
        obs[14] += V[i, 0] * V[i, 2]
        obs[15] += V[i, 1] * V[i, 2]


@njit(cache=True, error_model="numpy")
def baoab(X, V, force, F, Finv, L, rc, eshift, dt, n_steps, friction, kT, sample_every, samples, borns,
          delta) -> bool:
    """``n_steps`` Langevin BAOAB steps (unit mass) from ``force`` (the forces at ``X``);
    every ``sample_every``-th step writes a row to ``samples`` and, if ``borns.shape[1]`` > 0,
    the Born term to ``borns``. Returns False if the state became non-finite."""
    n = X.shape[0]
    half = 0.5 * dt
    c1 = math.exp(-friction * dt)
    c2 = math.sqrt((1.0 - c1 * c1) * kT)
    empty = np.empty(0)
    w = np.empty(3)
    k = 0
    for step in range(1, n_steps + 1):
        for i in range(n):
            for a in range(3):
                w[a] = V[i, a] + half * force[i, a]
            for a in range(3):
                X[i, a] += half * (Finv[a, 0] * w[0] + Finv[a, 1] * w[1] + Finv[a, 2] * w[2])
            for a in range(3):
                w[a] = c1 * w[a] + c2 * np.random.standard_normal()
            for a in range(3):
                X[i, a] += half * (Finv[a, 0] * w[0] + Finv[a, 1] * w[1] + Finv[a, 2] * w[2])
            for a in range(3):
                V[i, a] = w[a]
        sample = step % sample_every == 0
        row = samples[k] if sample else empty
        if sample:
            row[:] = 0.0
        bo = borns[k] if sample and borns.shape[1] > 0 else empty
        if bo.size > 0:
            bo[:] = 0.0
        u = forces(X, F, L, rc, eshift, force, row, bo, delta)
        for i in range(n):
            for a in range(3):
                V[i, a] += half * force[i, a]
        if not abs(u) < 1e300:
            return False
        if sample:
            kinetic(V, row)
            k += 1
    for i in range(n):
        for a in range(3):
            X[i, a] -= L[a] * math.floor(X[i, a] / L[a])
    return True
