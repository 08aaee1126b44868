r"""Epistemic uncertainty: whole multiscale runs over a design of uncertain oracle parameters.

Each design point :math:`\theta_i` gives an oracle
(``dataclasses.replace``), and the whole HMM run is repeated with it,
through the solver's one Coupler (a per-point view with its own oracle and
root seed; the oracle token keys the cache, so points never share answers). Each point
gets independent micro seeds (``SeedSequence(seed).spawn``). At every
point the goal's conditional mean and variance are estimated,

* ``n_aleatoric = 1``: one run, :math:`\hat Q_i = Q(\theta_i)`, with
  :math:`\widehat{\operatorname{Var}}(Q \mid \theta_i)` the square of the
  goal's linear stderr (a linear goal of a steady solve), or
* ``n_aleatoric = m >= 2``: an inner seed ensemble of ``m`` runs,
  :math:`\hat Q_i` its mean and :math:`\widehat{\operatorname{Var}}(Q \mid
  \theta_i) = s_i^2` its sample variance,

and the law of total variance splits the goal's variance,

.. math::

    \operatorname{Var} Q = \underbrace{E[\operatorname{Var}(Q\mid\theta)]}_{\text{aleatoric}}
      + \underbrace{\operatorname{Var}(E[Q\mid\theta])}_{\text{epistemic}},

estimated by :math:`A = \overline{s^2}` and, since :math:`\operatorname{Var}
\hat Q_i = \operatorname{Var}(E[Q\mid\theta]) + E[\operatorname{Var}(Q\mid
\theta)]/m`, by :math:`E = S^2_{\hat Q} - A/m` (:math:`S^2_{\hat Q}` the
sample variance of the point estimates). With ``indices=True`` the design is
SALib's Saltelli design and the Sobol' indices of :math:`\hat Q` come with
SALib's bootstrap intervals (:mod:`hmm.uq.sobol`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ._members import (check_member_kwargs, check_mode, goal_value, member_seeds, run_member, run_members)
from .goals import goal_name, goal_units, linear_goal_stderr, make_goal
from .parameters import DESIGNS, ParameterDesign, check_parameters, describe, to_values, unit_design
from .propagate import check_confidence, check_n, propagate
from .shared import run_shared, shared_options
from .sobol import SobolIndices, check_base_samples, saltelli_unit, sobol_indices


@dataclass(frozen=True)
class VarianceSplit:
    """Law-of-total-variance split of the goal's variance (goal units squared)."""

    aleatoric: float
    epistemic: float
    sample_variance: float

    @property
    def total(self) -> float:
        return self.aleatoric + self.epistemic


