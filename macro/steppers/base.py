"""Time-steppers for the semi-discrete law ``du/dt = F(u, t)``.

All steppers share :class:`Stepper` (in the spirit of SciPy's
``OdeSolver``) and are chosen by name through :data:`STEPPERS` /
:func:`get_stepper`:

==================  =========  =====  ==========================================
name                kind       order  stability control
==================  =========  =====  ==========================================
``explicit_euler``  explicit   1      CFL sub-cycling
``heun``            explicit   2      CFL sub-cycling (RK2, same real-axis limit)
``implicit_euler``  implicit   1      theta = 1, modified Newton
``crank_nicolson``  implicit   2      theta = 1/2, modified Newton
==================  =========  =====  ==========================================

Explicit CFL: ``dt_max = cfl / sum_k (2 D / h_k^2)`` with ``D`` from
:meth:`macro.DiffusionLaw.max_diffusivity`, estimated at the first step and
refreshed every ``cfl_refresh`` steps; a larger requested ``dt`` is split into
``ceil(dt / dt_max)`` equal substeps.

Implicit theta method: ``R(v) = v - u - dt (theta F(v, t+dt) + (1-theta) F(u, t))``
solved by modified Newton with the matrix ``I - dt theta J`` kept (as a
SuperLU factorisation) across steps. It is refreshed when dt changes, when
the contraction ``||R_k+1|| / ||R_k|| > 0.5``, or when Newton has not
converged after ``max_newton`` iterations since the last refresh; the step
fails after ``2 max_newton`` iterations in total. Convergence by the
noise-aware rule of :mod:`macro.newton`:
``||R||_inf <= newton_tol * max(1, ||v||_inf) + 64 eps max(|v| + dt theta |J| |v|)
+ c dt theta max(rhs_stderr(v))``, the noise term once Newton has moved, so
noisy closures stop at their noise floor. ``c = noise_factor`` defaults to
:func:`macro.newton.noise_factor` (``>= 3 sqrt 2``, growing like
``sqrt(2 ln n_cells)``; a flat 3 would almost never be met on large grids).
Only the noise of ``F(v)`` counts: ``F(u, t)`` is fixed within a step. For a linear, time-independent closure
the Jacobian is computed once and reused for every later step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .._validate import as_state, check_float, check_int
from ..closures import CountingClosure
from ..diffusion import DiffusionLaw, FluxEvaluation, _check_grid
from ..newton import acceptance_threshold
from ..newton import noise_factor as default_noise_factor

__all__ = [
    "Stepper", "StepResult", "StepperError", "ExplicitEuler", "Heun", "ImplicitEuler",
    "CrankNicolson", "STEPPERS", "get_stepper",
]


class StepperError(RuntimeError):
    """Raised by :meth:`Stepper.step` when a step fails (names the time and reason)."""


class _SingularMatrix(Exception):
    """Internal: the Newton matrix could not be factorised."""


@dataclass(frozen=True, eq=False)
class StepResult:
    """Outcome of one :meth:`Stepper.step`.

    ``evaluation`` is the right-hand side at the START of the step for
    explicit steppers and at the converged new state for implicit ones.
    """

    u: np.ndarray
    t: float
    dt: float
    evaluation: FluxEvaluation
    n_closure_calls: int
    n_substeps: int
    newton_iterations: int
    message: str


class Stepper:
    """Base class of the time-steppers.

    Implementer checklist (for a new subclass):

    1. Set the class attributes ``name`` (registry key), ``order`` and
       ``implicit``.
    2. Accept keyword options in ``__init__`` after ``law, grid, closure``,
       validate them naming the option, then call ``super().__init__``.
    3. Implement ``_step_impl(u, t, dt) -> (ok, message, u_new, info)``:
       ``u`` is the validated flat state, ``info`` a dict with the key
       ``"evaluation"`` (a :class:`FluxEvaluation`) and optionally
       ``"n_substeps"`` and ``"newton_iterations"``. Return ``ok=False``
       with a reason instead of raising for numerical failures.
    4. Evaluate the closure only through ``self.law`` with ``self.closure``
       (a :class:`CountingClosure`, so calls are counted) and increment
       ``self.n_jacobians`` for every Jacobian.
    5. Add the class to :data:`STEPPERS`.

    The public :meth:`step` validates arguments, owns ``status``
    (``"ready"``, ``"running"``, ``"failed"``) and the counters
    ``n_closure_calls``, ``n_jacobians`` and ``n_steps``, and raises
    :class:`StepperError` on failure.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 0
    implicit: ClassVar[bool] = False

    def __init__(self, law: DiffusionLaw, grid: Any, closure: Callable[[np.ndarray], Any]) -> None:
        cls = type(self).__name__
        if not isinstance(law, DiffusionLaw):
            raise TypeError(f"{cls}(): `law` must be a DiffusionLaw, got {type(law).__name__}")
        self.law = law
        self.grid = _check_grid(grid, f"{cls}()")
        if not callable(closure):
            raise TypeError(f"{cls}(): `closure` must be callable, got {type(closure).__name__}")
        self.closure = CountingClosure(closure)
        self.n_jacobians = 0
        self.n_steps = 0
        self.status = "ready"

    @property
    def n_closure_calls(self) -> int:
        """Closure calls (batches) made by this stepper so far."""
        return self.closure.calls

    def __repr__(self) -> str:
        return f"{type(self).__name__}(grid={self.grid!r}, n_steps={self.n_steps}, status={self.status!r})"

    def step(self, u: Any, t: float, dt: float) -> StepResult:
        """Advance ``u`` from ``t`` to ``t + dt``; raise :class:`StepperError` on failure."""
        func = f"{type(self).__name__}.step()"
        u = as_state(u, self.grid.n_cells, self.grid.shape, func)
        t = check_float(t, "t", func)
        dt = check_float(dt, "dt", func, positive=True)
        calls0 = self.closure.calls
        self.status = "running"
        try:
            ok, message, u_new, info = self._step_impl(u, t, dt)
        except BaseException:  # closure or law errors propagate unchanged
            self.status = "failed"
            raise
        if ok and not np.all(np.isfinite(u_new)):
            ok, message = False, "non-finite state"
        if not ok:
            self.status = "failed"
            raise StepperError(f"{self.name} step from t={t:.6g} with dt={dt:.6g} failed: {message}")
        self.n_steps += 1
        return StepResult(
            u=u_new, t=t + dt, dt=dt, evaluation=info["evaluation"],
            n_closure_calls=self.closure.calls - calls0,
            n_substeps=int(info.get("n_substeps", 1)),
            newton_iterations=int(info.get("newton_iterations", 0)),
            message=message,
        )

    def _step_impl(self, u: np.ndarray, t: float, dt: float) -> tuple[bool, str, np.ndarray, dict]:
        raise NotImplementedError

    def _rhs(self, u: np.ndarray, t: float) -> FluxEvaluation:
        return self.law.evaluate(self.grid, u, t, self.closure)


