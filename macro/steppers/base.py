"""The stepper base class, its result type and its error.

All steppers share :class:`Stepper` (in the spirit of SciPy's ``OdeSolver``)
and are chosen by name through :data:`macro.STEPPERS` /
:func:`macro.get_stepper`. A stepper works with any law that follows the
:class:`macro.ConservationLaw` protocol in one of the forms it lists in
``forms``; it never asks which class the law is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validate import check_float
from ..closure import CountingClosure, as_closure
from ..grid import Grid1D, Grid2D
from ..law import FORM_PROTOCOLS, LAW_FORMS, ConservationLaw, Evaluation, check_state

__all__ = ["Stepper", "StepResult", "StepperError"]


class StepperError(RuntimeError):
    """Raised by :meth:`Stepper.step` when a step fails (names the time and reason)."""


@dataclass(frozen=True, eq=False)
class StepResult:
    """Outcome of one :meth:`Stepper.step`.

    Attributes
    ----------
    u : ndarray
        The new state (the law's state shape: ``(n_cells,)`` for one field,
        ``(n_fields, n_cells)`` for several; also as :attr:`U`).
    t, dt : float
        Time reached and the step taken.
    evaluation : Evaluation
        The law's evaluation at the START of the step for explicit steppers
        and at the converged new state for implicit ones.
    n_closure_calls : int
        Closure calls (batches) the step made.
    n_substeps : int
        Sub-steps taken (CFL sub-cycling).
    newton_iterations : int
        Newton iterations (implicit steppers; 0 otherwise).
    message : str
        What the stepper did.
    cost_s : float
        Micro seconds the step's closure answers report (CFL estimates included).
    """

    u: np.ndarray
    t: float
    dt: float
    evaluation: Evaluation
    n_closure_calls: int
    n_substeps: int
    newton_iterations: int
    message: str
    cost_s: float = 0.0

    @property
    def U(self) -> np.ndarray:
        """The new state (the name multi-field laws use)."""
        return self.u


class Stepper:
    """Base class of the time-steppers.

    Implementer checklist (for a new subclass):

    1. Set the class attributes ``name`` (registry key), ``order``,
       ``implicit``, ``forms`` (the law forms of :data:`macro.law.LAW_FORMS`
       it applies to) and, if it needs fewer, ``grids``.
    2. Accept keyword options in ``__init__`` after ``law, grid, closure``,
       validate them naming the option, then call ``super().__init__``.
    3. Implement ``_step_impl(U, t, dt) -> (ok, message, U_new, info)``:
       ``U`` is the validated state, ``info`` a dict with the key
       ``"evaluation"`` (an :class:`macro.Evaluation`) and optionally
       ``"n_substeps"`` and ``"newton_iterations"``. Return ``ok=False``
       with a reason instead of raising for numerical failures.
    4. Use only the protocol members of the law's form, with ``self.closure``
       (a :class:`macro.CountingClosure`, so calls are counted), and
       increment ``self.n_jacobians`` for every Jacobian.
    5. Optionally (``tangent_linear = True``): when ``self.tangent_tape`` is
       a list, append one :class:`macro.tangent_linear.TangentStep` per
       (sub-)step taken, describing its linearisation; this must not
       change what the step computes.
    6. Add the class to :data:`macro.STEPPERS`.

    The public :meth:`step` validates arguments, owns ``status``
    (``"ready"``, ``"running"``, ``"failed"``) and the counters
    ``n_closure_calls``, ``n_jacobians`` and ``n_steps``, and raises
    :class:`StepperError` on failure.
    """

    name: ClassVar[str] = ""
    order: ClassVar[int] = 0
    implicit: ClassVar[bool] = False
    forms: ClassVar[tuple[str, ...]] = ("semi_discrete",)
    grids: ClassVar[tuple[type, ...]] = (Grid1D, Grid2D)
    tangent_linear: ClassVar[bool] = False
    """Whether the stepper records its steps' tangent-linear model in ``tangent_tape``."""

    def __init__(self, law: Any, grid: Any, closure: Any) -> None:
        cls = type(self).__name__
        self.check_law(law, f"{cls}()")
        self.law = law
        if not isinstance(grid, self.grids):
            names = " or ".join(g.__name__ for g in self.grids)
            raise TypeError(f"{cls}(): `grid` must be a {names}, got {type(grid).__name__}")
        self.grid = grid
        self.closure = CountingClosure(as_closure(closure, f"{cls}()"))
        self.n_jacobians = 0
        self.n_steps = 0
        self.status = "ready"
        self.tangent_tape: list | None = None
        """None, or a list the stepper appends :class:`macro.tangent_linear.TangentStep` records to."""

    @classmethod
    def check_law(cls, law: Any, func: str | None = None) -> None:
        """Refuse a law this stepper cannot advance.

        Raises
        ------
        TypeError
            ``law`` does not follow :class:`macro.ConservationLaw` (or the
            protocol of its form).
        ValueError
            ``law`` has a form this stepper does not apply to; the message
            names the steppers that do.
        """
        func = func or f"{cls.__name__}()"
        wanted = " or ".join(LAW_FORMS[f] for f in cls.forms)
        if not isinstance(law, ConservationLaw) or law.form not in FORM_PROTOCOLS:
            raise TypeError(f"{func}: `law` must be {wanted}, following macro.ConservationLaw; "
                            f"got {type(law).__name__}")
        if law.form not in cls.forms:
            from . import STEPPERS

            others = sorted(n for n, s in STEPPERS.items() if law.form in s.forms)
            raise ValueError(f"{func}: stepper {cls.name!r} applies to {wanted}; {type(law).__name__} is "
                             f"{LAW_FORMS[law.form]}: use one of {others}")
        protocol = FORM_PROTOCOLS[law.form]
        if not isinstance(law, protocol):
            raise TypeError(f"{func}: `law` {type(law).__name__} has form {law.form!r} but does not "
                            f"implement macro.{protocol.__name__}")

    @property
    def n_closure_calls(self) -> int:
        """Closure calls (batches) made by this stepper so far."""
        return self.closure.calls

    def __repr__(self) -> str:
        return f"{type(self).__name__}(grid={self.grid!r}, n_steps={self.n_steps}, status={self.status!r})"

    def step(self, u: Any, t: float, dt: float) -> StepResult:
        """Advance the state ``u`` from ``t`` to ``t + dt``; raise :class:`StepperError` on failure."""
        func = f"{type(self).__name__}.step()"
        u = check_state(self.law, self.grid, u, func)
        t = check_float(t, "t", func)
        dt = check_float(dt, "dt", func, positive=True)
        calls0, cost0 = self.closure.calls, self.closure.cost_s
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
            message=message, cost_s=self.closure.cost_s - cost0,
        )

    def _step_impl(self, u: np.ndarray, t: float, dt: float) -> tuple[bool, str, np.ndarray, dict]:
        raise NotImplementedError

    def _rhs(self, u: np.ndarray, t: float) -> Evaluation:
        return self.law.evaluate(self.grid, u, t, self.closure)
