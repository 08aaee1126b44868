"""Two-phase isotropic linear-elastic microstructures of the unit cell :math:`Y = [0, 1)^d`.

Each is a small frozen dataclass (hashable: it keys the cell-problem cache)
with the phase moduli (Young's modulus ``E`` in stress units, Poisson ratio
``nu``), :meth:`phase` (phase index at fast-variable points) and
:meth:`stiffness` (the local Voigt stiffness there, plane strain in 2D), so
that a direct fine-scale solve can resolve the same microstructure at
``y = x / eps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hmm.contract import OracleSetupError

from ._voigt import isotropic_voigt

__all__ = ["Laminate", "CircularInclusion", "lame"]


def lame(E: float, nu: float) -> tuple[float, float]:
    """Lame constants (lambda, mu) of ``E`` (> 0) and ``nu`` (-1 < nu < 1/2)."""
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def _check_phases(owner: str, E: tuple, nu: tuple) -> None:
    if len(E) != 2 or len(nu) != 2:
        raise OracleSetupError(f"{owner}: `E` and `nu` need one value per phase (2), got {E!r}, {nu!r}")
    for e, n in zip(E, nu):
        if not (float(e) > 0 and -1.0 < float(n) < 0.5):
            raise OracleSetupError(f"{owner}: need E > 0 and -1 < nu < 1/2 for every phase, got E={E}, nu={nu}")


class _TwoPhase:
    E: tuple[float, float]
    nu: tuple[float, float]

    def phase(self, y: np.ndarray) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def lame_fields(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(lambda, mu) at points ``y`` ``(n, dim)`` (periodic: any real ``y``)."""
        ph = self.phase(np.asarray(y, dtype=float))
        lm = np.array([lame(float(e), float(n)) for e, n in zip(self.E, self.nu)])
        return lm[ph, 0], lm[ph, 1]

    def stiffness(self, y: np.ndarray, dim: int = 2) -> np.ndarray:
        """Local Voigt stiffness ``(n, nv, nv)`` at points ``y`` ``(n, dim)``."""
        lam, mu = self.lame_fields(y)
        return isotropic_voigt(lam, mu, dim)


@dataclass(frozen=True)
class Laminate(_TwoPhase):
    """Layers normal to axis ``axis``: phase 0 where ``y_axis mod 1 < fraction``, else phase 1.

    Parameters
    ----------
    E, nu : tuple of two floats
        Young's moduli (stress units) and Poisson ratios of the phases.
    fraction : float
        Volume fraction of phase 0, in (0, 1).
    axis : int
        The lamination direction (layer normal), 0 = x.
    """

    E: tuple[float, float] = (10.0, 1.0)
    nu: tuple[float, float] = (0.3, 0.3)
    fraction: float = 0.5
    axis: int = 0

    def __post_init__(self) -> None:
        _check_phases("Laminate", self.E, self.nu)
        if not 0.0 < self.fraction < 1.0:
            raise OracleSetupError(f"Laminate: `fraction` must be in (0, 1), got {self.fraction!r}")
        if self.axis not in (0, 1, 2):
            raise OracleSetupError(f"Laminate: `axis` must be 0, 1 or 2, got {self.axis!r}")

    def phase(self, y: np.ndarray) -> np.ndarray:
        return (np.mod(y[:, self.axis], 1.0) >= self.fraction).astype(int)


@dataclass(frozen=True)
class CircularInclusion(_TwoPhase):
    """A circular (2D) or spherical (3D) inclusion of ``radius`` at the cell centre:
    phase 0 inside (moduli ``E[0], nu[0]``), phase 1 the matrix."""

    E: tuple[float, float] = (10.0, 1.0)
    nu: tuple[float, float] = (0.3, 0.3)
    radius: float = 0.3

    def __post_init__(self) -> None:
        _check_phases("CircularInclusion", self.E, self.nu)
        if not 0.0 < self.radius < 0.5:
            raise OracleSetupError(f"CircularInclusion: `radius` must be in (0, 1/2), got {self.radius!r}")

    def phase(self, y: np.ndarray) -> np.ndarray:
        r = np.linalg.norm(np.mod(y, 1.0) - 0.5, axis=1)
        return (r >= self.radius).astype(int)
