"""Adaptive HMM for steady goals: the runner of :class:`adaptivity.GoalLearner`.

The macro law is solved with a closure answered by a Gaussian-process
surrogate of the micro model (``reuse``: free); error indicators of a goal
functional ``J(u)`` (modelling, statistical, discretisation) estimate the
goal error, and the learner's budget-greedy allocator proposes
``fresh_run`` / ``sample_more`` micro work (or ``refine`` of the macro
grid). ``adaptivity`` decides, this module executes (python-adaptive's
Learner/Runner split): :class:`AdaptiveSteadySolver` solves the macro
problem, linearises it (:func:`make_context`), runs the proposed micro work
through the :class:`hmm.Coupler` and tells the results back. It stops when
``z_conf * sigma_model + |disc|`` falls below the goal tolerance or when the
micro-time budget is spent; every decision is logged into the returned
:class:`xarray.Dataset`, and micro cost is read from the Coupler's ledger.

The surrogate is seeded by an ordinary HMM Newton solve on a coarse macro
grid (micro runs at every face; tangents by finite differences with common
random numbers), so its training data lie on real macro states.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from adaptivity import IndicatorContext, prolongation, refine_grid
from macro.closures import ClosureResult, forward_differences, gradient_copies

from ._adaptive_log import AdaptiveLog
from .budget import Budget
from .closure import CouplerClosure
from .coupler import Coupler

__all__ = ["AdaptiveSteadySolver", "SurrogateClosure", "MicroClosure", "make_context"]


def make_context(law: Any, grid: Any, goal: Any, u: np.ndarray, closure: Any, *, surrogate: Any = None,
                 t: float = 0.0, fine: bool = False) -> IndicatorContext:
    """Linearise the macro law at ``u`` through ``closure`` and build the
    :class:`adaptivity.IndicatorContext` the indicators read.

    One Jacobian (closure tangents) and one adjoint solve; with ``fine`` also
    the context of the prolongated solution on the twice finer grid
    (:func:`adaptivity.refine_grid`), which the discretisation indicator and
    the allocator's candidates need. A closure answered by micro runs spends
    micro work here (counted by its Coupler).
    """
    u = np.asarray(u, dtype=float).ravel()
    jac, ev = law.jacobian(grid, u, t, closure)
    ctx = IndicatorContext.build(law, grid, goal, u, jac, ev, surrogate=surrogate, t=t)
    if fine:
        ctx.fine = make_context(law, refine_grid(grid), goal, prolongation(grid, u), closure,
                                surrogate=surrogate, t=t)
    return ctx


class SurrogateClosure:
    """Macro closure answered by the surrogate's posterior mean (no micro work).

    ``stderr`` is reported as zero: the posterior mean is a deterministic
    function, so Newton solves it to tolerance; its uncertainty is accounted
    for by :class:`adaptivity.ModellingIndicator`. ``tangent`` differentiates
    the posterior mean.
    """

    def __init__(self, surrogate: Any) -> None:
        self.surrogate = surrogate
        self.queries = 0

    def __call__(self, points: np.ndarray) -> ClosureResult:
        mean, _ = self.surrogate.predict(points)
        self.queries += len(mean)
        return ClosureResult(mean, np.zeros_like(mean), np.zeros(len(mean)))

    def tangent(self, points: np.ndarray) -> np.ndarray:
        return self.surrogate.tangent(points)


class MicroClosure:
    """Macro closure answered by fresh micro runs; tangents by finite differences
    with common random numbers (perturbed copies share the base point's seed,
    replica 1), or ``q / G`` with ``linear_in_gradient`` (1D); every fresh
    base-point estimate is recorded in ``runs``. Micro cost is counted by the
    Coupler (``closure.coupler.accounting``)."""

    def __init__(self, closure: CouplerClosure, rel_step: float = 1e-2, *,
                 linear_in_gradient: bool = False) -> None:
        self.closure, self.rel_step = closure, rel_step
        self.linear_in_gradient = bool(linear_in_gradient)
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []  # state, mean, stderr, cost

    def _record(self, points: np.ndarray, result: Any, fresh: np.ndarray) -> None:
        for i in np.flatnonzero(fresh):
            self.runs.append((points[i].copy(), result.mean[i].copy(), result.stderr[i].copy(),
                              float(result.cost_s[i])))

    def observations(self) -> tuple[np.ndarray, ClosureResult]:
        """The recorded runs as (states, result), e.g. for :meth:`adaptivity.GoalLearner.tell`."""
        return (np.array([r[0] for r in self.runs]),
                ClosureResult(np.array([r[1] for r in self.runs]), np.array([r[2] for r in self.runs]),
                              np.array([r[3] for r in self.runs])))

    def __call__(self, points: np.ndarray) -> Any:
        points = np.asarray(points, dtype=float)
        zero = np.all(points[:, points.shape[1] // 2:] == 0, axis=1)
        if self.linear_in_gradient and zero.any():
            # q = k(X) G is exactly zero at G = 0: no micro run for those rows
            n_out = len(self.closure.outputs)
            mean, err = np.zeros((len(points), n_out)), np.zeros((len(points), n_out))
            cost, fresh = np.zeros(len(points)), np.zeros(len(points), dtype=bool)
            if (~zero).any():
                sub = self.closure(points[~zero])
                mean[~zero], err[~zero], cost[~zero], fresh[~zero] = sub.mean, sub.stderr, sub.cost_s, ~sub.cached
            batch = ClosureResult(mean, err, cost)
        else:
            batch = self.closure(points)
            fresh = ~batch.cached
        self._record(points, batch, fresh)
        self._last = (points.tobytes(), batch)
        return batch

    def tangent(self, points: np.ndarray) -> np.ndarray:
        cc = self.closure
        n, dim = points.shape[0], points.shape[1] // 2
        g = points[:, -1]
        if self.linear_in_gradient and dim == 1:
            # q = k(X) G: the tangent is q / G, no perturbed runs (and no repeat of the
            # evaluation the law has just made at these points); at G = 0 one run at G = 1
            last = getattr(self, "_last", None)
            batch = last[1] if last is not None and last[0] == points.tobytes() else self(points)
            out = np.empty((n, batch.mean.shape[1], 1))
            nz = g != 0
            out[nz, :, 0] = batch.mean[nz] / g[nz, None]
            if (~nz).any():
                unit = points[~nz].copy()
                unit[:, -1] = 1.0
                out[~nz, :, 0] = self(unit).mean
            return out
        stacked, steps = gradient_copies(points, dim, self.rel_step)
        lifted = cc.lift(stacked)
        seeds = np.vstack([cc.lift(points)] * (dim + 1))
        batch = cc.restrict(cc.coupler.evaluate(lifted, cc.budget, replica=1, seed_from=seeds))
        base = batch[np.arange(n)]
        self._record(points, base, ~base.cached)
        return forward_differences(batch.mean, steps)


class AdaptiveSteadySolver:
    """Goal-oriented adaptive HMM for ``div q + f = 0`` (see the module docstring).

    Parameters
    ----------
    law : macro.DiffusionLaw
    grid : macro.Grid1D or macro.Grid2D
        Initial macro grid of the adaptive iterations.
    coupler : Coupler
    goal : adaptivity.MeanValueGoal (or any object with ``weights(grid)``)
    tol : float
        Goal tolerance (goal units) at confidence ``confidence``.
    budget : Budget
        Budget of a standard micro run (``sampling_steps`` is the base sample count).
    confidence : float
        Two-sided confidence of the statistical part of the stopping test.
    max_micro_s : float
        Stop once this many micro seconds are spent.
    max_iterations : int
    initial_cells : int
        Cells per axis of the coarse seeding solve.
    max_cells : int
        No refinement beyond this many cells per axis.
    allocator : adaptivity.BudgetGreedyAllocator, optional
    reference : float, optional
        Exact goal value; the log then records the true error.
    fixed_inputs : mapping, optional
        Oracle inputs the law does not provide.
    linear_in_gradient : bool
        The closure is linear in the macro gradient (1D cell problems): the
        surrogate models ``q / G`` over positions (see
        :class:`adaptivity.GPClosureSurrogate`).
    surrogate_options : mapping, optional
        Extra keywords of :class:`adaptivity.GPClosureSurrogate`, e.g.
        ``warp=True`` (arc-length input warping, for closures with a localised
        steep feature) and ``calibrate=True`` (leave-one-out variance calibration).
    """

    def __init__(self, law: Any, grid: Any, coupler: Coupler, goal: Any, *, tol: float,
                 budget: Budget | None = None, confidence: float = 0.95, max_micro_s: float = np.inf,
                 max_iterations: int = 30, initial_cells: int = 8, max_cells: int = 1024,
                 allocator: Any = None, reference: float | None = None,
                 fixed_inputs: Mapping[str, float] | None = None,
                 linear_in_gradient: bool = False, surrogate_options: Mapping[str, Any] | None = None) -> None:
        from scipy.stats import norm

        from adaptivity import BudgetGreedyAllocator

        if not isinstance(coupler, Coupler):
            raise TypeError(f"AdaptiveSteadySolver(): `coupler` must be a hmm.Coupler, got {type(coupler).__name__}")
        if not (tol > 0):
            raise ValueError(f"AdaptiveSteadySolver(): `tol` must be > 0, got {tol}")
        if not 0 < confidence < 1:
            raise ValueError(f"AdaptiveSteadySolver(): `confidence` must be in (0, 1), got {confidence}")
        self.law, self.grid, self.coupler, self.goal = law, grid, coupler, goal
        self.tol, self.confidence = float(tol), float(confidence)
        self.z = float(norm.ppf(0.5 + confidence / 2))
        self.budget = budget or Budget()
        self.max_micro_s, self.max_iterations = float(max_micro_s), int(max_iterations)
        self.initial_cells, self.max_cells = int(initial_cells), int(max_cells)
        self.allocator = allocator or BudgetGreedyAllocator()
        self.reference = reference
        self.linear_in_gradient = bool(linear_in_gradient)
        self.surrogate_options = dict(surrogate_options or {})
        self.closure = CouplerClosure(coupler, law.closure_inputs(grid), law.closure_outputs(grid),
                                      self.budget, fixed_inputs=fixed_inputs)

    def learner(self) -> Any:
        """A fresh :class:`adaptivity.GoalLearner` (own surrogate) with this solver's settings."""
        from adaptivity import GoalLearner, GPClosureSurrogate

        surrogate = GPClosureSurrogate(len(self.closure.inputs), len(self.closure.outputs),
                                       grad_columns=self.grid.dim, linear_in_gradient=self.linear_in_gradient,
                                       **self.surrogate_options)
        return GoalLearner(surrogate, tol=self.tol, confidence=self.confidence,
                           base_samples=max(1, self.budget.sampling_steps), max_cells=self.max_cells,
                           allocator=self.allocator)

    def _coarse(self) -> Any:
        from macro import Grid1D, Grid2D

        n = self.initial_cells
        return Grid1D(n, self.grid.extent) if self.grid.dim == 1 else Grid2D((n, n), self.grid.extent)

    def _evaluate(self, states: np.ndarray, samples: np.ndarray, replicas: np.ndarray) -> ClosureResult:
        """Run micro queries grouped by sample count (cached answers at zero cost)."""
        n_out = len(self.closure.outputs)
        mean, err, cost = np.empty((len(states), n_out)), np.empty((len(states), n_out)), np.empty(len(states))
        for n in np.unique(samples):
            idx = np.flatnonzero(samples == n)
            batch = self.closure.restrict(self.coupler.evaluate(
                self.closure.lift(states[idx]), replace(self.budget, sampling_steps=int(n)),
                replica=replicas[idx].astype(np.int64)))
            mean[idx], err[idx], cost[idx] = batch.mean, batch.stderr, np.where(batch.cached, 0.0, batch.cost_s)
        return ClosureResult(mean, err, cost)

    def run(self, newton_tol: float = 1e-10) -> Any:
        """Run the adaptive loop; return the log as an :class:`xarray.Dataset`."""
        from macro import solve_steady

        start, ledger = time.perf_counter(), self.coupler.accounting
        learner = self.learner()
        micro = MicroClosure(self.closure, linear_in_gradient=self.linear_in_gradient)
        solve_steady(self.law, self._coarse(), micro, tol=newton_tol)  # seed: an ordinary HMM solve
        learner.tell(*micro.observations(), kind="seed")
        grid, u, log, stop = self.grid, None, AdaptiveLog(self.grid, self.reference), "max_iterations"
        for _ in range(self.max_iterations):
            closure = SurrogateClosure(learner.surrogate)
            u = solve_steady(self.law, grid, closure, u, tol=newton_tol).u
            ctx = make_context(self.law, grid, self.goal, u, closure, surrogate=learner.surrogate, fine=True)
            estimate = learner.tell_solution(ctx)
            spent = (self.coupler.accounting - ledger).micro_seconds
            log.solution(ctx, estimate, spent, len(learner.observations))
            if learner.done or spent >= self.max_micro_s:
                stop = "tolerance" if learner.done else "micro_budget"
                log.acted(0, 0, False)
                break
            actions = learner.ask(self.max_micro_s - spent)
            runs = [a for a in actions if a.kind in ("fresh_run", "sample_more")]
            if runs:
                states, samples = np.array([a.state for a in runs]), np.array([a.samples for a in runs])
                replicas = np.array([learner.observations.count(s) for s in states])
                learner.tell(states, self._evaluate(states, samples, replicas),
                             kind=np.array([a.kind for a in runs]), samples=samples)
            refined = any(a.kind == "refine" for a in actions)
            log.acted(sum(a.kind == "fresh_run" for a in runs), sum(a.kind == "sample_more" for a in runs), refined)
            if refined:
                u = prolongation(grid, u)
                grid = refine_grid(grid)
            if not runs and not refined:
                stop = "no_useful_action"
                break
        spent = self.coupler.accounting - ledger
        attrs = {"tol": self.tol, "confidence": self.confidence, "stop_reason": stop,
                 "converged": int(stop == "tolerance"), "wall_s": time.perf_counter() - start,
                 "micro_seconds": spent.micro_seconds, "micro_runs": len(learner.observations),
                 "reference": np.nan if self.reference is None else float(self.reference),
                 "goal": repr(self.goal), "law": repr(self.law), **spent.to_attrs(),
                 **self.coupler.provenance(self.budget)}
        return log.dataset(learner.observations, learner.asked, self.closure.inputs, grid, u, attrs)
