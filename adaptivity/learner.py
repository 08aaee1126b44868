r"""Goal-oriented adaptivity as an ask/tell learner (python-adaptive's Learner/Runner split).

:class:`GoalLearner` owns what decides where micro work goes: the
Gaussian-process surrogate of the closure, the three indicators of the goal
error (modelling, statistical, discretisation) and the budget-greedy
allocator. It is *told* micro estimates (:meth:`GoalLearner.tell`) and the
macro solution the surrogate gives, as the arrays of an
:class:`~adaptivity.IndicatorContext` (:meth:`GoalLearner.tell_solution`),
and *asked* for actions (:meth:`GoalLearner.ask`). It never evaluates
anything: the runner (:class:`hmm.AdaptiveSteadySolver`) solves the macro
problem, linearises it, runs the micro work through a Coupler and tells the
results back, so that the learner can be driven by a plain loop.

The goal error estimate at confidence ``c`` is
:math:`\eta = z_c\,\sigma_\mathrm{model} + |\eta_\mathrm{disc}|`, with
:math:`z_c` the two-sided normal quantile; the learner is :attr:`done` when
:math:`\eta \le` ``tol``.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Sequence

import numpy as np

from .indicators import (DiscretisationIndicator, Indication, IndicatorContext, ModellingIndicator,
                         StatisticalIndicator, goal_candidates)
from .marking import Action, BudgetGreedyAllocator, CostModel

__all__ = ["GoalLearner", "GoalEstimate", "Observations"]


class GoalEstimate(NamedTuple):
    """What the learner makes of one macro solution.

    ``goal`` is ``J(u)`` and ``estimate`` the error bound
    ``z sigma_model + |disc|`` (goal units); ``modelling`` (on the twice finer
    grid), ``statistical`` and ``discretisation`` are the three indications.
    """

    iteration: int
    goal: float
    estimate: float
    modelling: Indication
    statistical: Indication
    discretisation: Indication


class Observations:
    """The micro estimates told to a learner, in order (one row per run).

    Columns (lists): ``iteration``, ``kind`` (``"seed"``, ``"fresh_run"``,
    ``"sample_more"``), ``state`` (closure inputs), ``mean``, ``stderr``
    (closure outputs), ``samples`` (sampling steps) and ``cost`` (micro
    seconds the run reported; 0 for a cached answer).
    """

    columns = ("iteration", "kind", "state", "mean", "stderr", "samples", "cost")

    def __init__(self) -> None:
        self.data: dict[str, list] = {k: [] for k in self.columns}
        self._seen: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self.data["cost"])

    def __getitem__(self, column: str) -> list:
        return self.data[column]

    def add(self, iteration: int, kinds: Any, states: np.ndarray, mean: np.ndarray, stderr: np.ndarray,
            samples: np.ndarray, cost: np.ndarray) -> None:
        for i in range(len(states)):
            key = states[i].tobytes()
            self._seen[key] = self._seen.get(key, 0) + 1
            kind = kinds if isinstance(kinds, str) else str(kinds[i])
            for column, value in zip(self.columns, (iteration, kind, states[i], mean[i], stderr[i], samples[i],
                                                    cost[i])):
                self.data[column].append(value)

    def count(self, state: np.ndarray) -> int:
        """How many observations were made at exactly ``state`` (the next
        replica index of a repeat there)."""
        return self._seen.get(np.asarray(state, dtype=float).tobytes(), 0)


class GoalLearner:
    """Ask/tell learner of goal-oriented adaptive HMM for steady problems.

    Parameters
    ----------
    surrogate : adaptivity.GPClosureSurrogate
        The closure model told every micro estimate; its posterior answers
        the macro solves and carries the modelling uncertainty.
    tol : float
        Goal tolerance (goal units) at confidence ``confidence``.
    confidence : float
        Two-sided confidence of the modelling part of the estimate, in (0, 1).
    base_samples : int
        Sampling steps of a standard micro run (>= 1).
    max_cells : int
        No refinement beyond this many cells per axis.
    allocator : adaptivity.BudgetGreedyAllocator, optional
    modelling, statistical, discretisation : indicators, optional
        Default :class:`ModellingIndicator`, :class:`StatisticalIndicator`,
        :class:`DiscretisationIndicator`.

    Attributes
    ----------
    observations : Observations
        Everything told so far.
    asked : list of (iteration, Action)
        Every proposal made so far.
    iteration : int
        Macro solutions told so far (0 while seeding).
    last : GoalEstimate or None
        The estimate of the last macro solution.
    """

    def __init__(self, surrogate: Any, *, tol: float, confidence: float = 0.95, base_samples: int = 1,
                 max_cells: int = 1024, allocator: Any = None, modelling: Any = None, statistical: Any = None,
                 discretisation: Any = None) -> None:
        from scipy.stats import norm

        if not (tol > 0):
            raise ValueError(f"GoalLearner(): `tol` must be > 0, got {tol}")
        if not 0 < confidence < 1:
            raise ValueError(f"GoalLearner(): `confidence` must be in (0, 1), got {confidence}")
        if isinstance(base_samples, bool) or not isinstance(base_samples, (int, np.integer)) or base_samples < 1:
            raise ValueError(f"GoalLearner(): `base_samples` must be an int >= 1, got {base_samples!r}")
        self.surrogate = surrogate
        self.tol, self.confidence = float(tol), float(confidence)
        self.z = float(norm.ppf(0.5 + confidence / 2))
        self.base_samples, self.max_cells = int(base_samples), int(max_cells)
        self.allocator = allocator or BudgetGreedyAllocator()
        self.modelling = modelling or ModellingIndicator()
        self.statistical = statistical or StatisticalIndicator()
        self.discretisation = discretisation or DiscretisationIndicator()
        self.observations = Observations()
        self.asked: list[tuple[int, Action]] = []
        self.iteration = 0
        self.last: GoalEstimate | None = None
        self._context: IndicatorContext | None = None

    # -- tell ---------------------------------------------------------------------------
    def tell(self, states: np.ndarray, results: Any, *, kind: str | Sequence[str] = "fresh_run",
             samples: int | np.ndarray | None = None) -> None:
        """Micro estimates at ``states`` (k, n_in): ``results`` has ``mean`` and
        ``stderr`` (k, n_out) and ``cost_s`` (k,) (a closure result or an
        estimate batch, cached answers at zero cost); ``kind`` one for all or
        one per row; ``samples`` the sampling steps of each run (default
        ``base_samples``)."""
        states = np.asarray(states, dtype=float)
        mean, stderr, cost = results.mean, results.stderr, results.cost_s
        if samples is None:
            samples = self.base_samples
        if np.ndim(samples) == 0:
            samples = np.full(len(states), samples)
        self.surrogate.tell(states, mean, stderr)
        self.observations.add(self.iteration, kind, states, mean, stderr, samples, cost)

    def tell_solution(self, ctx: IndicatorContext) -> GoalEstimate:
        """The macro solution the surrogate gives, as an indicator context with
        its ``fine`` context (:func:`hmm.adaptive.make_context`); returns the
        goal and its error estimate."""
        if ctx.surrogate is not self.surrogate or ctx.fine is None or ctx.fine.surrogate is not self.surrogate:
            raise ValueError("GoalLearner.tell_solution(): the context (and its `fine` context) must be built "
                             "with this learner's surrogate")
        self.iteration += 1
        m = self.modelling.indicate(ctx.fine)
        d = self.discretisation.indicate(ctx)
        stat = self.statistical.indicate(ctx)
        J = ctx.goal.value(ctx.grid, ctx.u)
        self.last = GoalEstimate(self.iteration, J, self.z * m.estimate + abs(d.estimate), m, stat, d)
        self._context = ctx
        return self.last

    @property
    def done(self) -> bool:
        """Whether the last estimate meets the tolerance."""
        return self.last is not None and self.last.estimate <= self.tol

    # -- ask ----------------------------------------------------------------------------
    def ask(self, budget_s: float = np.inf) -> list[Action]:
        """Actions for the last macro solution: ``fresh_run``/``sample_more``
        micro runs (state and sampling steps) and possibly ``refine``, chosen
        by expected goal-variance reduction per micro second. Nothing when
        ``budget_s`` (micro seconds the runner may still spend) is used up;
        otherwise the allocator's proposal, which stops on variance, not cost."""
        if self._context is None or self.last is None:
            raise RuntimeError("GoalLearner.ask(): tell a macro solution first (tell_solution)")
        if budget_s <= 0:
            return []
        obs, d = self.observations, self.last.discretisation
        sig = np.median(np.array(obs["stderr"])[:, 0] * np.sqrt(np.array(obs["samples"])))
        cost_model = CostModel.fit(np.array(obs["samples"]), np.array(obs["cost"]))
        grid = self._context.grid
        target_var = ((self.tol - abs(d.estimate)) / self.z) ** 2 * 0.5 if self.tol > abs(d.estimate) else 0.0
        actions = self.allocator.propose(goal_candidates(self._context.fine), sigma1=float(sig),
                                         base_samples=self.base_samples, cost=cost_model,
                                         discretisation=d.estimate,
                                         can_refine=max(grid.shape) * 2 <= self.max_cells, target_var=target_var)
        self.asked += [(self.iteration, a) for a in actions]
        return actions
