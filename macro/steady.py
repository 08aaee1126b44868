"""Steady states of semi-discrete laws by Newton's method.

Solves ``F(u) = 0`` for the state of a :class:`macro.ConservationLaw` of
form ``"semi_discrete"`` (``F = law.evaluate(...).du_dt``), e.g. ``F(u) = (div
q(x, grad u) + f) / c`` of :class:`macro.DiffusionLaw` with its Dirichlet data.
Each iteration takes a fresh Jacobian and the residual from one
``law.jacobian`` call and solves
``J du = -F`` with :func:`macro.solve_linear`. After the first update every
closure call draws its random numbers from the closure points of the first
iterate (common random numbers, ``seed_points``), so the residual is one
smooth function with the noise frozen in it. (Not those of the initial guess:
``u0 = 0`` gives every face the same gradient, hence the same random numbers,
whose divergence cancels and would hide the noise.) Newton stops by the rule
of :mod:`macro.newton`,

.. math::

    \\|F\\|_\\infty \\le \\mathrm{tol}\\,\\max(1, s)
      + 64\\,\\epsilon\\,\\max(|J|\\,|u|),

with ``s = law.forcing_scale(grid, t)`` (``max |f|`` for diffusion): the
accepted state is the root of its frozen-noise residual, not an iterate
left at the noise level (which would bias a seed ensemble). A closure that
is noisy between iterations stops at ``c max(rhs_stderr)`` above that once a
Newton step fails to contract the residual by ``contraction``; at
``max_iter`` an iterate within :data:`macro.newton.NOISE_RESOLUTION` of that
floor is accepted.
For a linear closure the solve takes one Newton step plus one residual check
(two closure calls with exact or FD tangents).

Closure noise in the steady state
---------------------------------
The steady state solves ``F(u; A) = 0`` where ``A`` are the closure's
answers, each with standard error ``sigma``. Linearising,
``J du + B dA = 0`` with ``J = dF/du`` (the Newton Jacobian, closure
tangents included) and ``B = dF/dA``, so

.. math::

    \\operatorname{Cov}(u) = J^{-1} B\\, \\Sigma\\, B^T J^{-T},
    \\qquad \\Sigma = \\operatorname{diag}(\\sigma^2),

the answers taken independent (as ``rhs_stderr`` takes them).
:func:`steady_uncertainty` evaluates this with the last Newton Jacobian of
a :class:`SteadyResult`; ``B`` comes from the law's own arithmetic,
re-evaluated with one answer at a time moved by its stderr (no closure
call, no micro run), exact for laws affine in the answers such as
:class:`macro.DiffusionLaw`. :func:`newton_correction` is the Newton step
``-J^{-1} F`` from the accepted iterate's evaluation (below the tolerance
for a converged solve; the step a noise-floor acceptance leaves untaken); it
costs no closure call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validate import check_float, check_int
from .closure import ClosureResult, CountingClosure, as_closure
from .grid import Grid1D, Grid2D
from .law import Evaluation, SemiDiscreteLaw, check_state, state_shape
from .linsolve import LINEAR_METHODS, solve_linear
from .newton import check_newton_rule, converged_threshold, newton_status
from .newton import noise_factor as default_noise_factor

__all__ = ["solve_steady", "SteadyResult", "SteadyStateError", "SteadyUncertainty", "steady_uncertainty",
           "newton_correction"]


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
    jacobian : sparse matrix or ndarray, or None
        The last Newton Jacobian ``dF/du`` (state size squared): the one the
        last Newton update was computed from, or the one at ``u`` when ``u``
        was accepted at a Jacobian evaluation (closure tangents, exact or by
        finite differences; no secant). Used by :func:`steady_uncertainty`
        and :func:`newton_correction`.
    """

    u: np.ndarray
    evaluation: Evaluation
    iterations: int
    residual: float
    converged: bool
    n_closure_calls: int = 0
    residual_history: tuple[float, ...] = ()
    jacobian: Any = None


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
    contraction: float = 0.5,
    newton_rule: str = "converge",
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
        Multiplier ``c`` of ``max(rhs_stderr)`` in the stagnation guard
        (:mod:`macro.newton`); default :func:`macro.newton.noise_factor` of
        ``grid.n_cells``; 0 switches the guard off.
    contraction : float
        A Newton step that does not reduce ``||F||`` by this factor, with the
        residual within the noise floor, counts as stagnation.
    newton_rule : {"converge", "noise_floor"}
        :data:`macro.newton.NEWTON_RULES`; ``"noise_floor"`` is the earlier,
        biased rule (accept below the noise floor after the first update).

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
    contraction = check_float(contraction, "contraction", func, positive=True)
    rule = check_newton_rule(newton_rule, func)
    counted = CountingClosure(closure)
    f_norm = law.forcing_scale(grid, t)
    seeds = None  # the first evaluation seeds from its own points; frozen after the first update

    def _status(rnorm, jac, u, ev, previous, moved: bool, last: bool = False) -> tuple[str, float, float]:
        threshold = converged_threshold(tol=tol, scale=f_norm, roundoff=float((abs(jac) @ np.abs(u).ravel()).max()))
        floor = c_noise * float(ev.rhs_stderr.max())
        # every update is a full Newton step (fresh Jacobian per iteration)
        status = newton_status(rnorm, threshold=threshold, noise_floor=floor, previous=previous, full_step=True,
                               contraction=contraction, rule=rule, moved=moved, last=last)
        return status, threshold, floor

    rnorm, history = np.inf, []
    jac, previous = None, None
    threshold = floor = 0.0
    for iteration in range(max_iter + 1):
        # After a Newton update, check the residual with one plain evaluation and
        # build the (dim + 1 times dearer) Jacobian only if another step is needed.
        ev = None if jac is None else law.evaluate(grid, u, t, counted, seed_points=seeds)
        if ev is not None:
            rnorm = float(np.abs(ev.du_dt).max())
            status, threshold, floor = _status(rnorm, jac, u, ev, previous, moved=True)
            if status != "continue":
                history.append(rnorm)
                return SteadyResult(u, ev, iteration, rnorm, True, counted.calls, tuple(history), jac)
        jac, ev = law.jacobian(grid, u, t, counted, seed_points=seeds)
        rnorm = float(np.abs(ev.du_dt).max())
        history.append(rnorm)
        # the noise floor ("noise_floor" rule) applies only after a Newton update: a residual of
        # the initial guess below the noise is still a real change to make (the steppers' rule)
        status, threshold, floor = _status(rnorm, jac, u, ev, previous, moved=iteration > 0,
                                           last=iteration == max_iter)
        if status != "continue":
            return SteadyResult(u, ev, iteration, rnorm, True, counted.calls, tuple(history), jac)
        if iteration == max_iter:
            break
        previous = rnorm
        u = u + solve_linear(jac, -ev.du_dt.ravel(), method=linear_solver).reshape(shape)
        if seeds is None and rule == "converge":
            # common random numbers for the rest of the solve (the earlier rule drew fresh ones per iterate)
            seeds = law.closure_points(grid, u, t)
    bound = threshold + floor if rule == "noise_floor" else threshold
    raise SteadyStateError(
        f"{func}: Newton did not converge after {max_iter} iterations: "
        f"||F||_inf = {rnorm:.3e} > {bound:.3e}",
        u, rnorm, max_iter,
    )


