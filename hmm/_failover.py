"""The Coupler's failure handling: the policy, prompt gathering and the failure surrogate.

* :class:`FailurePolicy` holds the ``on_failure``/``max_failed_fraction``/
  ``task_timeout_s``/``allowed_failures`` settings of a :class:`hmm.Coupler`.
* :func:`gather_as_completed` submits a batch's tasks and pulls each task's
  answers off its worker as soon as it finishes, so a worker that dies later
  takes no finished work with it (Dask reschedules only the tasks still
  running or waiting there; tasks are pure functions of their queries and
  seeds, so a rescheduled task gives the same bits). A task lost with its
  worker more often than ``allowed_failures`` ends in :class:`hmm.OracleError`;
  a lost scheduler in :class:`hmm.SchedulerError`.
* :func:`nearest_answers` is the failure surrogate of ``on_failure =
  "surrogate"``: a query that failed on every attempt takes the answer of
  the nearest successful query of the same batch (inputs scaled by their
  range in the batch), with the stderr inflated to
  ``sqrt(s1**2 + (m1 - m2)**2)``, ``m1, s1`` the nearest answer and ``m2``
  the second nearest (the variation of the answers over one neighbour
  spacing, the error of taking a neighbour's answer); with a single
  neighbour the inflation is ``|m1|`` (100 %). Only the batch is used, so
  the answer depends on nothing outside the query's own batch: a rerun or a
  resumed run answers it the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._tasks import run_chunk
from .errors import OracleError, SchedulerError

POLICIES = ("raise", "surrogate")


@dataclass(frozen=True)
class FailurePolicy:
    """What a :class:`hmm.Coupler` does about failed micro runs (see its docstring)."""

    on_failure: str = "raise"
    max_failed_fraction: float = 0.0
    task_timeout_s: float | None = None
    allowed_failures: int | None = None

    @classmethod
    def from_args(cls, on_failure: Any, max_failed_fraction: Any, task_timeout_s: Any,
                  allowed_failures: Any) -> "FailurePolicy":
        """Validated settings; ValueError/TypeError naming the Coupler argument."""
        if on_failure not in POLICIES:
            raise ValueError(f"Coupler(): `on_failure` must be one of {POLICIES}, got {on_failure!r}")
        if isinstance(max_failed_fraction, bool) or not isinstance(max_failed_fraction, (int, float)):
            raise TypeError(f"Coupler(): `max_failed_fraction` must be a number, got {max_failed_fraction!r}")
        if not 0.0 <= float(max_failed_fraction) <= 1.0:
            raise ValueError(f"Coupler(): `max_failed_fraction` must be in [0, 1], got {max_failed_fraction}")
        if task_timeout_s is not None:
            if isinstance(task_timeout_s, bool) or not isinstance(task_timeout_s, (int, float)):
                raise TypeError(f"Coupler(): `task_timeout_s` must be a number of seconds, got {task_timeout_s!r}")
            if not (math.isfinite(task_timeout_s) and task_timeout_s > 0):
                raise ValueError(f"Coupler(): `task_timeout_s` must be a positive number, got {task_timeout_s}")
            task_timeout_s = float(task_timeout_s)
        if allowed_failures is not None:
            if isinstance(allowed_failures, bool) or not isinstance(allowed_failures, int):
                raise TypeError(f"Coupler(): `allowed_failures` must be an int >= 0, got {allowed_failures!r}")
            if allowed_failures < 0:
                raise ValueError(f"Coupler(): `allowed_failures` must be an int >= 0, got {allowed_failures}")
        return cls(on_failure, float(max_failed_fraction), task_timeout_s, allowed_failures)

    def dask_config(self, *, embedded: bool):
        """Context in which the embedded cluster is created: Dask's
        ``allowed-failures`` set for its scheduler (nothing for other clients)."""
        if not embedded or self.allowed_failures is None:
            return contextlib.nullcontext()
        import dask

        return dask.config.set({"distributed.scheduler.allowed-failures": self.allowed_failures})

    def check_external(self, client: Any, address: str) -> None:
        """Warn when ``allowed_failures`` was asked of a scheduler that keeps another value."""
        if client is None or self.allowed_failures is None:
            return
        try:
            actual = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.allowed_failures)
        except Exception:  # noqa: BLE001 - a scheduler that does not say is warned about too
            actual = "unknown"
        if actual != self.allowed_failures:
            import warnings

            warnings.warn(f"Coupler(): allowed_failures={self.allowed_failures} applies to the embedded "
                          f"cluster only; the scheduler at {address} keeps its own ({actual})", stacklevel=3)

    def allows(self, answered: int, asked: int) -> bool:
        """Whether ``answered`` surrogate answers among ``asked`` queries are within the bound."""
        return answered <= self.max_failed_fraction * asked


def gather_as_completed(client: Any, spec: Any, blocks: list[np.ndarray], name: str,
                        keep: Callable[[list], Any]) -> list[tuple[int, Any]]:
    """Submit one task per block and collect ``(block index, result)`` pairs,
    each pulled off its worker (and released there) as soon as it finishes:
    every task finished at a wake-up is fetched in one ``gather``.

    On any error the finished results are handed to ``keep`` first (so they
    reach the cache), then :class:`hmm.OracleError` (a task lost with its
    workers more than ``allowed-failures`` times), :class:`hmm.SchedulerError`
    (the scheduler connection was lost) or the task's own exception is raised.
    """
    from distributed import KilledWorker, as_completed

    tag = uuid.uuid4().hex
    k = len(blocks)
    # no Dask-level `retries`: oracle failures are retried inside the task (once
    # counted), and a lost worker's tasks are rescheduled by the scheduler itself
    done: dict[int, Any] = {}
    try:
        futures = client.map(run_chunk, [spec] * k, blocks, key=[f"hmm-{name}-{tag}-{i}" for i in range(k)])
        index = {f.key: i for i, f in enumerate(futures)}
        for batch in as_completed(futures, loop=client.loop).batches():
            finished = sorted(batch, key=lambda f: index[f.key])
            for future, result in zip(finished, client.gather(finished)):
                done[index[future.key]] = result
                future.release()
    except KilledWorker as exc:
        keep(sorted(done.items()))
        raise OracleError(
            f"{name}: a task was running on workers that died more often than the scheduler allows "
            f"(allowed-failures; [coupler] allowed_failures): {exc}", oracle=name,
            cause=f"KilledWorker: {exc}") from None
    except (asyncio.CancelledError, Exception) as exc:  # a lost scheduler cancels every future
        keep(sorted(done.items()))
        if _connected(client):
            raise
        raise SchedulerError(
            f"lost the connection to the Dask scheduler {_address(client)} during a batch of {name} "
            f"({len(done)} of {k} tasks had finished; {type(exc).__name__}: {exc})") from None
    except BaseException:
        keep(sorted(done.items()))
        raise
    return sorted(done.items())


def _connected(client: Any) -> bool:
    """Whether the client still holds its scheduler connection (not lost, reconnecting or closed)."""
    return getattr(client, "status", None) == "running"


def _address(client: Any) -> str:
    try:
        return str(client.scheduler.address)
    except Exception:  # noqa: BLE001
        return "(unknown address)"


def nearest_answers(states: np.ndarray, rows: list[int], mean: np.ndarray, stderr: np.ndarray,
                    n_eff: np.ndarray, cost: np.ndarray, worker: np.ndarray) -> bool:
    """Answer the failed ``rows`` of a batch in place from its successful rows
    (see the module docstring); False (nothing changed) if it has none."""
    good = np.isfinite(mean).all(axis=1) & np.isfinite(stderr).all(axis=1)
    good[rows] = False
    candidates = np.flatnonzero(good)
    if candidates.size == 0:
        return False
    span = np.ptp(states, axis=0)
    scale = np.where(span > 0, span, 1.0)
    for row in rows:
        d = np.sum(((states[candidates] - states[row]) / scale) ** 2, axis=1)
        order = candidates[np.argsort(d, kind="stable")[:2]]
        m1, s1 = mean[order[0]], stderr[order[0]]
        spread = np.abs(m1 - mean[order[1]]) if order.size > 1 else np.abs(m1)
        mean[row] = m1
        stderr[row] = np.sqrt(s1 ** 2 + spread ** 2)
        n_eff[row] = n_eff[order[0]]
        cost[row] = 0.0
        worker[row] = "surrogate"
    return True
