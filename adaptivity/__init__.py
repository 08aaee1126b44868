"""Error indicators, marking, allocation and the goal learner: where micro work should go.

``adaptivity`` decides, it never runs anything: :class:`GoalLearner` is told
micro estimates and macro solutions (as arrays) and asked for actions;
:class:`hmm.AdaptiveSteadySolver` executes them through :class:`hmm.Coupler`.

Public names
------------
GoalLearner, GoalEstimate, Observations
    The ask/tell learner of goal-oriented adaptive HMM (surrogate, indicators, allocator).
MeanValueGoal, flux_sensitivity, adjoint
    Goal functionals and their adjoint sensitivities to face fluxes.
GPClosureSurrogate
    Gaussian-process model of a closure with predictive (co)variance.
StatisticalIndicator, ModellingIndicator, DiscretisationIndicator, CombinedIndicator
    Indicators (``indicate(context) -> Indication``); :data:`INDICATORS` by name.
IndicatorContext, Indication, goal_candidates
    What indicators read (built by :func:`hmm.adaptive.make_context`) and the
    candidate micro work it gives.
doerfler_mark, BudgetGreedyAllocator, Candidates, Action, CostModel, ACTIONS
    Marking and allocation.
ReplicaPolicy, StderrTargetPolicy
    Replica allocation of noisy coarse time-steppers (``hmm.ef.CoarseStepper(policy=...)``).
refine_grid, prolongation, faces_to_cells
    Uniform refinement of macro grids and the transfers the indicators use.
"""

from .goal import MeanValueGoal, adjoint, flux_sensitivity
from .indicators import (INDICATORS, CombinedIndicator, DiscretisationIndicator, Indication,
                         IndicatorContext, ModellingIndicator, StatisticalIndicator, faces_to_cells,
                         goal_candidates, prolongation, refine_grid)
from .learner import GoalEstimate, GoalLearner, Observations
from .marking import ACTIONS, Action, BudgetGreedyAllocator, Candidates, CostModel, doerfler_mark
from .replicas import ReplicaPolicy, StderrTargetPolicy
from .surrogate import GPClosureSurrogate

__all__ = ["GoalLearner", "GoalEstimate", "Observations", "MeanValueGoal", "adjoint", "flux_sensitivity",
           "GPClosureSurrogate", "INDICATORS", "StatisticalIndicator", "ModellingIndicator",
           "DiscretisationIndicator", "CombinedIndicator", "Indication", "IndicatorContext", "goal_candidates",
           "faces_to_cells", "prolongation", "refine_grid", "doerfler_mark", "BudgetGreedyAllocator",
           "Candidates", "Action", "CostModel", "ACTIONS", "ReplicaPolicy", "StderrTargetPolicy"]


def __getattr__(name):
    if name == "make_context":  # it evaluates a closure, which is the runner's job
        raise AttributeError("adaptivity.make_context moved to hmm.adaptive.make_context (building a context "
                             "evaluates the closure; adaptivity only reads the arrays)")
    raise AttributeError(f"module 'adaptivity' has no attribute {name!r}")
