"""Micro states that stay on the workers: one per quadrature point, advanced in batches.

:class:`StatefulClosure` is a closure (``closure(points, *, seed_rows=None) ->
ClosureResult``) over a :class:`hmm.contract.StatefulOracle`. It keeps, for
every point, the *committed* micro state as a Dask future on the worker that
computed it. A call (one Newton iteration) submits one task per point that
takes the point's committed state future as input, so the task runs where
the state lives (it is pinned there, ``allow_other_workers=True``) and
nothing but the macro input and the estimate travels; the new states stay on
the workers as *trial* futures. :meth:`StatefulClosure.commit` (at Newton
convergence) makes the last call's trial states the committed ones and
releases the old ones; :meth:`StatefulClosure.rollback` drops the trials.

Seeds: every advance of point ``p`` at load step ``n`` (whatever the Newton
iteration: common random numbers within a step) gets
``SeedSequence(root, spawn_key=(1, p, n))`` and its initial state
``SeedSequence(root, spawn_key=(0, p))`` (:func:`advance_seed`,
:func:`initial_seed`), so a rerun repeats every bit whatever the worker
count or placement. A failed advance (an exception other than a setup error,
or non-finite output) is retried inside its task with
:func:`hmm.provenance.retry_seed` seeds.

A lost worker. Every committed future is the result of its advance task, whose
input is the previous committed future, back to the root: the initial state,
or the states a run resumed from a checkpoint (:meth:`StatefulClosure.restore`,
whose tasks hold the checkpointed arrays). The scheduler keeps that lineage
(released parents of a held future are not forgotten), so when a worker
dies, Dask recomputes the lost points only, by replaying their committed
advances from the root with the same seeds: bit for bit the states that were
lost. ``reroot()`` (called after a checkpoint by :func:`hmm.fe2.solve_fe2_stateful`)
re-roots the lineage at the gathered states, so a replay never goes back
further than the last checkpoint.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from macro.closure import ClosureResult

from ._client import resolve_client
from ._tasks import SETUP_ERRORS, _worker_address
from .contract import (Budget, MicroState, OracleError, OracleRunError, OracleSetupError, StatefulOracle,
                       check_state, resolve_budget)
from .provenance import retry_seed

__all__ = ["StatefulClosure", "StateLog", "advance_seed", "initial_seed"]


def _seed(root: int, key: tuple[int, ...]) -> int:
    seq = np.random.SeedSequence(int(root), spawn_key=tuple(int(k) for k in key))
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))


def initial_seed(root: int, point: int) -> int:
    """Seed of point ``point``'s initial state: ``SeedSequence(root, spawn_key=(0, point))``."""
    return _seed(root, (0, point))


def advance_seed(root: int, point: int, step: int) -> int:
    """Seed of every advance of ``point`` at load ``step``:
    ``SeedSequence(root, spawn_key=(1, point, step))`` (a non-negative int below 2**63).

    The same for every Newton iteration of the step (common random numbers):
    each iteration advances the same committed state with the same random
    numbers, so the residual is one smooth function of the macro input and
    Newton converges on it (:mod:`macro.newton`) instead of chasing fresh
    noise at every iteration."""
    return _seed(root, (1, point, step))


# -- worker side ---------------------------------------------------------------------------------

def _frozen(state: Any, func: str) -> MicroState:
    """The state as read-only arrays (an oracle that writes into its input fails loudly)."""
    out = check_state(state, func=func)
    for key, arr in out.items():
        if arr.base is not None:  # a view would keep its whole base array alive on the worker
            arr = out[key] = arr.copy()
        arr.flags.writeable = False
    return out


def _nbytes(state: Mapping[str, np.ndarray]) -> int:
    return int(sum(a.nbytes for a in state.values()))


def _initial_task(oracle: Any, row: np.ndarray, seed: int) -> tuple[None, MicroState]:
    state = oracle.initial_state(row, seed=seed)
    return None, _frozen(state, f"{type(oracle).__name__}.initial_state()")


def _restore_task(state: Mapping[str, np.ndarray]) -> tuple[None, MicroState]:
    return None, _frozen({k: np.array(v) for k, v in state.items()}, "restore()")


