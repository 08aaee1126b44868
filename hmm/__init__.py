"""hmm: heterogeneous multiscale and equation-free computation on Dask.

Public names
------------
Budget, Estimate, EstimateArrays, EstimateBatch, EstimateCache
    What a micro run may spend and what it returns (the contract lives in
    :mod:`hmm.contract`, the leaf module every package may import).
Coupler, Accounting
    Sends micro queries out as Dask futures (reproducible seeds, caching,
    batching, retries) and keeps the one ledger of micro cost.
HMMSolver
    Macro conservation law + Coupler -> labelled xarray results.
BoundaryCoupling, noisy_fixed_point
    A boundary parameter of the macro law measured by a second oracle, solved
    as a noisy fixed point (:mod:`hmm.coupling`).
AdaptiveSteadySolver
    Steady HMM with error indicators deciding where micro work goes (a runner
    of :class:`adaptivity.GoalLearner`).
ReuseClosure
    Per-query surrogate reuse of micro answers (``HMMSolver(closure_wrapper=...)``).
uq
    Uncertainty quantification: linear and ensemble propagation of micro
    noise, uncertain oracle parameters, Sobol' indices (:mod:`hmm.uq`).
HMMError, ConfigError, BudgetError, QueryError, SchedulerError, OracleError, OracleSetupError, OracleRunError, CheckpointError
    The exception tree (see :mod:`hmm.contract`).
"""

from .accounting import Accounting
from .budget import Budget
from .cache import EstimateCache
from .coupler import Coupler
from .errors import (BudgetError, CheckpointError, ConfigError, HMMError, OracleError,
                     OracleRunError, OracleSetupError, QueryError, SchedulerError)
from .estimate import Estimate, EstimateArrays, EstimateBatch
from .provenance import package_version

__version__ = package_version()

# loaded on first use: the solvers import xarray and scikit-learn
_LAZY = {"HMMSolver": "solver", "AdaptiveSteadySolver": "adaptive", "ReuseClosure": "reuse",
         "BoundaryCoupling": "coupling", "noisy_fixed_point": "coupling", "StatefulClosure": "stateful",
         "StatefulOracle": "contract"}

__all__ = ["Budget", "Estimate", "EstimateArrays", "EstimateBatch", "EstimateCache", "Coupler",
           "Accounting", "HMMSolver", "AdaptiveSteadySolver", "ReuseClosure", "BoundaryCoupling",
           "noisy_fixed_point", "StatefulClosure", "StatefulOracle", "HMMError", "ConfigError", "BudgetError", "QueryError",
           "SchedulerError", "OracleError", "OracleSetupError", "OracleRunError", "CheckpointError",
           "__version__"]


def __getattr__(name):
    if name == "uq":  # the subpackage, loaded on first use
        from importlib import import_module

        return import_module(".uq", __name__)
    if name in _LAZY:
        from importlib import import_module

        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'hmm' has no attribute {name!r}")
