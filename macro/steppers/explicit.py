"""Explicit Runge-Kutta steppers with CFL sub-cycling for semi-discrete laws.

``dt_max = cfl / r`` with ``r = law.max_rate(grid, U, t, closure)`` (for
:class:`macro.DiffusionLaw`, ``r = sum_k 2 D / h_k^2`` with ``D`` its
:meth:`~macro.DiffusionLaw.max_diffusivity`), estimated at the first step
and refreshed every ``cfl_refresh`` steps; a larger requested ``dt`` is split
into ``ceil(dt / dt_max)`` equal substeps.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._validate import check_float, check_int
from ..law import Evaluation
from ..tangent_linear import TangentStep, TapedEvaluation
from .base import Stepper

__all__ = ["ExplicitEuler", "Heun"]


class _Explicit(Stepper):
    """Explicit Runge-Kutta stepper with CFL sub-cycling.

    Options: ``cfl`` (default 0.9) and ``cfl_refresh`` (steps between
    stability-rate estimates, default 10).
    """

    tangent_linear = True

    def __init__(self, law: Any, grid: Any, closure: Any, *, cfl: float = 0.9, cfl_refresh: int = 10) -> None:
        super().__init__(law, grid, closure)
        cls = f"{type(self).__name__}()"
        self.cfl = check_float(cfl, "cfl", cls, positive=True)
        self.cfl_refresh = check_int(cfl_refresh, "cfl_refresh", cls, minimum=1)
        self.rate: float | None = None
        self._last_estimate = -1

    def dt_max(self, u: np.ndarray, t: float) -> float:
        """CFL limit ``cfl / rate``; refreshes the rate when due."""
        if self.rate is None or self.n_steps - self._last_estimate >= self.cfl_refresh:
            self.rate = self.law.max_rate(self.grid, u, t, self.closure)
            self._last_estimate = self.n_steps
        return math.inf if self.rate == 0.0 else self.cfl / self.rate

    def _stage(self, u: np.ndarray, t: float, h: float, k1: Evaluation) -> tuple[np.ndarray, tuple]:
        """The sub-step's new state and the further evaluations it made (as TapedEvaluation)."""
        raise NotImplementedError

    def _step_impl(self, u, t, dt):
        limit = self.dt_max(u, t)
        n_sub = max(1, math.ceil(dt / limit * (1.0 - 1e-12))) if math.isfinite(limit) else 1
        h = dt / n_sub
        first = None
        v = u
        for i in range(n_sub):  # sub-cycles in time, not a loop over points
            ev = self._rhs(v, t + i * h)
            if first is None:
                first = ev
            start = v
            v, stages = self._stage(v, t + i * h, h, ev)
            if self.tangent_tape is not None:
                self.tangent_tape.append(TangentStep(
                    "euler" if not stages else "heun", h, start, t + i * h,
                    (TapedEvaluation(ev, start, t + i * h, None), *stages)))
            if not np.all(np.isfinite(v)):
                return False, f"non-finite state in substep {i + 1}/{n_sub}", v, {"evaluation": first}
        msg = f"{n_sub} substep(s) of {h:.3g} (dt_max={limit:.3g})"
        return True, msg, v, {"evaluation": first, "n_substeps": n_sub}


class ExplicitEuler(_Explicit):
    """Forward Euler ``u_{n+1} = u_n + h F(u_n, t_n)`` with CFL sub-cycling."""

    name = "explicit_euler"
    order = 1

    def _stage(self, u, t, h, k1):
        return u + h * k1.du_dt, ()


class Heun(_Explicit):
    """Heun / explicit trapezoidal RK2: ``u* = u + h F(u)``, ``u_{n+1} = u + h/2 (F(u) + F(u*))``."""

    name = "heun"
    order = 2

    def _stage(self, u, t, h, k1):
        predictor = u + h * k1.du_dt
        k2 = self._rhs(predictor, t + h)
        return u + 0.5 * h * (k1.du_dt + k2.du_dt), (TapedEvaluation(k2, predictor, t + h, None),)
