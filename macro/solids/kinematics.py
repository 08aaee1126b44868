r"""Kinematics and constitutive bookkeeping of the solid laws: Voigt notation,
column names of the closure, isotropic stiffness and the tangent checks.

Conventions
-----------
* **Small strain.** Voigt order ``xx, yy, xy`` in 2D and ``xx, yy, zz, yz,
  xz, xy`` in 3D. The strain vector holds *engineering* shears
  (:math:`\gamma_{xy} = 2\varepsilon_{xy}`), the stress vector the tensor
  components, so that :math:`\sigma:\varepsilon = \sigma_V\cdot\varepsilon_V`
  and the tangent :math:`C_{ab} = \partial\sigma_a/\partial\varepsilon_b` is
  symmetric for a hyperelastic material. Closure columns: ``eps_xx, eps_yy,
  gamma_xy`` -> ``sigma_xx, sigma_yy, sigma_xy, C_11, C_12, ..., C_33``
  (1-based Voigt indices, row-major).
* **Finite strain.** Deformation gradient :math:`F_{iJ} = \delta_{iJ} +
  \partial u_i/\partial X_J` and first Piola-Kirchhoff stress
  :math:`P_{iJ}`, both flattened row-major (``F_xx, F_xy, F_yx, F_yy``);
  tangent ``A_ab`` :math:`= \partial P_a/\partial F_b` with the same flat
  indices (1-based), so :math:`A_{iJkL}` is ``A_{(i,J),(k,L)}``.
* **Plane strain** in 2D: the out-of-plane strain is zero, the 2D stiffness
  is the in-plane block of the 3D one.
"""

from __future__ import annotations

from itertools import product

import numpy as np

__all__ = ["EllipticityError", "AXES", "VOIGT_PAIRS", "position_names", "strain_names", "stress_names",
           "stiffness_names", "deformation_names", "piola_names", "piola_tangent_names", "strain_to_voigt",
           "voigt_to_tensor", "tensor_to_voigt", "isotropic_stiffness", "lame", "check_stiffness",
           "check_piola_tangent", "acoustic_directions"]

AXES = "xyz"
VOIGT_PAIRS = {2: ((0, 0), (1, 1), (0, 1)), 3: ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))}
"""Voigt index -> tensor index pair, per dimension."""


class EllipticityError(ValueError):
    """Raised when the tangent a closure returned at a quadrature point is not
    symmetric or has lost positive definiteness (small strain) or strong
    ellipticity (finite strain): a softening micro model, where Newton would
    otherwise diverge silently.

    Attributes
    ----------
    point : int
        Row of the closure call (the quadrature point, element-major).
    position : numpy.ndarray
        Its reference coordinates.
    value : float
        The offending quantity (relative asymmetry, or the smallest
        eigenvalue in tangent units).
    """

    def __init__(self, message: str, *, point: int, position: np.ndarray, value: float) -> None:
        super().__init__(message)
        self.point, self.position, self.value = int(point), np.asarray(position, dtype=float), float(value)


def _check_dim(dim: int, func: str) -> int:
    if dim not in (2, 3):
        raise ValueError(f"{func}: `dim` must be 2 or 3, got {dim!r}")
    return dim


def position_names(dim: int) -> tuple[str, ...]:
    """``("x", "y")`` or ``("x", "y", "z")``: the reference position columns."""
    return tuple(AXES[:_check_dim(dim, "position_names()")])


def strain_names(dim: int) -> tuple[str, ...]:
    """Small-strain closure inputs in Voigt order (engineering shears ``gamma_*``)."""
    pairs = VOIGT_PAIRS[_check_dim(dim, "strain_names()")]
    return tuple(f"eps_{AXES[i]}{AXES[j]}" if i == j else f"gamma_{AXES[i]}{AXES[j]}" for i, j in pairs)


def stress_names(dim: int) -> tuple[str, ...]:
    """Cauchy (small-strain) stress outputs in Voigt order."""
    return tuple(f"sigma_{AXES[i]}{AXES[j]}" for i, j in VOIGT_PAIRS[_check_dim(dim, "stress_names()")])


def stiffness_names(dim: int) -> tuple[str, ...]:
    """Tangent outputs ``C_ab`` (1-based Voigt indices, row-major)."""
    n = len(VOIGT_PAIRS[_check_dim(dim, "stiffness_names()")])
    return tuple(f"C_{a + 1}{b + 1}" for a, b in product(range(n), repeat=2))


