"""What runs on a worker: one task evaluates a block of queries.

The Coupler (:mod:`hmm.coupler`) packs queries into blocks and sends each as
one task; :func:`run_chunk` derives every query's seed, runs the oracle
(through ``run_batch`` when it has one), retries run failures of a
stochastic oracle with fresh recorded seeds, never setup errors, and sends
the answers back packed in one float array.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .contract import Budget, Estimate, OracleRunError, OracleSetupError
from .provenance import query_seed, query_seeds, retry_seed


class _ChunkResult(NamedTuple):
    """What one task sends back, packed to pickle fast: one float array with
    columns ``[mean (n_out), stderr (n_out), n_eff, cost_s, seed bits]`` (NaN
    rows where a query failed; the uint64 seed of the attempt that answered
    travels as its float64 bit pattern), the worker address, the failures
    ``(row, seed, cause)`` and the number of failed attempts (retries included)."""

    packed: np.ndarray
    worker: str
    failures: tuple[tuple[int, int, str], ...]
    failed_attempts: int = 0


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "sync"


SETUP_ERRORS: tuple[type[BaseException], ...] = (OracleSetupError, TypeError, ValueError)
"""Exceptions that say the run can never succeed with these inputs: never retried."""


class MicroTimeoutError(OracleRunError):
    """A micro run exceeded the Coupler's ``task_timeout_s`` (a run failure: retried
    with a fresh seed where the oracle is stochastic)."""


def _capped_run(oracle: Any, state: np.ndarray, seed: int, budget: Budget, timeout_s: float | None):
    """``oracle.run(...)``, in a helper thread waited for at most ``timeout_s``.

    Python cannot stop a thread: a run past the cap is abandoned (its answer,
    if it ever comes, is discarded) and raises :class:`MicroTimeoutError` here,
    but it keeps its CPU until it returns. An oracle that must be stopped for
    good should honour ``budget.max_wall_s`` itself.
    """
    if timeout_s is None:
        return oracle.run(state, seed=seed, budget=budget)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["estimate"] = oracle.run(state, seed=seed, budget=budget)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="hmm-micro-run", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive():
        raise MicroTimeoutError(f"micro run exceeded task_timeout_s = {timeout_s:g} s and was abandoned")
    if "error" in box:
        raise box["error"]
    return box["estimate"]


def _attempt(oracle: Any, state: np.ndarray, seed: int, budget: Budget,
             n_out: int, timeout_s: float | None = None) -> tuple[Estimate | None, float, str, bool]:
    """One attempt: (estimate or None, wall s, cause of failure, retryable)."""
    start = time.perf_counter()
    try:
        est = _capped_run(oracle, state, seed, budget, timeout_s)
    except SETUP_ERRORS as exc:
        return None, math.nan, f"{type(exc).__name__}: {exc}", False
    except Exception as exc:  # noqa: BLE001 - any micro failure is reported, not hidden
        return None, math.nan, f"{type(exc).__name__}: {exc}", True
    wall = time.perf_counter() - start
    if not isinstance(est, Estimate):
        return None, math.nan, f"run() returned {type(est).__name__}, expected hmm.Estimate", False
    if est.mean.shape != (n_out,):
        return None, math.nan, f"run() returned {est.mean.shape[0]} outputs, expected {n_out}", False
    if not est.is_finite():
        return (None, math.nan,
                f"non-finite output mean={est.mean.tolist()} stderr={est.stderr.tolist()}", True)
    return est, wall, "", True


def _run_one(oracle: Any, state: np.ndarray, seed: int, budget: Budget, n_out: int,
             retries: int, stochastic: bool,
             timeout_s: float | None = None) -> tuple[Estimate | None, float, str, int, int]:
    """Run one query; return (estimate, wall s, cause, seed used, failed attempts).

    A setup error (or a malformed answer) fails at once. A run failure (an
    exception or a non-finite answer) of a stochastic oracle is retried up to
    ``retries`` times, each time with a fresh seed (:func:`retry_seed`): with
    the same seed a pure oracle would fail again at full cost. A deterministic
    oracle is not retried, for the same reason.
    """
    used, failed, cause = seed, 0, ""
    for attempt in range(1 + (retries if stochastic else 0)):
        used = seed if attempt == 0 else retry_seed(seed, attempt)
        est, wall, why, retryable = _attempt(oracle, state, used, budget, n_out, timeout_s)
        if est is not None:
            return est, wall, "", used, failed
        failed += 1
        cause = why
        if not retryable:
            break
    if failed > 1:
        cause = f"{cause} (on each of {failed} attempts, retries with fresh seeds)"
    return None, math.nan, cause, used, failed


def _try_batch(run_batch, states, seeds, budget, n_out, mean, stderr, n_eff, cost) -> np.ndarray:
    """Answer a block with the oracle's ``run_batch``; return the rows that must
    be re-run one by one (all of them if the batch raised or was malformed,
    else those with non-finite output)."""
    n = states.shape[0]
    start = time.perf_counter()
    try:
        out = run_batch(states, seeds=seeds.copy(), budget=budget)
        m, e = np.asarray(out.mean, dtype=float), np.asarray(out.stderr, dtype=float)
        ne, c = np.asarray(out.n_eff, dtype=float), np.asarray(out.cost_s, dtype=float)
        if m.shape != (n, n_out) or e.shape != m.shape or ne.shape != (n,) or c.shape != (n,):
            return np.arange(n)
    except Exception:  # noqa: BLE001 - the per-query path reports the failure precisely
        return np.arange(n)
    if np.isnan(c).any():
        c = np.where(np.isnan(c), (time.perf_counter() - start) / n, c)
    mean[:], stderr[:], n_eff[:], cost[:] = m, e, ne, c
    return np.flatnonzero(~(np.isfinite(m).all(axis=1) & np.isfinite(e).all(axis=1) & (e >= 0).all(axis=1)))


@dataclass(frozen=True)
class TaskSpec:
    """Everything a task needs besides its block of states, sent once per task.

    ``__dask_tokenize__`` returns the precomputed identity, so Dask does not
    re-hash the oracle's fields for every task of a batch.
    """

    oracle: Any
    root_seed: int
    n_inputs: int
    budget: Budget
    retries: int
    token: str
    stochastic: bool = True
    timeout_s: float | None = None
    """Wall-time cap of one micro run (s); ``None``: none. With a cap every query
    runs through ``run`` (not ``run_batch``), each under its own cap."""

    def __dask_tokenize__(self) -> str:
        return self.token


def run_chunk(spec: TaskSpec, block: np.ndarray) -> _ChunkResult:
    """Evaluate a block of queries in one task (runs on a worker, or in process).

    ``block`` holds one query per row: the state (``spec.n_inputs`` columns),
    the row its seed derives from when it is not the state itself (common
    random numbers, possibly no columns), then the replica index.
    """
    oracle, root_seed, budget = spec.oracle, spec.root_seed, spec.budget
    states, replica = block[:, :spec.n_inputs], block[:, -1].astype(np.uint64)
    seed_rows = block[:, spec.n_inputs:-1] if block.shape[1] > spec.n_inputs + 1 else states
    n, n_out = states.shape[0], len(oracle.outputs)
    packed = np.empty((n, 2 * n_out + 3))
    mean, stderr = packed[:, :n_out], packed[:, n_out:2 * n_out]
    n_eff, cost = packed[:, 2 * n_out], packed[:, 2 * n_out + 1]
    seeds = packed[:, 2 * n_out + 2].view(np.uint64)
    worker = _worker_address()
    failures = []
    failed_attempts = 0
    if n >= 8:  # the vectorised hash pays off from a few rows on; same bits either way
        seeds[:] = query_seeds(root_seed, seed_rows, replica)
    else:
        seeds[:] = [query_seed(root_seed, row, int(r)) for row, r in zip(seed_rows, replica)]
    todo = range(n)
    run_batch = getattr(oracle, "run_batch", None)
    if run_batch is not None and n > 1 and spec.timeout_s is None:
        todo = _try_batch(run_batch, states, seeds, budget, n_out, mean, stderr, n_eff, cost)
    for i in todo:
        est, wall, cause, used, failed = _run_one(oracle, states[i], int(seeds[i]), budget, n_out,
                                                  spec.retries, spec.stochastic, spec.timeout_s)
        failed_attempts += failed
        seeds[i] = used
        if est is None:  # keep going: the other queries' answers go to the cache
            failures.append((i, used, cause))
            mean[i] = stderr[i] = n_eff[i] = cost[i] = np.nan
            continue
        mean[i] = est.mean
        stderr[i] = est.stderr
        n_eff[i] = est.n_eff
        cost[i] = wall if math.isnan(est.cost_s) else est.cost_s
    return _ChunkResult(packed, worker, tuple(failures), failed_attempts)
