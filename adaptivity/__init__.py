"""Error indicators, marking and allocation of micro work (issue 7).

``adaptivity`` proposes, it never runs micro work: :mod:`hmm.adaptive`
executes its proposals through :class:`hmm.Coupler`.

Public names
------------
MeanValueGoal, flux_sensitivity, adjoint
    Goal functionals and their adjoint sensitivities to face fluxes.
GPClosureSurrogate
    Gaussian-process model of a closure with predictive (co)variance.
StatisticalIndicator, ModellingIndicator, DiscretisationIndicator, CombinedIndicator
    Indicators (``indicate(context) -> Indication``); :data:`INDICATORS` by name.
make_context, IndicatorContext, Indication
doerfler_mark, BudgetGreedyAllocator, Action, CostModel, ACTIONS
    Marking and allocation.
ReplicaPolicy, StderrTargetPolicy
    Replica allocation of noisy coarse time-steppers (``hmm.ef.CoarseStepper(policy=...)``).
"""

from .goal import MeanValueGoal, adjoint, flux_sensitivity
from .indicators import (INDICATORS, CombinedIndicator, DiscretisationIndicator, Indication,
                         IndicatorContext, ModellingIndicator, StatisticalIndicator, faces_to_cells,
                         make_context, prolongation, refine_grid)
from .marking import ACTIONS, Action, BudgetGreedyAllocator, CostModel, doerfler_mark
from .replicas import ReplicaPolicy, StderrTargetPolicy
from .surrogate import GPClosureSurrogate

__all__ = ["MeanValueGoal", "adjoint", "flux_sensitivity", "GPClosureSurrogate", "INDICATORS",
           "StatisticalIndicator", "ModellingIndicator", "DiscretisationIndicator", "CombinedIndicator",
           "Indication", "IndicatorContext", "make_context", "faces_to_cells", "prolongation",
           "refine_grid", "doerfler_mark", "BudgetGreedyAllocator", "Action", "CostModel", "ACTIONS",
           "ReplicaPolicy", "StderrTargetPolicy"]
