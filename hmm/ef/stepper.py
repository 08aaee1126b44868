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
    seed, cache, batch_size, retries, budget
        Passed to the Couplers.
    """

    def __init__(self, lift: Lift, micro: Micro, restrict: Restrict, *,
                 coarse_names: tuple[str, ...], param_names: tuple[str, ...] = (),
                 client: Any = "sync", replicas: int = 1, seed: int = 0, cache: Any = True,
                 batch_size: int | None = None, retries: int = 2, budget: Budget | None = None,
                 n_workers: int | None = None) -> None:
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"CoarseStepper(): `replicas` must be an int >= 1, got {replicas!r}")
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
        states = np.repeat(np.column_stack([U, p]), R, axis=0)
        replica = np.tile(np.arange(R), m)
        seed_from = None
        if common_random_numbers is not None:
            keys = np.broadcast_to(np.asarray(common_random_numbers, dtype=float).reshape(-1), (m,))
            seed_from = np.repeat(keys, R)[:, None]
        batch = coupler.evaluate(states, self.budget, replica=replica, seed_from=seed_from)
        values = batch.mean.reshape(m, R, len(times), self.n_coarse)
        mean = values.mean(axis=1)
        stderr = (values.std(axis=1, ddof=1) / np.sqrt(R) if R > 1 else
                  np.sqrt((batch.stderr.reshape(m, R, len(times), self.n_coarse) ** 2).mean(axis=1)))
        cost = float(np.sum(batch.cost_s[~batch.cached]))
        self.calls += 1
        self.micro_seconds += cost
        return CoarseRecords(np.asarray(times), mean, stderr, cost, R)

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
