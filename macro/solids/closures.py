r"""Analytic constitutive closures for the solid laws (exact answers, zero stderr).

Both follow the closure protocol of :mod:`macro.closure` with the column
layout of :class:`macro.solids.SolidLaw`: ``points`` holds the reference
position (``dim`` columns) followed by the kinematic columns (Voigt strain
or flattened ``F``); the answer holds the stress followed by the tangent.

* :class:`LinearElasticClosure` -- :math:`\sigma = C(X)\,\varepsilon`, with a
  constant Voigt stiffness or one that depends on the position (a resolved
  fine-scale microstructure for a direct solve).
* :class:`SaintVenantKirchhoffClosure` -- :math:`S = \lambda\,\mathrm{tr}(E) I + 2\mu E`,
  :math:`E = (F^T F - I)/2`, :math:`P = F S`, with the exact tangent
  :math:`A_{iJkL} = \delta_{ik} S_{LJ} + F_{iI}\,\mathbb{C}_{IJLN}\,F_{kN}`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..closure import ClosureResult
from .kinematics import VOIGT_PAIRS, isotropic_stiffness, lame

__all__ = ["LinearElasticClosure", "SaintVenantKirchhoffClosure"]


def _exact(mean: np.ndarray) -> ClosureResult:
    n = mean.shape[0]
    return ClosureResult(mean, np.zeros_like(mean), np.zeros(n), np.zeros(n, dtype=bool))


@dataclass(frozen=True)
class LinearElasticClosure:
    """Small-strain linear elasticity :math:`\\sigma = C\\varepsilon` (Voigt, engineering shears).

    Parameters
    ----------
    stiffness : array_like (nv, nv) or callable
        A constant Voigt stiffness (units of stress), or ``stiffness(positions)``
        returning ``(n, nv, nv)`` for reference positions ``(n, dim)``.
    dim : int
        2 (plane strain, nv = 3) or 3 (nv = 6).
    """

    stiffness: Any
    dim: int = 2

    @classmethod
    def isotropic(cls, E: float, nu: float, dim: int = 2) -> "LinearElasticClosure":
        """Homogeneous isotropic solid of Young's modulus ``E`` and Poisson ratio ``nu``."""
        return cls(isotropic_stiffness(E, nu, dim), dim)

    def _C(self, positions: np.ndarray) -> np.ndarray:
        nv = len(VOIGT_PAIRS[self.dim])
        if callable(self.stiffness):
            C = np.asarray(self.stiffness(positions), dtype=float)
        else:
            C = np.broadcast_to(np.asarray(self.stiffness, dtype=float), (positions.shape[0], nv, nv))
        if C.shape != (positions.shape[0], nv, nv):
            raise ValueError(f"LinearElasticClosure: stiffness must have shape (n, {nv}, {nv}), got {C.shape}")
        return C

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        points = np.asarray(points, dtype=float)
        d, nv = self.dim, len(VOIGT_PAIRS[self.dim])
        if points.ndim != 2 or points.shape[1] != d + nv:
            raise ValueError(f"LinearElasticClosure: points must have {d + nv} columns (position, Voigt strain), "
                             f"got shape {points.shape}")
        C = self._C(points[:, :d])
        sigma = np.einsum("nab,nb->na", C, points[:, d:])
        return _exact(np.concatenate([sigma, C.reshape(len(points), -1)], axis=1))


@dataclass(frozen=True)
class SaintVenantKirchhoffClosure:
    """Finite-strain Saint Venant-Kirchhoff solid (isotropic; ``E`` in stress units).

    Points: position then ``F`` row-major; answers: ``P`` row-major then
    ``A = dP/dF`` (``d^2 x d^2``, row-major).
    """

    E: float
    nu: float
    dim: int = 2
    position_dependence: Callable[[np.ndarray], np.ndarray] | None = None

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        points = np.asarray(points, dtype=float)
        d = self.dim
        if points.ndim != 2 or points.shape[1] != d + d * d:
            raise ValueError(f"SaintVenantKirchhoffClosure: points must have {d + d * d} columns (position, F), "
                             f"got shape {points.shape}")
        lam, mu = lame(self.E, self.nu)
        scale = (np.ones(len(points)) if self.position_dependence is None
                 else np.asarray(self.position_dependence(points[:, :d]), dtype=float))
        F = points[:, d:].reshape(-1, d, d)
        I = np.eye(d)
        Egl = 0.5 * (np.einsum("nki,nkj->nij", F, F) - I)
        tr = np.trace(Egl, axis1=1, axis2=2)
        S = scale[:, None, None] * (lam * tr[:, None, None] * I + 2 * mu * Egl)
        P = np.einsum("niI,nIJ->niJ", F, S)
        Cm = lam * np.einsum("IJ,LN->IJLN", I, I) + mu * (np.einsum("IL,JN->IJLN", I, I)
                                                           + np.einsum("IN,JL->IJLN", I, I))
        A = (np.einsum("ik,nLJ->niJkL", I, S)
             + scale[:, None, None, None, None] * np.einsum("niI,IJLN,nkN->niJkL", F, Cm, F))
        n = len(points)
        return _exact(np.concatenate([P.reshape(n, -1), A.reshape(n, -1)], axis=1))
