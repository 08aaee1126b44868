r"""The lattice of the rejection-free KMC (:mod:`oracles.kmc`): process tables, lift, simulation.

:func:`compile_model` turns a model (and an optional :class:`Reservoirs`
boundary) into the rate tables of the class-grouped BKL kernels
(:mod:`oracles.kmc._kernels`); :func:`initialise` lifts coverages to a random
lattice; :class:`KMCSystem` holds a lattice with its bucket structure and
advances it in place (exact exponential waiting times, total rate R:
dt = -ln(u) / R); :func:`simulate` runs one burst and returns a :class:`KMCRun`.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from hmm.contract import OracleSetupError

from ._kernels import build_state, run_events
from .models import Process, Reservoirs, _checked_coverages


class Tables(NamedTuple):
    """Compiled process tables of one (model, boundary): see :mod:`oracles.kmc._kernels`."""

    n_species: int
    n_values: int
    pow5: np.ndarray
    key_stride: int
    bucket_of_key: np.ndarray
    bucket_rate: np.ndarray
    key_rate: np.ndarray
    single: tuple[np.ndarray, ...]
    pair: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    processes: tuple[tuple, ...]
    reservoir: np.ndarray | None


@lru_cache(maxsize=64)
def _compile(species: tuple[str, ...], processes: tuple[Process, ...], boundary: Reservoirs | None) -> Tables:
    S = len(species)
    V = S + 1 + (2 if boundary is not None else 0)
    reservoir = None if boundary is None else np.array(
        [[1.0 - sum(c), *c] for c in (boundary.left, boundary.right)])
    singles = [[(p.rate, p.after[0], k) for k, p in enumerate(processes)
                if len(p.before) == 1 and p.before[0] == s and p.rate > 0] for s in range(S + 1)]
    pairs = []  # rows (s, v): (rate, new_i, new_j, pid, transfer)
    for s in range(S + 1):
        for v in range(V):
            row = []
            for k, p in enumerate(processes):
                if len(p.before) != 2 or p.rate <= 0:
                    continue
                hop = p.after == p.before[::-1]
                if v <= S:
                    if p.before == (s, v):
                        row.append((p.rate, p.after[0], p.after[1], k, 0))
                    continue
                prob = reservoir[v - S - 1]
                if p.before[0] == s and p.rate * prob[p.before[1]] > 0:
                    row.append((p.rate * prob[p.before[1]], p.after[0], -1, k, -1 if hop and s else 0))
                if p.before[1] == s and p.rate * prob[p.before[0]] > 0:
                    row.append((p.rate * prob[p.before[0]], p.after[1], -1, k, 1 if hop and s == 0 else 0))
            pairs.append(row)
    stride = 5 ** V
    pow5 = 5 ** np.arange(V, dtype=np.int64)
    codes = np.arange(stride)
    counts = (codes[:, None] // pow5[None, :]) % 5  # neighbour count of each value
    valid = counts.sum(axis=1) == 4
    key_rate = np.zeros((V, stride))
    for s in range(S + 1):
        row_rate = np.array([sum(e[0] for e in pairs[s * V + v]) for v in range(V)])
        key_rate[s] = sum(e[0] for e in singles[s]) + counts @ row_rate
    key_rate[:, ~valid] = 0.0
    key_rate[S + 1:] = 0.0  # reservoir sites carry no events
    key_rate = key_rate.ravel()
    # buckets: distinct positive rates, merging values equal to 1e-12 (summation order)
    distinct = np.unique(key_rate[key_rate > 0])
    keep = np.concatenate([[True], np.diff(distinct) > 1e-12 * distinct[1:]]) if distinct.size else []
    bucket_rate = distinct[keep]
    bucket_of_key = (np.searchsorted(bucket_rate, key_rate * (1 + 2e-12), side="right") - 1).astype(np.int32)
    bucket_of_key[key_rate == 0] = -1

    def pack(rows, cols):
        start = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
        flat = [e for r in rows for e in r]
        arrays = [np.array([e[c] for e in flat], dtype=dt) for c, dt in cols]
        return (start, *arrays)

    single = pack(singles, [(0, np.float64), (1, np.int8), (2, np.int64)])
    pair = pack(pairs, [(0, np.float64), (1, np.int8), (2, np.int8), (3, np.int64), (4, np.int8)])
    procs = tuple((p.before, p.after, p.rate) for p in processes)
    return Tables(S, V, pow5.astype(np.int32), stride, bucket_of_key, bucket_rate, key_rate,
                  single, pair, tuple(p.name for p in processes), procs, reservoir)


def compile_model(model: Any, boundary: Reservoirs | None = None) -> Tables:
    """Process tables of ``model`` (anything with ``species`` and ``processes``)."""
    if boundary is not None and not isinstance(boundary, Reservoirs):
        raise TypeError(f"`boundary` must be None (periodic) or Reservoirs, got {type(boundary).__name__}")
    if boundary is not None and len(boundary.left) != len(model.species):
        raise OracleSetupError(f"Reservoirs: need {len(model.species)} coverages per side, got {len(boundary.left)}")
    return _compile(tuple(model.species), tuple(model.processes), boundary)


def initialise(lattice_shape: tuple[int, int], coverages: Any, rng: np.random.Generator, *,
               boundary: Reservoirs | None = None) -> np.ndarray:
    """Random lattice (int8, shape (n_rows, n_cols)) with coverages as close as
    the site count allows: round(theta_s N) sites of species s, placed at
    random. ``coverages`` lists species 1..S (in [0, 1], summing to <= 1).
    With ``boundary``, columns 0 and -1 are filled at the reservoir coverages
    (for display: the kernel treats them as the bath).
    """
    n_rows, n_cols = (int(n) for n in lattice_shape)
    if n_rows < 2 or n_cols < (5 if boundary else 2):
        raise OracleSetupError(f"initialise(): `lattice_shape` too small, got {lattice_shape}")
    cov = _checked_coverages(coverages, "initialise(): `coverages`")

    def fill(n: int, c: tuple[float, ...]) -> np.ndarray:
        numbers = np.floor(np.cumsum([0.0, *c]) * n + 0.5).astype(int)
        sites = np.zeros(n, dtype=np.int8)
        for s in range(len(c)):
            sites[numbers[s]:numbers[s + 1]] = s + 1
        return rng.permutation(sites)

    lattice = np.zeros((n_rows, n_cols), dtype=np.int8)
    if boundary is None:
        lattice[:] = fill(lattice.size, cov).reshape(lattice.shape)
    else:
        lattice[:, 1:-1] = fill(n_rows * (n_cols - 2), cov).reshape(n_rows, n_cols - 2)
        lattice[:, 0] = fill(n_rows, _checked_coverages(boundary.left, "Reservoirs.left", len(cov)))
        lattice[:, -1] = fill(n_rows, _checked_coverages(boundary.right, "Reservoirs.right", len(cov)))
    return lattice


class KMCRun(NamedTuple):
    """Result of :func:`simulate` (times in the model's time unit)."""

    lattice: np.ndarray          # final configuration
    time: float                  # physical time elapsed
    counts: dict[str, int]       # events per process
    record_times: np.ndarray     # (n_records,)
    record_coverages: np.ndarray  # (n_records, S): coverages of species 1..S at record_times
    mean_coverages: np.ndarray   # (S,): time average over the run
    boundary_flux: np.ndarray    # (2, S): net particles entering via left/right reservoir (hops)
    absorbed: bool               # total rate fell to zero (e.g. a poisoned ZGB lattice)


class KMCSystem:
    """A lattice and its BKL data structures, advanced in place by :meth:`advance`.

    Parameters
    ----------
    lattice : ndarray of int, shape (n_rows, n_cols)
        Species per site (0 = empty); copied.
    model
        Object with ``species`` and ``processes`` (e.g. :class:`ZGB`).
    boundary : Reservoirs or None
        ``None``: periodic; :class:`Reservoirs`: columns 0 and -1 are baths.
    """

    def __init__(self, lattice: np.ndarray, model: Any, boundary: Reservoirs | None = None) -> None:
        tab = compile_model(model, boundary)
        lat = np.asarray(lattice)
        if lat.ndim != 2 or lat.shape[0] < 2 or lat.shape[1] < (5 if boundary else 2):
            raise OracleSetupError(f"KMCSystem: `lattice` must be 2-D and at least 2 x {5 if boundary else 2}, "
                             f"got shape {lat.shape}")
        if lat.min() < 0 or lat.max() > tab.n_species:
            raise OracleSetupError(f"KMCSystem: `lattice` values must be species 0..{tab.n_species}")
        self.model, self.boundary, self.tables = model, boundary, tab
        self.shape = lat.shape
        val = np.array(lat, dtype=np.int8)
        if boundary is not None:
            val[:, 0], val[:, -1] = tab.n_species + 1, tab.n_species + 2
        self._reservoir_columns = None if boundary is None else (lat[:, 0].copy(), lat[:, -1].copy())
        self.val = val.ravel()
        n = self.val.size
        key_bits = max(1, int(tab.key_rate.size - 1).bit_length())
        fits = key_bits + int(n).bit_length() <= 31
        self.site = np.zeros(n, dtype=np.int32 if fits else np.int64)  # pos << key_bits | key
        self._key_bits = key_bits
        self.members = np.empty((max(1, tab.bucket_rate.size), n), dtype=np.int32)
        self.bcount = np.zeros(tab.bucket_rate.size, dtype=np.int64)
        self.scount = np.zeros(tab.n_species + 1, dtype=np.int64)
        build_state(self.val, self.site, self.members, self.bcount, self.scount, tab.pow5,
                    tab.key_stride, key_bits, tab.bucket_of_key, *self.shape, tab.n_species)
        self.time = 0.0

    @property
    def n_sites(self) -> int:
        """Interior (simulated) sites."""
        return int(self.scount.sum())

    @property
    def coverages(self) -> np.ndarray:
        """Current coverages of species 1..S over the interior sites."""
        return self.scount[1:] / self.n_sites

    @property
    def total_rate(self) -> float:
        return float(np.dot(self.bcount, self.tables.bucket_rate))

    def lattice(self) -> np.ndarray:
        """The configuration as an (n_rows, n_cols) int8 array (reservoir columns as lifted)."""
        out = self.val.reshape(self.shape).copy()
        if self._reservoir_columns is not None:
            out[:, 0], out[:, -1] = self._reservoir_columns
        return out

    def advance(self, *, t_burst: float | None = None, n_events: int | None = None, seed: int = 0,
                n_records: int = 0) -> KMCRun:
        """Run until physical time ``t_burst`` has passed or ``n_events`` events
        happened (whichever first; at least one must be given), with
        ``n_records`` coverage records evenly spaced over ``t_burst``.
        ``seed`` (int, any size) seeds this call's random numbers."""
        if t_burst is None and n_events is None:
            raise OracleSetupError("advance(): give `t_burst` or `n_events`")
        if t_burst is not None and not (math.isfinite(t_burst) and t_burst >= 0):
            raise OracleSetupError(f"advance(): `t_burst` must be a finite time >= 0, got {t_burst}")
        if n_events is not None and (isinstance(n_events, bool) or int(n_events) != n_events or n_events < 0):
            raise OracleSetupError(f"advance(): `n_events` must be an int >= 0, got {n_events!r}")
        if n_records and t_burst is None:
            raise OracleSetupError("advance(): records need `t_burst`")
        tab = self.tables
        S = tab.n_species
        t_end = math.inf if t_burst is None else float(t_burst)
        max_events = np.iinfo(np.int64).max if n_events is None else int(n_events)
        records = np.zeros((int(n_records), S + 1))
        integral = np.zeros(S + 1)
        counts = np.zeros(len(tab.names), dtype=np.int64)
        bflux = np.zeros((2, S + 1), dtype=np.int64)
        kernel_seed = np.random.SeedSequence(seed).generate_state(1, np.uint64)[0]
        events, elapsed, n_rec, absorbed = run_events(
            self.val, self.site, self.members, self.bcount, self.scount,
            tab.pow5, tab.key_stride, self._key_bits, tab.bucket_of_key, tab.bucket_rate, tab.key_rate,
            *tab.single, *tab.pair, *self.shape, S, kernel_seed, max_events, t_end,
            (t_end / n_records) if n_records else 1.0, records, integral, counts, bflux)
        self.time += elapsed
        mean = integral[1:] / (elapsed * self.n_sites) if elapsed > 0 else self.coverages.copy()
        times = (np.arange(1, n_rec + 1) * t_end / n_records) if n_records else np.zeros(0)
        return KMCRun(self.lattice(), float(elapsed), dict(zip(tab.names, counts.tolist())), times,
                      records[:n_rec, 1:], mean, bflux[:, 1:], bool(absorbed))


def simulate(lattice: np.ndarray, model: Any, *, t_burst: float | None = None,
             n_events: int | None = None, seed: int = 0, boundary: Reservoirs | None = None,
             n_records: int = 0) -> KMCRun:
    """Run BKL KMC from ``lattice`` for a physical time ``t_burst`` or ``n_events``
    events; returns a :class:`KMCRun` (the input lattice is not modified)."""
    return KMCSystem(lattice, model, boundary).advance(t_burst=t_burst, n_events=n_events, seed=seed,
                                                          n_records=n_records)


KMCSimulation = KMCSystem  # the name before the redesign


__all__ = ["KMCSystem", "KMCSimulation", "KMCRun", "Tables", "compile_model", "initialise", "simulate"]