def deformation_names(dim: int) -> tuple[str, ...]:
    """Finite-strain closure inputs: ``F_iJ`` row-major."""
    d = _check_dim(dim, "deformation_names()")
    return tuple(f"F_{AXES[i]}{AXES[j]}" for i, j in product(range(d), repeat=2))


def piola_names(dim: int) -> tuple[str, ...]:
    """First Piola-Kirchhoff stress outputs ``P_iJ`` row-major."""
    d = _check_dim(dim, "piola_names()")
    return tuple(f"P_{AXES[i]}{AXES[j]}" for i, j in product(range(d), repeat=2))


def piola_tangent_names(dim: int) -> tuple[str, ...]:
    """Finite-strain tangent outputs ``A_ab`` = dP_a / dF_b (flat 1-based indices)."""
    n = _check_dim(dim, "piola_tangent_names()") ** 2
    return tuple(f"A_{a + 1}_{b + 1}" for a, b in product(range(n), repeat=2))


def strain_to_voigt(grad: np.ndarray) -> np.ndarray:
    """Small strain of a displacement gradient ``grad[i, j] = du_i/dX_j`` (shape
    ``(dim, dim, ...)``) as a Voigt vector ``(n_voigt, ...)`` with engineering shears."""
    grad = np.asarray(grad, dtype=float)
    dim = _check_dim(grad.shape[0], "strain_to_voigt()")
    return np.stack([grad[i, i] if i == j else grad[i, j] + grad[j, i] for i, j in VOIGT_PAIRS[dim]])


def voigt_to_tensor(stress: np.ndarray) -> np.ndarray:
    """A stress Voigt vector ``(n_voigt, ...)`` as the symmetric tensor ``(dim, dim, ...)``."""
    stress = np.asarray(stress, dtype=float)
    dim = {3: 2, 6: 3}.get(stress.shape[0])
    if dim is None:
        raise ValueError(f"voigt_to_tensor(): expected 3 or 6 Voigt components, got {stress.shape[0]}")
    out = np.empty((dim, dim, *stress.shape[1:]))
    for a, (i, j) in enumerate(VOIGT_PAIRS[dim]):
        out[i, j] = out[j, i] = stress[a]
    return out


def tensor_to_voigt(tensor: np.ndarray) -> np.ndarray:
    """A symmetric stress tensor ``(dim, dim, ...)`` as a Voigt vector (tensor components)."""
    tensor = np.asarray(tensor, dtype=float)
    dim = _check_dim(tensor.shape[0], "tensor_to_voigt()")
    return np.stack([tensor[i, j] for i, j in VOIGT_PAIRS[dim]])


def lame(E: float, nu: float) -> tuple[float, float]:
    """Lame constants ``(lambda, mu)`` of Young's modulus ``E`` and Poisson ratio ``nu``
    (same units as ``E``); requires ``-1 < nu < 1/2`` and ``E > 0``."""
    if not (E > 0 and -1.0 < nu < 0.5):
        raise ValueError(f"lame(): need E > 0 and -1 < nu < 1/2, got E={E!r}, nu={nu!r}")
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def isotropic_stiffness(E: float, nu: float, dim: int = 2) -> np.ndarray:
    """Voigt stiffness ``(n_voigt, n_voigt)`` of an isotropic linear-elastic solid
    (plane strain in 2D), in the units of ``E``."""
    lam, mu = lame(E, nu)
    n = len(VOIGT_PAIRS[_check_dim(dim, "isotropic_stiffness()")])
    C = np.zeros((n, n))
    C[:dim, :dim] = lam
    C[np.arange(dim), np.arange(dim)] = lam + 2 * mu
    C[np.arange(dim, n), np.arange(dim, n)] = mu
    return C


def _where(positions: np.ndarray, k: int) -> str:
    return ", ".join(f"{a}={v:.6g}" for a, v in zip(AXES, positions[k]))


