"""Composition helpers of the coarse time-steppers: replica policies from the
compatibility keywords, matching a model to a Coupler's burst oracle, and
sibling Couplers on one cluster."""

from __future__ import annotations

from typing import Any

import numpy as np

from adaptivity.replicas import ReplicaPolicy, StderrTargetPolicy

from ..coupler import Coupler

UNSET: Any = object()  # a compatibility keyword that was not given


def replica_policy(replicas: Any, policy: Any, target_stderr: Any, max_replicas: Any) -> ReplicaPolicy | None:
    """Validate ``replicas`` and return the replica policy (built from the
    ``target_stderr``/``max_replicas`` keywords, or the one given)."""
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ValueError(f"CoarseStepper(): `replicas` must be an int >= 1, got {replicas!r}")
    if policy is not None:
        if target_stderr is not None or max_replicas is not UNSET:
            raise TypeError("CoarseStepper(): give either `policy` or `target_stderr`/`max_replicas`")
        if not isinstance(policy, ReplicaPolicy):
            raise TypeError("CoarseStepper(): `policy` must provide `min_replicas` and "
                            f"propose(stderr, replicas), got {type(policy).__name__}")
        if replicas < policy.min_replicas:
            raise ValueError(f"CoarseStepper(): the replica `policy` needs `replicas` >= {policy.min_replicas}, "
                             f"got {replicas}")
        cap = getattr(policy, "max_replicas", replicas)
        if cap < replicas:
            raise ValueError(f"CoarseStepper(): the policy's `max_replicas` {cap} is below `replicas` {replicas}")
        return policy
    max_replicas = 64 if max_replicas is UNSET else max_replicas
    if target_stderr is not None:
        if not (isinstance(target_stderr, (int, float)) and np.isfinite(target_stderr) and target_stderr > 0):
            raise ValueError(f"CoarseStepper(): `target_stderr` must be a finite number > 0, got {target_stderr!r}")
        if replicas < 2:
            raise ValueError("CoarseStepper(): `target_stderr` needs `replicas` >= 2 (a spread to judge by)")
    if isinstance(max_replicas, bool) or not isinstance(max_replicas, int) or max_replicas < replicas:
        raise ValueError(f"CoarseStepper(): `max_replicas` must be an int >= replicas ({replicas}), "
                         f"got {max_replicas!r}")
    return None if target_stderr is None else StderrTargetPolicy(float(target_stderr), max_replicas)


def same_piece(a: Any, b: Any) -> bool:
    """Whether two lift/micro/restrict callables are the same (bound methods of equal models count)."""
    if a == b:
        return True
    func_a, func_b = getattr(a, "__func__", None), getattr(b, "__func__", None)
    return func_a is not None and func_a is func_b and a.__self__ == b.__self__


def sibling_coupler(coupler: Coupler, oracle: Any) -> Coupler:
    """A Coupler for another oracle on ``coupler``'s cluster, with its root seed,
    cache object, batching and retries (a burst oracle per set of record times)."""
    client = coupler.client if coupler.client is not None else "sync"
    return Coupler(oracle, client, seed=coupler.seed, cache=coupler.cache, batch_size=coupler.batch_size,
                   retries=coupler.retries)
