"""The coarse time-stepper of equation-free computation: lift -> micro burst -> restrict.

The macro equations are never written down. Given coarse variables ``U`` and
parameters ``p``, the coarse time-stepper lifts ``U`` to a consistent micro
state, runs the micro model for a short burst and restricts back, recording
the coarse variables at chosen times. Everything else in :mod:`hmm.ef`
(projective integration, coarse Newton, continuation) is numerical analysis
on this map. Bursts are Dask futures through a :class:`hmm.Coupler`;
independent replicas (different seeds) are averaged and their spread gives
the standard error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from adaptivity.replicas import ReplicaPolicy

from ..accounting import Accounting
from ..contract import Budget, Estimate
from ..coupler import Coupler
from ._compose import UNSET as _UNSET
from ._compose import replica_policy, same_piece, sibling_coupler
from .models import CoarseModel, Lift, Micro, Restrict


@dataclass(frozen=True)
class CoarseBurst:
    """Oracle running one lift -> micro -> restrict burst.

    Inputs: the coarse names then the parameter names. Outputs: every coarse
    name at every record time, ``"<name>@<k>"`` for record ``k``. ``lift``,
    ``micro`` and ``restrict`` must be picklable (module-level functions or
    methods of frozen dataclasses); the micro RNG is seeded from the query seed.
    """

    lift: Lift
    micro: Micro
    restrict: Restrict
    coarse_names: tuple[str, ...]
    param_names: tuple[str, ...]
    record_times: tuple[float, ...]

    @classmethod
    def from_model(cls, model: CoarseModel, coarse_names: Sequence[str], param_names: Sequence[str] = (),
                   record_times: Sequence[float] = (1.0,)) -> "CoarseBurst":
        """The burst oracle of a :class:`CoarseModel` (its ``lift``, ``micro`` and ``restrict``)."""
        if not isinstance(model, CoarseModel):
            raise TypeError("CoarseBurst.from_model(): `model` must provide lift(U, p, rng), "
                            f"micro(state, p, duration, rng) and restrict(state), got {type(model).__name__}")
        return cls(model.lift, model.micro, model.restrict, tuple(coarse_names), tuple(param_names),
                   tuple(record_times))

    def __post_init__(self) -> None:
        times = tuple(float(t) for t in self.record_times)
        if not times or times[0] <= 0 or any(b <= a for a, b in zip(times, times[1:])):
            raise ValueError(f"CoarseBurst: `record_times` must be positive and increasing, got {times}")
        object.__setattr__(self, "record_times", times)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.coarse_names) + tuple(self.param_names)

    @property
    def outputs(self) -> tuple[str, ...]:
        return tuple(f"{n}@{k}" for k in range(len(self.record_times)) for n in self.coarse_names)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        n = len(self.coarse_names)
        coarse, params = np.asarray(state[:n], float), np.asarray(state[n:], float)
        rng = np.random.default_rng(seed)
        micro_state = self.lift(coarse, params, rng)
        out, t = [], 0.0
        for t_record in self.record_times:
            micro_state = self.micro(micro_state, params, t_record - t, rng)
            t = t_record
            values = np.asarray(self.restrict(micro_state), dtype=float).ravel()
            if values.shape != (n,):
                raise ValueError(f"restrict() returned {values.shape[0]} values, expected {n}")
            out.append(values)
        mean = np.concatenate(out)
        return Estimate(mean, np.zeros_like(mean), n_eff=1.0)


@dataclass(frozen=True)
class CoarseRecords:
    """Coarse variables recorded during bursts from ``m`` starting states.

    ``mean``/``stderr`` have shape (m, n_records, n_coarse): replica mean and
    its standard error (spread / sqrt(replicas); zero with one replica).
    ``times`` are the record times (since the start of each burst);
    ``cost_s`` the micro seconds spent (fresh runs only).
    """

    times: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    cost_s: float
    replicas: int
    replicas_per_state: np.ndarray | None = None  # (m,) with a replica policy; else all ``replicas``


class CoarseStepper:
    r"""Equation-free coarse time-stepper :math:`\Phi_\tau(U; p)` on a :class:`hmm.Coupler`.

    Bursts from ``m`` coarse states (``replicas`` independent ones each, with
    different seeds) are one batch of Dask futures; their replica mean is the
    coarse map and their spread / sqrt(replicas) its standard error.

    Construction (one implementation underneath, same bits):

    * ``CoarseStepper(model, coupler)`` -- ``coupler`` is a :class:`hmm.Coupler`
      of ``CoarseBurst.from_model(model, coarse_names, param_names)``; the
      stepper uses its cluster, seed and cache and leaves it open (the caller
      owns it). Bursts with other record times go to sibling Couplers on the
      same cluster.
    * ``CoarseStepper(model, coarse_names=..., client=..., seed=..., ...)`` or
      the three pieces ``CoarseStepper(lift, micro, restrict, coarse_names=...)``
      -- compatibility forms: the stepper builds (and closes) the Coupler from
      the options ``client`` (default ``"sync"``), ``seed`` (0), ``cache``
      (``True``), ``batch_size``, ``retries`` (2) and ``n_workers``.

    Parameters
    ----------
    model : CoarseModel or callable
        The micro model (``lift``, ``micro``, ``restrict``; see
        :class:`hmm.ef.CoarseModel`), or the ``lift`` callable of the three-piece form.
    coupler : hmm.Coupler or callable, optional
        The Coupler of the burst oracle, or the ``micro`` callable of the three-piece form.
    restrict : callable, optional
        ``restrict`` of the three-piece form.
    coarse_names, param_names : tuple of str
        Names of the coarse variables and of the parameters (read from the
        Coupler's oracle when one is given).
    replicas : int
        Independent bursts per coarse state, averaged (stderr from their spread).
    budget : hmm.Budget, optional
        Budget of every burst.
    policy : adaptivity.ReplicaPolicy, optional
        Replica allocation (the statistical indicator at work, ``sample_more``):
        after the first ``replicas`` bursts it is told, per state, the largest
        replica stderr of the coarse variables at the last record time and
        proposes extra replicas, which run in one more round (replica ``k``
        always has the same seed, so the answer is reproducible). E.g.
        :class:`adaptivity.StderrTargetPolicy`.
    target_stderr, max_replicas : float, int, optional
        Compatibility keywords: ``policy=StderrTargetPolicy(target_stderr,
        max_replicas)`` (``max_replicas`` defaults to 64).

    Attributes
    ----------
    accounting : hmm.Accounting
        Micro work done through this stepper (from the Couplers' ledgers).
    micro_seconds, calls
        ``accounting.micro_seconds`` and ``accounting.batches`` (batches of bursts).
    """

    def __init__(self, model: CoarseModel | Lift, coupler: Coupler | Micro | None = None,
                 restrict: Restrict | None = None, *, coarse_names: Sequence[str] | None = None,
                 param_names: Sequence[str] | None = None, replicas: int = 1, budget: Budget | None = None,
                 policy: ReplicaPolicy | None = None, target_stderr: float | None = None,
                 max_replicas: Any = _UNSET, client: Any = _UNSET,
                 seed: Any = _UNSET, cache: Any = _UNSET, batch_size: Any = _UNSET, retries: Any = _UNSET,
                 n_workers: Any = _UNSET) -> None:
        options = {k: v for k, v in dict(client=client, seed=seed, cache=cache, batch_size=batch_size,
                                          retries=retries, n_workers=n_workers).items() if v is not _UNSET}
        policy = replica_policy(replicas, policy, target_stderr, max_replicas)
        if isinstance(coupler, Coupler):
            if restrict is not None or options:
                raise TypeError("CoarseStepper(model, coupler): give the Coupler options "
                                f"{sorted(options) or ['restrict']} to the Coupler, not to the stepper")
            burst = coupler.oracle
            if not isinstance(burst, CoarseBurst):
                raise TypeError("CoarseStepper(): `coupler` must run a hmm.ef.CoarseBurst oracle "
                                f"(CoarseBurst.from_model(model, ...)), got {type(burst).__name__}")
            if not isinstance(model, CoarseModel) or not all(
                    same_piece(a, b) for a, b in zip((model.lift, model.micro, model.restrict),
                                                      (burst.lift, burst.micro, burst.restrict))):
                raise ValueError("CoarseStepper(): `model` must be the CoarseModel whose lift, micro and "
                                 "restrict the Coupler's CoarseBurst runs")
            for name, given in (("coarse_names", coarse_names), ("param_names", param_names)):
                if given is not None and tuple(given) != getattr(burst, name):
                    raise ValueError(f"CoarseStepper(): `{name}` {tuple(given)} differs from the Coupler's "
                                     f"CoarseBurst {getattr(burst, name)}")
            owns = False
        else:
            if coupler is None and restrict is None:
                if not isinstance(model, CoarseModel):
                    raise TypeError("CoarseStepper(): `model` must provide lift(U, p, rng), micro(state, p, "
                                    f"duration, rng) and restrict(state), got {type(model).__name__}")
                pieces = (model.lift, model.micro, model.restrict)
            elif callable(model) and callable(coupler) and callable(restrict):
                pieces = (model, coupler, restrict)
            else:
                raise TypeError("CoarseStepper(): pass (model, coupler), a CoarseModel with Coupler "
                                "options, or the three callables (lift, micro, restrict)")
            if coarse_names is None:
                raise TypeError("CoarseStepper(): `coarse_names` is required without a Coupler")
            burst = CoarseBurst(*pieces, tuple(coarse_names), tuple(param_names or ()), (1.0,))
            legacy = dict(client="sync", seed=0, cache=True, batch_size=None, retries=2, n_workers=None)
            legacy.update(options)
            client_arg = legacy.pop("client")
            coupler = Coupler(burst, client_arg, **legacy)
            owns = True
        self.policy = policy
        self.coupler = coupler
        self.pieces = (burst.lift, burst.micro, burst.restrict)
        self.coarse_names, self.param_names = burst.coarse_names, burst.param_names
        self.replicas = replicas
        self.budget = budget or Budget()
        self._owns = owns
        self._start = coupler.accounting
        self._closed = Accounting()  # the work of sibling Couplers already closed
        self._couplers: dict[tuple[float, ...], Coupler] = {burst.record_times: coupler}

    @property
    def n_coarse(self) -> int:
        return len(self.coarse_names)

    @property
    def target_stderr(self) -> float | None:
        """The target of a :class:`adaptivity.StderrTargetPolicy` (``None`` otherwise)."""
        return getattr(self.policy, "target_stderr", None)

    @property
    def max_replicas(self) -> int | None:
        """The policy's replica cap (``None`` without one)."""
        return getattr(self.policy, "max_replicas", None)

    @property
    def accounting(self) -> Accounting:
        """Micro work done through this stepper: the ledgers of its Couplers since it was built."""
        total = self.coupler.accounting - self._start + self._closed
        for c in self._couplers.values():
            if c is not self.coupler:
                total = total + c.accounting
        return total

    @property
    def micro_seconds(self) -> float:
        """Micro seconds spent by fresh bursts (``accounting.micro_seconds``)."""
        return self.accounting.micro_seconds

    @property
    def calls(self) -> int:
        """Batches of bursts sent (``accounting.batches``)."""
        return self.accounting.batches

    def _coupler(self, record_times: tuple[float, ...]) -> Coupler:
        coupler = self._couplers.get(record_times)
        if coupler is None:
            oracle = CoarseBurst(*self.pieces, self.coarse_names, self.param_names, record_times)
            coupler = self._couplers[record_times] = sibling_coupler(self.coupler, oracle)
        return coupler

    def run(self, U: Any, params: Any = (), record_times: Any = (1.0,), *,
            common_random_numbers: Any = None) -> CoarseRecords:
        """Bursts from each row of ``U`` (shape (m, n_coarse) or (n_coarse,)),
        with ``params`` one row for all states or one row per state.

        ``common_random_numbers``: an integer key per row (or one for all);
        rows with the same key get the same micro random numbers, which makes
        differences between nearby coarse states (Jacobian-vector products)
        free of independent sampling noise.
        """
        U = np.atleast_2d(np.asarray(U, dtype=float))
        m = U.shape[0]
        if U.shape[1] != self.n_coarse:
            raise ValueError(f"CoarseStepper.run(): `U` must have {self.n_coarse} columns "
                             f"{self.coarse_names}, got shape {U.shape}")
        n_p = len(self.param_names)
        p = np.asarray(params, dtype=float)
        p = p if p.ndim == 2 else p.reshape(1, -1)  # one parameter row for all, or one per row
        if p.shape[1] != n_p or p.shape[0] not in (1, m):
            raise ValueError(f"CoarseStepper.run(): `params` must hold {n_p} values {self.param_names} "
                             f"(one row, or one per state), got shape {np.shape(params)}")
        p = np.broadcast_to(p, (m, n_p))
        times = tuple(float(t) for t in np.atleast_1d(record_times))
        coupler = self._coupler(times)
        before = coupler.accounting
        R = self.replicas
        rows = np.column_stack([U, p])
        keys = None
        if common_random_numbers is not None:
            keys = np.broadcast_to(np.asarray(common_random_numbers, dtype=float).reshape(-1), (m,))
        values, stds = self._bursts(coupler, rows, keys, np.zeros(m, dtype=int), np.full(m, R))
        per_state = None
        if self.policy is not None:  # the policy decides where more replicas go; the stepper runs them
            spread = np.array([v[:, -1, :].std(axis=0, ddof=1).max() for v in values])  # per replica
            extra_counts = np.asarray(self.policy.propose(spread / np.sqrt(R), np.full(m, R)))
            more = np.flatnonzero(extra_counts > 0)
            if more.size:
                extra, extra_std = self._bursts(coupler, rows[more], None if keys is None else keys[more],
                                                np.full(more.size, R), extra_counts[more])
                for j, i in enumerate(more):
                    values[i] = np.concatenate([values[i], extra[j]])
                    stds[i] = np.concatenate([stds[i], extra_std[j]])
            per_state = np.array([len(v) for v in values])
        mean = np.stack([v.mean(axis=0) for v in values])
        stderr = np.stack([v.std(axis=0, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else
                           np.sqrt((s ** 2).mean(axis=0)) for v, s in zip(values, stds)])
        cost = (coupler.accounting - before).micro_seconds
        return CoarseRecords(np.asarray(times), mean, stderr, cost, R, per_state)

    def _bursts(self, coupler: Coupler, rows: np.ndarray, keys: np.ndarray | None, first: np.ndarray,
                counts: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Replicas ``first[i] .. first[i] + counts[i] - 1`` from each row, in one batch;
        per row the recorded coarse values and stderrs (counts[i], n_records, n_coarse)."""
        states = np.repeat(rows, counts, axis=0)
        replica = np.concatenate([np.arange(f, f + c) for f, c in zip(first, counts)])
        seed_from = None if keys is None else np.repeat(keys, counts)[:, None]
        batch = coupler.evaluate(states, self.budget, replica=replica, seed_from=seed_from)
        shape = (-1, len(coupler.oracle.record_times), self.n_coarse)
        edges = np.cumsum(counts)[:-1]
        values = [v.reshape(shape) for v in np.split(batch.mean, edges)]
        stds = [v.reshape(shape) for v in np.split(batch.stderr, edges)]
        return values, stds

    def __call__(self, U: Any, params: Any = (), horizon: float = 1.0, **kw) -> np.ndarray:
        """The coarse map Phi_horizon(U): mean coarse state after ``horizon``."""
        rec = self.run(U, params, (horizon,), **kw)
        out = rec.mean[:, -1, :]
        return out[0] if np.ndim(U) == 1 else out

    def close(self) -> None:
        """Close the sibling Couplers, and the Coupler itself if the stepper built it."""
        for coupler in self._couplers.values():
            if coupler is not self.coupler:
                self._closed = self._closed + coupler.accounting
                coupler.close()
        self._couplers = {k: c for k, c in self._couplers.items() if c is self.coupler}
        if self._owns:
            self.coupler.close()

    def __enter__(self) -> "CoarseStepper":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def coarse_stepper(model: CoarseModel | Lift, micro: Micro | None = None, restrict: Restrict | None = None,
                   *, coupler: Coupler | None = None, **options: Any) -> CoarseStepper:
    """Build a :class:`CoarseStepper`.

    ``coarse_stepper(model, coupler=c)`` (a Coupler of the model's
    :class:`CoarseBurst`), ``coarse_stepper(model, coarse_names=..., client=...)``
    (a :class:`CoarseModel`; the stepper builds its Coupler), or the three
    pieces ``coarse_stepper(lift, micro, restrict, coarse_names=..., ...)``.
    Other keywords as for :class:`CoarseStepper`.
    """
    if coupler is not None:
        if micro is not None or restrict is not None:
            raise TypeError("coarse_stepper(): give either `coupler` or the three pieces (lift, micro, restrict)")
        return CoarseStepper(model, coupler, **options)
    return CoarseStepper(model, micro, restrict, **options)
