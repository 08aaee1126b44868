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
from typing import Any, Callable

import numpy as np

from ..budget import Budget
from ..coupler import Coupler
from ..estimate import Estimate

Lift = Callable[[np.ndarray, np.ndarray, np.random.Generator], Any]
Micro = Callable[[Any, np.ndarray, float, np.random.Generator], Any]
Restrict = Callable[[Any], np.ndarray]


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
    replicas_per_state: np.ndarray | None = None  # (m,) with ``target_stderr``; else all ``replicas``


class CoarseStepper:
    """Equation-free coarse time-stepper on Dask.

    Parameters
    ----------
    lift(U, p, rng) -> micro state, micro(state, p, duration, rng) -> state,
    restrict(state) -> U
        The three pieces (picklable).
    coarse_names, param_names : tuple of str
        Names of the coarse variables and of the parameters.
    client : see :class:`hmm.Coupler` (``None``: embedded cluster, ``"sync"``, address, Client)
    replicas : int
        Independent bursts per coarse state, averaged (stderr from their spread).
    target_stderr : float, optional
        Statistical indicator at work (``sample_more``): after the first
        ``replicas`` bursts, a state whose largest coarse stderr (at the last
        record time) exceeds this gets more replicas, as many as the observed
        spread says are needed (``R (stderr / target)^2``, rounded up, at
        most ``max_replicas``), in one more round. Replica ``k`` always has the
        same seed, so the answer is reproducible.
    max_replicas : int
        Cap on the replicas per state with ``target_stderr``.
    seed, cache, batch_size, retries, budget
        Passed to the Couplers.
    """

    def __init__(self, lift: Lift, micro: Micro, restrict: Restrict, *,
                 coarse_names: tuple[str, ...], param_names: tuple[str, ...] = (),
                 client: Any = "sync", replicas: int = 1, seed: int = 0, cache: Any = True,
                 batch_size: int | None = None, retries: int = 2, budget: Budget | None = None,
                 n_workers: int | None = None, target_stderr: float | None = None,
                 max_replicas: int = 64) -> None:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"CoarseStepper(): `replicas` must be an int >= 1, got {replicas!r}")
        if target_stderr is not None:
            if not (isinstance(target_stderr, (int, float)) and np.isfinite(target_stderr) and target_stderr > 0):
                raise ValueError(f"CoarseStepper(): `target_stderr` must be a finite number > 0, got {target_stderr!r}")
            if replicas < 2:
                raise ValueError("CoarseStepper(): `target_stderr` needs `replicas` >= 2 (a spread to judge by)")
        if isinstance(max_replicas, bool) or not isinstance(max_replicas, int) or max_replicas < replicas:
            raise ValueError(f"CoarseStepper(): `max_replicas` must be an int >= replicas ({replicas}), "
                             f"got {max_replicas!r}")
        self.target_stderr = None if target_stderr is None else float(target_stderr)
        self.max_replicas = max_replicas
        self.pieces = (lift, micro, restrict)
        self.coarse_names, self.param_names = tuple(coarse_names), tuple(param_names)
        self.replicas = replicas
        self.budget = budget or Budget()
        self._options = dict(seed=seed, cache=cache, batch_size=batch_size, retries=retries)
        self._client_arg, self._n_workers = client, n_workers
        self._couplers: dict[tuple[float, ...], Coupler] = {}
        self.calls = 0
        self.micro_seconds = 0.0

    @property
    def n_coarse(self) -> int:
        return len(self.coarse_names)

    def _coupler(self, record_times: tuple[float, ...]) -> Coupler:
        coupler = self._couplers.get(record_times)
        if coupler is None:
            oracle = CoarseBurst(*self.pieces, self.coarse_names, self.param_names, record_times)
            if self._couplers:  # share the first coupler's cluster
                first = next(iter(self._couplers.values()))
                client = first.client if first.client is not None else "sync"
                coupler = Coupler(oracle, client, **self._options)
            else:
                coupler = Coupler(oracle, self._client_arg, n_workers=self._n_workers, **self._options)
            self._couplers[record_times] = coupler
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
        R = self.replicas
        rows = np.column_stack([U, p])
        keys = None
        if common_random_numbers is not None:
            keys = np.broadcast_to(np.asarray(common_random_numbers, dtype=float).reshape(-1), (m,))
        values, stds, cost = self._bursts(coupler, rows, keys, np.zeros(m, dtype=int), np.full(m, R))
        per_state = None
        if self.target_stderr is not None:
            spread = np.array([v[:, -1, :].std(axis=0, ddof=1).max() for v in values])  # per replica
            need = np.ceil(R * (spread / np.sqrt(R) / self.target_stderr) ** 2).astype(int)
            need = np.clip(need, R, self.max_replicas)
            more = np.flatnonzero(need > R)
            if more.size:
                extra, extra_std, extra_cost = self._bursts(coupler, rows[more], None if keys is None
                                                            else keys[more], np.full(more.size, R), need[more] - R)
                for j, i in enumerate(more):
                    values[i] = np.concatenate([values[i], extra[j]])
                    stds[i] = np.concatenate([stds[i], extra_std[j]])
                cost += extra_cost
            per_state = np.array([len(v) for v in values])
        mean = np.stack([v.mean(axis=0) for v in values])
        stderr = np.stack([v.std(axis=0, ddof=1) / np.sqrt(len(v)) if len(v) > 1 else
                           np.sqrt((s ** 2).mean(axis=0)) for v, s in zip(values, stds)])
        self.calls += 1
        self.micro_seconds += cost
        return CoarseRecords(np.asarray(times), mean, stderr, cost, R, per_state)

    def _bursts(self, coupler: Coupler, rows: np.ndarray, keys: np.ndarray | None, first: np.ndarray,
                counts: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray], float]:
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
        return values, stds, float(np.sum(batch.cost_s[~batch.cached]))

    def __call__(self, U: Any, params: Any = (), horizon: float = 1.0, **kw) -> np.ndarray:
        """The coarse map Phi_horizon(U): mean coarse state after ``horizon``."""
        rec = self.run(U, params, (horizon,), **kw)
        out = rec.mean[:, -1, :]
        return out[0] if np.ndim(U) == 1 else out

    def close(self) -> None:
        for coupler in reversed(list(self._couplers.values())):  # owner (first) last
            coupler.close()
        self._couplers.clear()

    def __enter__(self) -> "CoarseStepper":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def coarse_stepper(lift: Lift, micro: Micro, restrict: Restrict, **options: Any) -> CoarseStepper:
    """Build a :class:`CoarseStepper` from lift, micro and restrict (see there)."""
    return CoarseStepper(lift, micro, restrict, **options)
