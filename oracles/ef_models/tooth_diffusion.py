r"""A fine-grid reaction-diffusion tooth for gap-tooth and patch dynamics.

Inside one tooth of width ``width`` the micro model solves

.. math:: u_t = D\,u_{xx} + r\,u(1 - u)

on ``cells`` cell-centred points with explicit steps (``dt`` at most 0.4 of the
diffusive limit), with the boundary gradients prescribed from the macro
interpolant (Gear, Li & Kevrekidis, Phys. Lett. A 316, 190, 2003). With
``r = 0`` the gap-tooth scheme built on it reproduces the heat equation; with
``r > 0`` it is the Fisher-KPP equation. A stand-in for a particle or KMC
tooth with exactly known macro behaviour. Units: dimensionless.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hmm.contract import OracleRunError

from .._validate import check_int, check_positive
from ._tooth_kernels import heat_tooth


@dataclass(frozen=True)
class DiffusionTooth:
    """Fine-grid tooth model.

    Parameters
    ----------
    diffusivity : float
        D (> 0).
    rate : float
        Logistic reaction rate r (>= 0).
    cells : int
        Fine cells across the tooth (>= 4).
    """

    diffusivity: float = 1.0
    rate: float = 0.0
    cells: int = 16

    def __post_init__(self) -> None:
        check_positive(self.diffusivity, "diffusivity", "DiffusionTooth")
        check_positive(self.rate, "rate", "DiffusionTooth", allow_zero=True)
        check_int(self.cells, "cells", "DiffusionTooth", minimum=4)

    def lift(self, value: float, slope: float, curvature: float, width: float,
             rng: np.random.Generator) -> np.ndarray:
        """Fine profile with tooth average exactly ``value`` from the local
        quadratic U(x) = value + slope x + curvature (x^2 - <x^2>), where <x^2>
        is the mean over the fine cells (width^2/12 up to the cell size), so
        that restrict(lift(U)) = U to round-off."""
        x = (np.arange(self.cells) + 0.5) / self.cells * width - width / 2
        return value + slope * x + curvature * (x**2 - np.mean(x**2))

    def micro(self, u: np.ndarray, slope_left: float, slope_right: float, width: float,
              duration: float, rng: np.random.Generator) -> np.ndarray:
        """Evolve the tooth for ``duration`` with the given boundary gradients."""
        dx = width / self.cells
        stable = 0.4 * dx * dx / self.diffusivity
        n = max(1, math.ceil(duration / stable))
        out = heat_tooth(np.array(u, dtype=float), dx, self.diffusivity, self.rate, duration / n, n,
                         slope_left, slope_right)
        if not np.all(np.isfinite(out)):
            raise OracleRunError("DiffusionTooth diverged")
        return out

    @staticmethod
    def restrict(u: np.ndarray) -> float:
        """Tooth average."""
        return float(np.mean(u))
