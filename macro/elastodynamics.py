r"""1D nonlinear elastodynamics in Lagrangian form, with a shock-capturing central scheme.

.. math::

    \partial_t \varepsilon - \partial_X v = 0, \qquad
    \rho_0\,\partial_t v - \partial_X \sigma(\varepsilon) = 0,

strain ``eps`` and velocity ``v`` per cell of the reference configuration,
stress ``sigma(eps)`` from a closure (e.g. molecular dynamics at each macro
point, Li & E, Phys. Rev. B 72, 2005). Conservation form ``U_t + F(U)_X = 0``
with ``U = (eps, v)`` and ``F = (-v, -sigma/rho0)``; sound speed
``c = sqrt(sigma'(eps)/rho0)``.

Scheme: Nessyahu & Tadmor (J. Comput. Phys. 87, 408, 1990), second-order
staggered central, minmod-limited slopes; one :meth:`NessyahuTadmor.step`
is two staggered half steps, so the solution comes back to the original
cells. The closure is queried at cell states only (predictor and corrector:
``2 n`` queries per half step). Periodic domain. CFL: ``dt/2 * c_max / dX
<= cfl`` (default 0.4 < 1/2), ``c_max`` from closure tangents (finite
differences with common random numbers), refreshed every ``cfl_refresh``
steps; larger steps are sub-cycled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validate import check_float, check_int
from .closure import CountingClosure, as_closure
from .grid import Grid1D

__all__ = ["ElasticWaveLaw", "NessyahuTadmor", "FieldStepResult", "FIELD_STEPPERS", "get_field_stepper"]


def _minmod(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)


class ElasticWaveLaw:
    """Lagrangian elastic waves: fields ``("strain", "velocity")``, closure
    ``stress(strain)`` (inputs ``("strain",)``, outputs ``("stress",)``).

    Parameters
    ----------
    density : float
        Reference mass density rho0 (> 0; mass / length in 1D).
    fd_step : float
        Strain step of the finite-difference stress tangent (sound speed).
    """

    fields = ("strain", "velocity")

    def __init__(self, density: float = 1.0, *, fd_step: float = 1e-4) -> None:
        self.density = check_float(density, "density", "ElasticWaveLaw()", positive=True)
        self.fd_step = check_float(fd_step, "fd_step", "ElasticWaveLaw()", positive=True)

    def __repr__(self) -> str:
        return f"ElasticWaveLaw(density={self.density!r}, fd_step={self.fd_step!r})"

    @staticmethod
    def closure_inputs(grid: Grid1D) -> tuple[str, ...]:
        return ("strain",)

    @staticmethod
    def closure_outputs(grid: Grid1D) -> tuple[str, ...]:
        return ("stress",)

    def stress(self, strain: np.ndarray, closure: Callable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sigma, stderr, cost_s) at each strain value (one closure call)."""
        res = as_closure(closure, "ElasticWaveLaw.stress()")(np.asarray(strain, dtype=float)[:, None])
        mean = np.asarray(res.mean, dtype=float).reshape(-1)
        if not np.all(np.isfinite(mean)):
            raise ValueError(f"ElasticWaveLaw: closure returned non-finite stress at row "
                             f"{int(np.argwhere(~np.isfinite(mean))[0, 0])}")
        return mean, np.asarray(res.stderr, dtype=float).reshape(-1), np.asarray(res.cost_s, dtype=float)

    def sound_speed(self, strain: np.ndarray, closure: Callable) -> float:
        """max_j sqrt(max(sigma'(eps_j), 0) / rho0) by forward differences in one call,
        the perturbed copies sharing their base point's random numbers if the
        closure supports it."""
        eps = np.asarray(strain, dtype=float)
        h = self.fd_step * max(1.0, float(np.max(np.abs(eps))))
        points = np.concatenate([eps, eps + h])[:, None]
        res = as_closure(closure, "ElasticWaveLaw.sound_speed()")(points, seed_rows=np.concatenate([eps, eps])[:, None])
        mean = np.asarray(res.mean, dtype=float).reshape(-1)
        modulus = (mean[eps.size:] - mean[:eps.size]) / h
        return float(np.sqrt(max(float(np.max(modulus)), 0.0) / self.density))

    # -- the interface of the field steppers (shared with macro.ThermoElasticWaveLaw) --------
    def flux(self, U: np.ndarray, closure: Callable) -> tuple[np.ndarray, float]:
        """Flux F(U) = (-v, -sigma / rho0) of ``U_t + F_X = 0`` and the micro cost (one closure call)."""
        sigma, _, cost = self.stress(U[0], closure)
        return np.stack([-U[1], -sigma / self.density]), float(np.sum(cost))

    def max_speed(self, U: np.ndarray, closure: Callable) -> float:
        """Largest characteristic speed |lambda| = c over the cells (for the CFL condition)."""
        return self.sound_speed(U[0], closure)

    def closure_values(self, U: np.ndarray, closure: Callable) -> tuple[np.ndarray, np.ndarray]:
        """Closure outputs at the cell states: mean and stderr, shape (n_cells, 1)."""
        sigma, se, _ = self.stress(U[0], closure)
        return sigma[:, None], se[:, None]


