r"""Boundary-parameter couplings: a parameter of the macro law's boundary condition answered by a second oracle.

A macro law's closure comes from one oracle (the bulk); a parameter of its
boundary condition may come from another, e.g. the Navier slip length
:math:`\ell` of channel flow, :math:`u = \ell\, \partial u / \partial n` at a
wall, measured by a near-wall micro model at the wall shear rate of the macro
solution (Ren & E, J. Comput. Phys. 204, 1, 2005, couple MD near walls in
this spirit). The parameter and the solution then have to agree:

.. math::

    \ell = G\bigl(u(\ell), \ell\bigr) + \xi, \qquad
    \xi \sim N\bigl(0, \sigma(\ell)^2\bigr),

where :math:`u(\ell)` is the macro solution with parameter :math:`\ell`,
:math:`G` the second oracle's answer at the state the query builds from it,
and :math:`\sigma` that answer's standard error. :func:`noisy_fixed_point`
iterates :math:`\ell_{k+1} = G(u(\ell_k), \ell_k) + \xi_k` from
:math:`\ell_0` and accepts the solution of pass :math:`k` once the oracle's
next answer no longer differs significantly from the value it was solved
with,

.. math::

    |\ell_{k+1} - \ell_k| < n_\sigma \sqrt{\sigma_{k+1}^2 + \sigma_k^2}
    \quad (\text{or} \le \text{atol}),

component by component for a vector parameter (one query row per
component). The accepted value keeps its standard error :math:`\sigma_k`
(0 for a deterministic start :math:`\ell_0`); an optional sensitivity
:math:`\partial u / \partial \ell` carries it into the solution. The
iteration converges in mean when the map is a contraction,
:math:`|\partial G / \partial \ell| < 1`; a pass limit stops it otherwise
with :class:`FixedPointError`, or (``on_exhausted="solve"``) with one more
solve at the oracle's last answer, returned as not converged.

Units are those of the parameter (a length for a slip length). Nothing here
knows a concrete oracle or law: the caller supplies ``solve(value)`` (e.g.
:func:`steady_hmm`) and the :class:`BoundaryCoupling`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .accounting import Accounting
from .contract import Budget, HMMError
from .coupler import Coupler

__all__ = ["BoundaryCoupling", "FixedPointError", "FixedPointIterate", "FixedPointResult", "noisy_fixed_point",
           "steady_hmm"]

Value = float | tuple[float, ...]


def _fmt(v: np.ndarray) -> str:
    v = np.asarray(v, dtype=float).ravel()
    return f"{v[0]:.4g}" if v.size == 1 else "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def _law_value(v: np.ndarray) -> Value:
    """A parameter value as a law takes it: a float, or a tuple for several components."""
    v = np.asarray(v, dtype=float).ravel()
    return float(v[0]) if v.size == 1 else tuple(float(x) for x in v)


@dataclass(frozen=True)
class BoundaryCoupling:
    """A boundary parameter of the macro law measured by a second oracle.

    Parameters
    ----------
    parameter : str
        Name of the law's parameter (the keyword :func:`steady_hmm` passes,
        e.g. ``"slip_length"``); also names it in results and errors.
    coupler : Coupler
        Runs the second (e.g. near-wall) oracle; its cache answers repeated
        query states without a new run.
    query : callable
        ``query(solution, value) -> states``: the oracle state(s) at which the
        parameter is measured, from the macro solution computed with
        parameter ``value`` (a float, or a tuple for several components).
        One row (or a 1D array) per parameter component, columns
        ``coupler.oracle.inputs``.
    answer : str
        The oracle output that is the parameter (one of ``coupler.oracle.outputs``).
    budget : Budget, optional
        Budget of every measurement (default ``Budget()``).
    """

    parameter: str
    coupler: Coupler
    query: Callable[[Any, Value], Any]
    answer: str
    budget: Budget | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.parameter, str) or not self.parameter:
            raise TypeError(f"BoundaryCoupling(): `parameter` must be a non-empty str, got {self.parameter!r}")
        if not isinstance(self.coupler, Coupler):
            raise TypeError(f"BoundaryCoupling(): `coupler` must be a hmm.Coupler, got {type(self.coupler).__name__}")
        if not callable(self.query):
            raise TypeError(f"BoundaryCoupling(): `query` must be callable (solution, value) -> states, got "
                            f"{type(self.query).__name__}")
        outputs = tuple(self.coupler.oracle.outputs)
        if self.answer not in outputs:
            raise ValueError(f"BoundaryCoupling(): `answer` must be one of the oracle's outputs {outputs}, got "
                             f"{self.answer!r}")
        if self.budget is not None and not isinstance(self.budget, Budget):
            raise TypeError(f"BoundaryCoupling(): `budget` must be a hmm.Budget, got {type(self.budget).__name__}")

    def states(self, solution: Any, value: Value) -> np.ndarray:
        """The query states for ``solution``, checked: shape (n_components, n_inputs)."""
        inputs = tuple(self.coupler.oracle.inputs)
        raw = self.query(solution, value)
        try:
            states = np.asarray(raw, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"BoundaryCoupling.states(): `query` must return a numeric array of shape "
                             f"(n_components, {len(inputs)}), got {type(raw).__name__}: {exc}") from exc
        if states.ndim == 1:
            states = states[None, :]
        if states.ndim != 2 or states.shape[0] < 1 or states.shape[1] != len(inputs):
            raise ValueError(f"BoundaryCoupling.states(): `query` must return shape (n_components, {len(inputs)}) "
                             f"with columns {inputs}, got shape {states.shape}")
        return states

    def measure(self, solution: Any, value: Value) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One measurement of the parameter: (answer, its stderr, the query states), arrays of
        one entry per component."""
        states = self.states(solution, value)
        batch = self.coupler.evaluate(states, self.budget)
        column = tuple(self.coupler.oracle.outputs).index(self.answer)
        return batch.mean[:, column].copy(), batch.stderr[:, column].copy(), states


