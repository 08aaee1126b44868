"""Goal functionals of the macro solution and their flux sensitivities.

A goal is a linear functional ``J(u) = psi . u`` of the cell values (e.g. the
mean of ``u`` over a sub-domain, in the units of ``u``). For the steady law
``F(u) = div q(u) + f = 0`` a perturbation ``dq_f`` of the normal flux at
face ``f`` moves the solution by ``du = -J_u^{-1} Div[:, f] dq_f``, so

.. math::

    \\frac{\\partial J}{\\partial q_f} = s_f = -(\\mathrm{Div}^T z)_f,
    \\qquad J_u^T z = \\psi ,

with ``J_u = dF/du`` the macro Jacobian (adjoint / dual weights ``z``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["MeanValueGoal", "flux_sensitivity", "dual_to_flux_sensitivity", "adjoint"]


@dataclass(frozen=True)
class MeanValueGoal:
    """``J(u) = (1/|R|) int_R u dx``: mean of ``u`` over the box ``R`` (units of ``u``).

    Parameters
    ----------
    region : tuple of (low, high) pairs, one per axis
        The box ``R``; in 1D a single pair ``(a, b)`` is accepted.

    Cells are weighted by the fraction of their volume inside ``R`` (exact for
    boxes aligned with cell faces, first order otherwise).
    """

    region: tuple = ((0.0, 1.0),)

    def __post_init__(self) -> None:
        reg = np.asarray(self.region, dtype=float)
        if reg.ndim == 1:
            reg = reg[None, :]
        if reg.ndim != 2 or reg.shape[1] != 2 or not np.all(reg[:, 1] > reg[:, 0]):
            raise ValueError(f"MeanValueGoal: `region` must be (low, high) pairs with low < high, got {self.region!r}")
        object.__setattr__(self, "region", tuple(tuple(map(float, r)) for r in reg))

    def weights(self, grid: Any) -> np.ndarray:
        """``psi`` (n_cells,) such that ``J(u) = psi @ u``."""
        if len(self.region) != grid.dim:
            raise ValueError(f"MeanValueGoal.weights(): region has {len(self.region)} axes, grid has {grid.dim}")
        fractions = []
        for (lo, hi), centres, h in zip(self.region, grid.centres, grid.spacing):
            left, right = centres - h / 2, centres + h / 2
            fractions.append(np.clip(np.minimum(right, hi) - np.maximum(left, lo), 0.0, None))
        overlap = fractions[0] if grid.dim == 1 else np.multiply.outer(fractions[0], fractions[1]).ravel()
        volume = float(np.prod([hi - lo for lo, hi in self.region]))
        return overlap / volume

    def value(self, grid: Any, u: Any) -> float:
        """``J(u)`` for cell values ``u`` (flat or ``grid.shape``)."""
        return float(self.weights(grid) @ np.asarray(u, dtype=float).ravel())


def adjoint(jacobian: sp.spmatrix, psi: np.ndarray) -> np.ndarray:
    """Dual weights ``z`` solving ``J_u^T z = psi`` (sparse LU)."""
    return spla.spsolve(sp.csc_matrix(jacobian).T.tocsc(), np.asarray(psi, dtype=float))


def flux_sensitivity(law: Any, grid: Any, jacobian: sp.spmatrix, psi: np.ndarray) -> np.ndarray:
    """``s_f = dJ/dq_f`` (n_faces,): goal sensitivity to each face's normal flux."""
    return dual_to_flux_sensitivity(law, grid, adjoint(jacobian, psi))


def dual_to_flux_sensitivity(law: Any, grid: Any, z: np.ndarray) -> np.ndarray:
    """``s_f = -(Div^T z)_f`` (n_faces,) from the dual weights ``z`` of :func:`adjoint`."""
    return -np.asarray(law.operators(grid).divergence.T @ z).ravel()