def _advance_task(oracle: Any, parent: Any, row: np.ndarray, seed: int, budget: Budget, retries: int,
                  cold_seed: int) -> tuple[tuple, MicroState]:
    """One point's advance (on the worker). ``parent`` is the committed (summary, state)
    pair, or ``None`` to start from a fresh initial state (no states kept)."""
    name = type(oracle).__name__
    state = (_initial_task(oracle, row, cold_seed)[1] if parent is None else parent[1])
    attempts = 1 if getattr(oracle, "deterministic", False) else 1 + retries
    cause = ""
    for attempt in range(attempts):
        s = seed if attempt == 0 else retry_seed(seed, attempt)
        try:
            estimate, new = oracle.advance(state, row, seed=s, budget=budget)
        except SETUP_ERRORS as exc:
            raise OracleSetupError(f"{name}.advance() refused the macro input {row.tolist()}: {exc!r}",
                                   state=row, seed=s, worker=_worker_address(), cause=repr(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - a run failure: retried with a fresh seed
            cause = repr(exc)
            continue
        if not estimate.is_finite():
            cause = f"non-finite estimate {estimate.mean.tolist()}"
            continue
        new = _frozen(new, f"{name}.advance()")
        steps = estimate.provenance.get("micro_steps", 0)
        summary = (estimate.mean, estimate.stderr, estimate.n_eff, estimate.cost_s, int(steps), s,
                   _worker_address(), _nbytes(new), attempt)
        return summary, new
    raise OracleRunError(f"{name}.advance() failed on all {attempts} attempts at the macro input "
                         f"{row.tolist()}: {cause}", state=row, seed=seed, worker=_worker_address(), cause=cause)


_STATE_TASKS = ("_advance_task-", "_initial_task-", "_restore_task-")


def _sent_bytes(dask_worker: Any) -> tuple[int, int]:
    """(all bytes this worker sent, bytes of state keys among them), run on each worker."""
    states = sum(int(size) for entry in dask_worker.transfer_outgoing_log
                 for key, size in entry.get("keys", {}).items() if str(key).startswith(_STATE_TASKS))
    return int(dask_worker.transfer_outgoing_bytes_total), states


# -- client side ---------------------------------------------------------------------------------

@dataclass
class StateLog:
    """What a :class:`StatefulClosure` did: calls (Newton iterations), advances (one per point per
    call), micro steps and micro seconds the oracle reported, failed attempts, commits,
    rollbacks, and the memory of one state (bytes, the mean of the last call)."""

    calls: int = 0
    advances: int = 0
    micro_steps: int = 0
    micro_seconds: float = 0.0
    failed_attempts: int = 0
    commits: int = 0
    rollbacks: int = 0
    state_bytes: float = 0.0


class StatefulClosure:
    """Closure over a stateful oracle whose states stay on the Dask workers.

    Parameters
    ----------
    oracle : StatefulOracle
    inputs, outputs : tuple of str
        The law's closure columns (``law.closure_inputs()``, ``law.closure_outputs()``);
        mapped to the oracle's by name as in :class:`hmm.closure.CouplerClosure`
        (positions the oracle does not take are dropped).
    budget : Budget, optional
        Budget of each advance (resolved against the oracle's ``default_budget``).
    client : None, "sync", str, distributed.Client or ResolvedClient
        As for :class:`hmm.Coupler` (``None`` starts an embedded LocalCluster,
        closed by :meth:`close`; ``"sync"`` keeps the states in this process).
    seed : int
        Root seed (:func:`advance_seed`).
    fixed_inputs, rename : mapping, optional
        As for :class:`hmm.closure.CouplerClosure`.
    keep_states : bool
        ``False`` starts every advance from a fresh initial state (the
        re-equilibrating baseline); ``True`` continues from the committed state.
    retries : int
        Extra attempts of a failed advance, each with a fresh recorded seed.
    n_workers : int, optional
        Worker processes of an embedded cluster.

    Notes
    -----
    The points are identified by their row: every call must have the same
    number of rows, in the same order (the law's quadrature points).
    """

    def __init__(self, oracle: Any, inputs: Sequence[str], outputs: Sequence[str], budget: Budget | None = None,
                 *, client: Any = None, seed: int = 0, fixed_inputs: Mapping[str, float] | None = None,
                 rename: Mapping[str, str] | None = None, keep_states: bool = True, retries: int = 2,
                 n_workers: int | None = None) -> None:
        if not isinstance(oracle, StatefulOracle):
            raise TypeError("StatefulClosure(): `oracle` must provide `inputs`, `outputs`, `initial_state(...)` "
                            f"and `advance(...)` (hmm.contract.StatefulOracle), got {type(oracle).__name__}")
        from .closure import CouplerClosure

        self.oracle = oracle
        self.budget = resolve_budget(oracle, budget or Budget(), func="StatefulClosure()")
        # the name mapping of CouplerClosure; it only reads the oracle's column names
        self._map = CouplerClosure(_Columns(tuple(oracle.inputs), tuple(oracle.outputs)), tuple(inputs),
                                   tuple(outputs), self.budget, fixed_inputs=fixed_inputs, rename=rename)
        self.law_outputs = tuple(outputs)
        self.seed = int(seed)
        self.keep_states = bool(keep_states)
        self.retries = int(retries)
        self._resolved = resolve_client(client, n_workers=n_workers)
        self.log = StateLog()
        self.n_points: int | None = None
        self.step = 0
        self.iteration = 0
        self._committed: list[Any] = []
        self._trial: list[Any] | None = None
        self._home: list[str | None] = []
        self.last_seeds = np.zeros(0, dtype=np.uint64)
        """Seed of every point's answer in the last call (retry seeds where a retry answered)."""
        self.last_workers: list[str] = []
        """Worker address (or ``"sync"``) of every point's advance in the last call."""

    # -- cluster ---------------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The Dask client (``None`` in sync mode)."""
        return self._resolved.client

    def close(self) -> None:
        """Release every state and close what this closure started."""
        self._committed, self._trial = [], None
        self._resolved.close()

    def __enter__(self) -> "StatefulClosure":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _workers(self) -> list[str]:
        return sorted(self.client.scheduler_info()["workers"])

    def _submit(self, fn: Any, *args: Any, worker: str | None = None) -> Any:
        if self.client is None:
            return fn(*args)
        where = {} if worker is None else {"workers": [worker], "allow_other_workers": True}
        return self.client.submit(fn, *args, pure=False, **where)

    def _gather(self, handles: list[Any]) -> list[Any]:
        """The summaries (estimate, seed, worker, state size) of ``handles``, pulled out on the
        workers that hold them (a small task pinned with each advance), so the states stay."""
        if self.client is None:
            return [operator.getitem(h, 0) for h in handles]
        from distributed import KilledWorker

        summaries = [self._submit(operator.getitem, h, 0, worker=home) for h, home in zip(handles, self._home)]
        try:
            return self.client.gather(summaries)
        except KilledWorker as exc:
            raise OracleError(f"StatefulClosure: a state advance was lost with its worker more often than "
                              f"allowed (distributed.scheduler.allowed-failures): {exc}",
                              cause=repr(exc)) from exc

    def transfer_bytes(self) -> tuple[int, int]:
        """Bytes the workers have sent so far, to each other and to this client: ``(all,
        states)``, where ``states`` counts the keys that hold micro states (advance,
        initial and restore results) and the rest are the answers gathered here. From
        Dask's transfer counters and log; ``(0, 0)`` in sync mode."""
        if self.client is None:
            return 0, 0
        sent = self.client.run(_sent_bytes, on_error="ignore")  # a worker just lost counts nothing
        return int(sum(t for t, _ in sent.values())), int(sum(s for _, s in sent.values()))

    # -- the closure -----------------------------------------------------------------------------
    def _start(self, rows: np.ndarray) -> None:
        self.n_points = len(rows)
        workers = [None] if self.client is None else self._workers()
        self._home = [workers[p % len(workers)] for p in range(self.n_points)]
        if self.keep_states:
            self._committed = [self._submit(_initial_task, self.oracle, rows[p], initial_seed(self.seed, p),
                                            worker=self._home[p]) for p in range(self.n_points)]

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        """Advance every point's committed state under its row of ``points`` (one batch).

        ``seed_rows`` is accepted and ignored: seeds derive from (point, load step).

        Raises
        ------
        ValueError
            ``points`` has another number of rows than the first call.
        OracleError
            An advance failed on every attempt (or was refused).
        """
        rows = self._map.lift(points)
        if self.n_points is None:
            self._start(rows)
        if len(rows) != self.n_points:
            raise ValueError(f"StatefulClosure: every call must ask the same {self.n_points} points "
                             f"(one state each), got {len(rows)} rows")
        trial = [self._submit(_advance_task, self.oracle, self._committed[p] if self.keep_states else None,
                              rows[p], advance_seed(self.seed, p, self.step), self.budget,
                              self.retries, initial_seed(self.seed, p), worker=self._home[p])
                 for p in range(self.n_points)]
        summaries = self._gather(trial)
        self._trial = trial
        self.iteration += 1
        mean = np.stack([s[0] for s in summaries])[:, self._map._restrict]
        stderr = np.stack([s[1] for s in summaries])[:, self._map._restrict]
        cost = np.array([s[3] for s in summaries], dtype=float)
        self._trial_home = [s[6] if s[6] != "sync" else None for s in summaries]
        self.last_seeds = np.array([s[5] for s in summaries], dtype=np.uint64)
        self.last_workers = [s[6] for s in summaries]
        log = self.log
        log.calls += 1
        log.advances += self.n_points
        log.micro_steps += int(sum(s[4] for s in summaries))
        log.micro_seconds += float(np.nansum(cost))
        log.failed_attempts += int(sum(s[8] for s in summaries))
        log.state_bytes = float(np.mean([s[7] for s in summaries]))
        return ClosureResult(mean, stderr, cost, np.ones(self.n_points, dtype=bool))

    def commit(self) -> None:
        """The last call's trial states become the committed ones (the load step converged);
        the previous committed states are released. The next call starts load step ``step + 1``."""
        if self._trial is None:
            raise RuntimeError("StatefulClosure.commit(): no trial states (call the closure first)")
        if self.keep_states:
            self._committed = self._trial
            self._home = self._trial_home
        self._trial = None
        self.step += 1
        self.iteration = 0
        self.log.commits += 1

    def rollback(self) -> None:
        """Drop the trial states (the load step failed); the next call retries the same step
        from the committed states with the same seeds."""
        self._trial = None
        self.iteration = 0
        self.log.rollbacks += 1

    # -- checkpoints -----------------------------------------------------------------------------
    def gather_states(self) -> list[MicroState]:
        """The committed states, copied to this process (for a checkpoint)."""
        if not self.keep_states or not self._committed:
            return []
        if self.client is None:
            pairs = self._committed
        else:
            pairs = self.client.gather([self.client.submit(operator.getitem, h, 1, pure=False)
                                        for h in self._committed])
            return [dict(s) for s in pairs]
        return [dict(p[1]) for p in pairs]

    def restore(self, states: Sequence[Mapping[str, np.ndarray]], step: int) -> None:
        """Make ``states`` (one per point, e.g. read from a checkpoint) the committed states at
        load step ``step``; they are sent to the workers (round robin) as the roots of the lineage.

        Raises
        ------
        ValueError
            ``states`` is empty or has another length than the points already asked.
        """
        if not states:
            raise ValueError("StatefulClosure.restore(): no states given")
        if self.n_points is not None and len(states) != self.n_points:
            raise ValueError(f"StatefulClosure.restore(): expected {self.n_points} states, got {len(states)}")
        self.n_points = len(states)
        workers = [None] if self.client is None else self._workers()
        homes = ([workers[p % len(workers)] for p in range(self.n_points)] if len(self._home) != self.n_points
                 else [h if h in workers else workers[p % len(workers)] for p, h in enumerate(self._home)])
        self._committed = [self._submit(_restore_task, dict(s), worker=homes[p]) for p, s in enumerate(states)]
        self._home = homes
        self._trial = None
        self.step = int(step)
        self.iteration = 0

    def reroot(self, states: Sequence[Mapping[str, np.ndarray]] | None = None) -> list[MicroState]:
        """Re-root the lineage at the committed states (gathered if not given) so that a lost
        worker's states are rebuilt from here, not replayed from the start. Returns the states."""
        states = self.gather_states() if states is None else list(states)
        if states:
            self.restore(states, self.step)
        return states


@dataclass(frozen=True)
class _Columns:
    """The oracle's column names, in the shape :class:`hmm.closure.CouplerClosure` reads."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
