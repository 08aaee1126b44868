"""Surrogate reuse of micro answers, query by query (the modelling indicator at work).

:class:`ReuseClosure` wraps a macro closure (normally the
:class:`hmm.closure.CouplerClosure` of an :class:`hmm.HMMSolver`). For every
query it asks a Gaussian-process surrogate of the closure
(:class:`adaptivity.GPClosureSurrogate`) for its predictive standard
deviation ``s(p)``. A query with ``s(p) <= tol`` in every output is answered
by the surrogate's posterior mean (``reuse``: no micro time, reported
stderr ``s(p)``); the others go to the wrapped closure in one batch (``fresh
run``) and their answers are added to the surrogate, so the next queries
near them are reused. The surrogate is told only fresh micro estimates,
never its own predictions.

This is the per-query form of the modelling/reuse decision of issue 7 for
time-dependent runs; the goal-oriented steady loop is
:class:`hmm.adaptive.AdaptiveSteadySolver`. Hook it into a solver with
``HMMSolver(..., closure_wrapper=lambda cc: ReuseClosure(cc, tol=...))``.

Steppers: meant for explicit steppers (many closure calls at nearby states)
and the hyperbolic field steppers. Newton-based (implicit) steppers see a
closure whose answer at a point can change between iterations as the
surrogate learns, which Newton does not converge through; use them with
:class:`macro.TabulatedClosure` or without reuse.

Reproducibility: the answers depend on the order of the queries (what the
surrogate has seen), which is fixed for a given run, so a rerun gives the
same bits; a run resumed from a checkpoint does not (the surrogate is not
checkpointed), and :class:`hmm.HMMSolver` refuses that combination.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from macro.closure import ClosureResult, as_closure, forward_differences, gradient_copies

__all__ = ["ReuseClosure"]


class ReuseClosure:
    """Closure answered by a GP surrogate where it is confident, by micro runs elsewhere.

    Parameters
    ----------
    closure : macro.Closure
        The wrapped closure (:mod:`macro.closure`: ``mean``, ``stderr``,
        ``cost_s`` and the ``fresh`` mask), e.g. a
        :class:`hmm.closure.CouplerClosure`. Query columns: positions, then
        ``n_in // 2`` gradient columns last (the law's closure inputs).
    tol : float or sequence of float
        Largest predictive standard deviation (closure output units, per
        output) at which a query is answered by the surrogate.
    min_runs : int
        Fresh runs before the surrogate is consulted at all (>= 2).
    linear_in_gradient : bool
        Closure known to be linear in the gradient (see
        :class:`adaptivity.GPClosureSurrogate`).
    surrogate_options : dict, optional
        Extra keywords of :class:`adaptivity.GPClosureSurrogate` (default
        ``refit_every=16``: hyperparameters re-optimised every 16 fresh runs).

    Attributes
    ----------
    stats : dict
        ``queries``, ``reused`` (answered by the surrogate) and ``fresh``
        (passed on to the wrapped closure, which runs repeats of one batch
        once and may answer from its cache) counts. The micro work itself is
        counted by the Coupler (:attr:`hmm.Coupler.accounting`).
    surrogate : adaptivity.GPClosureSurrogate or None
        Built at the first call, when the numbers of query columns and
        outputs are known.
    """

    def __init__(self, closure: Any, tol: Any, *, min_runs: int = 8, linear_in_gradient: bool = False,
                 surrogate_options: dict | None = None) -> None:
        tol = np.asarray(tol, dtype=float)
        if tol.ndim > 1 or not np.all(np.isfinite(tol)) or np.any(tol <= 0):
            raise ValueError(f"ReuseClosure(): `tol` must be finite and > 0 per output, got {tol}")
        if isinstance(min_runs, bool) or not isinstance(min_runs, (int, np.integer)) or min_runs < 2:
            raise ValueError(f"ReuseClosure(): `min_runs` must be an integer >= 2, got {min_runs!r}")
        self.closure, self.tol, self.min_runs = as_closure(closure, "ReuseClosure()"), tol, int(min_runs)
        self.linear_in_gradient = bool(linear_in_gradient)
        self.surrogate_options = {"refit_every": 16, **(surrogate_options or {})}
        self.surrogate = None
        self.stats = {"queries": 0, "reused": 0, "fresh": 0}

    def _surrogate(self, n_in: int, n_out: int) -> Any:
        if self.surrogate is None:
            from adaptivity import GPClosureSurrogate

            self.surrogate = GPClosureSurrogate(n_in, n_out, grad_columns=n_in // 2,
                                                linear_in_gradient=self.linear_in_gradient,
                                                **self.surrogate_options)
        return self.surrogate

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        points = np.asarray(points, dtype=float)
        n = len(points)
        reuse, m, s = np.zeros(n, dtype=bool), None, None
        if self.surrogate is not None and len(self.surrogate) >= self.min_runs:
            m, s = self.surrogate.predict(points)
            reuse = np.all(s <= np.broadcast_to(self.tol, (m.shape[1],)), axis=1)
        ask = ~reuse
        res = None
        if ask.any():
            rows = None if seed_rows is None else np.asarray(seed_rows)[ask]
            res = self.closure(points[ask], seed_rows=rows)
        if res is None and m is None:
            raise ValueError("ReuseClosure(): `points` must hold at least one query")
        n_out = m.shape[1] if res is None else np.asarray(res.mean).reshape(int(ask.sum()), -1).shape[1]
        mean, err, cost = np.empty((n, n_out)), np.empty((n, n_out)), np.zeros(n)
        fresh = np.zeros(n, dtype=bool)
        if reuse.any():
            mean[reuse], err[reuse] = m[reuse], s[reuse]
        if res is not None:
            fm, fe = np.asarray(res.mean, dtype=float), np.asarray(res.stderr, dtype=float)
            mean[ask], err[ask], cost[ask] = fm, fe, np.asarray(res.cost_s, dtype=float)
            fresh[ask] = np.asarray(res.fresh, dtype=bool)
            self._tell(points[ask], res)
        self.stats["queries"] += n
        self.stats["reused"] += int(reuse.sum())
        self.stats["fresh"] += int(ask.sum())
        return ClosureResult(mean, err, cost, fresh)

    def tangent(self, points: np.ndarray, rel_step: float = 1e-2) -> np.ndarray:
        """``dq/dG`` (n, n_out, n_grad) by forward differences through the wrapped
        closure (fresh micro answers with common random numbers: each copy shares
        its base point's seed rows), never through the surrogate: a GP's
        derivative across the gradient axis, learned from the few gradients a
        run visits, is no basis for a CFL bound or a Newton step. The answers
        are added to the surrogate."""
        points = np.asarray(points, dtype=float)
        g = points.shape[1] // 2
        stacked, steps = gradient_copies(points, g, rel_step)
        res = self.closure(stacked, seed_rows=np.vstack([points] * (g + 1)))
        self._tell(stacked, res)
        self.stats["fresh"] += len(stacked)
        self.stats["queries"] += len(stacked)
        return forward_differences(np.asarray(res.mean, dtype=float), steps)

    def _tell(self, points: np.ndarray, res: Any) -> None:
        """Add the wrapped closure's fresh answers to the surrogate; repeated answers
        (the coupler's cache, repeats within a batch) are one observation, not several."""
        mean = np.asarray(res.mean, dtype=float).reshape(len(points), -1)
        new = np.asarray(res.fresh, dtype=bool)
        surrogate = self._surrogate(points.shape[1], mean.shape[1])
        if new.any():
            surrogate.tell(points[new], mean[new], np.asarray(res.stderr, dtype=float).reshape(mean.shape)[new])
