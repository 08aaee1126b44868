"""hmm: heterogeneous multiscale and equation-free computation on Dask.

Public names
------------
Budget, Estimate, EstimateBatch, EstimateCache
    What a micro run may spend and what it returns.
Coupler
    Sends micro queries out as Dask futures; reproducible seeds, caching,
    batching, retries.
HMMSolver
    Macro conservation law + Coupler -> labelled xarray results.
AdaptiveSteadySolver
    Steady HMM with error indicators deciding where micro work goes (adaptivity).
ReuseClosure
    Per-query surrogate reuse of micro answers (``HMMSolver(closure_wrapper=...)``).
OracleError, QueryError, BudgetError, ConfigError, SchedulerError, HMMError
    The exception tree (see :mod:`hmm.errors`).
"""

from .budget import Budget
from .cache import EstimateCache
from .coupler import Coupler
from .errors import (BudgetError, CheckpointError, ConfigError, HMMError, OracleError,
                     QueryError, SchedulerError)
from .estimate import Estimate, EstimateArrays, EstimateBatch
from .provenance import package_version

__version__ = package_version()

__all__ = ["Budget", "Estimate", "EstimateArrays", "EstimateBatch", "EstimateCache", "Coupler", "HMMSolver", "AdaptiveSteadySolver",
           "ReuseClosure",
           "OracleError", "QueryError", "BudgetError", "ConfigError", "SchedulerError",
           "CheckpointError", "HMMError", "__version__"]


def __getattr__(name):  # the solvers import xarray and scikit-learn; load them on first use
    if name == "HMMSolver":
        from .solver import HMMSolver

        return HMMSolver
    if name == "AdaptiveSteadySolver":
        from .adaptive import AdaptiveSteadySolver

        return AdaptiveSteadySolver
    if name == "ReuseClosure":
        from .reuse import ReuseClosure

        return ReuseClosure
    raise AttributeError(f"module 'hmm' has no attribute {name!r}")
