r"""Semi-intrusive epistemic studies: one micro surrogate serves every design point.

A micro answer depends on the macro state at the query *and* on the micro
parameters, :math:`q = q(X, G; \theta)`. Independent design points each pay
for their own micro runs; here one Gaussian-process surrogate
(:class:`adaptivity.GPClosureSurrogate`) over the columns ``(positions,
theta, gradients)`` is shared by all of them, so a design point near points
already run borrows their answers.

For each design point :math:`\theta_i`, in order:

1. solve the steady macro problem with the surrogate's posterior mean at
   :math:`\theta_i` as the closure (a fixed, smooth closure: Newton
   converges through it; the surrogate learns only between solves);
2. ask the surrogate's predictive standard deviation at the closure points
   of that solution; where it exceeds ``tol`` (closure units), run the micro
   model there (through the Coupler, oracle :math:`\theta_i`), tell the
   surrogate and solve again from the last solution;
3. stop once every closure point is within ``tol`` (or after ``max_rounds``
   rounds, then fall back to a plain HMM solve whose fresh answers are told
   to the surrogate).

The first ``warmup`` design points are plain HMM solves that teach the
surrogate (it has no data yet, and data at one parameter value say nothing
of the parameters). The goal of each point is that of its accepted solve; it estimates
:math:`E[Q\mid\theta_i]`, the micro noise being averaged by the surrogate, so
the per-point aleatoric variance is not estimated (NaN) and the variance
split reports the epistemic part only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ._members import charge, goal_value, member_solver


@dataclass(frozen=True)
class SharedSurrogateOptions:
    """Settings of the shared surrogate.

    Attributes
    ----------
    tol : float
        Largest predictive standard deviation of a closure answer (closure
        output units) accepted without a micro run.
    linear_in_gradient : bool
        The closure is linear in the gradient, ``q = k(X; theta) G``
        (see :class:`adaptivity.GPClosureSurrogate`).
    max_rounds : int
        Surrogate rounds per design point before falling back to micro runs.
    refit_every : int
        Re-optimise the GP hyperparameters every this many new observations.
    warmup : int, optional
        Design points solved plainly (micro runs only) before the surrogate
        is trusted; default ``2 (d + 1)`` for ``d`` parameters. A surrogate
        that has seen one parameter value cannot know how the answer varies
        with the parameters, and its predictive spread there is meaningless.
    max_observations : int
        The surrogate stops learning at this many observations (a GP's fit
        grows as the cube of its data).

    Notes
    -----
    ``tol`` must lie above the spread the surrogate can reach: near a point
    where it pools ``k`` micro answers of stderr ``s`` its predictive spread
    is about ``s / sqrt(k)``. A design point whose spread stops falling (by
    less than a tenth in a round) is solved plainly instead.
    """

    tol: float
    linear_in_gradient: bool = False
    max_rounds: int = 8
    refit_every: int = 32
    warmup: int | None = None
    max_observations: int = 2000

    def __post_init__(self) -> None:
        if not (np.isfinite(self.tol) and self.tol > 0):
            raise ValueError(f"shared surrogate: `tol` must be a finite number > 0, got {self.tol!r}")
        if isinstance(self.max_rounds, bool) or not isinstance(self.max_rounds, int) or self.max_rounds < 1:
            raise ValueError(f"shared surrogate: `max_rounds` must be an int >= 1, got {self.max_rounds!r}")


STAGNATION = 0.9
"""A surrogate round must bring the largest predictive spread below this fraction of the previous one."""


def shared_options(spec: Any) -> SharedSurrogateOptions | None:
    """``None``, a :class:`SharedSurrogateOptions` or a mapping of its fields."""
    if spec is None or isinstance(spec, SharedSurrogateOptions):
        return spec
    if isinstance(spec, Mapping):
        try:
            return SharedSurrogateOptions(**spec)
        except TypeError as exc:
            raise ValueError(f"shared surrogate: {exc}") from None
    raise TypeError(f"`surrogate` must be None, a mapping or SharedSurrogateOptions, got {type(spec).__name__}")


class _Columns:
    """Law closure points (positions..., gradients...) <-> surrogate inputs (positions..., theta..., gradients...)."""

    def __init__(self, n_law: int, grad_columns: int, theta: np.ndarray) -> None:
        self.n_pos = n_law - grad_columns
        self.theta = np.asarray(theta, dtype=float)

    def augment(self, points: np.ndarray) -> np.ndarray:
        points = np.asarray(points, dtype=float)
        theta = np.broadcast_to(self.theta, (len(points), self.theta.size))
        return np.column_stack([points[:, :self.n_pos], theta, points[:, self.n_pos:]])


class _SurrogateMean:
    """The closure of one design point: the surrogate's posterior mean, reported without noise (stderr 0)
    so that Newton converges fully on it instead of stopping at a noise floor."""

    def __init__(self, surrogate: Any, columns: _Columns) -> None:
        self.surrogate, self.columns = surrogate, columns

    def __call__(self, points: np.ndarray, *, seed_rows: Any = None):
        from macro import ClosureResult

        mean, _ = self.surrogate.predict(self.columns.augment(points))
        return ClosureResult(mean, np.zeros_like(mean), np.zeros(len(points)), np.zeros(len(points), dtype=bool))


class _Telling:
    """A closure passing queries to the micro model and telling the surrogate every fresh answer
    (while it holds fewer than ``limit`` observations)."""

    def __init__(self, closure: Any, surrogate: Any, columns: _Columns, limit: int) -> None:
        self.closure, self.surrogate, self.columns, self.limit = closure, surrogate, columns, limit

    def __call__(self, points: np.ndarray, *, seed_rows: Any = None):
        res = self.closure(points, seed_rows=seed_rows)
        fresh = np.asarray(res.fresh, dtype=bool)
        if fresh.any() and len(self.surrogate) < self.limit:
            mean = np.asarray(res.mean, dtype=float).reshape(len(points), -1)
            err = np.asarray(res.stderr, dtype=float).reshape(mean.shape)
            self.surrogate.tell(self.columns.augment(np.asarray(points)[fresh]), mean[fresh], err[fresh])
        return res


def _closure_points(solver: Any, u: np.ndarray, closure: Any) -> np.ndarray:
    """The closure points of the law at the solution ``u`` (one evaluation through ``closure``)."""
    seen: list[np.ndarray] = []

    def record(points, *, seed_rows=None):
        seen.append(np.asarray(points, dtype=float))
        return closure(points, seed_rows=seed_rows)

    solver.law.evaluate(solver.grid, solver._state(u), 0.0, record)  # pylint: disable=protected-access
    return seen[-1]


def run_shared(solver: Any, oracles: list, values: np.ndarray, seeds: np.ndarray, goal: Any,
               options: SharedSurrogateOptions, run_kwargs: Mapping[str, Any], progress: bool = False):
    """Steady solves of every design point through one shared surrogate; returns
    ``(goal values, fresh micro runs per point, micro seconds per point, goal units, rounds per point)``."""
    from tqdm.auto import tqdm

    from adaptivity import GPClosureSurrogate

    from .goals import goal_units

    law_inputs = solver.coupler_closure.law_inputs
    n_law, n_out = len(law_inputs), len(solver.coupler_closure.law_outputs)
    grads = sum(1 for name in law_inputs if name.startswith("grad"))
    surrogate = GPClosureSurrogate(n_law + values.shape[1], n_out, grad_columns=grads,
                                   linear_in_gradient=options.linear_in_gradient, refit_every=options.refit_every)
    n = len(oracles)
    warmup = 2 * (values.shape[1] + 1) if options.warmup is None else options.warmup
    q, runs, seconds, rounds = np.empty(n), np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n, dtype=np.int64)
    unit = "1"
    u_prev = None
    for i in tqdm(range(n), disable=not progress, desc="UQ design (shared surrogate)", unit="point"):
        member = member_solver(solver, oracle=oracles[i], seed=int(seeds[i]))
        columns = _Columns(n_law, grads, values[i])
        telling = _Telling(member.coupler_closure, surrogate, columns, options.max_observations)
        ds = None
        if i >= warmup:
            member.closure = _SurrogateMean(surrogate, columns)
            u0, previous = u_prev, np.inf
            for r in range(options.max_rounds):
                rounds[i] = r + 1
                ds = member.solve_steady(u0, stderr=False, **run_kwargs)
                u0 = np.stack([ds[f].values for f in member.fields]) if len(member.fields) > 1 else ds[member.fields[0]].values
                points = _closure_points(member, u0, member.closure)
                _, std = surrogate.predict(columns.augment(points))
                far = np.any(std > options.tol, axis=1)
                if not far.any():
                    break
                worst = float(std.max())
                ds = None
                if worst > STAGNATION * previous or len(surrogate) >= options.max_observations:
                    break  # the spread no longer falls (a noise floor above tol) or the surrogate is full
                previous = worst
                telling(points[far])
        if ds is None:  # no surrogate yet, or it did not settle: a plain HMM solve that teaches it
            member.closure = telling
            ds = member.solve_steady(u_prev, stderr=False, **run_kwargs)
        u_prev = np.stack([ds[f].values for f in member.fields]) if len(member.fields) > 1 else ds[member.fields[0]].values
        q[i] = goal_value(goal, ds)
        if i == 0:
            unit = goal_units(goal, ds)
        work = member.coupler.accounting
        charge(solver.coupler, work)
        runs[i], seconds[i] = work.fresh_runs, work.micro_seconds
    return q, runs, seconds, unit, rounds
