"""Slow, obviously correct all-pairs NumPy forces of a :class:`~oracles.dpd.DPDSystem`:
the reference the numba kernels are tested against (DPD units)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from . import _kernels as K

if TYPE_CHECKING:
    from .engine import DPDSystem


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
