"""Adaptive HMM for steady goals: solve -> estimate -> mark -> act.

The macro law is solved with a closure answered by a Gaussian-process
surrogate of the micro model (``reuse``: free); error indicators of a goal
functional ``J(u)`` (modelling, statistical, discretisation; see
:mod:`adaptivity.indicators`) estimate the goal error; the budget-greedy
allocator of :mod:`adaptivity.marking` proposes ``fresh_run`` /
``sample_more`` micro work (or ``refine`` of the macro grid), which this
driver executes through the :class:`hmm.Coupler` and feeds back to the
surrogate. It stops when ``z_conf * sigma_model + |disc|`` falls below the
goal tolerance or when the micro-time budget is spent. ``adaptivity``
decides, this module executes: every decision is logged into the returned
:class:`xarray.Dataset`.

The surrogate is seeded by an ordinary HMM Newton solve on a coarse macro
grid (micro runs at every face; tangents by finite differences with common
random numbers), so its training data lie on real macro states.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

import numpy as np

from macro.closures import forward_differences, gradient_copies

from .budget import Budget
from .closure import CouplerClosure
from .coupler import Coupler

__all__ = ["AdaptiveSteadySolver", "SurrogateClosure", "MicroClosure"]


class _Result:
    """Closure result (mean, stderr, cost_s) of the macro closure contract; ``cached``
    marks rows answered without a fresh micro run."""

    def __init__(self, mean: np.ndarray, stderr: np.ndarray, cost_s: np.ndarray,
                 cached: np.ndarray | None = None) -> None:
        self.mean, self.stderr, self.cost_s, self.cached = mean, stderr, cost_s, cached


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

    def __call__(self, points: np.ndarray) -> _Result:
        mean, _ = self.surrogate.predict(points)
        self.queries += len(mean)
        return _Result(mean, np.zeros_like(mean), np.zeros(len(mean)))

    def tangent(self, points: np.ndarray) -> np.ndarray:
        return self.surrogate.tangent(points)


class MicroClosure:
    """Macro closure answered by fresh micro runs; tangents by finite differences
    with common random numbers (perturbed copies share the base point's seed,
    replica 1), or ``q / G`` with ``linear_in_gradient`` (1D); every fresh
    base-point estimate is recorded in ``runs``."""

    def __init__(self, closure: CouplerClosure, rel_step: float = 1e-2, *,
                 linear_in_gradient: bool = False) -> None:
        self.closure, self.rel_step = closure, rel_step
        self.linear_in_gradient = bool(linear_in_gradient)
        self.runs: list[tuple[np.ndarray, np.ndarray, np.ndarray, float]] = []  # state, mean, stderr, cost

    def _record(self, points, batch) -> None:
        for i in np.flatnonzero(~batch.cached):
            self.runs.append((points[i].copy(), batch.mean[i].copy(), batch.stderr[i].copy(),
                              float(batch.cost_s[i])))

    def __call__(self, points: np.ndarray):
        points = np.asarray(points, dtype=float)
        zero = np.all(points[:, points.shape[1] // 2:] == 0, axis=1)
        if self.linear_in_gradient and zero.any():
            # q = k(X) G is exactly zero at G = 0: no micro run for those rows
            n_out = len(self.closure.outputs)
            mean, err = np.zeros((len(points), n_out)), np.zeros((len(points), n_out))
            cost, cached = np.zeros(len(points)), np.ones(len(points), dtype=bool)
            if (~zero).any():
                sub = self.closure(points[~zero])
                mean[~zero], err[~zero], cost[~zero], cached[~zero] = sub.mean, sub.stderr, sub.cost_s, sub.cached
            batch = _Result(mean, err, cost, cached)
        else:
            batch = self.closure(points)
        self._record(points, batch)
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
        cc.log.micro_seconds += float(batch.cost_s.sum())
        cc.log.fresh_runs += int((~batch.cached).sum())
        self._record(points, batch[np.arange(n)])
        return forward_differences(batch.mean, steps)


def _plot_axes(grid: Any, n1d: int = 256, n2d: int = 64) -> list[np.ndarray]:
    n = n1d if grid.dim == 1 else n2d
    ext = [grid.extent] if grid.dim == 1 else list(grid.extent)
    return [np.linspace(a, b, n + 1)[:-1] + (b - a) / (2 * n) for a, b in ext]


def _on_plot(grid: Any, cell_values: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """Piecewise-constant cell field sampled at the plot axes (density per unit length)."""
    ext = [grid.extent] if grid.dim == 1 else list(grid.extent)
    idx = [np.clip(((ax - a) / h).astype(int), 0, n - 1)
           for ax, (a, _), h, n in zip(axes, ext, grid.spacing, grid.shape)]
    field = np.asarray(cell_values).reshape(grid.shape) / grid.cell_volume
    return field[np.ix_(*idx)]


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

    # -- helpers ----------------------------------------------------------------------
    def _coarse(self) -> Any:
        from macro import Grid1D, Grid2D

        n = self.initial_cells
        return Grid1D(n, self.grid.extent) if self.grid.dim == 1 else Grid2D((n, n), self.grid.extent)

    def _evaluate(self, states: np.ndarray, samples: np.ndarray, replicas: np.ndarray):
        """Run micro queries grouped by sample count; return (mean, stderr, cost, cached)."""
        n_out = len(self.closure.outputs)
        mean, err = np.empty((len(states), n_out)), np.empty((len(states), n_out))
        cost, cached = np.empty(len(states)), np.empty(len(states), dtype=bool)
        for n in np.unique(samples):
            idx = np.flatnonzero(samples == n)
            b = Budget(self.budget.equilibration_steps, int(n), self.budget.target_stderr,
                       self.budget.max_wall_s, self.budget.replicas)
            batch = self.closure.restrict(self.coupler.evaluate(self.closure.lift(states[idx]), b,
                                                                replica=replicas[idx].astype(np.int64)))
            mean[idx], err[idx], cost[idx], cached[idx] = batch.mean, batch.stderr, batch.cost_s, batch.cached
        return mean, err, cost, cached

    def _candidates(self, ctx, surrogate):
        """Joint covariance over candidates (faces: fresh_run; known states: sample_more)."""
        axes = self.law.operators(ctx.grid).face_axes
        points, s = ctx.evaluation.points, ctx.sensitivity
        known = np.unique(surrogate.X, axis=0)
        states, kinds, outs, covs, vs, goal_var = [], [], [], [], [], 0.0
        for a in np.unique(axes):
            fidx = np.flatnonzero(axes == a)
            allp = np.vstack([points[fidx], known])
            _, c = surrogate.predict(allp, output=int(a), return_cov=True)
            nf = len(fidx)
            v = c[:, :nf] @ s[fidx]
            goal_var += float(s[fidx] @ v[:nf])
            states.append(allp)
            kinds += ["fresh_run"] * nf + ["sample_more"] * len(known)
            outs.append(np.full(len(allp), a))
            covs.append(c)
            vs.append(v)
        from scipy.linalg import block_diag

        return np.vstack(states), kinds, block_diag(*covs), np.concatenate(vs), max(goal_var, 0.0)

    # -- the loop ---------------------------------------------------------------------
    def run(self, newton_tol: float = 1e-10) -> Any:
        """Run the adaptive loop; return the log as an :class:`xarray.Dataset`."""
        from adaptivity import (CostModel, DiscretisationIndicator, GPClosureSurrogate,
                                ModellingIndicator, make_context, prolongation, refine_grid)
        from macro import solve_steady

        start = time.perf_counter()
        law, goal = self.law, self.goal
        n_in, n_out = len(self.closure.inputs), len(self.closure.outputs)
        surrogate = GPClosureSurrogate(n_in, n_out, grad_columns=self.grid.dim,
                                       linear_in_gradient=self.linear_in_gradient, **self.surrogate_options)
        runs: dict[str, list] = {k: [] for k in ("iteration", "kind", "state", "mean", "stderr", "samples", "cost")}
        seen: dict[bytes, int] = {}
        base_n = max(1, self.budget.sampling_steps)

        def record(it, kind, states, mean, err, samples, cost):
            surrogate.tell(states, mean, err)
            for i in range(len(states)):
                seen[states[i].tobytes()] = seen.get(states[i].tobytes(), 0) + 1
                k = kind if isinstance(kind, str) else str(kind[i])
                for key, val in zip(runs, (it, k, states[i], mean[i], err[i], samples[i], cost[i])):
                    runs[key].append(val)

        # seed: an ordinary HMM solve on a coarse grid
        micro = MicroClosure(self.closure, linear_in_gradient=self.linear_in_gradient)
        solve_steady(law, self._coarse(), micro, tol=newton_tol)
        st = np.array([r[0] for r in micro.runs])
        record(0, "seed", st, np.array([r[1] for r in micro.runs]), np.array([r[2] for r in micro.runs]),
               np.full(len(st), base_n), np.array([r[3] for r in micro.runs]))
        micro_s = float(np.sum(runs["cost"]))

        grid, u = self.grid, None
        model_ind, disc_ind = ModellingIndicator(), DiscretisationIndicator()
        plot_axes = _plot_axes(self.grid)
        log: dict[str, list] = {k: [] for k in (
            "cells", "goal", "est_error", "est_modelling", "est_statistical", "est_discretisation",
            "true_error", "micro_seconds", "micro_runs", "n_fresh_run", "n_sample_more", "refined",
            "faces_reused", "eta_modelling", "eta_discretisation")}
        actions_log: dict[str, list] = {k: [] for k in ("iteration", "kind", "position", "samples", "gain", "cost")}
        stop = "max_iterations"
        for it in range(1, self.max_iterations + 1):
            closure = SurrogateClosure(surrogate)
            u = solve_steady(law, grid, closure, u, tol=newton_tol).u
            ctx = make_context(law, grid, goal, u, closure, surrogate=surrogate)
            # the discretisation indicator queries the surrogate between the faces too, so
            # its uncertainty is judged (and reduced) on the twice finer grid's faces
            ctx_f = make_context(law, refine_grid(grid), goal, prolongation(grid, u), closure,
                                 surrogate=surrogate)
            m = model_ind.indicate(ctx_f)
            d = disc_ind.indicate(ctx)
            stat = self._statistical(ctx, surrogate)
            J = goal.value(grid, u)
            est = self.z * m.estimate + abs(d.estimate)
            for key, val in (("cells", grid.n_cells), ("goal", J), ("est_error", est),
                             ("est_modelling", m.estimate), ("est_statistical", stat),
                             ("est_discretisation", d.estimate),
                             ("true_error", np.nan if self.reference is None else J - self.reference),
                             ("micro_seconds", micro_s), ("micro_runs", len(runs["cost"])),
                             ("faces_reused", grid.n_faces),
                             ("eta_modelling", _on_plot(ctx_f.grid, np.abs(m.cells), plot_axes)),
                             ("eta_discretisation", _on_plot(grid, np.abs(d.cells), plot_axes))):
                log[key].append(val)
            if est <= self.tol:
                stop = "tolerance"
                log["n_fresh_run"].append(0), log["n_sample_more"].append(0), log["refined"].append(False)
                break
            if micro_s >= self.max_micro_s:
                stop = "micro_budget"
                log["n_fresh_run"].append(0), log["n_sample_more"].append(0), log["refined"].append(False)
                break
            # mark and allocate
            states, kinds, cov, v, var = self._candidates(ctx_f, surrogate)
            sig = np.median(np.array(runs["stderr"])[:, 0] * np.sqrt(np.array(runs["samples"])))
            cost_model = CostModel.fit(np.array(runs["samples"]), np.array(runs["cost"]))
            can_refine = max(grid.shape) * 2 <= self.max_cells
            actions = self.allocator.propose(
                states, kinds, cov, v, var, float(sig), base_n, cost_model,
                discretisation=d.estimate, can_refine=can_refine,
                target_var=((self.tol - abs(d.estimate)) / self.z) ** 2 * 0.5
                if self.tol > abs(d.estimate) else 0.0)
            micro = [a for a in actions if a.kind in ("fresh_run", "sample_more")]
            refined = any(a.kind == "refine" for a in actions)
            for a in actions:
                actions_log["iteration"].append(it)
                actions_log["kind"].append(a.kind)
                actions_log["position"].append(np.nan if a.state is None else float(a.state[0]))
                actions_log["samples"].append(a.samples)
                actions_log["gain"].append(a.gain)
                actions_log["cost"].append(a.cost_s)
            if micro:
                st = np.array([a.state for a in micro])
                ns = np.array([a.samples for a in micro])
                reps = np.array([seen.get(s.tobytes(), 0) for s in st])
                mean, err, cost, cached = self._evaluate(st, ns, reps)
                record(it, np.array([a.kind for a in micro]), st, mean, err, ns, np.where(cached, 0.0, cost))
                micro_s = float(np.sum(runs["cost"]))
            log["n_fresh_run"].append(sum(a.kind == "fresh_run" for a in micro))
            log["n_sample_more"].append(sum(a.kind == "sample_more" for a in micro))
            log["refined"].append(refined)
            if refined:
                u = prolongation(grid, u)
                grid = refine_grid(grid)
            if not micro and not refined:
                stop = "no_useful_action"
                break
        return self._dataset(log, runs, actions_log, plot_axes, grid, u, stop, time.perf_counter() - start)

    def _statistical(self, ctx, surrogate) -> float:
        """Micro stderr of every surrogate observation through the goal: the
        posterior mean is linear in the observations, ``dJ/dy_j = g_j``."""
        axes = self.law.operators(ctx.grid).face_axes
        var = 0.0
        for a in np.unique(axes):
            fidx = np.flatnonzero(axes == a)
            g = surrogate.data_weights(ctx.evaluation.points[fidx], int(a), ctx.sensitivity[fidx])
            var += float(np.sum((g * surrogate.S[:, a]) ** 2))
        return float(np.sqrt(var))

    def _dataset(self, log, runs, actions, plot_axes, grid, u, stop, wall):
        import xarray as xr

        n_it = len(log["cells"])
        it = np.arange(1, n_it + 1)
        pdims = ("iteration", "xi") if grid.dim == 1 else ("iteration", "xi", "yi")
        coords = {"iteration": it, "xi": plot_axes[0]}
        if grid.dim == 2:
            coords["yi"] = plot_axes[1]
        data = {k: ("iteration", np.asarray(log[k])) for k in log if not k.startswith("eta_")}
        data["eta_modelling"] = (pdims, np.asarray(log["eta_modelling"]),
                                 {"long_name": "modelling indicator density (goal units per volume)"})
        data["eta_discretisation"] = (pdims, np.asarray(log["eta_discretisation"]),
                                      {"long_name": "discretisation indicator density (goal units per volume)"})
        data["micro_seconds"] = ("iteration", np.asarray(log["micro_seconds"]), {"units": "s"})
        st = np.array(runs["state"])
        data["run_iteration"] = ("run", np.asarray(runs["iteration"], dtype=np.int64))
        data["run_kind"] = ("run", np.asarray([str(k) for k in runs["kind"]]))
        for j, name in enumerate(self.closure.inputs):
            data[f"run_{name}"] = ("run", st[:, j])
        data["run_mean"] = ("run", np.array(runs["mean"])[:, 0])
        data["run_stderr"] = ("run", np.array(runs["stderr"])[:, 0])
        data["run_samples"] = ("run", np.asarray(runs["samples"], dtype=np.int64))
        data["run_cost_s"] = ("run", np.asarray(runs["cost"], dtype=float), {"units": "s"})
        for k, v in actions.items():
            data[f"action_{k}"] = ("action", np.asarray(v) if k != "kind" else np.asarray(v, dtype=str))
        data["u"] = (tuple(f"cell_{d}" for d in grid.dims), np.asarray(u).reshape(grid.shape))
        for d, c in zip(grid.dims, grid.centres):
            coords[f"cell_{d}"] = c
        attrs = {"tol": self.tol, "confidence": self.confidence, "stop_reason": stop,
                 "converged": int(stop == "tolerance"), "wall_s": wall,
                 "micro_seconds": float(np.sum(runs["cost"])), "micro_runs": len(runs["cost"]),
                 "reference": np.nan if self.reference is None else float(self.reference),
                 "goal": repr(self.goal), "law": repr(self.law), **self.coupler.provenance(self.budget)}
        attrs = {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in attrs.items()}
        return xr.Dataset(data, coords=coords, attrs=attrs)
