"""Column names and Voigt helpers of the solid oracles (the conventions of
:mod:`macro.solids.kinematics`: Voigt order xx, yy[, zz, yz, xz], xy; engineering
shears in strain vectors; ``F``, ``P`` row-major; tangents ``C_ab``, ``A_a_b``)."""

from __future__ import annotations

from itertools import product

import numpy as np

AXES = "xyz"
VOIGT_PAIRS = {2: ((0, 0), (1, 1), (0, 1)), 3: ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))}


def strain_names(dim: int) -> tuple[str, ...]:
    return tuple(f"eps_{AXES[i]}{AXES[j]}" if i == j else f"gamma_{AXES[i]}{AXES[j]}" for i, j in VOIGT_PAIRS[dim])


def stress_names(dim: int) -> tuple[str, ...]:
    return tuple(f"sigma_{AXES[i]}{AXES[j]}" for i, j in VOIGT_PAIRS[dim])


def stiffness_names(dim: int) -> tuple[str, ...]:
    n = len(VOIGT_PAIRS[dim])
    return tuple(f"C_{a + 1}{b + 1}" for a, b in product(range(n), repeat=2))


def deformation_names(dim: int) -> tuple[str, ...]:
    return tuple(f"F_{AXES[i]}{AXES[j]}" for i, j in product(range(dim), repeat=2))


def piola_names(dim: int) -> tuple[str, ...]:
    return tuple(f"P_{AXES[i]}{AXES[j]}" for i, j in product(range(dim), repeat=2))


def piola_tangent_names(dim: int) -> tuple[str, ...]:
    return tuple(f"A_{a + 1}_{b + 1}" for a, b in product(range(dim * dim), repeat=2))


def voigt_strain_tensor(eps: np.ndarray) -> np.ndarray:
    """Voigt strain (engineering shears) -> symmetric strain tensor."""
    dim = {3: 2, 6: 3}[len(eps)]
    out = np.zeros((dim, dim))
    for a, (i, j) in enumerate(VOIGT_PAIRS[dim]):
        out[i, j] = out[j, i] = eps[a] if i == j else 0.5 * eps[a]
    return out


def isotropic_voigt(lam: np.ndarray, mu: np.ndarray, dim: int) -> np.ndarray:
    """Voigt stiffness ``(n, nv, nv)`` of isotropic points with Lame constants ``lam``, ``mu`` ``(n,)``."""
    lam, mu = np.atleast_1d(lam), np.atleast_1d(mu)
    nv = len(VOIGT_PAIRS[dim])
    C = np.zeros((lam.size, nv, nv))
    C[:, :dim, :dim] = lam[:, None, None]
    for a in range(dim):
        C[:, a, a] = lam + 2 * mu
    for a in range(dim, nv):
        C[:, a, a] = mu
    return C