@dataclass(frozen=True)
class EpistemicResult:
    """Goal samples over a parameter design, their variance split and (optionally) Sobol' indices.

    Attributes
    ----------
    design : ParameterDesign
        The design points.
    goal : ndarray, shape (n_points,)
        Goal estimate at each point (a run, or an inner ensemble mean).
    aleatoric_variance : ndarray, shape (n_points,)
        Estimated ``Var(Q | theta_i)`` of one run (NaN where unknown).
    n_aleatoric : int
        Runs per design point.
    split : VarianceSplit
    indices : SobolIndices or None
    seeds : ndarray, shape (n_points,)
        Study seed of each point's micro runs.
    micro_runs, micro_seconds : ndarray, shape (n_points,)
        Fresh micro runs and micro seconds per point.
    goal_units : str
    goal_name : str
    """

    design: ParameterDesign
    goal: np.ndarray
    aleatoric_variance: np.ndarray
    n_aleatoric: int
    split: VarianceSplit
    indices: SobolIndices | None
    seeds: np.ndarray
    micro_runs: np.ndarray
    micro_seconds: np.ndarray
    goal_units: str = "1"
    goal_name: str = "goal"

    def to_dataset(self, attrs: Mapping[str, Any] | None = None):
        """The results as an :class:`xarray.Dataset`.

        Dims ``sample`` (design points) and ``parameter`` (names). Variables:
        ``design`` (sample, parameter), ``goal``, ``goal_aleatoric_variance``,
        ``sample_seed``, ``sample_micro_runs``, ``sample_micro_seconds``
        (sample); ``variance_aleatoric``, ``variance_epistemic``,
        ``variance_total`` (goal units squared); with indices
        ``sobol_first``, ``sobol_total`` and their bootstrap half-widths
        ``sobol_first_conf``, ``sobol_total_conf`` and bounds
        ``sobol_first_lower``/``_upper``, ``sobol_total_lower``/``_upper``
        (parameter; level in the attribute ``sobol_confidence``). The
        distribution of each parameter is in the attribute
        ``distribution_<name>``.
        """
        import xarray as xr

        d, unit = self.design, self.goal_units
        sq = f"({unit})^2" if unit != "1" else "1"
        data = {
            "design": (("sample", "parameter"), d.values, {"long_name": "parameter values of each design point"}),
            "goal": ("sample", self.goal, {"units": unit, "long_name": f"{self.goal_name} at each design point "
                                           f"(mean of {self.n_aleatoric} run(s))"}),
            "goal_aleatoric_variance": ("sample", self.aleatoric_variance, {
                "units": sq, "long_name": "estimated Var(goal | parameters) of one run"}),
            "sample_seed": ("sample", self.seeds.astype(np.int64), {"long_name": "study seed of the point's runs"}),
            "sample_micro_runs": ("sample", self.micro_runs.astype(np.int64), {"long_name": "fresh micro runs"}),
            "sample_micro_seconds": ("sample", self.micro_seconds, {"units": "s", "long_name": "micro seconds"}),
            "variance_aleatoric": ((), self.split.aleatoric, {"units": sq, "long_name": "E[Var(goal | parameters)]"}),
            "variance_epistemic": ((), self.split.epistemic, {"units": sq, "long_name": "Var(E[goal | parameters])"}),
            "variance_total": ((), self.split.total, {"units": sq, "long_name": "aleatoric + epistemic variance"}),
        }
        out_attrs = {"uq_design": d.method, "uq_n_points": d.n, "uq_n_aleatoric": self.n_aleatoric,
                     "uq_goal": self.goal_name, **{f"distribution_{k}": describe(v) for k, v in d.distributions.items()}}
        if self.indices is not None:
            ix = self.indices
            for key, val, conf in (("first", ix.first, ix.first_conf), ("total", ix.total, ix.total_conf)):
                data[f"sobol_{key}"] = ("parameter", val, {"units": "1", "long_name": f"Sobol' {key}-order index"
                                                          if key == "first" else "Sobol' total index"})
                data[f"sobol_{key}_conf"] = ("parameter", conf, {"units": "1", "long_name": "bootstrap half-width"})
                data[f"sobol_{key}_lower"] = ("parameter", val - conf, {"units": "1"})
                data[f"sobol_{key}_upper"] = ("parameter", val + conf, {"units": "1"})
            out_attrs["sobol_confidence"] = ix.confidence
        ds = xr.Dataset(data, coords={"sample": np.arange(d.n), "parameter": list(d.names)})
        ds.attrs.update({**out_attrs, **dict(attrs or {})})
        return ds


def variance_split(goal: np.ndarray, aleatoric: np.ndarray, m: int) -> VarianceSplit:
    """Law-of-total-variance estimates from point estimates and per-point variances of one run.

    Where a per-point variance is unknown (NaN: a goal that is not a linear functional, or a run
    without a linear stderr, and ``n_aleatoric = 1``), the aleatoric part is NaN and the epistemic
    part is the sample variance of the goal, an upper bound of it."""
    s2 = float(np.var(goal, ddof=1)) if goal.size > 1 else math.nan
    a = float(np.mean(aleatoric)) if np.all(np.isfinite(aleatoric)) else math.nan
    e = s2 - (a / m if math.isfinite(a) else 0.0)
    return VarianceSplit(a, e, s2)