class _Explicit(Stepper):
    """Explicit Runge-Kutta stepper with CFL sub-cycling.

    Options: ``cfl`` (default 0.9) and ``cfl_refresh`` (steps between
    diffusivity estimates, default 10).
    """

    def __init__(self, law: DiffusionLaw, grid: Any, closure: Callable[[np.ndarray], Any], *,
                 cfl: float = 0.9, cfl_refresh: int = 10) -> None:
        super().__init__(law, grid, closure)
        cls = f"{type(self).__name__}()"
        self.cfl = check_float(cfl, "cfl", cls, positive=True)
        self.cfl_refresh = check_int(cfl_refresh, "cfl_refresh", cls, minimum=1)
        self.diffusivity: float | None = None
        self._last_estimate = -1

    def dt_max(self, u: np.ndarray, t: float) -> float:
        """CFL limit ``cfl / sum_k (2 D / h_k^2)``; refreshes ``D`` when due."""
        if self.diffusivity is None or self.n_steps - self._last_estimate >= self.cfl_refresh:
            self.diffusivity = self.law.max_diffusivity(self.grid, u, t, self.closure)
            self._last_estimate = self.n_steps
        rate = sum(2.0 * self.diffusivity / h**2 for h in self.grid.spacing)
        return math.inf if rate == 0.0 else self.cfl / rate

    def _stage(self, u: np.ndarray, t: float, h: float, k1: FluxEvaluation) -> np.ndarray:
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
            v = self._stage(v, t + i * h, h, ev)
            if not np.all(np.isfinite(v)):
                return False, f"non-finite state in substep {i + 1}/{n_sub}", v, {"evaluation": first}
        msg = f"{n_sub} substep(s) of {h:.3g} (dt_max={limit:.3g})"
        return True, msg, v, {"evaluation": first, "n_substeps": n_sub}


