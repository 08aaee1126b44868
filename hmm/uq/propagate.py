r"""Aleatoric uncertainty of an HMM run: linear propagation or a seed ensemble.

``propagate(solver, method="linear")`` runs once and returns the closure
noise carried into the fields by linearisation through the macro solver
(the ``{field}_stderr`` of the solver's results; no extra micro runs).
``method="ensemble"`` repeats the whole multiscale run ``n`` times with
independent micro seeds and returns the sample statistics,

.. math::

    \bar u = \frac1n \sum_k u_k, \qquad
    s^2 = \frac1{n-1} \sum_k (u_k - \bar u)^2, \qquad
    \operatorname{se}(\bar u) = s / \sqrt n ,

which checks the linear method where the closure is nonlinear.

Members run through the solver's one Coupler (a per-member view with its
own root seed, see :mod:`hmm.uq._members`): the micro queries of every
member go through the same Dask client, task batching, cache and ledger.
Several members are in flight at once, in threads of this process, so
their closure calls overlap the Dask round trips of one another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from scipy import stats

from ._members import (check_member_kwargs, check_mode, goal_value, member_seeds, run_member, run_members)
from .goals import goal_name, goal_units, linear_goal_stderr, make_goal

METHODS = ("linear", "ensemble")


def check_confidence(confidence: Any, func: str) -> float:
    """``confidence`` as a float in (0, 1) (ValueError otherwise)."""
    try:
        level = float(confidence)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: `confidence` must be a number in (0, 1), got {confidence!r}") from None
    if not 0.0 < level < 1.0:
        raise ValueError(f"{func}: `confidence` must lie in (0, 1), got {confidence!r}")
    return level


def check_n(n: Any, func: str, minimum: int) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{func}: `n` must be an int, got {type(n).__name__}")
    if n < minimum:
        raise ValueError(f"{func}: `n` must be >= {minimum}, got {n}")
    return int(n)


@dataclass(frozen=True)
class UQResult:
    """The uncertainty of an HMM run's fields and goal.

    Attributes
    ----------
    dataset : xarray.Dataset
        For every field ``f`` of the law: ``f`` (the estimate: the run's
        field, or the ensemble mean), ``f_stderr`` (standard error of that
        estimate: the linear stderr, or ``s / sqrt(n)``), ``f_spread`` (the
        standard deviation of one run's field: the linear stderr, or the
        sample standard deviation ``s`` of the members), ``f_lower`` and
        ``f_upper`` (two-sided bounds at level ``confidence``: normal
        quantiles for the linear method, Student-t with ``n - 1`` degrees of
        freedom for the ensemble mean), all in the field's units; with a
        goal, ``goal`` and ``goal_stderr`` per member (dim ``member``; the
        linear goal stderr where the goal is a linear functional, else NaN)
        and the scalars ``goal_mean``, ``goal_mean_stderr``, ``goal_spread``,
        ``goal_lower``, ``goal_upper``; per member ``member_seed`` (the
        Coupler root seed it ran with), ``member_micro_runs`` and
        ``member_micro_seconds``. Attributes ``uq_method``, ``uq_n``,
        ``uq_confidence``, ``uq_seed``, ``uq_mode``, ``uq_goal``.
    method : str
        ``"linear"`` or ``"ensemble"``.
    n : int
        Members (1 for the linear method).
    seeds : tuple of int
        Coupler root seed of each member.
    members : list of xarray.Dataset
        The members' results (empty unless ``keep_members=True``).
    """

    dataset: Any
    method: str
    n: int
    seeds: tuple[int, ...]
    members: list = field(default_factory=list, repr=False)

    def mean(self, name: str = "u"):
        """The estimate of field ``name`` (DataArray)."""
        return self.dataset[name]

    def stderr(self, name: str = "u"):
        """Standard error of :meth:`mean`."""
        return self.dataset[f"{name}_stderr"]

    def spread(self, name: str = "u"):
        """Standard deviation of one run's field ``name``."""
        return self.dataset[f"{name}_spread"]

    @property
    def goal_values(self) -> np.ndarray | None:
        """The goal of every member, or None without a goal."""
        return self.dataset["goal"].values if "goal" in self.dataset else None

    @property
    def goal_mean(self) -> float:
        return float(self.dataset["goal_mean"]) if "goal_mean" in self.dataset else math.nan

    @property
    def goal_stderr(self) -> float:
        """Standard error of :attr:`goal_mean`."""
        return float(self.dataset["goal_mean_stderr"]) if "goal_mean_stderr" in self.dataset else math.nan

    def to_netcdf(self, path) -> Any:
        """Write :attr:`dataset` atomically (:func:`hmm.results.write_netcdf`)."""
        from ..results import write_netcdf

        return write_netcdf(self.dataset, path)


