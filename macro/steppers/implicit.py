"""Implicit theta steppers with modified Newton for semi-discrete laws.

Theta method: ``R(v) = v - u - dt (theta F(v, t+dt) + (1-theta) F(u, t))``
solved by modified Newton with the matrix ``I - dt theta J`` kept (as a
SuperLU factorisation) across steps, ``J = law.jacobian(...)``. It is
refreshed when dt changes, when the contraction ``||R_k+1|| / ||R_k|| >
0.5``, or when Newton has not converged after ``max_newton`` iterations since
the last refresh; the step fails after ``2 max_newton`` iterations in total.
Newton stops by the rule of :mod:`macro.newton`: converged when
``||R||_inf <= newton_tol * max(1, ||v||_inf) + 64 eps max(|v| + dt theta |J| |v|)``
on the step's frozen-noise residual (every closure call of a step draws its
random numbers from the closure points of the step's start), so noisy runs
are not biased by an under-converged iterate. A closure that is noisy
between iterations stops at the noise floor ``c dt theta max(rhs_stderr(v))``
once a full Newton step fails to contract the residual (``c =
noise_factor``, default :func:`macro.newton.noise_factor`; 0 switches the
guard off); at the iteration cap an iterate within
:data:`macro.newton.NOISE_RESOLUTION` of that floor is accepted.
``newton_rule="noise_floor"`` restores the earlier, biased rule.
Only the noise of ``F(v)`` counts: ``F(u, t)`` is fixed within a step. For a
linear, time-independent closure the Jacobian is computed once and reused
for every later step.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validate import check_float, check_int
from ..law import Evaluation
from ..newton import NOISE_RESOLUTION, check_newton_rule, converged_threshold, newton_status
from ..newton import noise_factor as default_noise_factor
from .base import Stepper

__all__ = ["ImplicitEuler", "CrankNicolson"]


class _SingularMatrix(Exception):
    """Internal: the Newton matrix could not be factorised."""


class _Theta(Stepper):
    """Theta method with modified Newton (see the module docstring).

    Options: ``newton_tol`` (1e-10), ``max_newton`` (8), ``contraction`` (0.5),
    ``noise_factor`` (None: :func:`macro.newton.noise_factor` of the grid),
    ``newton_rule`` (``"converge"``; see :data:`macro.newton.NEWTON_RULES`).
    """

    theta: ClassVar[float] = 1.0
    implicit = True

    def __init__(self, law: Any, grid: Any, closure: Any, *,
                 newton_tol: float = 1e-10, max_newton: int = 8,
                 contraction: float = 0.5, noise_factor: float | None = None,
                 newton_rule: str = "converge") -> None:
        super().__init__(law, grid, closure)
        cls = f"{type(self).__name__}()"
        self.newton_tol = check_float(newton_tol, "newton_tol", cls, positive=True)
        self.max_newton = check_int(max_newton, "max_newton", cls, minimum=1)
        self.contraction = check_float(contraction, "contraction", cls, positive=True)
        self.noise_factor = (default_noise_factor(self.grid.n_cells) if noise_factor is None
                             else check_float(noise_factor, "noise_factor", cls, nonnegative=True))
        self.newton_rule = check_newton_rule(newton_rule, cls)
        self._lu = None
        self._abs_j = None
        self._lu_dt: float | None = None
        self._start: tuple[float, np.ndarray, Evaluation] | None = None  # last converged state
        self._seeds: np.ndarray | None = None  # closure points of the current step's start

    def _refresh(self, v: np.ndarray, t1: float, dt: float) -> Evaluation:
        jac, ev = self.law.jacobian(self.grid, v, t1, self.closure, seed_points=self._seeds)
        self.n_jacobians += 1
        matrix = (sp.identity(v.size, format="csc") - (dt * self.theta) * jac).tocsc()
        try:
            self._lu = spla.splu(matrix)
        except RuntimeError as err:  # SuperLU: exactly singular
            self._lu = None
            raise _SingularMatrix(f"Newton matrix I - dt*theta*J is singular: {err}") from err
        self._abs_j = abs(jac)
        self._lu_dt = dt
        return ev

    def _start_rhs(self, u: np.ndarray, t: float) -> Evaluation:
        """``F(u, t)``, reusing the previous step's converged evaluation when it matches."""
        if self._start is not None and self._start[0] == t and np.array_equal(self._start[1], u):
            return self._start[2]
        return self._rhs(u, t)

    def _step_impl(self, u, t, dt):
        try:
            return self._newton(u, t, dt)
        except _SingularMatrix as err:
            return False, str(err), u, {}

    def _iterate_rhs(self, v: np.ndarray, t1: float) -> Evaluation:
        """F(v) with this step's common random numbers (see :meth:`_newton`)."""
        return self.law.evaluate(self.grid, v, t1, self.closure, seed_points=self._seeds)

    def _newton(self, u: np.ndarray, t: float, dt: float) -> tuple[bool, str, np.ndarray, dict]:
        """Modified Newton for v. Noisy closures see one noise realisation per step:
        every evaluation in the step draws its random numbers from the closure
        points of the step's start (common random numbers), so the iteration
        solves one smooth equation instead of chasing fresh noise."""
        th, t1 = self.theta, t + dt
        self._seeds = self.law.closure_points(self.grid, u, t)
        f0 = self._start_rhs(u, t) if th < 1.0 else None
        explicit_part = u + (dt * (1.0 - th)) * f0.du_dt if f0 is not None else u
        v = u.copy()
        if self._lu is None or self._lu_dt != dt:
            ev, fresh = self._refresh(v, t1, dt), True
        else:
            ev, fresh = self._iterate_rhs(v, t1), False
        iterations, since_refresh, prev, refreshed_for_cap = 0, 0, None, False
        full_step = False  # whether the update that produced v used a Jacobian fresh at its start
        while True:
            r = v - explicit_part - (dt * th) * ev.du_dt
            rnorm = float(np.abs(r).max())
            tol = converged_threshold(
                tol=self.newton_tol, scale=float(np.abs(v).max()),
                roundoff=float(np.max(np.abs(v).ravel() + dt * th * (self._abs_j @ np.abs(v).ravel()))))
            floor = self.noise_factor * (dt * th) * float(ev.rhs_stderr.max())
            stalled = prev is not None and rnorm > self.contraction * prev
            capped = since_refresh >= self.max_newton
            last = (capped and (fresh or refreshed_for_cap)) or iterations >= 2 * self.max_newton
            status = newton_status(rnorm, threshold=tol, noise_floor=floor, previous=prev, full_step=full_step,
                                   contraction=self.contraction, rule=self.newton_rule, moved=iterations > 0,
                                   last=last)
            if status != "continue":
                self._start = (t1, v.copy(), ev)
                return True, _accepted(status, iterations, rnorm, tol, floor, self.newton_rule), v, \
                    {"evaluation": ev, "newton_iterations": iterations}
            if last:
                msg = (f"Newton did not converge in {iterations} iterations: ||R||_inf={rnorm:.3e} > "
                       f"tol={tol:.3e}")
                return False, msg, v, {"evaluation": ev, "newton_iterations": iterations}
            if (stalled or capped) and not fresh:
                refreshed_for_cap = refreshed_for_cap or capped
                ev, fresh, since_refresh, prev = self._refresh(v, t1, dt), True, 0, None
                continue
            v, full_step = v + self._lu.solve(-r.ravel()).reshape(v.shape), fresh
            ev, fresh = self._iterate_rhs(v, t1), False
            prev, iterations, since_refresh = rnorm, iterations + 1, since_refresh + 1


