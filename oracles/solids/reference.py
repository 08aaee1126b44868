r"""Closed forms the solid oracles are checked against.

:func:`laminate_stiffness` -- the exact effective stiffness of a two-phase
isotropic laminate with layers normal to :math:`x_1` (continuity of the
in-plane strains :math:`\varepsilon_{22}, \varepsilon_{33}, \varepsilon_{23}` and of
the tractions :math:`\sigma_{11}, \sigma_{12}, \sigma_{13}` across the layers;
Backus 1962, J. Geophys. Res. 67, 4427; Milton, The Theory of Composites,
2002, ch. 9). With :math:`M = \lambda + 2\mu` and cell averages :math:`\langle\cdot\rangle`:

* normal: :math:`C^*_{1111} = \langle M^{-1}\rangle^{-1}` (series, Reuss);
* transverse shear: :math:`C^*_{1212} = \langle\mu^{-1}\rangle^{-1}` (series, Reuss);
* in-plane shear: :math:`C^*_{2323} = \langle\mu\rangle` (parallel, Voigt);
* :math:`C^*_{1122} = \langle\lambda/M\rangle\,C^*_{1111}`;
* :math:`C^*_{2222} = \langle M - \lambda^2/M\rangle + \langle\lambda/M\rangle^2 C^*_{1111}`,
  :math:`C^*_{2233} = \langle\lambda - \lambda^2/M\rangle + \langle\lambda/M\rangle^2 C^*_{1111}`.

:func:`triangular_nn_moduli` -- Lame constants of a 2D triangular lattice with
nearest-neighbour central springs of stiffness :math:`k` at zero force:
:math:`\lambda = \mu = \sqrt{3}\,k/4` (per unit area).
"""

from __future__ import annotations

import numpy as np

from .microstructure import lame

__all__ = ["laminate_stiffness", "triangular_nn_moduli", "lj_pair"]


def laminate_stiffness(E, nu, fraction: float, dim: int = 2) -> np.ndarray:
    """Voigt effective stiffness of the laminate (layers normal to x, phase 0 of volume
    ``fraction``), plane strain in 2D."""
    f = np.array([fraction, 1.0 - fraction])
    lm = np.array([lame(float(e), float(n)) for e, n in zip(E, nu)])
    lam, mu = lm[:, 0], lm[:, 1]
    M = lam + 2 * mu

    def avg(q):
        return float(f @ q)

    c11 = 1.0 / avg(1.0 / M)
    r = avg(lam / M)
    c12 = r * c11
    c22 = avg(M - lam**2 / M) + r**2 * c11
    c23 = avg(lam - lam**2 / M) + r**2 * c11
    c_normal_shear = 1.0 / avg(1.0 / mu)
    c_inplane_shear = avg(mu)
    if dim == 2:
        return np.array([[c11, c12, 0.0], [c12, c22, 0.0], [0.0, 0.0, c_normal_shear]])
    C = np.zeros((6, 6))
    C[0, 0] = c11
    C[0, 1] = C[1, 0] = C[0, 2] = C[2, 0] = c12
    C[1, 1] = C[2, 2] = c22
    C[1, 2] = C[2, 1] = c23
    C[3, 3] = c_inplane_shear  # yz: in the plane of the layers
    C[4, 4] = C[5, 5] = c_normal_shear  # xz, xy: across the layers
    return C


def triangular_nn_moduli(k: float) -> tuple[float, float]:
    """(lambda, mu) of the nearest-neighbour triangular spring lattice of spring constant ``k``."""
    return np.sqrt(3.0) * k / 4.0, np.sqrt(3.0) * k / 4.0


def lj_pair(r, epsilon: float = 1.0, sigma: float = 1.0):
    """LJ pair energy and its first two derivatives at distance ``r``."""
    s6 = (sigma / np.asarray(r, dtype=float)) ** 6
    phi = 4 * epsilon * (s6**2 - s6)
    d1 = 4 * epsilon * (-12 * s6**2 + 6 * s6) / r
    d2 = 4 * epsilon * (156 * s6**2 - 42 * s6) / r**2
    return phi, d1, d2
