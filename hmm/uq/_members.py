"""Running one member of a study through the solver's own Coupler.

Every member of an ensemble or of a parameter design is a whole multiscale
run of the *same* :class:`hmm.HMMSolver` through the same Coupler: the same
Dask client, task batching, cache and :class:`hmm.Accounting` ledger. Only
the Coupler's root seed (ensemble members) and its oracle (design points,
a ``dataclasses.replace`` of the oracle) differ, held by a per-member view
of the Coupler (:func:`member_solver`). The cache keys hold the root seed
and the oracle token, so answers of different members never mix.

Members run in threads of the driver process, several at a time
(:func:`run_members`): a member's macro run is cheap, but each of its
closure calls waits on a Dask round trip, and the calls of other members
fill the workers meanwhile. The macro runs themselves are not shipped to
workers as futures: a member would then need its own client on the worker
(``worker_client``), and its micro tasks would compete with the worker
slot that holds it.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ..provenance import oracle_token

MODES = ("steady", "transient")


def member_seeds(seed: int, n: int) -> list[int]:
    """Root seeds of ``n`` members: ``SeedSequence(seed).spawn(n)``, each child's first 64-bit word
    shifted to 63 bits (a valid Coupler seed)."""
    return [int(child.generate_state(1, np.uint64)[0] >> np.uint64(1))
            for child in np.random.SeedSequence(seed).spawn(n)]


def member_solver(solver: Any, *, seed: int | None = None, oracle: Any = None) -> Any:
    """A view of ``solver`` for one member: the same law, grid, stepper, budget and closure wrapper, on a
    shallow copy of its Coupler (the same client, cache and batching) with its own root ``seed`` and/or
    ``oracle`` and its own ledger, merged into the Coupler's by :func:`charge`. ``solver`` is not changed.

    The replacement oracle must have the same ``inputs`` and ``outputs``.
    """
    from ..accounting import Accounting
    from ..closure import ClosureLog
    from ..contract import oracle_units

    coupler = solver.coupler
    view = copy.copy(coupler)
    view._ledger = Accounting()  # pylint: disable=protected-access
    if seed is not None:
        view.seed = int(seed)
    if oracle is not None:
        if tuple(oracle.inputs) != coupler.inputs or tuple(oracle.outputs) != coupler.outputs:
            raise ValueError(f"the oracle of a design point must keep inputs {coupler.inputs} and outputs "
                             f"{coupler.outputs}, got {tuple(oracle.inputs)} -> {tuple(oracle.outputs)}")
        view.oracle, view.token, view.units = oracle, oracle_token(oracle), oracle_units(oracle)
    closure = copy.copy(solver.coupler_closure)
    closure.coupler, closure.log = view, ClosureLog()
    member = copy.copy(solver)
    member.coupler, member.coupler_closure = view, closure
    member.closure = solver.closure_wrapper(closure) if solver.closure_wrapper else closure
    return member


def charge(coupler: Any, work: Any) -> None:
    """Add a member's micro work to the Coupler's one ledger."""
    coupler._ledger = coupler._ledger + work  # pylint: disable=protected-access


def default_concurrency(coupler: Any) -> int:
    """Members in flight at once: twice the cluster's worker threads (a member's closure calls wait
    on Dask round trips, which other members fill), one when running in process."""
    return 1 if coupler.client is None else 2 * coupler._n_threads()  # pylint: disable=protected-access


def run_members(solver: Any, members: Sequence[Mapping[str, Any]], job: Callable[[Any], Any], *,
                concurrency: int | None = None, progress: bool = False, desc: str = "UQ members") -> list:
    """``job(member_solver(solver, **members[k]))`` for every member, ``concurrency`` at a time in
    threads; returns ``[(result, Accounting)]`` in member order, each member's work charged to the
    Coupler's ledger. The results do not depend on ``concurrency``: members share no random numbers
    (cache keys hold the root seed and the oracle token)."""
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    if concurrency is None:
        concurrency = default_concurrency(solver.coupler)
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"`concurrency` must be an int >= 1, got {concurrency!r}")
    views = [member_solver(solver, **spec) for spec in members]  # oracles checked before any run

    def one(view):
        return job(view), view.coupler.accounting

    out: list = [None] * len(views)
    with tqdm(total=len(views), disable=not progress, desc=desc, unit="run") as bar:
        if concurrency == 1 or len(views) == 1:
            for k, view in enumerate(views):
                out[k] = one(view)
                charge(solver.coupler, out[k][1])
                bar.update(1)
            return out
        pool = ThreadPoolExecutor(max_workers=min(concurrency, len(views)), thread_name_prefix="hmm-uq")
        try:
            futures = [pool.submit(one, view) for view in views]
            for k, fut in enumerate(futures):
                out[k] = fut.result()
                charge(solver.coupler, out[k][1])
                bar.update(1)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return out


def check_member_kwargs(run_kwargs: Mapping[str, Any], func: str) -> dict[str, Any]:
    """The solve's keyword arguments for many members: a checkpoint file would be shared by all of them."""
    kwargs = dict(run_kwargs or {})
    if kwargs.get("checkpoint") is not None:
        raise ValueError(f"{func}: `run_kwargs` must not name a checkpoint: every member would write the same file")
    return kwargs


def check_mode(mode: str, func: str) -> str:
    if mode not in MODES:
        raise ValueError(f"{func}: unknown mode {mode!r}; valid modes are {list(MODES)}")
    return mode


def run_member(solver: Any, mode: str, run_kwargs: Mapping[str, Any], *, linear: bool,
               covariance: bool = False, goal: Any = None) -> Any:
    """One whole run of ``solver``: ``solve_steady`` or ``run``, with the linear stderr if ``linear``
    (and, for a :class:`~hmm.uq.goals.LinearGoal`, its stderr by the solver's adjoint, ``goal_uq_stderr``)."""
    from .goals import LinearGoal

    kwargs = dict(run_kwargs)
    if linear and isinstance(goal, LinearGoal):
        kwargs.setdefault("goals", {ADJOINT_GOAL: goal.goal})
    if mode == "steady":
        return solver.solve_steady(stderr=linear, covariance=covariance and linear, **kwargs)
    if "t_end" not in kwargs or "dt" not in kwargs:
        raise ValueError("transient runs need `run_kwargs` with `t_end` and `dt` (HMMSolver.run)")
    return solver.run(kwargs.pop("t_end"), stderr=linear, covariance=covariance and linear, **kwargs)


ADJOINT_GOAL = "uq"
"""Name under which a member's linear goal is handed to the solver (``goal_uq``, ``goal_uq_stderr``)."""


def goal_value(goal: Any, ds: Any) -> float:
    if goal is None:
        return math.nan
    value = goal(ds)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"goal must return a number, got {type(value).__name__}") from None
