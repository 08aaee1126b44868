"""The contract every package of the framework shares.

This module is the leaf of the import graph: it imports nothing else of the
project, and ``oracles`` imports nothing else of ``hmm``. It holds

* the exception tree (each docstring says *when* the error is raised);
* :class:`Budget`, what one micro run may spend;
* :class:`Estimate` and :class:`EstimateArrays`, what a micro run returns;
* the :class:`Oracle` protocol, with the class data an oracle declares
  (``inputs``, ``outputs``, ``units``, ``default_budget``, ``supports``), and
  :func:`resolve_budget`, which applies that class data to a requested budget.

``hmm`` and ``oracles`` re-export every name, so ``from hmm import Budget``
and ``from oracles import Oracle`` keep working.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

# -- exceptions ------------------------------------------------------------------------------

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
    """Raised by :meth:`hmm.Coupler.evaluate` when a micro run failed: it raised
    a setup error (at once, never retried), or it raised or returned
    non-finite values on every one of its attempts (1 + ``retries``, each
    retry of a stochastic oracle with a fresh, recorded seed). Base class of
    the errors an oracle itself raises (:class:`OracleSetupError`,
    :class:`OracleRunError`).

    Attributes
    ----------
    state : numpy.ndarray
        The macro state (query row) given to the oracle.
    seed : int
        The per-query seed of the last attempt.
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
                (self.args[0] if self.args else "", self.state, self.seed, self.worker, self.cause,
                 self.oracle, type(self)))


def _rebuild_oracle_error(message, state, seed, worker, cause, oracle, cls=None):
    return (cls or OracleError)(message, state=state, seed=seed, worker=worker, cause=cause,
                       oracle=oracle)


class OracleSetupError(OracleError, ValueError):
    """Raised by an oracle (at construction or at the start of ``run``) when its
    parameters or the state it was given cannot make a valid micro run: a
    negative temperature, an unknown potential, a state outside the model's
    domain. The answer is a pure function of the inputs, so the Coupler never
    retries it."""


class OracleRunError(OracleError):
    """Raised by an oracle's ``run`` when a micro run that was set up correctly
    failed on the way (a blown-up integration, an absorbing state reached, no
    convergence). The Coupler retries it with a fresh, recorded seed where the
    oracle is stochastic."""


class CheckpointError(HMMError, ValueError):
    """Raised when a checkpoint file does not match the run it should restart
    (different configuration, grid or oracle) or is unreadable."""


# -- budget --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Budget:
    """Budget of one micro run.

    Parameters
    ----------
    equilibration_steps : int
        Micro steps (MD/DPD time steps, KMC events, ...) discarded before
        sampling. Ignored by deterministic oracles.
    sampling_steps : int
        Micro steps over which the estimate is averaged.
    target_stderr : float or None
        Stop sampling once the standard error of every output is below this
        value (output units). ``None``: run ``sampling_steps``.
    max_wall_s : float or None
        Wall-time cap in seconds for one micro run; an oracle that reaches it
        returns what it has with an honest ``stderr``/``n_eff``.
    replicas : int
        Independent replicas an oracle may average (stderr from their spread).

    Notes
    -----
    A field left at its default (0 steps, ``None``, 1 replica) means "what the
    oracle does by default": the :class:`hmm.Coupler` replaces it by the
    oracle's ``default_budget`` before the budget keys a cache entry, so a key
    always names the real work (:func:`resolve_budget`).

    Raises
    ------
    BudgetError
        If a count is negative or not an integer, or a target/cap is not a
        positive finite number. The message names the field.
    """

    equilibration_steps: int = 0
    sampling_steps: int = 0
    target_stderr: float | None = None
    max_wall_s: float | None = None
    replicas: int = 1

    def __post_init__(self) -> None:
        for name in ("equilibration_steps", "sampling_steps", "replicas"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BudgetError(f"Budget.{name} must be an int, got {value!r}")
            if value < 0:
                raise BudgetError(f"Budget.{name} must be >= 0, got {value}")
        if self.replicas < 1:
            raise BudgetError(f"Budget.replicas must be >= 1, got {self.replicas}")
        for name in ("target_stderr", "max_wall_s"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise BudgetError(f"Budget.{name} must be a number or None, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise BudgetError(f"Budget.{name} must be a positive finite number, got {value}")
            object.__setattr__(self, name, float(value))

    def set_fields(self) -> tuple[str, ...]:
        """Names of the fields that differ from their defaults (what this budget asks for)."""
        return tuple(name for name, default in _BUDGET_DEFAULTS if getattr(self, name) != default)

    def resolved(self, defaults: "Budget") -> "Budget":
        """This budget with every field left at its default taken from ``defaults``
        (an oracle's ``default_budget``): the work the oracle will really do.
        Returns ``self`` when nothing changes (an already resolved budget)."""
        changes = {name: getattr(defaults, name) for name, default in _BUDGET_DEFAULTS
                   if getattr(self, name) == default and getattr(defaults, name) != default}
        return replace(self, **changes) if changes else self

    def token(self) -> str:
        """A canonical string of the fields, used in cache keys and provenance."""
        return ";".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))

    def to_attrs(self) -> dict[str, str | int | float]:
        """The budget as netCDF-compatible attributes (``None`` becomes ``"none"``)."""
        return {f"budget_{f.name}": ("none" if getattr(self, f.name) is None
                                     else getattr(self, f.name)) for f in fields(self)}

BUDGET_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Budget))
"""Names of the :class:`Budget` fields, in order."""

