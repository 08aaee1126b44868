"""Marking and allocation: turning indicators into proposed micro work.

* :func:`doerfler_mark` -- bulk marking: the fewest points whose
  contributions make up a fraction ``theta`` of the total.
* :class:`BudgetGreedyAllocator` -- proposes :class:`Action` s among
  ``sample_more`` (another replica at a state the surrogate already knows),
  ``fresh_run`` (a micro run at a new query point), ``refine`` (halve the
  macro cells) and, by default, ``reuse`` (answer from the surrogate, free),
  choosing greedily the largest reduction of the goal variance per micro
  second. The variance reductions are exact for a Gaussian-process
  surrogate with fixed hyperparameters: an observation of noise variance
  ``sigma^2`` at candidate ``c`` reduces ``Var(J)`` by
  ``Cov(J, q_c)^2 / (Var(q_c) + sigma^2)``, after which the joint covariance
  is updated (rank one) before the next pick, so near-duplicates are not
  chosen twice. Costs come from a :class:`CostModel` fitted to the
  ``cost_s`` the estimates reported; the noise of ``n`` samples is
  ``sigma_1 / sqrt(n)``.

Nothing here runs micro work: the allocator returns a list of actions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

import numpy as np

__all__ = ["doerfler_mark", "Action", "Candidates", "CostModel", "BudgetGreedyAllocator", "ACTIONS"]

ACTIONS = ("sample_more", "fresh_run", "reuse", "refine")


def doerfler_mark(eta: np.ndarray, theta: float = 0.5) -> np.ndarray:
    """Indices of the smallest set with ``sum(eta[marked]) >= theta * sum(eta)``.

    ``eta`` are non-negative contributions (negative ones count as their
    magnitude); ``0 < theta <= 1``. Returned largest first.
    """
    if not 0.0 < theta <= 1.0:
        raise ValueError(f"doerfler_mark(): `theta` must be in (0, 1], got {theta}")
    eta = np.abs(np.asarray(eta, dtype=float)).ravel()
    total = eta.sum()
    if total == 0.0:
        return np.empty(0, dtype=np.intp)
    order = np.argsort(eta)[::-1]
    k = int(np.searchsorted(np.cumsum(eta[order]), theta * total * (1 - 1e-12))) + 1
    return order[:min(k, eta.size)]


class Action(NamedTuple):
    """A proposed piece of work.

    ``kind`` is one of :data:`ACTIONS`; ``state`` the closure query (row of
    closure inputs) for micro actions; ``index`` the candidate index (face or
    surrogate observation); ``samples`` the sampling steps to ask for;
    ``gain`` the expected reduction of the goal variance (goal units^2) and
    ``cost_s`` the expected micro seconds.
    """

    kind: str
    state: np.ndarray | None
    index: int
    samples: int
    gain: float
    cost_s: float


class Candidates(NamedTuple):
    """The micro work an allocator chooses from, and what the surrogate says about it.

    Attributes
    ----------
    states : ndarray (c, n_in)
        Candidate query states (rows of closure inputs).
    kinds : sequence of str
        ``"fresh_run"`` or ``"sample_more"`` per candidate.
    cov : ndarray (c, c)
        Joint posterior covariance of the closure output at the candidates
        (output units squared).
    goal_cov : ndarray (c,)
        ``Cov(J, q_c)`` (goal units times output units).
    goal_var : float
        ``Var(J)`` from the surrogate (goal units squared).
    """

    states: np.ndarray
    kinds: Sequence[str]
    cov: np.ndarray
    goal_cov: np.ndarray
    goal_var: float


@dataclass(frozen=True)
class CostModel:
    """Micro seconds of one run with ``n`` samples: ``fixed_s + per_sample_s * n``."""

    fixed_s: float
    per_sample_s: float

    @classmethod
    def fit(cls, samples: np.ndarray, cost_s: np.ndarray) -> "CostModel":
        """Least squares on the reported costs (non-negative coefficients)."""
        n = np.asarray(samples, dtype=float)
        c = np.asarray(cost_s, dtype=float)
        if n.size == 0:
            return cls(1.0, 0.0)
        if np.ptp(n) == 0:
            return cls(0.0, float(c.mean()) / n[0]) if n[0] > 0 else cls(float(c.mean()), 0.0)
        slope, icpt = np.polyfit(n, c, 1)
        slope = max(float(slope), 0.0)
        return cls(max(float(np.mean(c - slope * n)), 0.0), slope)

    def __call__(self, n: int) -> float:
        return max(self.fixed_s + self.per_sample_s * n, 1e-12)


class BudgetGreedyAllocator:
    """Greedy choice of micro work by expected goal-variance reduction per second.

    Parameters
    ----------
    theta : float
        Dörfler fraction: stop proposing once the proposals remove this
        fraction of the current goal variance.
    sample_options : sequence of int
        Multiples of the base sampling steps a run may ask for.
    max_actions : int
        At most this many micro actions per call.
    """

    def __init__(self, theta: float = 0.7, sample_options: Sequence[int] = (1, 4, 16),
                 max_actions: int = 12) -> None:
        if not 0.0 < theta <= 1.0:
            raise ValueError(f"BudgetGreedyAllocator: `theta` must be in (0, 1], got {theta}")
        self.theta = float(theta)
        self.sample_options = tuple(int(k) for k in sample_options)
        self.max_actions = int(max_actions)

    def propose(self, candidates: Candidates, *legacy: Any, sigma1: float | None = None,
                base_samples: int | None = None, cost: CostModel | None = None, discretisation: float = 0.0,
                can_refine: bool = False, refine_cost_s: float = 0.0, target_var: float = 0.0) -> list[Action]:
        """Propose actions.

        Parameters
        ----------
        candidates : Candidates
            States, kinds, joint covariance, ``Cov(J, q_c)`` and ``Var(J)``
            (e.g. from :func:`adaptivity.goal_candidates`). The older call
            ``propose(states, kinds, cov, goal_cov, goal_var[, sigma1,
            base_samples, cost], ...)`` is still accepted.
        sigma1 : float
            Noise standard deviation of one sample (0: deterministic oracle).
        base_samples : int
            Sampling steps of a standard run.
        cost : CostModel
        discretisation : float
            Estimated discretisation error (goal units).
        can_refine : bool
            Whether the macro grid may be refined.
        refine_cost_s : float
            Expected micro seconds of a refinement (0 when the surrogate answers:
            then a refinement is proposed once ``|discretisation|`` exceeds half
            the goal standard deviation, otherwise once its expected gain
            ``0.75 discretisation^2`` exceeds the goal variance).
        target_var : float
            Stop once the remaining variance is below this.
        """
        keywords = {"sigma1": sigma1, "base_samples": base_samples, "cost": cost}
        if not isinstance(candidates, Candidates):
            if not 4 <= len(legacy) <= 7:
                raise TypeError("BudgetGreedyAllocator.propose(): pass a Candidates, or states, kinds, cov, "
                                f"goal_cov, goal_var (+ sigma1, base_samples, cost); got {1 + len(legacy)} "
                                "positional arguments")
            candidates = Candidates(candidates, *legacy[:4])
            for name, value in zip(keywords, legacy[4:]):
                if keywords[name] is not None:
                    raise TypeError(f"BudgetGreedyAllocator.propose(): `{name}` given twice")
                keywords[name] = value
        elif legacy:
            raise TypeError("BudgetGreedyAllocator.propose(): give `sigma1`, `base_samples` and `cost` by "
                            "keyword after the Candidates")
        missing = [f"`{n}`" for n, v in keywords.items() if v is None]
        if missing:
            raise TypeError(f"BudgetGreedyAllocator.propose(): missing {', '.join(missing)}")
        sigma1, base_samples, cost = keywords["sigma1"], keywords["base_samples"], keywords["cost"]
        states, kinds, cov, goal_cov, goal_var = candidates
        actions: list[Action] = []
        gain_refine = 0.75 * discretisation**2
        # a refinement answered by the surrogate costs no micro time: take it as soon as the
        # discretisation error is a sizeable part of the error, not only once it dominates
        free = refine_cost_s <= 0.0
        if can_refine and (gain_refine > goal_var or (free and discretisation**2 > 0.25 * goal_var)):
            actions.append(Action("refine", None, -1, 0, gain_refine, refine_cost_s))
        cov = np.array(cov, dtype=float, copy=True)
        v = np.array(goal_cov, dtype=float, copy=True)
        var = start = float(goal_var)
        ns = np.array([base_samples * k for k in self.sample_options])
        noise = (sigma1**2 / ns) if sigma1 > 0 else np.zeros(ns.size)
        costs = np.array([cost(int(n)) for n in ns])
        diag_floor = 1e-12 * max(float(np.max(np.diag(cov), initial=0.0)), 1e-300)
        deterministic_mask = np.zeros((len(kinds), ns.size), dtype=bool)
        deterministic_mask[np.asarray(kinds) == "sample_more", :] = True
        deterministic_mask[:, 1:] = True
        while len([a for a in actions if a.kind != "refine"]) < self.max_actions:
            if var <= max(target_var, (1.0 - self.theta) * start) or var <= 0:
                break
            d = np.maximum(np.diag(cov), diag_floor)
            gains = v[:, None] ** 2 / (d[:, None] + noise[None, :])  # (c, options)
            if sigma1 <= 0:  # deterministic micro model: a repeat or more samples add nothing
                gains[deterministic_mask] = 0.0
            rate = gains / costs[None, :]
            c, o = np.unravel_index(int(np.argmax(rate)), rate.shape)
            if gains[c, o] <= 1e-12 * start:
                break
            actions.append(Action(kinds[c], np.asarray(states[c]), int(c), int(ns[o]),
                                  float(gains[c, o]), float(costs[o])))
            denom = d[c] + noise[o]
            kc = cov[:, c].copy()
            var -= v[c] ** 2 / denom
            v = v - kc * v[c] / denom
            cov -= np.outer(kc, kc) / denom
        return actions