@dataclass(frozen=True)
class FixedPointIterate:
    """One pass: the macro solve with ``value`` (stderr ``stderr``) and the oracle's answer to it.

    ``value``, ``stderr``, ``answer`` and ``answer_stderr`` are arrays with one
    entry per parameter component; ``states`` are the query rows.
    """

    value: np.ndarray
    stderr: np.ndarray
    states: np.ndarray
    answer: np.ndarray
    answer_stderr: np.ndarray

    @property
    def z(self) -> np.ndarray:
        """|answer - value| in combined standard errors (inf where both are exact and differ)."""
        diff = np.abs(self.answer - self.value)
        combined = np.hypot(self.answer_stderr, self.stderr)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(combined > 0, diff / np.where(combined > 0, combined, 1.0),
                            np.where(diff > 0, np.inf, 0.0))


@dataclass(frozen=True)
class FixedPointResult:
    """Outcome of :func:`noisy_fixed_point`.

    Attributes
    ----------
    parameter : str
        The coupled parameter.
    value, stderr : float or tuple of float
        The parameter value the final ``solution`` was computed with, and its
        standard error (parameter units).
    converged : bool
        Whether the stopping rule accepted ``solution``.
    iterates : tuple of FixedPointIterate
        Every pass, in order.
    solution : object
        The last solution (what ``solve`` returned for ``value``).
    solutions : tuple
        The solution of every pass (``solutions[0]`` is the one with the
        initial value).
    accounting : Accounting
        Micro work of the coupling's coupler during the iteration (fresh runs,
        cached answers, micro seconds); the macro solves' work is counted by
        their own coupler.
    solution_stderr : ndarray or None
        ``|d solution / d parameter| * stderr`` (components added in
        quadrature) when a sensitivity was given, else None.
    """

    parameter: str
    value: Value
    stderr: Value
    converged: bool
    iterates: tuple[FixedPointIterate, ...]
    solution: Any
    solutions: tuple[Any, ...]
    accounting: Accounting
    solution_stderr: np.ndarray | None = None

    @property
    def n_solves(self) -> int:
        """Macro solves done (one per pass)."""
        return len(self.solutions)

    @property
    def n_queries(self) -> int:
        """Query rows sent to the coupling's coupler (cached answers included)."""
        return sum(len(it.states) for it in self.iterates)


class FixedPointError(HMMError, RuntimeError):
    """Raised by :func:`noisy_fixed_point` when the parameter has not settled
    within ``max_iterations`` passes. ``.result`` holds every pass so far
    (``converged`` False; ``value`` is the last value solved with, and the
    oracle's latest answer is ``result.iterates[-1].answer``)."""

    def __init__(self, message: str, result: FixedPointResult) -> None:
        super().__init__(message)
        self.result = result