@dataclass(frozen=True, eq=False)
class SteadyUncertainty:
    """Closure noise carried into a steady state by :func:`steady_uncertainty`.

    Attributes
    ----------
    stderr : ndarray
        Standard error of every state entry (state shape, the state's units).
    covariance : ndarray (n_state, n_state) or None
        Covariance of the flat state (C order of the state shape), if asked for.
    n_noisy_answers : int
        Closure answers with a nonzero stderr (the columns of ``B``).
    """

    stderr: np.ndarray
    covariance: np.ndarray | None
    n_noisy_answers: int


class _Replay:
    """A closure answering the arrays of one evaluation whatever it is asked (no new runs)."""

    def __init__(self, evaluation: Evaluation) -> None:
        self.shape = np.shape(evaluation.points)
        self.mean = np.array(evaluation.mean, dtype=float)
        self.stderr = np.asarray(evaluation.stderr, dtype=float)
        self.cost = np.zeros(len(self.mean))

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        if np.shape(points) != self.shape:
            raise ValueError(f"steady_uncertainty(): the law queried {np.shape(points)} points at the steady "
                             f"state, its evaluation holds {self.shape}")
        return ClosureResult(self.mean, self.stderr, self.cost)


def _factorised(jac: Any, func: str) -> Callable[[np.ndarray], np.ndarray]:
    """``b -> J^{-1} b`` (b of shape (n,) or (n, k)) from one sparse LU factorisation."""
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    from .linsolve import LinearSolveError

    try:
        return spla.splu(sp.csc_matrix(jac, dtype=float)).solve
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        raise LinearSolveError(f"{func}: the Newton Jacobian cannot be factorised: {exc}") from exc


