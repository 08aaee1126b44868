r"""1D finite-temperature (thermo-)elastodynamics in Lagrangian form: strain, momentum, energy.

.. math::

    \partial_t \varepsilon - \partial_X v = 0, \qquad
    \rho_0\,\partial_t v - \partial_X \sigma = 0, \qquad
    \rho_0\,\partial_t E - \partial_X (\sigma v - q) = 0,

on the reference configuration X (Li & E, Phys. Rev. B 72, 2005; E,
*Principles of Multiscale Modeling*, 2011, sec. 6.5). ``E = u + v^2 / 2`` is
the total energy per unit mass, ``u`` the specific internal energy, and the
stress sigma(eps, u) (and, for output, the temperature T(eps, u)) come from a
closure queried at ``(strain, internal_energy)`` -- e.g. a microcanonical MD
chain at that energy (:class:`oracles.NVEChain`). Conservation form
``U_t + F(U)_X = 0`` with ``U = (eps, v, E)`` and
``F = (-v, -sigma / rho0, -(sigma v - q) / rho0)``.

Heat flux: **q = 0** here (adiabatic, reversible-elastic closure). The
chosen reason: in a 1D anharmonic chain heat transport is anomalous (no
finite Fourier conductivity; Lepri, Livi & Politi, Phys. Rep. 377, 1, 2003),
so there is no local q(grad T) a micro model could return, and over the time
of a wave crossing the energy carried by phonons relative to the macro
motion is small; the direct-MD comparison in ``examples/md_elastic_wave.py``
measures what this neglect costs. Energy is still exactly conserved: the
scheme is in conservation form, so the cell sums of eps, v and E are
constant to round-off on the periodic domain, and the numerical dissipation
of a captured shock turns kinetic energy into internal energy (entropy
production at shocks, as in the micro model).

Characteristic speeds: 0 and +-c with the adiabatic sound speed
c^2 = [d sigma/d eps |_u + sigma (d sigma/d u |_eps) / rho0] / rho0
(along an adiabat rho0 du = sigma d eps). Units: any consistent set; with
LJ chains reduced units (stress = force, rho0 = m / a0).
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Mapping

import numpy as np

from ._validate import check_float
from .elastodynamics import field_answers
from .grid import Grid1D
from .law import Evaluation

__all__ = ["ThermoElasticWaveLaw"]


class ThermoElasticWaveLaw:
    """Lagrangian thermo-elastic waves: fields ``("strain", "velocity", "energy")``.

    ``energy`` is the total energy per unit mass E = u + v^2/2. The closure
    takes ``("strain", "internal_energy")`` and returns ``("stress",
    "temperature")`` (``outputs`` can name more; the law uses only the first,
    the stress, in the fluxes).

    Parameters
    ----------
    density : float
        Reference mass density rho0 (mass / length in 1D).
    fd_step, energy_fd_step : float
        Finite-difference steps in strain and in u for the sound speed
        (scaled like ``ElasticWaveLaw.fd_step``); perturbed points share
        their base point's random numbers when the closure supports it.
    sound_speed : float, optional
        A fixed bound on the sound speed used for the CFL condition instead
        of finite differences (saves ``2 n`` closure queries per refresh;
        useful with noisy closures, whose FD tangents are noisy).
    outputs : tuple of str
        Closure outputs; must start with ``"stress"``.
    units : mapping, optional
        Unit strings of the fields (and ``x``, ``time``) where known.

    Notes
    -----
    A :class:`macro.ConservationLaw` of form ``"flux"`` (stepper
    ``"nessyahu_tadmor"``).
    """

    form: ClassVar[str] = "flux"
    fields = ("strain", "velocity", "energy")

    def __init__(self, density: float = 1.0, *, fd_step: float = 1e-4, energy_fd_step: float = 1e-4,
                 sound_speed: float | None = None,
                 outputs: tuple[str, ...] = ("stress", "temperature"),
                 units: Mapping[str, str] | None = None) -> None:
        where = "ThermoElasticWaveLaw()"
        self.density = check_float(density, "density", where, positive=True)
        self.fd_step = check_float(fd_step, "fd_step", where, positive=True)
        self.energy_fd_step = check_float(energy_fd_step, "energy_fd_step", where, positive=True)
        self.fixed_speed = None if sound_speed is None else check_float(sound_speed, "sound_speed", where,
                                                                          positive=True)
        outputs = tuple(outputs)
        if not outputs or outputs[0] != "stress":
            raise ValueError(f"{where}: `outputs` must start with 'stress', got {outputs}")
        self.outputs = outputs
        self.units: dict[str, str] = dict(units or {})

    def __repr__(self) -> str:
        units = f", units={self.units!r}" if self.units else ""
        return (f"ThermoElasticWaveLaw(density={self.density!r}, fd_step={self.fd_step!r}, "
                f"energy_fd_step={self.energy_fd_step!r}, sound_speed={self.fixed_speed!r}, "
                f"outputs={self.outputs!r}{units})")

    @staticmethod
    def closure_inputs(grid: Grid1D) -> tuple[str, ...]:
        return ("strain", "internal_energy")

    def closure_outputs(self, grid: Grid1D) -> tuple[str, ...]:
        return self.outputs

    @staticmethod
    def points(U: np.ndarray) -> np.ndarray:
        """Closure points (n, 2): strain and specific internal energy u = E - v^2/2."""
        return np.column_stack([U[0], U[2] - 0.5 * U[1] ** 2])

    def closure_points(self, grid: Grid1D, U: np.ndarray, t: float = 0.0) -> np.ndarray:
        """Closure query (n_cells, 2): :meth:`points` of the state."""
        return self.points(U)

    def _call(self, points: np.ndarray, closure: Callable, seed_rows: np.ndarray | None = None):
        mean, stderr, cost = field_answers(self, points, closure, seed_rows)
        return mean, stderr, float(np.sum(cost))

    def evaluate(self, grid: Grid1D, U: np.ndarray, t: float, closure: Any, *,
                 seed_points: np.ndarray | None = None) -> Evaluation:
        """The closure at the cell states (one call) and F(U) = (-v, -sigma/rho0, -sigma v/rho0) (q = 0)."""
        points = self.points(U)
        mean, stderr, cost = field_answers(self, points, closure, seed_points)
        sigma = mean[:, 0]
        return Evaluation(points=points, mean=mean, stderr=stderr, cost_s=cost, t=float(t),
                          flux=np.stack([-U[1], -sigma / self.density, -sigma * U[1] / self.density]))

    def record(self, grid: Grid1D, evaluation: Evaluation) -> dict[str, tuple]:
        """Every closure output at the cell states: name -> (("x",), mean, stderr)."""
        return {name: (("x",), evaluation.mean[:, k], evaluation.stderr[:, k])
                for k, name in enumerate(self.outputs)}

    def flux(self, U: np.ndarray, closure: Callable) -> tuple[np.ndarray, float]:
        """F(U) = (-v, -sigma/rho0, -sigma v/rho0) (q = 0) and the micro cost (one closure call)."""
        ev = self.evaluate(None, U, 0.0, closure)
        return ev.flux, float(np.sum(ev.cost_s))

    def closure_values(self, U: np.ndarray, closure: Callable) -> tuple[np.ndarray, np.ndarray]:
        """All closure outputs at the cell states: mean and stderr, (n_cells, n_outputs)."""
        ev = self.evaluate(None, U, 0.0, closure)
        return ev.mean, ev.stderr

    def max_speed(self, U: np.ndarray, closure: Callable) -> float:
        """max_j c_j, c^2 = (sigma_eps + sigma sigma_u / rho0) / rho0, forward differences in one call
        (or the fixed ``sound_speed``)."""
        if self.fixed_speed is not None:
            return self.fixed_speed
        base = self.points(U)
        n = len(base)
        h_e = self.fd_step * max(1.0, float(np.max(np.abs(base[:, 0]))))
        h_u = self.energy_fd_step * max(1.0, float(np.max(np.abs(base[:, 1]))))
        pts = np.concatenate([base, base + [h_e, 0.0], base + [0.0, h_u]])
        mean, _, _ = self._call(pts, closure, np.concatenate([base, base, base]))
        s0, s_e, s_u = mean[:n, 0], mean[n:2 * n, 0], mean[2 * n:, 0]
        modulus = (s_e - s0) / h_e + s0 * (s_u - s0) / h_u / self.density
        return float(np.sqrt(max(float(np.max(modulus)), 0.0) / self.density))

    def total(self, U: np.ndarray, grid: Grid1D) -> dict[str, float]:
        """Domain integrals: total strain (elongation), momentum and energy (rho0 dX weights)."""
        dx = float(grid.spacing[0])
        return {"elongation": float(np.sum(U[0]) * dx), "momentum": float(self.density * np.sum(U[1]) * dx),
                "energy": float(self.density * np.sum(U[2]) * dx)}