def _accepted(status: str, iterations: int, rnorm: float, tol: float, floor: float, rule: str) -> str:
    """The message of an accepted Newton iterate (see :func:`macro.newton.newton_status`)."""
    if status == "converged":
        bound = tol + floor if rule == "noise_floor" and iterations > 0 else tol
        return f"Newton converged in {iterations} iteration(s), ||R||_inf={rnorm:.2e} <= {bound:.2e}"
    if status == "stagnated":
        return (f"Newton stagnated at the closure noise floor after {iterations} iteration(s): "
                f"||R||_inf={rnorm:.2e} <= {tol + floor:.2e} (tolerance {tol:.2e}); accepted")
    return (f"Newton reached its iteration cap ({iterations}) short of the tolerance {tol:.2e} with "
            f"||R||_inf={rnorm:.2e}, below {NOISE_RESOLUTION:g} of the closure noise floor {floor:.2e}; accepted")


class ImplicitEuler(_Theta):
    """Backward Euler ``v = u + dt F(v, t + dt)`` (theta = 1)."""

    name = "implicit_euler"
    order = 1
    theta = 1.0


class CrankNicolson(_Theta):
    """Crank-Nicolson ``v = u + dt/2 (F(u, t) + F(v, t + dt))`` (theta = 1/2)."""

    name = "crank_nicolson"
    order = 2
    theta = 0.5
