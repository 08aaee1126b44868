"""The Coupler: sends micro queries out as Dask futures and gathers estimates.

Responsibilities, in the order a query meets them:

1. validate the query array against ``oracle.inputs`` and resolve the budget
   against the oracle's ``supports`` and ``default_budget``;
2. deduplicate identical states and answer what it can from the cache;
3. pack the remaining queries ``batch_size`` per task and submit the tasks;
4. on the worker, derive each query's seed from
   ``SeedSequence(root_seed, spawn_key=(state bits, replica))``, run the oracle,
   retry run failures (exceptions or non-finite output) of a stochastic oracle
   with fresh recorded seeds, never setup errors, and report failures;
5. pull each task's answers off its worker as soon as it finishes (a worker
   lost later does not take finished work with it), store them in query
   order, fill the cache, and apply the failure policy
   (:mod:`hmm._failover`): raise :class:`OracleError` naming the state, seed,
   worker and cause of the first failed query, or answer failed queries from
   their successful neighbours within a bound.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from ._client import resolve_client
from ._failover import FailurePolicy, gather_as_completed, nearest_answers
from ._tasks import TaskSpec, run_chunk
from ._validation import check_int, check_states
from .accounting import Accounting
from .cache import CachedEstimate, EstimateCache, cache_key
from .contract import Budget, Oracle, oracle_units, resolve_budget
from .errors import OracleError, QueryError
from .estimate import EstimateBatch
from .provenance import oracle_name, oracle_token, package_version

TASKS_PER_THREAD = 4  # automatic batching before any cost is known: tasks per worker thread
TARGET_TASK_S = 0.05  # automatic batching once costs are known: micro seconds per task


def _check_replicas(replica: Any, n: int) -> np.ndarray:
    """Per-query replica indices as float64 (exact below 2**53), validated."""
    if np.ndim(replica) == 0:
        check_int(replica, "replica", func="evaluate()", minimum=0)
    reps = np.broadcast_to(np.asarray(replica), (n,)) if np.ndim(replica) == 0 else np.asarray(replica)
    if reps.shape != (n,) or not np.issubdtype(reps.dtype, np.integer):
        raise QueryError(f"evaluate(): `replica` must be an int or an integer array of shape ({n},), "
                         f"got {getattr(reps, 'dtype', type(replica))} with shape {reps.shape}")
    if reps.size and (reps.min() < 0 or reps.max() >= 2**32):
        raise QueryError("evaluate(): `replica` values must be in [0, 2**32)")
    return reps.astype(np.float64)


class Coupler:
    """Evaluate an oracle at many macro states, in parallel, reproducibly.

    Parameters
    ----------
    oracle : Oracle
        The micro model (a frozen dataclass with ``inputs``, ``outputs``, ``run``).
    client : None, "sync", str or distributed.Client
        ``None`` starts an embedded ``LocalCluster`` on 127.0.0.1 with the
        dashboard off, closed by :meth:`close` or on context exit; a scheduler
        address (``tcp://host:port``, ``tls://...``) or a ``Client`` uses an
        existing cluster; ``"sync"`` runs every query in this process; a
        ``ResolvedClient`` from :func:`hmm.cluster.open_cluster` (a ``[cluster]``
        section) is used and closed with the Coupler.
    seed : int
        Root seed. Query ``i`` gets ``SeedSequence(seed, spawn_key=(bits of
        state_i, replica))``, so results do not depend on worker count, order
        or retries.
    cache : None, True, str, Path or EstimateCache
        ``None``: no cache; ``True``: in-memory; a path: an ``.npz``-backed cache
        (loaded if it exists, saved by :meth:`save_cache`); or a cache object.
    batch_size : int or None
        Queries per Dask task. ``None`` sizes tasks automatically: about four
        per worker thread at first, then, from the measured mean cost per
        query, tasks of about 50 ms (never fewer tasks than threads when
        there is enough work). ``1`` sends each query as its own task.
    retries : int
        Extra attempts for a query whose run failed (an exception other than a
        setup error, or non-finite values), each with a fresh, recorded seed
        (:func:`hmm.provenance.retry_seed`; see :mod:`hmm._tasks`). Setup errors
        (:class:`hmm.OracleSetupError`, ``TypeError``, ``ValueError``) and
        deterministic oracles are never retried: the same inputs would fail
        again at full cost. The count is applied once, inside the task; a lost
        worker's tasks are rescheduled by Dask itself.
    n_workers : int, optional
        Worker processes of the embedded cluster (default: one per core).
    security : distributed.security.Security, optional
        TLS settings for a remote scheduler address.
    timeout_s : float
        Connection timeout for a scheduler address.
    allowed_failures : int, optional
        Worker deaths a task may live through before Dask gives up on it
        (``distributed.scheduler.allowed-failures``), for the embedded
        cluster's scheduler; an external scheduler keeps its own setting.
        ``None``: Dask's default. A task given up on raises
        :class:`hmm.OracleError`.
    on_failure : {"raise", "surrogate"}
        What a query that failed on every attempt does: ``"raise"`` raises
        :class:`hmm.OracleError` naming state, seed, worker and cause;
        ``"surrogate"`` answers it by the nearest successful query of the
        same batch (:mod:`hmm._failover`), its stderr inflated, counted in
        ``accounting.surrogate_answers``, while at most
        ``max_failed_fraction`` of all queries so far were so answered.
    max_failed_fraction : float
        Bound of ``surrogate_answers / queries`` with ``on_failure="surrogate"``
        (0 <= f <= 1): the query that exceeds it raises as with ``"raise"``.
    task_timeout_s : float, optional
        Wall-time cap of one micro run (s): a run still going then is
        abandoned and counts as a failed run (retried with a fresh seed, then
        ``on_failure``). See :func:`hmm._tasks._capped_run` for its limits.
    """

    def __init__(self, oracle: Oracle, client: Any = None, *, seed: int = 0,
                 cache: Any = None, batch_size: int | None = None, retries: int = 2,
                 n_workers: int | None = None, security: Any = None,
                 timeout_s: float = 10.0, allowed_failures: int | None = None,
                 on_failure: str = "raise", max_failed_fraction: float = 0.0,
                 task_timeout_s: float | None = None) -> None:
        if not isinstance(oracle, Oracle):
            raise TypeError("Coupler(): `oracle` must provide `inputs`, `outputs` and "
                            f"`run(state, *, seed, budget)`, got {type(oracle).__name__}")
        self.oracle = oracle
        self.inputs = tuple(oracle.inputs)
        self.outputs = tuple(oracle.outputs)
        self.seed = check_int(seed, "seed", func="Coupler()", minimum=0)
        self.retries = check_int(retries, "retries", func="Coupler()", minimum=0)
        self.batch_size = (None if batch_size is None
                           else check_int(batch_size, "batch_size", func="Coupler()", minimum=1))
        self.cache = self._make_cache(cache)
        self.token = oracle_token(oracle)
        self.units = oracle_units(oracle)
        self.failure_policy = FailurePolicy.from_args(on_failure, max_failed_fraction, task_timeout_s,
                                                      allowed_failures)
        with self.failure_policy.dask_config(embedded=client is None):
            self._resolved = resolve_client(client, n_workers=n_workers, security=security,
                                            timeout_s=timeout_s)
        if client is not None:
            self.failure_policy.check_external(self._resolved.client, self.describe())
        self._ledger = Accounting()
        self._cost_per_query: float | None = None  # running mean, sizes automatic batches

    @staticmethod
    def _make_cache(cache: Any) -> EstimateCache | None:
        if cache is None or cache is False:
            return None
        if cache is True:
            return EstimateCache()
        if isinstance(cache, EstimateCache):
            return cache
        if isinstance(cache, (str, os.PathLike)):
            return EstimateCache(cache)
        raise TypeError("Coupler(): `cache` must be None, True, a path or an EstimateCache, "
                        f"got {type(cache).__name__}")

    # -- cluster --------------------------------------------------------------------------
    @property
    def client(self):
        """The ``distributed.Client`` in use (``None`` when running ``"sync"``)."""
        return self._resolved.client

    def describe(self) -> str:
        """One line naming the cluster the queries go to."""
        return self._resolved.description

    def _n_threads(self) -> int:
        if self.client is None:
            return 1
        workers = self.client.scheduler_info().get("workers", {})
        return max(1, sum(w.get("nthreads", 1) for w in workers.values()))

    def close(self) -> None:
        """Close the embedded cluster (an external client is left running)."""
        self._resolved.close()

    def __enter__(self) -> "Coupler":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"Coupler({oracle_name(self.oracle)}, {self._resolved.description}, seed={self.seed}, "
                f"batch_size={self.batch_size}, retries={self.retries})")

    def save_cache(self) -> None:
        """Write a path-backed cache to its file."""
        if self.cache is not None and self.cache.path is not None:
            self.cache.save()

    # -- accounting -----------------------------------------------------------------------
    @property
    def accounting(self) -> Accounting:
        """Snapshot of the micro work done through this Coupler (the one ledger)."""
        return self._ledger

    def carry_over(self, work: Accounting) -> None:
        """Count ``work`` done before this Coupler existed (the part of a run a
        checkpoint holds) in the failed-fraction bound of ``on_failure="surrogate"``:
        its queries and surrogate answers are added to the ledger (integers, so
        the differences drivers record are unchanged)."""
        self._ledger = self._ledger + Accounting(queries=int(work.queries),
                                                 surrogate_answers=int(work.surrogate_answers))

    @property
    def n_evaluated(self) -> int:
        """Fresh micro runs so far (``accounting.fresh_runs``)."""
        return self._ledger.fresh_runs

    @property
    def micro_seconds(self) -> float:
        """Micro seconds spent so far (``accounting.micro_seconds``)."""
        return self._ledger.micro_seconds

    # -- evaluation -----------------------------------------------------------------------
    def provenance(self, budget: Budget) -> dict[str, Any]:
        return {"oracle": oracle_name(self.oracle), "oracle_token": self.token,
                "root_seed": self.seed, "budget": budget.token(),
                "package_version": package_version()}

    def resolve(self, budget: Budget | None = None) -> Budget:
        """The budget the oracle will really run for ``budget``: fields it does
        not honour refused (:class:`hmm.BudgetError`), fields left at their
        defaults filled from the oracle's ``default_budget``. This resolved
        budget is what keys the cache, so a key names the real work."""
        budget = Budget() if budget is None else budget
        if not isinstance(budget, Budget):
            raise TypeError(f"evaluate(): `budget` must be a hmm.Budget, got {type(budget).__name__}")
        return resolve_budget(self.oracle, budget, func="evaluate()")

    def evaluate(self, states: Any, budget: Budget | None = None, *,
                 replica: Any = 0, seed_from: Any = None) -> EstimateBatch:
        """Run the oracle at every row of ``states`` and return the estimates in order.

        Parameters
        ----------
        states : array_like, shape (n_queries, len(oracle.inputs))
            One macro state per row, columns ``oracle.inputs``.
        budget : Budget
            Micro budget of every query (default ``Budget()``), resolved
            against the oracle's ``supports`` and ``default_budget`` first
            (:meth:`resolve`).
        replica : int or array of int, shape (n_queries,)
            Index of an independent repetition (0 <= replica < 2**32): a
            different ``replica`` gives a query a statistically independent
            seed. An array repeats states with different replicas in one batch.
        seed_from : array_like, shape (n_queries, k), optional
            Rows to derive the seeds from instead of the states: queries with
            equal ``seed_from`` rows (and replicas) share their random numbers
            (common random numbers, e.g. for finite differences of a noisy
            coarse time-stepper). Part of the query's identity for the cache,
            unless the oracle declares ``deterministic = True``, in which case
            it is ignored.

        Raises
        ------
        QueryError
            Wrong shape or non-finite states (nothing is submitted).
        BudgetError
            The budget sets a field the oracle does not honour (nothing is
            submitted).
        OracleError
            A query failed on all attempts; estimates of the queries that did
            finish are kept in the cache.
        """
        budget = self.resolve(budget)
        arr = check_states(states, len(self.inputs), func="evaluate()", inputs=self.inputs)
        n, n_out = arr.shape[0], len(self.outputs)
        replicas = _check_replicas(replica, n)
        extra = np.empty((n, 0))
        if getattr(self.oracle, "deterministic", False):
            seed_from = None  # seeds cannot change a deterministic answer: keep cache hits
        if seed_from is not None:
            extra = np.asarray(seed_from, dtype=np.float64)
            if extra.ndim != 2 or extra.shape[0] != n or not np.isfinite(extra).all():
                raise QueryError(f"evaluate(): `seed_from` must be a finite array of shape ({n}, k), "
                                 f"got shape {extra.shape}")
        # seed rows and replica ride along as last columns: they are part of a query's identity
        uniq, inverse = np.unique(np.column_stack([arr + 0.0, extra + 0.0, replicas]), axis=0,
                                  return_inverse=True)
        inverse = inverse.reshape(-1)
        m = uniq.shape[0]
        mean = np.empty((m, n_out))
        stderr = np.empty((m, n_out))
        n_eff = np.empty(m)
        cost = np.empty(m)
        seeds = np.empty(m, dtype=np.uint64)
        cached = np.zeros(m, dtype=bool)
        worker = np.full(m, "cache", dtype=object)
        keys: list[bytes] = []
        if self.cache is not None:
            btoken = budget.token()
            keys = [cache_key(self.token, btoken, self.seed, int(row[-1]), row[:-1]) for row in uniq]
            for i, key in enumerate(keys):
                hit = self.cache.get(key)
                if hit is not None:
                    mean[i], stderr[i], n_eff[i], cost[i], seeds[i] = hit
                    cached[i] = True
        todo = np.flatnonzero(~cached)
        answered = np.zeros(m, dtype=bool)  # by the failure surrogate
        if todo.size:
            answered = self._run(uniq, todo, budget, keys, mean, stderr, n_eff, cost, seeds, worker, n)
        # a repeat of a query within the batch is answered by its first occurrence's run
        repeat = np.ones(n, dtype=bool)
        repeat[np.unique(inverse, return_index=True)[1]] = False
        self._ledger = self._ledger + Accounting(cached_answers=int(np.sum(cached[inverse] | repeat)),
                                                 batches=1, queries=n)
        return EstimateBatch(self.inputs, self.outputs, arr, mean[inverse], stderr[inverse],
                             n_eff[inverse], cost[inverse], seeds[inverse],
                             cached[inverse] | repeat | answered[inverse],
                             worker[inverse].astype(str), self.provenance(budget), self.units)

    def _chunks(self, todo: np.ndarray) -> list[np.ndarray]:
        if self.client is None:
            return [todo]
        size = self.batch_size
        if size is None:
            threads = self._n_threads()
            if self._cost_per_query is None:
                size = max(1, math.ceil(todo.size / (TASKS_PER_THREAD * threads)))
            else:  # tasks long enough to hide Dask's ~1 ms per task, but every thread busy
                size = max(1, min(math.ceil(todo.size / threads),
                                  math.ceil(TARGET_TASK_S / max(self._cost_per_query, 1e-9))))
        return [todo[i:i + size] for i in range(0, todo.size, size)]

    def _run(self, uniq, todo, budget, keys, mean, stderr, n_eff, cost, seeds, worker, n_queries):
        """Run the queries ``todo`` of ``uniq``; return the mask of rows answered
        by the failure surrogate (raise OracleError where the policy says so)."""
        chunks = self._chunks(todo)
        blocks = [uniq[idx] for idx in chunks]
        n_in = len(self.inputs)
        stochastic = not getattr(self.oracle, "deterministic", False)
        timeout = self.failure_policy.task_timeout_s
        spec = TaskSpec(self.oracle, self.seed, n_in, budget, self.retries,
                        f"{self.token}-{self.seed}-{n_in}-{budget.token()}-{self.retries}-{timeout}",
                        stochastic, timeout)
        if self.client is None:
            results = [(0, run_chunk(spec, blocks[0]))]
        else:
            results = gather_as_completed(self.client, spec, blocks, oracle_name(self.oracle),
                                          keep=lambda done: self._store(uniq, chunks, done, keys, mean, stderr,
                                                                        n_eff, cost, seeds, worker))
        failures = self._store(uniq, chunks, results, keys, mean, stderr, n_eff, cost, seeds, worker)
        answered = np.zeros(uniq.shape[0], dtype=bool)
        if not failures:
            return answered
        rows = [f[0] for f in failures]
        policy = ""
        if self.failure_policy.on_failure == "surrogate":
            asked = self._ledger.queries + n_queries
            total = self._ledger.surrogate_answers + len(rows)
            if not self.failure_policy.allows(total, asked):
                policy = (f" [on_failure='surrogate': {total} of {asked} queries failed, more than "
                          f"max_failed_fraction = {self.failure_policy.max_failed_fraction:g}]")
            elif not nearest_answers(uniq[:, :n_in], rows, mean, stderr, n_eff, cost, worker):
                policy = " [on_failure='surrogate': no query of the batch succeeded to answer from]"
            else:
                answered[rows] = True
                self._ledger = self._ledger + Accounting(surrogate_answers=len(rows))
                return answered
        row, seed, where, cause = failures[0]
        state = uniq[row, :len(self.inputs)]
        named = ", ".join(f"{k}={v:.17g}" for k, v in zip(self.inputs, state))
        raise OracleError(
            f"{oracle_name(self.oracle)} failed at state ({named}) with seed {seed} on "
            f"worker {where}: {cause}{policy}",
            state=state, seed=seed, worker=where, cause=cause, oracle=oracle_name(self.oracle))

    def _store(self, uniq, chunks, results, keys, mean, stderr, n_eff, cost, seeds, worker):
        """Copy task results into the per-query arrays and the cache; return the
        failures as (row of ``uniq``, seed, worker, cause), by row."""
        results = list(results)
        if not results:
            return []
        idx = np.concatenate([chunks[c] for c, _ in results])
        packed = np.concatenate([r.packed for _, r in results])
        n_out = mean.shape[1]
        mean[idx], stderr[idx] = packed[:, :n_out], packed[:, n_out:2 * n_out]
        n_eff[idx], cost[idx] = packed[:, 2 * n_out], packed[:, 2 * n_out + 1]
        seeds[idx] = np.ascontiguousarray(packed[:, 2 * n_out + 2]).view(np.uint64)
        worker[idx] = np.repeat([r.worker for _, r in results], [len(chunks[c]) for c, _ in results])
        failed = [(chunks[c][row], seed, r.worker, cause) for c, r in results
                  for row, seed, cause in r.failures]
        ok = idx[np.isfinite(cost[idx])]
        self._ledger = self._ledger + Accounting(fresh_runs=int(ok.size),
                                                 micro_seconds=float(np.sum(cost[ok])),
                                                 failed_runs=sum(r.failed_attempts for _, r in results))
        if self._ledger.fresh_runs:
            self._cost_per_query = self._ledger.micro_seconds / self._ledger.fresh_runs
        if self.cache is not None:
            for j in ok:
                self.cache.put(keys[j], CachedEstimate(mean[j].copy(), stderr[j].copy(),
                                                       float(n_eff[j]), float(cost[j]),
                                                       int(seeds[j])))
        return sorted(failed, key=lambda f: f[0])