_BUDGET_DEFAULTS: tuple[tuple[str, Any], ...] = tuple((f.name, f.default) for f in fields(Budget))


# -- estimates -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Estimate:
    """Answer of one micro run.

    Parameters
    ----------
    mean : array_like, shape (n_outputs,)
        Estimated value of each output named by ``oracle.outputs`` (in the
        oracle's units).
    stderr : array_like, shape (n_outputs,)
        Standard error of ``mean`` (block averaging or replicas; zeros for a
        deterministic oracle). Never the naive stderr of correlated samples.
    n_eff : float
        Effective number of independent samples (``inf`` for deterministic).
    cost_s : float
        Micro wall seconds spent. ``nan`` lets the Coupler fill in the wall
        time it measured around ``run``.
    provenance : dict
        Free-form facts about the run (oracle-specific); the Coupler adds the
        oracle token, seed, worker and package version in the batch.
    """

    mean: np.ndarray
    stderr: np.ndarray | None = None
    n_eff: float = math.inf
    cost_s: float = math.nan
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        m, e = self.mean, self.stderr
        if (type(m) is np.ndarray and m.dtype == np.float64 and m.ndim == 1 and type(e) is np.ndarray
                and e.dtype == np.float64 and e.shape == m.shape and type(self.n_eff) is float
                and type(self.cost_s) is float):
            if (e < 0).any():  # fast path for oracles that already hand over float arrays
                raise ValueError(f"Estimate.stderr must be >= 0, got {e}")
            return
        mean = np.atleast_1d(np.asarray(self.mean, dtype=np.float64))
        if mean.ndim != 1:
            raise ValueError(f"Estimate.mean must be 1-D (one value per output), got shape {mean.shape}")
        stderr = (np.zeros_like(mean) if self.stderr is None
                  else np.atleast_1d(np.asarray(self.stderr, dtype=np.float64)))
        if stderr.shape != mean.shape:
            raise ValueError(f"Estimate.stderr must have the shape of mean {mean.shape}, got {stderr.shape}")
        if np.any(stderr < 0):
            raise ValueError(f"Estimate.stderr must be >= 0, got {stderr}")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "stderr", stderr)
        object.__setattr__(self, "n_eff", float(self.n_eff))
        object.__setattr__(self, "cost_s", float(self.cost_s))

    def is_finite(self) -> bool:
        """True if mean and stderr are finite (``n_eff`` may be ``inf``)."""
        return bool(np.isfinite(self.mean).all() and np.isfinite(self.stderr).all())


class EstimateArrays(NamedTuple):
    """What an oracle's optional ``run_batch`` returns for k queries:
    ``mean``/``stderr`` of shape (k, n_outputs), ``n_eff``/``cost_s`` (k,)."""

    mean: np.ndarray
    stderr: np.ndarray
    n_eff: np.ndarray
    cost_s: np.ndarray




# -- the oracle protocol ---------------------------------------------------------------------