def _field_block(ds: Any, name: str, mean, stderr, spread, quantile: float, how: str) -> None:
    base = ds[name]
    unit = base.attrs.get("units", "1")
    ds[name] = (base.dims, np.asarray(mean), {**base.attrs, "long_name": f"{name}: {how}"})
    for suffix, values, text in (
            ("stderr", stderr, f"standard error of {name} ({how})"),
            ("spread", spread, f"standard deviation of {name} over independent micro seeds"),
            ("lower", np.asarray(mean) - quantile * np.asarray(stderr), f"lower confidence bound of {name}"),
            ("upper", np.asarray(mean) + quantile * np.asarray(stderr), f"upper confidence bound of {name}")):
        ds[f"{name}_{suffix}"] = (base.dims, np.asarray(values, dtype=float), {"units": unit, "long_name": text})


def _goal_block(ds: Any, values, stderrs, mean, mean_se, spread, quantile, unit: str) -> None:
    ds["goal"] = ("member", np.asarray(values, dtype=float), {"units": unit, "long_name": "goal of each member"})
    ds["goal_stderr"] = ("member", np.asarray(stderrs, dtype=float),
                         {"units": unit, "long_name": "linear standard error of each member's goal"})
    for name, value, text in (
            ("goal_mean", mean, "goal estimate (mean over members)"),
            ("goal_mean_stderr", mean_se, "standard error of goal_mean"),
            ("goal_spread", spread, "standard deviation of one run's goal"),
            ("goal_lower", mean - quantile * mean_se, "lower confidence bound of goal_mean"),
            ("goal_upper", mean + quantile * mean_se, "upper confidence bound of goal_mean")):
        ds[name] = ((), float(value), {"units": unit, "long_name": text})


def propagate(solver: Any, method: str = "ensemble", *, n: int = 16, goal: Any = None, seed: int = 0,
              mode: str = "steady", run_kwargs: Mapping[str, Any] | None = None, confidence: float = 0.95,
              progress: bool = False, keep_members: bool = False, linear_check: bool = False,
              concurrency: int | None = None) -> UQResult:
    """Propagate the micro noise of an HMM run into its fields and a goal.

    Parameters
    ----------
    solver : hmm.HMMSolver
        The run to repeat; its Coupler executes every micro query.
    method : {"ensemble", "linear"}
        ``"linear"``: one run, the solver's linearised ``{field}_stderr``
        (steady solves: :meth:`hmm.HMMSolver.solve_steady` ``stderr=True``;
        transient runs need results that carry ``{field}_stderr``).
        ``"ensemble"``: ``n`` whole runs with independent micro seeds.
    n : int
        Ensemble members (>= 2; ignored by the linear method).
    goal : callable, str or mapping, optional
        ``goal(ds) -> float`` on a member's results, or a named goal of
        :data:`hmm.uq.goals.GOALS` (``"flow_rate"``, ``{kind =
        "point_value", point = [0.5]}``, ...).
    seed : int
        Study seed: member ``k`` runs with Coupler root seed
        ``SeedSequence(seed).spawn(n)[k]`` (recorded as ``member_seed``).
        The linear method runs once with the Coupler's own seed.
    mode : {"steady", "transient"}
        ``solve_steady(**run_kwargs)`` or ``run(**run_kwargs)`` (which
        needs ``t_end`` and ``dt``).
    run_kwargs : mapping, optional
        Keyword arguments of the solve.
    confidence : float
        Level of the two-sided bounds, in (0, 1).
    progress : bool
        A progress bar (tqdm, stderr) over members.
    keep_members : bool
        Keep every member's Dataset in :attr:`UQResult.members`.
    linear_check : bool
        Ensemble of steady solves only: also store ``{field}_linear_stderr``,
        the root mean square over members of each member's linear stderr
        (linear algebra only), to compare with ``{field}_spread``.
    concurrency : int, optional
        Members in flight at once, in threads of this process (default:
        twice the cluster's worker threads; 1 in process). The results do
        not depend on it.

    Returns
    -------
    UQResult
    """
    func = "hmm.uq.propagate()"
    if method not in METHODS:
        raise ValueError(f"{func}: unknown method {method!r}; valid methods are {list(METHODS)}")
    check_mode(mode, func)
    level = check_confidence(confidence, func)
    goal = make_goal(goal)
    run_kwargs = dict(run_kwargs or {})
    if method == "linear":
        return _linear(solver, goal, mode, run_kwargs, level)
    n = check_n(n, func, 2)
    run_kwargs = check_member_kwargs(run_kwargs, func)
    return _ensemble(solver, n, goal, seed, mode, run_kwargs, level, progress, keep_members, linear_check,
                     concurrency)