class ExplicitEuler(_Explicit):
    """Forward Euler ``u_{n+1} = u_n + h F(u_n, t_n)`` with CFL sub-cycling."""

    name = "explicit_euler"
    order = 1

    def _stage(self, u, t, h, k1):
        return u + h * k1.du_dt


class Heun(_Explicit):
    """Heun / explicit trapezoidal RK2: ``u* = u + h F(u)``, ``u_{n+1} = u + h/2 (F(u) + F(u*))``."""

    name = "heun"
    order = 2

    def _stage(self, u, t, h, k1):
        k2 = self._rhs(u + h * k1.du_dt, t + h)
        return u + 0.5 * h * (k1.du_dt + k2.du_dt)


class _Theta(Stepper):
    """Theta method with modified Newton (see the module docstring).

    Options: ``newton_tol`` (1e-10), ``max_newton`` (8), ``contraction`` (0.5),
    ``noise_factor`` (None: :func:`macro.newton.noise_factor` of the grid).
    """

    theta: ClassVar[float] = 1.0
    implicit = True

    def __init__(self, law: DiffusionLaw, grid: Any, closure: Callable[[np.ndarray], Any], *,
                 newton_tol: float = 1e-10, max_newton: int = 8,
                 contraction: float = 0.5, noise_factor: float | None = None) -> None:
        super().__init__(law, grid, closure)
        cls = f"{type(self).__name__}()"
        self.newton_tol = check_float(newton_tol, "newton_tol", cls, positive=True)
        self.max_newton = check_int(max_newton, "max_newton", cls, minimum=1)
        self.contraction = check_float(contraction, "contraction", cls, positive=True)
        self.noise_factor = (default_noise_factor(self.grid.n_cells) if noise_factor is None
                             else check_float(noise_factor, "noise_factor", cls, nonnegative=True))
        self._lu = None
        self._abs_j = None
        self._lu_dt: float | None = None
        self._start: tuple[float, np.ndarray, FluxEvaluation] | None = None  # last converged state
        self._seeds: np.ndarray | None = None  # flux points of the current step's start

    def _refresh(self, v: np.ndarray, t1: float, dt: float) -> FluxEvaluation:
        jac, ev = self.law.jacobian(self.grid, v, t1, self.closure, seed_points=self._seeds)
        self.n_jacobians += 1
        n = self.grid.n_cells
        matrix = (sp.identity(n, format="csc") - (dt * self.theta) * jac).tocsc()
        try:
            self._lu = spla.splu(matrix)
        except RuntimeError as err:  # SuperLU: exactly singular
            self._lu = None
            raise _SingularMatrix(f"Newton matrix I - dt*theta*J is singular: {err}") from err
        self._abs_j = abs(jac)
        self._lu_dt = dt
        return ev

    def _start_rhs(self, u: np.ndarray, t: float) -> FluxEvaluation:
        """``F(u, t)``, reusing the previous step's converged evaluation when it matches."""
        if self._start is not None and self._start[0] == t and np.array_equal(self._start[1], u):
            return self._start[2]
        return self._rhs(u, t)

    def _step_impl(self, u, t, dt):
        try:
            return self._newton(u, t, dt)
        except _SingularMatrix as err:
            return False, str(err), u, {}

    def _iterate_rhs(self, v: np.ndarray, t1: float) -> FluxEvaluation:
        """F(v) with this step's common random numbers (see :meth:`_newton`)."""
        return self.law.evaluate(self.grid, v, t1, self.closure, seed_points=self._seeds)

    def _newton(self, u: np.ndarray, t: float, dt: float) -> tuple[bool, str, np.ndarray, dict]:
        """Modified Newton for v. Noisy closures see one noise realisation per step:
        every evaluation in the step draws its random numbers from the flux
        points of the step's start (common random numbers), so the iteration
        solves one smooth equation instead of chasing fresh noise."""
        th, t1 = self.theta, t + dt
        self._seeds = self.law.flux_points(self.grid, u, t)
        f0 = self._start_rhs(u, t) if th < 1.0 else None
        explicit_part = u + (dt * (1.0 - th)) * f0.du_dt if f0 is not None else u
        v = u.copy()
        if self._lu is None or self._lu_dt != dt:
            ev, fresh = self._refresh(v, t1, dt), True
        else:
            ev, fresh = self._iterate_rhs(v, t1), False
        iterations, since_refresh, prev, refreshed_for_cap = 0, 0, None, False
        while True:
            r = v - explicit_part - (dt * th) * ev.du_dt
            rnorm = float(np.abs(r).max())
            tol = acceptance_threshold(
                tol=self.newton_tol, scale=float(np.abs(v).max()),
                roundoff=float(np.max(np.abs(v) + dt * th * (self._abs_j @ np.abs(v)))),
                noise=float(ev.rhs_stderr.max()), noise_factor=self.noise_factor, noise_weight=dt * th,
                moved=iterations > 0)
            if rnorm <= tol:
                self._start = (t1, v.copy(), ev)
                msg = f"Newton converged in {iterations} iteration(s), ||R||_inf={rnorm:.2e} <= {tol:.2e}"
                return True, msg, v, {"evaluation": ev, "newton_iterations": iterations}
            stalled = prev is not None and rnorm > self.contraction * prev
            capped = since_refresh >= self.max_newton
            if (capped and (fresh or refreshed_for_cap)) or iterations >= 2 * self.max_newton:
                msg = (f"Newton did not converge in {iterations} iterations: ||R||_inf={rnorm:.3e} > "
                       f"tol={tol:.3e}")
                return False, msg, v, {"evaluation": ev, "newton_iterations": iterations}
            if (stalled or capped) and not fresh:
                refreshed_for_cap = refreshed_for_cap or capped
                ev, fresh, since_refresh, prev = self._refresh(v, t1, dt), True, 0, None
                continue
            v = v + self._lu.solve(-r)
            ev, fresh = self._iterate_rhs(v, t1), False
            prev, iterations, since_refresh = rnorm, iterations + 1, since_refresh + 1


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


STEPPERS: dict[str, type[Stepper]] = {
    cls.name: cls for cls in (ExplicitEuler, Heun, ImplicitEuler, CrankNicolson)
}
"""Registry of time-steppers by name."""


def get_stepper(name_or_class: Any) -> type[Stepper]:
    """Return the stepper class for a registry name or a :class:`Stepper` subclass.

    Raises
    ------
    ValueError
        Unknown name; the message lists the valid names.
    TypeError
        Neither a string nor a Stepper subclass.
    """
    if isinstance(name_or_class, str):
        try:
            return STEPPERS[name_or_class]
        except KeyError:
            raise ValueError(
                f"get_stepper(): unknown stepper {name_or_class!r}; valid names are {sorted(STEPPERS)}"
            ) from None
    if isinstance(name_or_class, type) and issubclass(name_or_class, Stepper):
        return name_or_class
    raise TypeError(
        "get_stepper(): `name_or_class` must be a stepper name "
        f"({sorted(STEPPERS)}) or a Stepper subclass, got {type(name_or_class).__name__}"
    )