def check_stiffness(C: np.ndarray, positions: np.ndarray, *, rtol: float = 1e-6) -> None:
    """Check small-strain tangents ``C`` ``(n, nv, nv)``: symmetric within ``rtol``
    (relative to the largest entry) and positive definite (smallest eigenvalue of the
    symmetric part above ``rtol`` times the largest entry).

    Raises
    ------
    EllipticityError
        Naming the first quadrature point (row, position) that fails, and the
        asymmetry or the smallest eigenvalue.
    """
    C = np.asarray(C, dtype=float)
    scale = np.abs(C).max(axis=(1, 2))
    asym = np.abs(C - C.transpose(0, 2, 1)).max(axis=(1, 2)) / np.where(scale > 0, scale, 1.0)
    bad = np.flatnonzero(asym > rtol)
    if bad.size:
        k = int(bad[0])
        raise EllipticityError(
            f"check_stiffness(): the closure's tangent C is not symmetric at quadrature point {k} "
            f"({_where(positions, k)}): relative asymmetry {asym[k]:.3g} > rtol={rtol:g}",
            point=k, position=positions[k], value=asym[k])
    eig = np.linalg.eigvalsh(0.5 * (C + C.transpose(0, 2, 1)))[:, 0]
    bad = np.flatnonzero(~(eig > rtol * scale))
    if bad.size:
        k = int(bad[0])
        raise EllipticityError(
            f"check_stiffness(): the micro model lost positive definiteness (softening) at quadrature "
            f"point {k} ({_where(positions, k)}): smallest eigenvalue of C is {eig[k]:.6g}",
            point=k, position=positions[k], value=eig[k])


def acoustic_directions(dim: int, n: int = 64) -> np.ndarray:
    """Unit vectors ``(m, dim)`` sampling the half circle (2D) or a Fibonacci half
    sphere (3D): the directions of the strong-ellipticity test."""
    if _check_dim(dim, "acoustic_directions()") == 2:
        t = np.pi * (np.arange(n) + 0.5) / n
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    k = np.arange(4 * n) + 0.5
    z = k / (4 * n)  # upper half sphere: n and -n give the same acoustic tensor
    phi = np.pi * (1 + 5 ** 0.5) * k
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def check_piola_tangent(A: np.ndarray, positions: np.ndarray, *, rtol: float = 1e-6) -> None:
    r"""Check finite-strain tangents ``A`` ``(n, d^2, d^2)``: major symmetry
    :math:`A_{iJkL} = A_{kLiJ}` within ``rtol`` (a hyperelastic micro model) and strong
    ellipticity, :math:`\min_{|n|=1}\lambda_{\min}(Q(n)) > ` ``rtol`` times the largest entry, with the acoustic tensor
    :math:`Q_{ik}(n) = A_{iJkL} n_J n_L` (sampled directions, :func:`acoustic_directions`).

    Raises
    ------
    EllipticityError
        Naming the first quadrature point that fails, and the asymmetry or the
        smallest acoustic eigenvalue with its direction.
    """
    A = np.asarray(A, dtype=float)
    d = int(round(A.shape[1] ** 0.5))
    scale = np.abs(A).max(axis=(1, 2))
    asym = np.abs(A - A.transpose(0, 2, 1)).max(axis=(1, 2)) / np.where(scale > 0, scale, 1.0)
    bad = np.flatnonzero(asym > rtol)
    if bad.size:
        k = int(bad[0])
        raise EllipticityError(
            f"check_piola_tangent(): the closure's tangent dP/dF lacks major symmetry at quadrature point {k} "
            f"({_where(positions, k)}): relative asymmetry {asym[k]:.3g} > rtol={rtol:g}",
            point=k, position=positions[k], value=asym[k])
    dirs = acoustic_directions(d)
    A4 = A.reshape(-1, d, d, d, d)
    Q = np.einsum("piJkL,mJ,mL->pmik", A4, dirs, dirs)
    eig = np.linalg.eigvalsh(0.5 * (Q + Q.transpose(0, 1, 3, 2)))[..., 0]  # (n, m)
    worst = eig.argmin(axis=1)
    low = eig[np.arange(eig.shape[0]), worst]
    bad = np.flatnonzero(~(low > rtol * scale))
    if bad.size:
        k = int(bad[0])
        raise EllipticityError(
            f"check_piola_tangent(): the micro model lost strong ellipticity (softening) at quadrature point {k} "
            f"({_where(positions, k)}): acoustic tensor eigenvalue {low[k]:.6g} for direction "
            f"{np.array2string(dirs[worst[k]], precision=3)}",
            point=k, position=positions[k], value=low[k])