def _attrs(ds: Any, method: str, n: int, level: float, seed: Any, mode: str, goal: Any) -> None:
    ds.attrs.update({"uq_method": method, "uq_n": int(n), "uq_confidence": level, "uq_seed": str(seed),
                     "uq_mode": mode, "uq_goal": goal_name(goal) if goal is not None else "none"})


def _linear(solver, goal, mode, run_kwargs, level) -> UQResult:
    ds = run_member(solver, mode, run_kwargs, linear=True, goal=goal)
    missing = [f for f in solver.fields if f"{f}_stderr" not in ds]
    if missing:
        raise ValueError(f"hmm.uq.propagate(method='linear'): the {mode} results carry no "
                         f"{', '.join(f + '_stderr' for f in missing)} (no linear propagation for this "
                         "run); use method='ensemble'")
    z = float(stats.norm.ppf(0.5 + level / 2))
    out = ds.copy()
    for f in solver.fields:
        se = ds[f"{f}_stderr"].values
        _field_block(out, f, ds[f].values, se, se, z, "one run, stderr by linear propagation")
    out = out.assign_coords(member=("member", [0]))
    if goal is not None:
        q, se = goal_value(goal, ds), linear_goal_stderr(goal, ds)
        _goal_block(out, [q], [se], q, se, se, z, goal_units(goal, ds))
    out["member_seed"] = ("member", np.array([solver.coupler.seed], dtype=np.int64),
                          {"long_name": "Coupler root seed of each member"})
    _attrs(out, "linear", 1, level, solver.coupler.seed, mode, goal)
    return UQResult(out, "linear", 1, (int(solver.coupler.seed),))


def _ensemble(solver, n, goal, seed, mode, run_kwargs, level, progress, keep_members, linear_check,
              concurrency=None) -> UQResult:
    seeds = member_seeds(seed, n)
    linear = linear_check

    def job(member):
        ds = run_member(member, mode, run_kwargs, linear=linear, goal=goal)
        template = ds[list(member.fields)]
        template.attrs = dict(ds.attrs)
        return {"ds": ds if keep_members else template,
                "goal": goal_value(goal, ds) if goal is not None else math.nan,
                "goal_se": linear_goal_stderr(goal, ds) if (goal is not None and linear) else math.nan,
                "var": {f: ds[f"{f}_stderr"].values ** 2 for f in member.fields} if linear else None}

    done = run_members(solver, [{"seed": s} for s in seeds], job, concurrency=concurrency, progress=progress)
    results, works = [r for r, _ in done], [w for _, w in done]
    runs, seconds = [w.fresh_runs for w in works], [w.micro_seconds for w in works]
    first = results[0]["ds"]
    fields = {f: [r["ds"][f].values for r in results] for f in solver.fields}
    linear_var = {f: sum(r["var"][f] for r in results) / n for f in solver.fields} if linear else {}
    goals, goal_se = [r["goal"] for r in results], [r["goal_se"] for r in results]
    kept = [r["ds"] for r in results] if keep_members else []
    t = float(stats.t.ppf(0.5 + level / 2, n - 1))
    out = first[list(solver.fields)].copy()  # the members' closure answers and ledgers are not kept
    out.attrs = dict(first.attrs)
    for f in solver.fields:
        stack = np.stack(fields[f])
        spread = stack.std(axis=0, ddof=1)
        _field_block(out, f, stack.mean(axis=0), spread / math.sqrt(n), spread, t, f"mean of {n} members")
        if linear:
            out[f"{f}_linear_stderr"] = (out[f].dims, np.sqrt(linear_var[f]), {
                "units": out[f].attrs.get("units", "1"),
                "long_name": f"root mean square over members of the linear stderr of {f}"})
    out = out.assign_coords(member=("member", np.arange(n)))
    if goal is not None:
        q = np.asarray(goals)
        spread = float(q.std(ddof=1))
        _goal_block(out, q, goal_se, float(q.mean()), spread / math.sqrt(n), spread, t, goal_units(goal, first))
    out["member_seed"] = ("member", np.asarray(seeds, dtype=np.int64),
                          {"long_name": "Coupler root seed of each member (SeedSequence(uq_seed).spawn)"})
    out["member_micro_runs"] = ("member", np.asarray(runs, dtype=np.int64), {"long_name": "fresh micro runs"})
    out["member_micro_seconds"] = ("member", np.asarray(seconds, dtype=float),
                                   {"units": "s", "long_name": "micro wall seconds"})
    out.attrs["micro_runs"] = int(sum(runs))
    out.attrs["micro_seconds"] = float(sum(seconds))
    _attrs(out, "ensemble", n, level, seed, mode, goal)
    return UQResult(out, "ensemble", n, tuple(seeds), kept)