def epistemic(solver: Any, parameters: Mapping[str, Any], *, n: int, goal: Any, indices: bool = True,
              design: str = "sobol", n_aleatoric: int = 1, seed: int = 0, mode: str = "steady",
              run_kwargs: Mapping[str, Any] | None = None, confidence: float = 0.95,
              num_resamples: int = 200, progress: bool = False,
              concurrency: int | None = None, surrogate: Any = None) -> EpistemicResult:
    """Propagate uncertain oracle parameters (and the micro noise) through whole HMM runs.

    Parameters
    ----------
    solver : hmm.HMMSolver
        The run; its Coupler's oracle is the base of every design point.
    parameters : mapping
        Oracle field name -> ``scipy.stats`` distribution or table (see
        :func:`hmm.uq.sample_parameters`).
    n : int
        With ``indices``: the Saltelli base sample ``N`` (a power of two >=
        8; ``N (d + 2)`` design points); else the number of design points
        (>= 2).
    goal : callable, str or mapping
        The scalar goal (see :func:`hmm.uq.propagate`).
    indices : bool
        Sobol' first-order and total indices (Saltelli design); else a
        plain design ``design``.
    design : {"sobol", "halton", "lhs", "random"}
        The design when ``indices`` is False.
    n_aleatoric : int
        Runs per design point (>= 1; 1 uses the linear goal stderr).
    seed : int
        Seed of the design and of every point's micro seeds.
    mode, run_kwargs, confidence, progress
        As in :func:`hmm.uq.propagate`; ``confidence`` is also the level
        of the Sobol' bootstrap intervals.
    num_resamples : int
        Bootstrap resamples of the Sobol' intervals.
    concurrency : int, optional
        Design points in flight at once (see :func:`hmm.uq.propagate`).
    surrogate : mapping or SharedSurrogateOptions, optional
        Semi-intrusive mode (steady, ``n_aleatoric = 1``): one micro
        surrogate over (macro state, parameters) serves every design point
        (:mod:`hmm.uq.shared`, e.g. ``{"tol": 1e-3}``); the goal then
        estimates ``E[Q | theta]`` and the aleatoric part is not estimated.

    Returns
    -------
    EpistemicResult
    """
    func = "hmm.uq.epistemic()"
    check_mode(mode, func)
    level = check_confidence(confidence, func)
    goal = make_goal(goal)
    if goal is None:
        raise ValueError(f"{func}: `goal` is required (a callable or a named goal)")
    m = check_n(n_aleatoric, f"{func} (n_aleatoric)", 1)
    run_kwargs = check_member_kwargs(run_kwargs, func)
    shared = shared_options(surrogate)
    if shared is not None and (mode != "steady" or m != 1):
        raise ValueError(f"{func}: `surrogate` (a shared micro surrogate) needs mode='steady' and n_aleatoric=1")
    coupler = solver.coupler
    dists = check_parameters(coupler.oracle, parameters, func)
    names = tuple(dists)
    if indices:
        unit = saltelli_unit(names, check_base_samples(n, func), seed)
        method = "saltelli"
    else:
        if design not in DESIGNS:
            raise ValueError(f"{func}: unknown design {design!r}; valid designs are {list(DESIGNS)}")
        unit, method = unit_design(design, check_n(n, func, 2), len(names), seed), design
    points = ParameterDesign(coupler.oracle, dists, unit, to_values(unit, dists), method, seed)
    oracles = points.oracles()  # every design point's oracle is validated before any run starts
    seeds = np.asarray(member_seeds(seed, points.n), dtype=np.uint64)
    if shared is not None:
        q, runs, seconds, unit_text, _ = run_shared(solver, oracles, points.values, seeds, goal, shared,
                                                    run_kwargs, progress)
        var = np.full(points.n, np.nan)
    else:
        q, var, runs, seconds, unit_text = _independent(solver, oracles, seeds, goal, m, mode, run_kwargs, level,
                                                        concurrency, progress)
    if getattr(coupler.oracle, "deterministic", False) and m == 1 and shared is None:
        var = np.where(np.isfinite(var), var, 0.0)
    ix = sobol_indices(names, q, confidence=level, num_resamples=num_resamples, seed=seed) if indices else None
    return EpistemicResult(points, q, var, m, variance_split(q, var, m), ix, seeds, runs, seconds,
                           unit_text, goal_name(goal))


def _independent(solver, oracles, seeds, goal, m, mode, run_kwargs, level, concurrency, progress):
    """Every design point a whole HMM run (or an inner ensemble) of its own."""

    def job(member):
        if m == 1:
            ds = run_member(member, mode, run_kwargs, linear=True, goal=goal)
            return goal_value(goal, ds), linear_goal_stderr(goal, ds) ** 2, goal_units(goal, ds)
        res = propagate(member, "ensemble", n=m, goal=goal, seed=int(member.coupler.seed), mode=mode,
                        run_kwargs=run_kwargs, confidence=level, concurrency=1)
        return res.goal_mean, float(res.dataset["goal_spread"]) ** 2, str(res.dataset["goal"].attrs["units"])

    specs = [{"oracle": o, "seed": int(s)} for o, s in zip(oracles, seeds)]
    done = run_members(solver, specs, job, concurrency=concurrency, progress=progress, desc="UQ design")
    q = np.array([r[0] for r, _ in done], dtype=float)
    var = np.array([r[1] for r, _ in done], dtype=float)
    unit_text = done[0][0][2]
    runs = np.array([w.fresh_runs for _, w in done], dtype=np.int64)
    seconds = np.array([w.micro_seconds for _, w in done], dtype=float)
    return q, var, runs, seconds, unit_text