def steady_uncertainty(law: Any, grid: Any, result: SteadyResult, *, covariance: bool = False,
                       block: int = 256) -> SteadyUncertainty:
    """Standard error (and optionally covariance) of a steady state from its closure's stderr.

    ``Cov(u) = J^{-1} B diag(sigma^2) B^T J^{-T}`` (module docstring), with
    ``J`` the last Newton Jacobian of ``result`` (``result.jacobian``) and
    ``sigma`` the stderr of the closure answers at ``result.u``
    (``result.evaluation``). The column of ``B`` of answer ``a`` is
    ``F(u; A + sigma_a e_a) - F(u; A)`` evaluated by ``law.evaluate`` with
    a closure that replays the stored answers: a linearisation over one
    stderr, exact for a law affine in its closure answers. Cost: one law
    evaluation (no closure call) per noisy answer and one LU factorisation
    of ``J``; the columns are solved ``block`` at a time, so the memory is
    ``n_state * block`` (plus ``n_state^2`` for the covariance).

    Parameters
    ----------
    law : semi-discrete macro.ConservationLaw
        The law ``result`` was solved for.
    grid : Grid1D or Grid2D
    result : SteadyResult
        From :func:`solve_steady` (it carries the Jacobian).
    covariance : bool
        Also return the full covariance of the flat state.
    block : int
        Noise columns solved together (>= 1).

    Returns
    -------
    SteadyUncertainty

    Raises
    ------
    TypeError
        ``result`` is not a SteadyResult.
    ValueError
        ``result`` has no Jacobian.
    macro.LinearSolveError
        The Jacobian is singular.
    """
    func = "steady_uncertainty()"
    if not isinstance(result, SteadyResult):
        raise TypeError(f"{func}: `result` must be a macro.SteadyResult, got {type(result).__name__}")
    if result.jacobian is None:
        raise ValueError(f"{func}: `result` carries no Newton Jacobian (`result.jacobian` is None); "
                         "pass the SteadyResult that solve_steady() returned")
    block = check_int(block, "block", func, minimum=1)
    ev = result.evaluation
    replay = _Replay(ev)
    n = int(np.size(result.u))
    noisy = np.argwhere(replay.stderr > 0)
    variance = np.zeros(n)
    cov = np.zeros((n, n)) if covariance else None
    if len(noisy):
        solve = _factorised(result.jacobian, func)
        base = np.asarray(law.evaluate(grid, result.u, ev.t, replay).du_dt, dtype=float).ravel()
        for start in range(0, len(noisy), block):
            columns = np.empty((n, min(block, len(noisy) - start)))
            for k, (p, j) in enumerate(noisy[start:start + block]):
                original, sigma = replay.mean[p, j], replay.stderr[p, j]
                replay.mean[p, j] = original + sigma
                step = replay.mean[p, j] - original  # the representable shift
                moved = np.asarray(law.evaluate(grid, result.u, ev.t, replay).du_dt, dtype=float).ravel()
                replay.mean[p, j] = original
                columns[:, k] = (moved - base) * (sigma / step)
            du = solve(columns)  # -du: the sign drops out of the second moments
            variance += np.sum(du * du, axis=1)
            if cov is not None:
                cov += du @ du.T
    stderr = np.sqrt(variance).reshape(np.shape(result.u))
    return SteadyUncertainty(stderr, cov, int(len(noisy)))


def newton_correction(result: SteadyResult, *, linear_solver: str = "auto") -> np.ndarray:
    """The accepted iterate plus one more Newton step from its own evaluation, ``u - J^{-1} F(u)``.

    Newton stops once ``||F(u)||`` is below its tolerance (or, stagnated, below
    the closure noise), but ``F(u)`` is still the best estimate of where the measured answers balance: the
    step costs no closure call (``J`` is ``result.jacobian``). For a linear
    closure it lands on the exact root for the noise of the last evaluation.
    Returns an array of the state's shape.
    """
    func = "newton_correction()"
    if not isinstance(result, SteadyResult):
        raise TypeError(f"{func}: `result` must be a macro.SteadyResult, got {type(result).__name__}")
    if result.jacobian is None:
        raise ValueError(f"{func}: `result` carries no Newton Jacobian (`result.jacobian` is None)")
    if linear_solver not in LINEAR_METHODS:
        raise ValueError(f"{func}: unknown `linear_solver` {linear_solver!r}; valid: {list(LINEAR_METHODS)}")
    residual = np.asarray(result.evaluation.du_dt, dtype=float).ravel()
    step = solve_linear(result.jacobian, -residual, method=linear_solver)
    return result.u + step.reshape(np.shape(result.u))