@dataclass(frozen=True, eq=False)
class FieldStepResult:
    """Outcome of one step: fields ``U`` (n_fields, n), the micro cost of the
    step and the number of sub-steps taken."""

    U: np.ndarray
    t: float
    dt: float
    cost_s: float
    n_substeps: int


class NessyahuTadmor:
    """Second-order staggered central scheme for multi-field laws (periodic).

    Works for any law with ``fields``, ``flux(U, closure) -> (F, cost_s)`` and
    ``max_speed(U, closure) -> float`` (:class:`ElasticWaveLaw`,
    :class:`macro.ThermoElasticWaveLaw`). The update is in conservation form,
    so the cell sums of every field are conserved to round-off.
    """

    name = "nessyahu_tadmor"
    implicit = False

    def __init__(self, law: ElasticWaveLaw, grid: Grid1D, closure: Callable, *, cfl: float = 0.4,
                 cfl_refresh: int = 10) -> None:
        if not all(hasattr(law, a) for a in ("fields", "flux", "max_speed")):
            raise TypeError(f"NessyahuTadmor(): `law` must be a multi-field law with `fields`, `flux` and "
                            f"`max_speed` (e.g. ElasticWaveLaw), got {type(law).__name__}")
        if not isinstance(grid, Grid1D):
            raise TypeError(f"NessyahuTadmor(): `grid` must be a Grid1D, got {type(grid).__name__}")
        self.law, self.grid = law, grid
        self.closure = CountingClosure(closure)
        self.cfl = check_float(cfl, "cfl", "NessyahuTadmor()", positive=True)
        if self.cfl > 0.5:
            raise ValueError(f"NessyahuTadmor(): `cfl` must be <= 0.5 for stability, got {cfl}")
        self.cfl_refresh = check_int(cfl_refresh, "cfl_refresh", "NessyahuTadmor()", minimum=1)
        self.speed: float | None = None
        self.n_steps = 0

    def _half_step(self, U: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
        """One staggered NT step with lam = dt/dX; result lives on cells shifted by +dX/2."""
        F, c1 = self.law.flux(U, self.closure)
        dU = _minmod(np.roll(U, -1, axis=1) - U, U - np.roll(U, 1, axis=1))
        dF = _minmod(np.roll(F, -1, axis=1) - F, F - np.roll(F, 1, axis=1))
        half = U - 0.5 * lam * dF
        Fh, c2 = self.law.flux(half, self.closure)
        new = (0.5 * (U + np.roll(U, -1, axis=1)) + 0.125 * (dU - np.roll(dU, -1, axis=1))
               - lam * (np.roll(Fh, -1, axis=1) - Fh))
        return new, c1 + c2

    def step(self, U: Any, t: float, dt: float) -> FieldStepResult:
        """Advance the fields (shape (n_fields, n)) from t to t + dt."""
        U = np.array(U, dtype=float)
        shape = (len(self.law.fields), self.grid.n_cells)
        if U.shape != shape:
            raise ValueError(f"NessyahuTadmor.step(): `U` must have shape {shape}, got {U.shape}")
        dt = check_float(dt, "dt", "NessyahuTadmor.step()", positive=True)
        dx = self.grid.spacing[0]
        if self.speed is None or self.n_steps % self.cfl_refresh == 0:
            self.speed = self.law.max_speed(U, self.closure)
        # each sub-step is two half steps of h/2: need (h/2) c / dx <= cfl
        n_sub = max(1, math.ceil(0.5 * dt * self.speed / (self.cfl * dx))) if self.speed > 0 else 1
        h = dt / n_sub
        cost = 0.0
        for _ in range(n_sub):
            U, c1 = self._half_step(U, 0.5 * h / dx)
            U, c2 = self._half_step(U, 0.5 * h / dx)
            U = np.roll(U, 1, axis=1)  # back onto the original cells
            cost += c1 + c2
        if not np.all(np.isfinite(U)):
            raise RuntimeError(f"NessyahuTadmor: non-finite state after the step from t={t:.6g}")
        self.n_steps += 1
        return FieldStepResult(U, t + dt, dt, cost, n_sub)


FIELD_STEPPERS: dict[str, type] = {"nessyahu_tadmor": NessyahuTadmor}


def get_field_stepper(name_or_class: Any) -> type:
    """Stepper class for multi-field (hyperbolic) laws by name or class."""
    if isinstance(name_or_class, str):
        try:
            return FIELD_STEPPERS[name_or_class]
        except KeyError:
            raise ValueError(f"unknown stepper {name_or_class!r} for a multi-field law; valid names "
                             f"are {sorted(FIELD_STEPPERS)}") from None
    if isinstance(name_or_class, type):
        return name_or_class
    raise TypeError(f"stepper must be a name or a class, got {type(name_or_class).__name__}")
