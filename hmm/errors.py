"""The exception tree of the framework (defined in :mod:`hmm.contract`).

Each exception's docstring says *when* it is raised. All inherit from
:class:`HMMError`, and from the built-in exception a caller would naturally
catch (``ValueError`` for bad values, ``ConnectionError`` for an unreachable
scheduler, ``RuntimeError`` for a failed computation).
"""

from .contract import (BudgetError, CheckpointError, ConfigError, HMMError, OracleError,
                       OracleRunError, OracleSetupError, QueryError, SchedulerError)

__all__ = ["HMMError", "ConfigError", "BudgetError", "QueryError", "SchedulerError",
           "OracleError", "OracleSetupError", "OracleRunError", "CheckpointError"]
