"""FE²: the quasi-static solid law of :mod:`macro.solids` with a micro model at every
quadrature point, through a :class:`hmm.Coupler`.

:func:`fe2_closure` maps the law's closure columns to the oracle's inputs by
name (:class:`hmm.closure.CouplerClosure`: positions the oracle does not take
are dropped, fixed inputs added), so each Newton iteration of
:func:`macro.solids.solve_quasistatic` is one Coupler batch of all quadrature
points. :func:`solve_fe2` runs the load stepping and records the ledger
difference of the run.

With a stateful micro model (:class:`hmm.contract.StatefulOracle`),
:func:`stateful_fe2_closure` keeps one micro state per quadrature point on the
workers (:mod:`hmm.stateful`) and :func:`solve_fe2_stateful` steps the load,
committing the states at every converged step, with checkpoints and resume.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from macro.solids import QuasiStaticResult, SolidLaw, load_factors, solve_quasistatic

from .accounting import Accounting
from .budget import Budget
from .closure import CouplerClosure
from .coupler import Coupler
from .provenance import oracle_token
from .stateful import StatefulClosure

__all__ = ["fe2_closure", "solve_fe2", "FE2Result", "stateful_fe2_closure", "solve_fe2_stateful",
           "FE2StatefulResult", "run_token"]


def fe2_closure(coupler: Coupler, law: SolidLaw, budget: Budget | None = None, *,
                fixed_inputs: Mapping[str, float] | None = None, rename: Mapping[str, str] | None = None,
                keep_batches: bool = False) -> CouplerClosure:
    """A closure answering ``law``'s stress and tangent columns from ``coupler``'s oracle.

    Raises
    ------
    TypeError
        ``law`` is not a :class:`macro.solids.SolidLaw`.
    ValueError
        The oracle lacks an output the law needs, or needs an input the law does
        not provide (the message names them).
    """
    if not isinstance(law, SolidLaw):
        raise TypeError(f"fe2_closure(): `law` must be a macro.solids.SolidLaw, got {type(law).__name__}")
    return CouplerClosure(coupler, law.closure_inputs(), law.closure_outputs(), budget,
                          fixed_inputs=fixed_inputs, rename=rename, keep_batches=keep_batches)


@dataclass(eq=False)
class FE2Result:
    """:class:`macro.solids.QuasiStaticResult` of an FE² run, the closure that ran it
    and the Coupler's :class:`hmm.Accounting` difference over the run (fresh runs,
    cached answers, micro seconds, batches)."""

    result: QuasiStaticResult
    closure: CouplerClosure
    ledger: Accounting


def solve_fe2(law: SolidLaw, coupler: Coupler, steps: int | Sequence[float] = 1, *, budget: Budget | None = None,
              fixed_inputs: Mapping[str, float] | None = None, rename: Mapping[str, str] | None = None,
              **newton: Any) -> FE2Result:
    """Quasi-static FE² solve: :func:`macro.solids.solve_quasistatic` with :func:`fe2_closure`.

    ``newton`` is passed on (``tol``, ``max_iterations``, ``u0``, ``callback``).
    """
    closure = fe2_closure(coupler, law, budget, fixed_inputs=fixed_inputs, rename=rename)
    before = coupler.accounting
    result = solve_quasistatic(law, closure, steps, **newton)
    return FE2Result(result, closure, coupler.accounting - before)


# -- stateful micro models (micro states kept on the workers) --------------------------------------

def stateful_fe2_closure(law: SolidLaw, oracle: Any, budget: Budget | None = None, **options: Any) -> StatefulClosure:
    """A :class:`hmm.stateful.StatefulClosure` answering ``law``'s columns from a stateful ``oracle``
    (``options``: ``client``, ``seed``, ``fixed_inputs``, ``rename``, ``keep_states``, ``retries``,
    ``n_workers``)."""
    if not isinstance(law, SolidLaw):
        raise TypeError(f"stateful_fe2_closure(): `law` must be a macro.solids.SolidLaw, got {type(law).__name__}")
    return StatefulClosure(oracle, law.closure_inputs(), law.closure_outputs(), budget, **options)


@dataclass(eq=False)
class FE2StatefulResult:
    """Outcome of :func:`solve_fe2_stateful`: the :class:`macro.solids.QuasiStaticResult`
    (steps before a resume included, from the checkpoint), the closure (its ``log`` counts
    advances, micro steps and seconds), the bytes the workers sent (to each other and to the
    client) during each load step run here, and the part of them that were micro states
    (:meth:`hmm.stateful.StatefulClosure.transfer_bytes`), the mean memory of one state
    (bytes), and the first step run here."""

    result: QuasiStaticResult
    closure: StatefulClosure
    transfer_bytes: list[int]
    state_transfer_bytes: list[int]
    state_bytes: float
    start_step: int


def run_token(law: SolidLaw, closure: StatefulClosure, loads: np.ndarray) -> str:
    """Identity of a stateful FE² run (oracle, budget, root seed, states kept, quadrature points,
    boundary data at load factor 1, load factors): a checkpoint resumes only the same run."""
    h = hashlib.blake2b(digest_size=16)
    for part in (oracle_token(closure.oracle), closure.budget.token(), str(closure.seed), str(closure.keep_states),
                 law.kinematics, str(law.n_points)):
        h.update(part.encode())
    for arr in (np.asarray(law.positions, dtype=float), np.asarray(loads, dtype=float), law.dirichlet_dofs,
                law.dirichlet_values(1.0), law.external_force(1.0)):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def solve_fe2_stateful(law: SolidLaw, closure: StatefulClosure, steps: int | Sequence[float] = 1, *,
                       checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 1,
                       callback: Callable[[int, float, Any], None] | None = None,
                       u0: np.ndarray | None = None, **newton: Any) -> FE2StatefulResult:
    """Quasi-static FE² with micro states kept on the workers, one load step at a time.

    Each load step is :func:`macro.solids.solve_quasistatic` on that load factor, which
    commits the closure's states at convergence. With ``checkpoint`` (an ``.npz`` path)
    the committed states, the displacement and the history so far are written after every
    ``checkpoint_every``-th step and the last (:func:`hmm.checkpoint.write_states`; each
    costs a gather of all states to this process and a scatter back) and the states'
    lineage is re-rooted there
    (a lost worker's states are then rebuilt from the checkpoint); a run that finds a
    checkpoint of the same run (:func:`run_token`) resumes after its step, bit for bit.
    ``newton``: ``tol``, ``max_iterations``; ``callback(step, load, evaluation)`` after each step.

    Raises
    ------
    hmm.CheckpointError
        The checkpoint belongs to another run.
    ValueError
        ``checkpoint_every`` is not a positive int.
    """
    from .checkpoint import read_states, write_states

    if isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, int) or checkpoint_every < 1:
        raise ValueError(f"solve_fe2_stateful(): `checkpoint_every` must be an int >= 1, got {checkpoint_every!r}")

    loads = load_factors(steps)
    token = run_token(law, closure, loads)
    u = np.zeros(law.n_dofs) if u0 is None else np.array(u0, dtype=float)
    out = QuasiStaticResult(u, loads, n_stress=law.n_stress)
    start = 0
    saved = None if checkpoint is None else read_states(checkpoint, run_token=token)
    if saved is not None:
        start, states, macro = saved
        closure.restore(states, start)
        u = np.array(macro["u"], dtype=float)
        out.displacements = [d.copy() for d in macro["displacements"]]
        out.iterations = [int(i) for i in macro["iterations"]]
    moved: list[int] = []
    moved_states: list[int] = []
    for step in range(start, loads.size):
        before = closure.transfer_bytes()
        part = solve_quasistatic(law, closure, [loads[step]], u0=u, **newton)
        after = closure.transfer_bytes()
        moved.append(after[0] - before[0])
        moved_states.append(after[1] - before[1])
        u = part.u
        out.displacements.append(u.copy())
        out.iterations += part.iterations
        out.residuals += part.residuals
        out.evaluation = part.evaluation
        out.closure_calls += part.closure_calls
        out.micro_cost_s += part.micro_cost_s
        if checkpoint is not None and ((step + 1) % checkpoint_every == 0 or step + 1 == loads.size):
            states = closure.gather_states()
            write_states(checkpoint, states, step=step + 1, run_token=token,
                         macro={"u": u, "displacements": np.stack(out.displacements),
                                "iterations": np.array(out.iterations)})
            closure.reroot(states)
        if callback is not None:
            callback(step, float(loads[step]), part.evaluation)
    out.u = u
    return FE2StatefulResult(out, closure, moved, moved_states, closure.log.state_bytes, start)
