"""The exception tree of the framework.

Each exception's docstring says *when* it is raised. All inherit from
:class:`HMMError`, and from the built-in exception a caller would naturally
catch (``ValueError`` for bad values, ``ConnectionError`` for an unreachable
scheduler, ``RuntimeError`` for a failed computation).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class HMMError(Exception):
    """Base class of every error raised by the framework."""


class ConfigError(HMMError, ValueError):
    """Raised before a run starts when a run configuration (TOML file or dict)
    has an unknown key, a wrong type or an invalid value; the message names the
    dotted key, e.g. ``macro.cells``."""


class BudgetError(HMMError, ValueError):
    """Raised when a :class:`hmm.Budget` is constructed with a negative or
    otherwise invalid field; the message names the field."""


class QueryError(HMMError, ValueError):
    """Raised by :meth:`hmm.Coupler.evaluate` before anything is submitted when
    the query array has the wrong shape, dtype or contains non-finite values;
    the message names the argument and the expected shape."""


class SchedulerError(HMMError, ConnectionError):
    """Raised when a Dask scheduler address cannot be reached (or the client
    cannot be created); the message names the address and the timeout."""


class OracleError(HMMError, RuntimeError):
    """Raised when a micro run raised an exception or returned non-finite
    values on every one of its attempts (1 + ``retries``).

    Attributes
    ----------
    state : numpy.ndarray
        The macro state (query row) given to the oracle.
    seed : int
        The per-query seed the oracle was called with.
    worker : str
        Address of the Dask worker (or ``"sync"``) where the last attempt ran.
    cause : str
        ``repr`` of the last exception or a description of the non-finite output.
    """

    def __init__(self, message: str, *, state: Any = None, seed: int | None = None,
                 worker: str | None = None, cause: str | None = None,
                 oracle: str | None = None) -> None:
        super().__init__(message)
        self.state = None if state is None else np.asarray(state)
        self.seed = seed
        self.worker = worker
        self.cause = cause
        self.oracle = oracle

    def __reduce__(self):  # keep attributes when pickled between processes
        return (_rebuild_oracle_error,
                (self.args[0], self.state, self.seed, self.worker, self.cause, self.oracle))


def _rebuild_oracle_error(message, state, seed, worker, cause, oracle):
    return OracleError(message, state=state, seed=seed, worker=worker, cause=cause,
                       oracle=oracle)


class CheckpointError(HMMError, ValueError):
    """Raised when a checkpoint file does not match the run it should restart
    (different configuration, grid or oracle) or is unreadable."""