@runtime_checkable
class Oracle(Protocol):
    """A microscale model queried with a macro state.

    An oracle is a small, frozen, picklable dataclass (in the spirit of an ASE
    ``Calculator``): it declares what it is as class data and writes one
    method, ``run``. The framework (:class:`hmm.Coupler`) owns scheduling,
    seeding, caching, retries and accounting.

    Attributes
    ----------
    inputs : tuple of str
        Names of the macro state components, in column order of ``state``
        (e.g. ``("x", "grad_x")`` or ``("strain", "temperature")``).
    outputs : tuple of str
        Names of the returned quantities, in the order of ``Estimate.mean``.

    The optional class data below are read with :func:`oracle_units` and
    :func:`resolve_budget`; an oracle without them still works.

    units : Mapping[str, str]
        Unit string of each input and output name (``"kT/rc^3"``,
        ``"epsilon/sigma^3"``, ``"1"`` for dimensionless). Results carry them.
        Names left out are reported as ``"1"``.
    default_budget : Budget
        The work a field left at its default means for this oracle (e.g. 2000
        equilibration and 10000 sampling steps).
    supports : frozenset of str
        The :class:`Budget` fields this oracle honours. Asking for another one
        (say ``target_stderr`` of an oracle that always runs its fixed number
        of steps) is refused before anything is submitted. An oracle that
        declares nothing is trusted with every field.
    deterministic : bool
        ``True`` declares that the seed cannot change the answer: common
        random number rows are ignored (so repeated states keep hitting the
        cache) and a failed run is not retried (it would fail again).

    Notes
    -----
    ``run`` must be pure: the same ``state``, ``seed`` and ``budget`` give the
    same bits on any worker. Implementations should be frozen dataclasses so
    that :func:`hmm.provenance.oracle_token` identifies their configuration.
    Errors: raise :class:`OracleSetupError` for parameters or states that can
    never give a valid run (never retried) and :class:`OracleRunError` for a
    run that failed on the way (retried with a fresh seed).

    Optional: ``run_batch(states, *, seeds, budget) -> EstimateArrays``
    answers a block of queries at once (the Coupler packs ``batch_size``
    queries per task and calls it when present). Row ``i`` must be bit for
    bit what ``run(states[i], seed=seeds[i], budget=budget)`` returns. Rows
    that come back non-finite, or a batch that raises, are re-run one by one
    through ``run`` so that failures name the exact query.
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """Run one micro simulation constrained by ``state`` and return its estimate."""
        ...


def oracle_units(oracle: Any) -> dict[str, str]:
    """Unit string of every input and output of ``oracle`` (``"1"`` where it declares none).

    Raises
    ------
    TypeError
        If the oracle's ``units`` is not a mapping of names to strings.
    """
    declared = getattr(oracle, "units", None) or {}
    if not isinstance(declared, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in declared.items()):
        raise TypeError(f"{type(oracle).__name__}.units must map names to unit strings, "
                        f"got {declared!r}")
    names = (*oracle.inputs, *oracle.outputs)
    return {name: declared.get(name, "1") for name in names}


def resolve_budget(oracle: Any, budget: Budget, *, func: str = "evaluate()") -> Budget:
    """The budget ``oracle`` will really run: checked against its ``supports``,
    defaults filled in from its ``default_budget``.

    Raises
    ------
    BudgetError
        If ``budget`` sets a field the oracle does not honour (named, with the
        fields it does honour), or the oracle's ``default_budget`` is not a
        :class:`Budget`.
    """
    supports = getattr(oracle, "supports", None)
    if supports is not None:
        unsupported = [name for name in budget.set_fields() if name not in supports]
        if unsupported:
            honoured = ", ".join(sorted(supports)) or "none"
            raise BudgetError(
                f"{func}: {type(oracle).__name__} does not honour Budget."
                f"{', Budget.'.join(unsupported)} (it honours: {honoured}); leave "
                f"{'it' if len(unsupported) == 1 else 'them'} at the default")
    defaults = getattr(oracle, "default_budget", None)
    if defaults is None:
        return budget
    if not isinstance(defaults, Budget):
        raise BudgetError(f"{type(oracle).__name__}.default_budget must be a Budget, "
                          f"got {type(defaults).__name__}")
    return budget.resolved(defaults)


ORACLE_CLASS_DATA: tuple[str, ...] = ("inputs", "outputs", "units", "default_budget", "supports")
"""What an oracle of this project declares on its class (the contract test checks it)."""

__all__ = ["HMMError", "ConfigError", "BudgetError", "QueryError", "SchedulerError",
           "OracleError", "OracleSetupError", "OracleRunError", "CheckpointError",
           "Budget", "BUDGET_FIELDS", "Estimate", "EstimateArrays", "Oracle", "oracle_units",
           "resolve_budget", "ORACLE_CLASS_DATA"]
