r"""The Nessyahu-Tadmor central scheme for laws in flux form ``U_t + F(U)_X = 0``.

Second-order staggered central, minmod-limited slopes (Nessyahu & Tadmor,
J. Comput. Phys. 87, 408, 1990); one step is two staggered half steps, so
the solution comes back to the original cells. The closure is queried at
cell states only (predictor and corrector: ``2 n`` queries per half step)
through ``law.evaluate``, whose ``flux`` is ``F`` per cell. Periodic
domain. CFL: ``dt/2 * c_max / dX <= cfl`` (default 0.4 < 1/2), ``c_max =
law.max_speed(U, closure)``, refreshed every ``cfl_refresh`` steps; larger
steps are sub-cycled. The update is in conservation form, so the cell sums
of every field are conserved to round-off.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .._validate import check_float, check_int
from ..grid import Grid1D
from ..law import Evaluation
from .base import Stepper

__all__ = ["NessyahuTadmor"]


def _minmod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)


class NessyahuTadmor(Stepper):
    """Second-order staggered central scheme for flux-form (multi-field) laws, periodic.

    Works for any law of form ``"flux"`` (:class:`macro.ElasticWaveLaw`,
    :class:`macro.ThermoElasticWaveLaw`, or a user's
    :class:`macro.law.FluxFormLaw`).

    Options: ``cfl`` (default 0.4, at most 0.5) and ``cfl_refresh`` (steps
    between sound-speed estimates, default 10).
    """

    name = "nessyahu_tadmor"
    order = 2
    implicit = False
    forms: ClassVar[tuple[str, ...]] = ("flux",)
    grids: ClassVar[tuple[type, ...]] = (Grid1D,)

    def __init__(self, law: Any, grid: Any, closure: Any, *, cfl: float = 0.4, cfl_refresh: int = 10) -> None:
        super().__init__(law, grid, closure)
        self.cfl = check_float(cfl, "cfl", "NessyahuTadmor()", positive=True)
        if self.cfl > 0.5:
            raise ValueError(f"NessyahuTadmor(): `cfl` must be <= 0.5 for stability, got {cfl}")
        self.cfl_refresh = check_int(cfl_refresh, "cfl_refresh", "NessyahuTadmor()", minimum=1)
        self.speed: float | None = None

    def _half_step(self, U: np.ndarray, t: float, lam: float) -> tuple[np.ndarray, Evaluation]:
        """One staggered NT step with lam = dt/dX; result lives on cells shifted by +dX/2."""
        ev = self.law.evaluate(self.grid, U, t, self.closure)
        F = ev.flux
        dU = _minmod(np.roll(U, -1, axis=1) - U, U - np.roll(U, 1, axis=1))
        dF = _minmod(np.roll(F, -1, axis=1) - F, F - np.roll(F, 1, axis=1))
        half = U - 0.5 * lam * dF
        Fh = self.law.evaluate(self.grid, half, t, self.closure).flux
        new = (0.5 * (U + np.roll(U, -1, axis=1)) + 0.125 * (dU - np.roll(dU, -1, axis=1))
               - lam * (np.roll(Fh, -1, axis=1) - Fh))
        return new, ev

    def _step_impl(self, U, t, dt):
        dx = self.grid.spacing[0]
        if self.speed is None or self.n_steps % self.cfl_refresh == 0:
            self.speed = self.law.max_speed(U, self.closure)
        # each sub-step is two half steps of h/2: need (h/2) c / dx <= cfl
        n_sub = max(1, math.ceil(0.5 * dt * self.speed / (self.cfl * dx))) if self.speed > 0 else 1
        h = dt / n_sub
        first = None
        for i in range(n_sub):  # sub-cycles in time, not a loop over cells
            U, ev = self._half_step(U, t + i * h, 0.5 * h / dx)
            U, _ = self._half_step(U, t + (i + 0.5) * h, 0.5 * h / dx)
            U = np.roll(U, 1, axis=1)  # back onto the original cells
            first = ev if first is None else first
        return True, f"{n_sub} substep(s) of {h:.3g} (c_max={self.speed:.3g})", U, \
            {"evaluation": first, "n_substeps": n_sub}
