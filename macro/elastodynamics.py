r"""1D nonlinear elastodynamics in Lagrangian form, with a shock-capturing central scheme.

.. math::

    \partial_t \varepsilon - \partial_X v = 0, \qquad
    \rho_0\,\partial_t v - \partial_X \sigma(\varepsilon) = 0,

strain ``eps`` and velocity ``v`` per cell of the reference configuration,
stress ``sigma(eps)`` from a closure (e.g. molecular dynamics at each macro
point, Li & E, Phys. Rev. B 72, 2005). Conservation form ``U_t + F(U)_X = 0``
with ``U = (eps, v)`` and ``F = (-v, -sigma/rho0)``; sound speed
``c = sqrt(sigma'(eps)/rho0)``.

A :class:`macro.ConservationLaw` of form ``"flux"``: the closure is queried
at the cell states, and the stepper is the Nessyahu-Tadmor central scheme
(:class:`macro.steppers.NessyahuTadmor`, ``"nessyahu_tadmor"`` in
:data:`macro.STEPPERS`), periodic. ``c_max`` for its CFL condition comes from
closure tangents (finite differences with common random numbers).

``FIELD_STEPPERS``, :func:`get_field_stepper`, ``FieldStepResult`` and
``NessyahuTadmor`` stay importable from here: the flux-form part of
:data:`macro.STEPPERS`, :func:`macro.get_stepper`, :class:`macro.StepResult`
and the stepper class.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from ._validate import check_float
from .closure import as_closure
from .grid import Grid1D
from .law import Evaluation
from .steppers import STEPPERS, NessyahuTadmor, StepResult, get_stepper

__all__ = ["ElasticWaveLaw", "NessyahuTadmor", "FieldStepResult", "FIELD_STEPPERS", "get_field_stepper"]


def field_answers(law: Any, points: np.ndarray, closure: Any, seed_rows: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One closure call at cell-state ``points`` for a flux-form law: (mean
    (n, n_out), stderr, cost_s (n,)); a non-finite answer names the law and the state."""
    res = as_closure(closure, f"{type(law).__name__}")(points, seed_rows=seed_rows)
    mean = np.asarray(res.mean, dtype=float).reshape(len(points), -1)
    if not np.all(np.isfinite(mean)):
        row = int(np.argwhere(~np.isfinite(mean))[0, 0])
        raise ValueError(f"{type(law).__name__}: closure returned non-finite values at "
                         f"{law.closure_inputs(None)} = {tuple(points[row])}")
    return mean, np.asarray(res.stderr, dtype=float).reshape(mean.shape), np.asarray(res.cost_s, dtype=float)


class ElasticWaveLaw:
    """Lagrangian elastic waves: fields ``("strain", "velocity")``, closure
    ``stress(strain)`` (inputs ``("strain",)``, outputs ``("stress",)``).

    A :class:`macro.ConservationLaw` of form ``"flux"``: ``U = (eps, v)``,
    ``F(U) = (-v, -sigma / rho0)``, the closure at the cell strains.

    Parameters
    ----------
    density : float
        Reference mass density rho0 (> 0; mass / length in 1D).
    fd_step : float
        Strain step of the finite-difference stress tangent (sound speed).
    units : mapping, optional
        Unit strings of the fields (and ``x``, ``time``) where known.
    """

    form: ClassVar[str] = "flux"
    fields = ("strain", "velocity")

    def __init__(self, density: float = 1.0, *, fd_step: float = 1e-4,
                 units: Mapping[str, str] | None = None) -> None:
        self.density = check_float(density, "density", "ElasticWaveLaw()", positive=True)
        self.fd_step = check_float(fd_step, "fd_step", "ElasticWaveLaw()", positive=True)
        self.units: dict[str, str] = dict(units or {})

    def __repr__(self) -> str:
        units = f", units={self.units!r}" if self.units else ""
        return f"ElasticWaveLaw(density={self.density!r}, fd_step={self.fd_step!r}{units})"

    @staticmethod
    def closure_inputs(grid: Grid1D) -> tuple[str, ...]:
        return ("strain",)

    @staticmethod
    def closure_outputs(grid: Grid1D) -> tuple[str, ...]:
        return ("stress",)

    @staticmethod
    def closure_points(grid: Grid1D, U: np.ndarray, t: float = 0.0) -> np.ndarray:
        """Closure query (n_cells, 1): the cell strains."""
        return np.asarray(U[0], dtype=float)[:, None]

    def evaluate(self, grid: Grid1D, U: np.ndarray, t: float, closure: Any, *,
                 seed_points: np.ndarray | None = None) -> Evaluation:
        """Stress at the cell strains (one closure call) and ``F(U) = (-v, -sigma / rho0)``."""
        points = self.closure_points(grid, U, t)
        mean, stderr, cost = field_answers(self, points, closure, seed_points)
        return Evaluation(points=points, mean=mean, stderr=stderr, cost_s=cost, t=float(t),
                          flux=np.stack([-U[1], -mean[:, 0] / self.density]))

    def record(self, grid: Grid1D, evaluation: Evaluation) -> dict[str, tuple]:
        """The stress at the cell states: ``{"stress": (("x",), mean, stderr)}``."""
        return {"stress": (("x",), evaluation.mean[:, 0], evaluation.stderr[:, 0])}

    def stress(self, strain: np.ndarray, closure: Callable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sigma, stderr, cost_s) at each strain value (one closure call)."""
        mean, stderr, cost = field_answers(self, np.asarray(strain, dtype=float)[:, None], closure)
        return mean[:, 0], stderr[:, 0], cost

    def sound_speed(self, strain: np.ndarray, closure: Callable) -> float:
        """max_j sqrt(max(sigma'(eps_j), 0) / rho0) by forward differences in one call,
        the perturbed copies sharing their base point's random numbers."""
        eps = np.asarray(strain, dtype=float)
        h = self.fd_step * max(1.0, float(np.max(np.abs(eps))))
        points = np.concatenate([eps, eps + h])[:, None]
        mean, _, _ = field_answers(self, points, closure, np.concatenate([eps, eps])[:, None])
        modulus = (mean[eps.size:, 0] - mean[:eps.size, 0]) / h
        return float(np.sqrt(max(float(np.max(modulus)), 0.0) / self.density))

    def flux(self, U: np.ndarray, closure: Callable) -> tuple[np.ndarray, float]:
        """Flux F(U) = (-v, -sigma / rho0) of ``U_t + F_X = 0`` and the micro cost (one closure call)."""
        ev = self.evaluate(None, U, 0.0, closure)
        return ev.flux, float(np.sum(ev.cost_s))

    def max_speed(self, U: np.ndarray, closure: Callable) -> float:
        """Largest characteristic speed |lambda| = c over the cells (for the CFL condition)."""
        return self.sound_speed(U[0], closure)

    def closure_values(self, U: np.ndarray, closure: Callable) -> tuple[np.ndarray, np.ndarray]:
        """Closure outputs at the cell states: mean and stderr, shape (n_cells, 1)."""
        ev = self.evaluate(None, U, 0.0, closure)
        return ev.mean, ev.stderr


FieldStepResult = StepResult
"""Alias of :class:`macro.StepResult` (``.U`` is its state)."""

FIELD_STEPPERS: dict[str, type] = {name: cls for name, cls in STEPPERS.items() if "flux" in cls.forms}
"""The steppers of :data:`macro.STEPPERS` for flux-form (multi-field) laws."""

get_field_stepper = get_stepper
"""Alias of :func:`macro.get_stepper`."""