def _check_number(x: Any, name: str, *, low: float, strict: bool) -> float:
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"noisy_fixed_point(): `{name}` must be a real number, got {type(x).__name__}")
    x = float(x)
    if not math.isfinite(x) or (x <= low if strict else x < low):
        raise ValueError(f"noisy_fixed_point(): `{name}` must be a finite number {'>' if strict else '>='} {low}, "
                         f"got {x}")
    return x


def _as_components(x: Any, name: str) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(x, dtype=float))
    if arr.ndim != 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"noisy_fixed_point(): `{name}` must be a finite number or a 1D sequence of them, got {x!r}")
    return arr


def noisy_fixed_point(solve: Callable[[Value], Any], coupling: BoundaryCoupling, *, initial: Any = 0.0,
                      initial_stderr: Any = 0.0, max_iterations: int = 10, n_sigma: float = 2.0, atol: float = 0.0,
                      sensitivity: Callable[[Any], Any] | None = None,
                      on_exhausted: str = "raise") -> FixedPointResult:
    """Solve the macro problem and the boundary parameter consistently, by a noisy fixed point.

    Pass ``k``: ``solution_k = solve(value_k)``; the coupling measures the
    parameter at ``coupling.query(solution_k, value_k)``, giving
    ``answer_k +- se_k``. The pass is accepted when, for every component,
    ``|answer_k - value_k| < n_sigma * hypot(se_k, stderr_k)`` or
    ``|answer_k - value_k| <= atol``; otherwise ``value_{k+1} = answer_k``
    with ``stderr_{k+1} = se_k``. See the module docstring.

    Acceptance means ``|(1 - q)(value* - value_k) + xi_k| < n_sigma sqrt(2) se``
    for a map with contraction factor ``q`` and answer noise ``xi_k``, so the
    accepted value may still lag the fixed point ``value*`` by up to about
    ``(n_sigma sqrt(2) + |xi_k| / se) se / (1 - q)``, on the side of the start.
    A smaller ``n_sigma`` (more passes) or a larger budget (smaller ``se``)
    tightens this.

    Parameters
    ----------
    solve : callable
        ``solve(value) -> solution`` for a parameter value (float, or tuple
        for several components), e.g. :func:`steady_hmm`.
    coupling : BoundaryCoupling
        Where and how the parameter is measured.
    initial, initial_stderr : float or sequence of float
        ``value_0`` and its standard error (default 0 and 0: e.g. no slip,
        taken as exact, so pass 0 asks whether the answer differs
        significantly from 0).
    max_iterations : int
        Most passes (solves) before :class:`FixedPointError` (>= 1).
    n_sigma : float
        Acceptance threshold in combined standard errors (> 0).
    atol : float
        Absolute acceptance threshold (>= 0, parameter units); needed when the
        second oracle is deterministic (zero stderr).
    sensitivity : callable, optional
        ``sensitivity(solution) -> d solution / d parameter`` (array shaped like
        the solution, with a trailing axis of one entry per component for a
        vector parameter); gives ``result.solution_stderr``.
    on_exhausted : {"raise", "solve"}
        After ``max_iterations`` passes without acceptance: raise
        :class:`FixedPointError` (default), or solve once more with the
        oracle's last answer (and its stderr) and return that solution with
        ``converged`` False (``n_solves = max_iterations + 1``).

    Returns
    -------
    FixedPointResult

    Raises
    ------
    FixedPointError
        Not accepted within ``max_iterations`` passes and ``on_exhausted`` is
        ``"raise"`` (``.result`` keeps them).
    TypeError, ValueError
        Bad arguments, or ``query`` returned states of the wrong shape.
    """
    if not callable(solve):
        raise TypeError(f"noisy_fixed_point(): `solve` must be callable value -> solution, got "
                        f"{type(solve).__name__}")
    if not isinstance(coupling, BoundaryCoupling):
        raise TypeError(f"noisy_fixed_point(): `coupling` must be a BoundaryCoupling, got {type(coupling).__name__}")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, numbers.Integral):
        raise TypeError(f"noisy_fixed_point(): `max_iterations` must be an int, got {type(max_iterations).__name__}")
    if max_iterations < 1:
        raise ValueError(f"noisy_fixed_point(): `max_iterations` must be >= 1, got {max_iterations}")
    n_sigma = _check_number(n_sigma, "n_sigma", low=0.0, strict=True)
    atol = _check_number(atol, "atol", low=0.0, strict=False)
    if on_exhausted not in ("raise", "solve"):
        raise ValueError(f"noisy_fixed_point(): `on_exhausted` must be 'raise' or 'solve', got {on_exhausted!r}")
    if sensitivity is not None and not callable(sensitivity):
        raise TypeError(f"noisy_fixed_point(): `sensitivity` must be callable, got {type(sensitivity).__name__}")
    value = _as_components(initial, "initial")
    stderr = np.broadcast_to(_as_components(initial_stderr, "initial_stderr"), value.shape).copy()
    if np.any(stderr < 0):
        raise ValueError(f"noisy_fixed_point(): `initial_stderr` must be >= 0, got {initial_stderr!r}")
    law_value = _law_value(value)
    start = coupling.coupler.accounting
    iterates: list[FixedPointIterate] = []
    solutions: list[Any] = []

    def result(converged: bool) -> FixedPointResult:
        sol_se = None
        if sensitivity is not None:
            sens = np.asarray(sensitivity(solutions[-1]), dtype=float)
            if value.size == 1:
                sol_se = np.abs(sens) * stderr[0]
            elif sens.shape[-1:] != value.shape:
                raise ValueError(f"noisy_fixed_point(): `sensitivity` must end in an axis of {value.size} "
                                 f"components of `{coupling.parameter}`, got shape {sens.shape}")
            else:
                sol_se = np.sqrt(np.sum((sens * stderr) ** 2, axis=-1))
        return FixedPointResult(coupling.parameter, _law_value(value), _law_value(stderr), converged, tuple(iterates),
                                solutions[-1], tuple(solutions), coupling.coupler.accounting - start, sol_se)

    for _ in range(int(max_iterations)):
        solutions.append(solve(law_value))
        answer, answer_se, states = coupling.measure(solutions[-1], law_value)
        if value.size not in (1, answer.size):
            raise ValueError(f"noisy_fixed_point(): `{coupling.parameter}` has {value.size} components but the "
                             f"query returned {answer.size} rows")
        current = np.broadcast_to(value, answer.shape)
        current_se = np.broadcast_to(stderr, answer.shape)
        iterates.append(FixedPointIterate(current.copy(), current_se.copy(), states, answer, answer_se))
        diff = np.abs(answer - current)
        if np.all((diff < n_sigma * np.hypot(answer_se, current_se)) | (diff <= atol)):
            value, stderr = current.copy(), current_se.copy()
            return result(True)
        value, stderr = answer, answer_se
        law_value = _law_value(value)
    if on_exhausted == "solve":  # value, stderr: the last answer, which law_value holds
        solutions.append(solve(law_value))
        return result(False)
    last = iterates[-1]
    # the last value solved with is the one the returned solution belongs to
    value, stderr = last.value, last.stderr
    raise FixedPointError(
        f"noisy_fixed_point(): `{coupling.parameter}` did not settle within max_iterations={max_iterations} passes: "
        f"the last pass solved with {_fmt(last.value)} and the oracle answered {_fmt(last.answer)} +- "
        f"{_fmt(last.answer_stderr)}, {float(np.max(last.z)):.3g} combined stderr apart (accepted below "
        f"n_sigma={n_sigma:g} or within atol={atol:g}). Raise max_iterations, or the coupling's budget if the "
        "answers scatter; a map whose answers do not approach each other is not a contraction",
        result(False))


def steady_hmm(law_factory: Callable[..., Any], grid: Any, coupler: Coupler, *, parameter: str,
               **solver_options: Any) -> Callable[[Value], Any]:
    """``solve(value)`` for :func:`noisy_fixed_point`: the steady HMM solution with the law
    ``law_factory(**{parameter: value})`` (e.g. ``functools.partial(macro.DiffusionLaw, source=f)``
    with ``parameter="slip_length"``), ``hmm.HMMSolver(law, grid, coupler, **solver_options).solve_steady()``.
    """
    if not callable(law_factory):
        raise TypeError(f"steady_hmm(): `law_factory` must be callable, got {type(law_factory).__name__}")
    if not isinstance(parameter, str) or not parameter:
        raise TypeError(f"steady_hmm(): `parameter` must be a non-empty str, got {parameter!r}")

    def solve(value: Value) -> Any:
        from .solver import HMMSolver

        return HMMSolver(law_factory(**{parameter: value}), grid, coupler, **solver_options).solve_steady()

    return solve
