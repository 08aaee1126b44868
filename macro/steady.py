"""Steady states of semi-discrete laws by Newton's method.

Solves ``F(u) = 0`` for the state of a :class:`macro.ConservationLaw` of
form ``"semi_discrete"`` (``F = law.evaluate(...).du_dt``), e.g. ``F(u) = (div
q(x, grad u) + f) / c`` of :class:`macro.DiffusionLaw` with its Dirichlet data.
Each iteration takes a fresh Jacobian and the residual from one
``law.jacobian`` call and solves
``J du = -F`` with :func:`macro.solve_linear`. It stops by the noise-aware
acceptance rule of :mod:`macro.newton`,

.. math::

    \\|F\\|_\\infty \\le \\mathrm{tol}\\,\\max(1, s)
      + 64\\,\\epsilon\\,\\max(|J|\\,|u|) + c \\max(\\mathrm{rhs\\_stderr}),

with ``s = law.forcing_scale(grid, t)`` (``max |f|`` for diffusion) and the
noise term only after the first Newton update (an initial guess whose
residual hides in the noise is still corrected).
For a linear closure the solve takes one Newton step plus one residual check
(two closure calls with exact or FD tangents).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validate import check_float, check_int
from .closure import CountingClosure, as_closure
from .grid import Grid1D, Grid2D
from .law import Evaluation, SemiDiscreteLaw, check_state, state_shape
from .linsolve import LINEAR_METHODS, solve_linear
from .newton import acceptance_threshold
from .newton import noise_factor as default_noise_factor

__all__ = ["solve_steady", "SteadyResult", "SteadyStateError"]


class SteadyStateError(RuntimeError):
    """Raised by :func:`solve_steady` when Newton does not converge within ``max_iter``.

    Attributes
    ----------
    u : ndarray
        Last iterate.
    residual : float
        Its residual ``||F||_inf``.
    iterations : int
        Newton steps taken.
    """

    def __init__(self, message: str, u: np.ndarray, residual: float, iterations: int) -> None:
        super().__init__(message)
        self.u = u
        self.residual = residual
        self.iterations = iterations


@dataclass(frozen=True, eq=False)
class SteadyResult:
    """Result of :func:`solve_steady`.

    Attributes
    ----------
    u : ndarray (n_cells,)
        Steady state (flat, C order of ``grid.shape``).
    evaluation : Evaluation
        Right-hand side at ``u`` (its ``du_dt`` is the residual ``F(u)``).
    iterations : int
        Newton steps taken.
    residual : float
        ``||F(u)||_inf``.
    converged : bool
        Always True for a returned result (failures raise).
    n_closure_calls : int
        Closure calls (batches) made.
    residual_history : tuple of float
        ``||F||_inf`` at every iterate, starting with ``u0``.
    """

    u: np.ndarray
    evaluation: Evaluation
    iterations: int
    residual: float
    converged: bool
    n_closure_calls: int = 0
    residual_history: tuple[float, ...] = ()


def solve_steady(
    law: Any,
    grid: Any,
    closure: Callable[..., Any],
    u0: Any = None,
    *,
    t: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 20,
    linear_solver: str = "auto",
    noise_factor: float | None = None,
) -> SteadyResult:
    """Newton solve of ``F(u) = 0`` (``div q + f = 0``) with a fresh Jacobian per iteration.

    Parameters
    ----------
    law : DiffusionLaw or another semi-discrete macro.ConservationLaw
        Source and boundary data.
    grid : Grid1D or Grid2D
    closure : Closure
        The closure (:mod:`macro.closure`).
    u0 : array_like, optional
        Initial guess (flat or ``grid.shape``); zeros by default.
    t : float
        Time at which source and boundary data are taken.
    tol : float
        Relative tolerance (see the module docstring).
    max_iter : int
        Maximum number of Newton steps.
    linear_solver : {"auto", "direct", "amg"}
        Passed to :func:`macro.solve_linear`.
    noise_factor : float, optional
        Multiplier ``c`` of ``max(rhs_stderr)`` in the stopping test; default
        :func:`macro.newton.noise_factor` of ``grid.n_cells``.

    Raises
    ------
    SteadyStateError
        Not converged after ``max_iter`` steps (carries the last iterate).
    """
    func = "solve_steady()"
    if not isinstance(law, SemiDiscreteLaw) or law.form != "semi_discrete":
        raise TypeError(f"{func}: `law` must be a DiffusionLaw or another semi-discrete macro.ConservationLaw, "
                        f"got {type(law).__name__}")
    if not isinstance(grid, (Grid1D, Grid2D)):
        raise TypeError(f"{func}: `grid` must be a Grid1D or Grid2D, got {type(grid).__name__}")
    closure = as_closure(closure, func)
    shape = state_shape(law, grid)
    u = np.zeros(shape) if u0 is None else check_state(law, grid, u0, func, "u0").copy()
    t = check_float(t, "t", func)
    tol = check_float(tol, "tol", func, positive=True)
    max_iter = check_int(max_iter, "max_iter", func, minimum=0)
    if linear_solver not in LINEAR_METHODS:
        raise ValueError(f"{func}: unknown `linear_solver` {linear_solver!r}; valid: {list(LINEAR_METHODS)}")
    c_noise = (default_noise_factor(grid.n_cells) if noise_factor is None
               else check_float(noise_factor, "noise_factor", func, nonnegative=True))
    counted = CountingClosure(closure)
    f_norm = law.forcing_scale(grid, t)

    def _threshold(jac, u, ev, noise: bool = True) -> float:
        return acceptance_threshold(tol=tol, scale=f_norm, roundoff=float((abs(jac) @ np.abs(u).ravel()).max()),
                                    noise=float(ev.rhs_stderr.max()), noise_factor=c_noise, moved=noise)

    rnorm, history = np.inf, []
    jac = None
    for iteration in range(max_iter + 1):
        # After a Newton update, check the residual with one plain evaluation and
        # build the (dim + 1 times dearer) Jacobian only if another step is needed.
        ev = None if jac is None else law.evaluate(grid, u, t, counted)
        if ev is not None:
            rnorm = float(np.abs(ev.du_dt).max())
            threshold = _threshold(jac, u, ev)
            if rnorm <= threshold:
                history.append(rnorm)
                return SteadyResult(u, ev, iteration, rnorm, True, counted.calls, tuple(history))
        jac, ev = law.jacobian(grid, u, t, counted)
        rnorm = float(np.abs(ev.du_dt).max())
        history.append(rnorm)
        # the noise floor applies only after a Newton update: a residual of the initial
        # guess below the noise is still a real change to make (the steppers' rule)
        threshold = _threshold(jac, u, ev, noise=iteration > 0)
        if rnorm <= threshold:
            return SteadyResult(u, ev, iteration, rnorm, True, counted.calls, tuple(history))
        if iteration == max_iter:
            break
        u = u + solve_linear(jac, -ev.du_dt.ravel(), method=linear_solver).reshape(shape)
    raise SteadyStateError(
        f"{func}: Newton did not converge after {max_iter} iterations: "
        f"||F||_inf = {rnorm:.3e} > {threshold:.3e}",
        u, rnorm, max_iter,
    )
