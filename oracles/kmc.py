r"""Rejection-free lattice kinetic Monte Carlo (BKL / n-fold way) of surface reactions.

Species 1..S (0 = empty) sit on the sites of a square lattice of
``n_rows x n_cols`` sites (lattice constant a = 1), periodic along the rows;
along the columns either periodic or closed by two **reservoir columns**
(column 0 and column ``n_cols - 1``) that act as a particle bath of fixed
coverages. A model is a list of processes, each a Markov transition with a
rate (time unit: 1 / the model's reference rate, e.g. one Monte Carlo sweep
for ZGB):

* single-site ``(a,) -> (a',)`` with ``rate`` per site holding a
  (adsorption ``0 -> A``, desorption ``A -> 0``);
* pair ``(a, b) -> (a', b')`` with ``rate`` per **ordered** nearest-neighbour
  pair (per direction: a site holding a has 4 directions), e.g. hopping
  ``(A, 0) -> (0, A)`` with rate k per direction, dissociative adsorption
  ``(0, 0) -> (B, B)``, reaction ``(A, B) -> (0, 0)``. A symmetric pair
  (a == b) is thus counted from both ends: 2 x rate per unordered pair.

Across a reservoir bond the neighbour holds species s with the reservoir's
probability theta_s (drawn afresh for every event: an annealed bath); the
interior site owns both orientations and only it changes. With hopping this
gives exchange rates k theta_s (in) and k theta_0 (out): the boundary column
relaxes to the reservoir coverage.

The time-step is exact: the waiting time is exponential with the total rate
R, -ln(u) / R. Hopping with rate k per direction gives the tracer diffusion
coefficient D = k a^2 of a dilute particle (MSD = 4 D t in 2D).

Mean-field limit (fast mixing): d theta/dt from the same process list,
single rates k theta_a, pair rates 4 k theta_a theta_b per site
(:func:`mean_field_rhs`).

API: models :class:`Langmuir`, :class:`LatticeGas`, :class:`ZGB`,
:class:`BistableAB`, :class:`SurfaceModel` (of :class:`Process` es);
boundaries ``None`` (periodic) or :class:`Reservoirs`; functions
:func:`initialise` (lift to coverages), :func:`simulate` (a burst of time or
events, returns a :class:`KMCRun`), :class:`KMCSimulation` (a lattice
advanced in place); the oracle :class:`LatticeKMC` (also offering
``lift``/``micro``/``restrict`` for :mod:`hmm.ef`). Kernels and the slow
reference are in :mod:`oracles._kmc_kernels`.
"""

from __future__ import annotations

import math
import time as _time
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any, NamedTuple

import numpy as np

from hmm.budget import Budget
from hmm.estimate import Estimate

from ._kmc_kernels import build_state, run_events

MAX_SPECIES = 4


@dataclass(frozen=True)
class Process:
    """One elementary process: ``before -> after`` with ``rate`` (1/time).

    ``before``/``after`` are 1-tuples (one site; rate per site) or 2-tuples
    (an ordered nearest-neighbour pair; rate per direction) of species
    indices (0 = empty).
    """

    name: str
    before: tuple[int, ...]
    after: tuple[int, ...]
    rate: float

    def __post_init__(self) -> None:
        if len(self.before) not in (1, 2) or len(self.after) != len(self.before):
            raise ValueError(f"Process {self.name!r}: `before`/`after` must both be 1- or 2-tuples")
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise ValueError(f"Process {self.name!r}: `rate` must be a finite number >= 0, got {self.rate}")


def _check_rates(owner: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(owner, name)
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise ValueError(f"{type(owner).__name__}: `{name}` must be a finite rate >= 0, got {value!r}")


@dataclass(frozen=True)
class SurfaceModel:
    """A general model: ``species`` names (species 1..S) and ``processes``."""

    species: tuple[str, ...]
    processes: tuple[Process, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.species) <= MAX_SPECIES:
            raise ValueError(f"SurfaceModel: `species` must name 1..{MAX_SPECIES} species, got {self.species}")
        for p in self.processes:
            if not all(0 <= s <= len(self.species) for s in p.before + p.after):
                raise ValueError(f"SurfaceModel: process {p.name!r} uses a species outside 0..{len(self.species)}")


@dataclass(frozen=True)
class Langmuir:
    """A adsorbs (``k_ads`` per empty site) and desorbs (``k_des`` per A):
    theta = K / (1 + K), K = k_ads / k_des."""

    k_ads: float = 1.0
    k_des: float = 1.0
    species = ("A",)

    def __post_init__(self) -> None:
        _check_rates(self, ("k_ads", "k_des"))

    @property
    def processes(self) -> tuple[Process, ...]:
        return (Process("ads_A", (0,), (1,), self.k_ads), Process("des_A", (1,), (0,), self.k_des))


@dataclass(frozen=True)
class LatticeGas(Langmuir):
    """Langmuir plus hopping of A to an empty neighbour, ``k_hop`` per direction (D = k_hop a^2)."""

    k_hop: float = 1.0

    def __post_init__(self) -> None:
        _check_rates(self, ("k_ads", "k_des", "k_hop"))

    @property
    def processes(self) -> tuple[Process, ...]:
        return super().processes + (Process("hop_A", (1, 0), (0, 1), self.k_hop),)


@dataclass(frozen=True)
class ZGB:
    """Ziff-Gulari-Barshad CO oxidation (PRL 56, 2553, 1986); time unit one sweep.

    CO adsorbs on an empty site with rate ``y``; O2 on an empty neighbour pair
    with rate (1 - y) / 4 per direction (one trial per site per sweep picks a
    random direction); a CO next to an O reacts to CO2 (leaving two empty
    sites) with rate ``k_reaction`` per CO-O bond. ZGB's reaction is
    instantaneous; here it is a large finite rate (default 1e3 per sweep, so
    a CO-O pair lives ~1e-3 sweeps, far below the adsorption time).
    """

    y: float = 0.5
    k_reaction: float = 1.0e3
    species = ("CO", "O")

    def __post_init__(self) -> None:
        _check_rates(self, ("y", "k_reaction"))
        if self.y > 1:
            raise ValueError(f"ZGB: `y` (CO fraction) must be in [0, 1], got {self.y}")

    @property
    def processes(self) -> tuple[Process, ...]:
        return (Process("ads_CO", (0,), (1,), self.y),
                Process("ads_O2", (0, 0), (2, 2), (1.0 - self.y) / 4.0),
                Process("CO2", (1, 2), (0, 0), self.k_reaction))


@dataclass(frozen=True)
class BistableAB:
    r"""A + B2 surface reaction with A desorption (Makeev, Maroudas & Kevrekidis,
    J. Chem. Phys. 116, 10083, 2002). Mean field:

    d theta_A/dt = alpha theta_0 - gamma theta_A - 4 k_r theta_A theta_B,
    d theta_B/dt = 2 beta theta_0^2 - 4 k_r theta_A theta_B,

    bistable in ``beta`` for alpha = 1.6, gamma = 0.04, k_r = 1. Both species
    hop (``k_hop`` per direction) to bring the lattice to the mean field.
    B2 adsorbs with rate beta / 4 per ordered empty pair (2 beta theta_0^2 B
    per site in the mean field).
    """

    alpha: float = 1.6
    beta: float = 5.0
    gamma: float = 0.04
    k_reaction: float = 1.0
    k_hop: float = 0.0
    species = ("A", "B")

    def __post_init__(self) -> None:
        _check_rates(self, ("alpha", "beta", "gamma", "k_reaction", "k_hop"))

    @property
    def processes(self) -> tuple[Process, ...]:
        return (Process("ads_A", (0,), (1,), self.alpha), Process("des_A", (1,), (0,), self.gamma),
                Process("ads_B2", (0, 0), (2, 2), self.beta / 4.0),
                Process("AB", (1, 2), (0, 0), self.k_reaction),
                Process("hop_A", (1, 0), (0, 1), self.k_hop), Process("hop_B", (2, 0), (0, 2), self.k_hop))


@dataclass(frozen=True)
class Reservoirs:
    """Reservoir columns: ``left``/``right`` coverages of species 1..S."""

    left: tuple[float, ...]
    right: tuple[float, ...]

    def __post_init__(self) -> None:
        for name in ("left", "right"):
            object.__setattr__(self, name, _checked_coverages(getattr(self, name), f"Reservoirs.{name}"))


def _checked_coverages(coverages: Any, what: str, n_species: int | None = None) -> tuple[float, ...]:
    cov = tuple(float(c) for c in np.atleast_1d(np.asarray(coverages, dtype=float)))
    if n_species is not None and len(cov) != n_species:
        raise ValueError(f"{what}: need {n_species} coverages (species 1..{n_species}), got {len(cov)}")
    if not all(math.isfinite(c) and 0.0 <= c <= 1.0 for c in cov):
        raise ValueError(f"{what}: coverages must lie in [0, 1], got {cov}")
    if sum(cov) > 1.0 + 1e-12:
        raise ValueError(f"{what}: coverages must sum to <= 1, got sum {sum(cov):.6g}")
    return cov


class Tables(NamedTuple):
    """Compiled process tables of one (model, boundary): see :mod:`oracles._kmc_kernels`."""

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
        raise ValueError(f"Reservoirs: need {len(model.species)} coverages per side, got {len(boundary.left)}")
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
        raise ValueError(f"initialise(): `lattice_shape` too small, got {lattice_shape}")
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


class KMCSimulation:
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
            raise ValueError(f"KMCSimulation: `lattice` must be 2-D and at least 2 x {5 if boundary else 2}, "
                             f"got shape {lat.shape}")
        if lat.min() < 0 or lat.max() > tab.n_species:
            raise ValueError(f"KMCSimulation: `lattice` values must be species 0..{tab.n_species}")
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
            raise ValueError("advance(): give `t_burst` or `n_events`")
        if t_burst is not None and not (math.isfinite(t_burst) and t_burst >= 0):
            raise ValueError(f"advance(): `t_burst` must be a finite time >= 0, got {t_burst}")
        if n_events is not None and (isinstance(n_events, bool) or int(n_events) != n_events or n_events < 0):
            raise ValueError(f"advance(): `n_events` must be an int >= 0, got {n_events!r}")
        if n_records and t_burst is None:
            raise ValueError("advance(): records need `t_burst`")
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
    return KMCSimulation(lattice, model, boundary).advance(t_burst=t_burst, n_events=n_events, seed=seed,
                                                          n_records=n_records)


def mean_field_rhs(model: Any, coverages: Any) -> np.ndarray:
    """d theta/dt of species 1..S in the mean-field (well-mixed) limit:
    single processes at rate k theta_a, pair processes 4 k theta_a theta_b per site."""
    cov = np.asarray(coverages, dtype=float)
    theta = np.concatenate([[1.0 - cov.sum()], cov])
    rhs = np.zeros_like(theta)
    for p in model.processes:
        flux = p.rate * (theta[p.before[0]] if len(p.before) == 1 else 4.0 * theta[p.before[0]] * theta[p.before[1]])
        for a, b in zip(p.before, p.after):
            rhs[a] -= flux
            rhs[b] += flux
    return rhs[1:]


def model_parameters(model: Any) -> tuple[str, ...]:
    """Names of a model's float parameters (its dataclass fields)."""
    return tuple(f.name for f in fields(model) if f.type in ("float", float))


@dataclass(frozen=True)
class LatticeKMC:
    """Lattice KMC oracle: coverages, fluxes and coverage rates of a surface model.

    Each state column named in ``inputs`` is either a float parameter of
    ``model`` (e.g. ``"y"`` of :class:`ZGB`: the oracle runs at that
    parameter) or ``"coverage_<species>"`` (the lattice is lifted to that
    coverage, at random; species not listed start empty). One replica:
    lift, discard ``equilibration`` events, then ``n_blocks`` blocks of
    ``sampling / n_blocks`` events.

    Outputs (time unit of the model, per lattice site):
    ``coverage_<species>`` time-averaged coverages; ``flux_<process>``
    events of each process per site per unit time (e.g. ``flux_CO2`` is the
    ZGB production rate); ``dcoverage_<species>_dt`` = (coverage at the end
    - at the start of sampling) / elapsed time, the coarse time derivative
    (exactly the net of the fluxes). A lattice that falls into an absorbing
    state (total rate 0, e.g. poisoned ZGB) holds it for ever: its blocks
    report the absorbing coverages and zero fluxes.

    Errors: ``budget.replicas`` >= 2 gives the stderr from the spread of
    independent replicas; with one replica it is the batch-means stderr over
    the ``n_blocks`` blocks (blocks must be longer than the correlation time).
    Budget: ``equilibration_steps``/``sampling_steps`` count KMC events per
    replica; 0 means the defaults ``equilibration_sweeps``/``sampling_sweeps``
    times the number of sites (None: 100 and 100 sweeps at a fixed
    parameter, 0 and 0.1 sweep when lifting to coverages: a short burst at
    the lifted state, whose coarse derivative for a random lift is, in
    expectation, the mean-field right-hand side). ``max_wall_s`` ends sampling after the block that reaches
    it (fewer blocks, honest stderr; then not bitwise reproducible).
    ``target_stderr`` is not used.

    Parameters
    ----------
    model
        Surface model (:class:`ZGB`, :class:`BistableAB`, :class:`LatticeGas`,
        :class:`Langmuir` or a :class:`SurfaceModel`).
    inputs : tuple of str
        State columns (see above).
    shape : (int, int)
        Lattice rows x columns (columns include the two reservoir columns
        when ``boundary`` is given).
    boundary : Reservoirs or None
        Periodic (None) or reservoir columns.
    n_blocks : int
        Blocks per replica (>= 2).
    equilibration_sweeps, sampling_sweeps : float or None
        Default budgets in events per site (see above).
    """

    model: Any = ZGB()
    inputs: tuple[str, ...] = ("y",)
    shape: tuple[int, int] = (64, 64)
    boundary: Reservoirs | None = None
    n_blocks: int = 8
    equilibration_sweeps: float | None = None
    sampling_sweeps: float | None = None

    def __post_init__(self) -> None:
        species = getattr(self.model, "species", None)
        if species is None or not hasattr(self.model, "processes"):
            raise TypeError("LatticeKMC: `model` must have `species` and `processes` (e.g. ZGB())")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        params = model_parameters(self.model)
        allowed = params + tuple(f"coverage_{sp}" for sp in species)
        for name in self.inputs:
            if name not in allowed:
                raise ValueError(f"LatticeKMC: input {name!r} is neither a parameter of "
                                 f"{type(self.model).__name__} {params} nor a coverage {allowed[len(params):]}")
        if len(set(self.inputs)) != len(self.inputs):
            raise ValueError(f"LatticeKMC: `inputs` has duplicates: {self.inputs}")
        if len(self.shape) != 2 or self.shape[0] < 2 or self.shape[1] < (5 if self.boundary else 2):
            raise ValueError(f"LatticeKMC: `shape` must be (rows, cols) >= (2, {5 if self.boundary else 2}), "
                             f"got {self.shape}")
        if self.boundary is not None:
            compile_model(self.model, self.boundary)  # checks the reservoir coverages
        if isinstance(self.n_blocks, bool) or not isinstance(self.n_blocks, int) or self.n_blocks < 2:
            raise ValueError(f"LatticeKMC: `n_blocks` must be an int >= 2, got {self.n_blocks!r}")
        for name in ("equilibration_sweeps", "sampling_sweeps"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise ValueError(f"LatticeKMC: `{name}` must be None or a number >= 0, got {v!r}")

    # -- names -------------------------------------------------------------------------
    @property
    def coverage_inputs(self) -> tuple[str, ...]:
        return tuple(n for n in self.inputs if n.startswith("coverage_"))

    @property
    def parameter_inputs(self) -> tuple[str, ...]:
        return tuple(n for n in self.inputs if not n.startswith("coverage_"))

    @property
    def outputs(self) -> tuple[str, ...]:
        sp, procs = self.model.species, self.model.processes
        return (tuple(f"coverage_{s}" for s in sp) + tuple(f"flux_{p.name}" for p in procs)
                + tuple(f"dcoverage_{s}_dt" for s in sp))

    def _split(self, state: Any) -> tuple[Any, tuple[float, ...]]:
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (len(self.inputs),):
            raise ValueError(f"LatticeKMC.run(): `state` must hold {len(self.inputs)} values {self.inputs}, "
                             f"got shape {state.shape}")
        values = dict(zip(self.inputs, state.tolist()))
        model = replace(self.model, **{n: values[n] for n in self.parameter_inputs}) \
            if self.parameter_inputs else self.model
        cov = tuple(values.get(f"coverage_{s}", 0.0) for s in self.model.species)
        return model, _checked_coverages(cov, f"LatticeKMC lift ({self.coverage_inputs})")

    # -- coarse time-stepper pieces (hmm.ef): coarse = coverage inputs, params = the rest
    def lift(self, coarse: Any, params: Any, rng: np.random.Generator) -> np.ndarray:
        """A random lattice at the coverages ``coarse`` (in ``coverage_inputs`` order)."""
        state = self._state_from(coarse, params)
        return initialise(self.shape, self._split(state)[1], rng, boundary=self.boundary)

    def micro(self, lattice: np.ndarray, params: Any, duration: float, rng: np.random.Generator) -> np.ndarray:
        """The lattice after a burst of physical time ``duration``."""
        model = self._split(self._state_from(np.zeros(len(self.coverage_inputs)), params))[0]
        return simulate(lattice, model, t_burst=float(duration), boundary=self.boundary,
                        seed=int(rng.integers(2**63))).lattice

    def restrict(self, lattice: np.ndarray) -> np.ndarray:
        """Coverages of the ``coverage_inputs`` species over the simulated sites."""
        inner = lattice[:, 1:-1] if self.boundary is not None else lattice
        species = [self.model.species.index(n[len("coverage_"):]) + 1 for n in self.coverage_inputs]
        return np.array([np.mean(inner == s) for s in species])

    def _state_from(self, coarse: Any, params: Any) -> np.ndarray:
        values = dict(zip(self.coverage_inputs, np.atleast_1d(coarse).tolist()))
        values.update(zip(self.parameter_inputs, np.atleast_1d(params).tolist()))
        return np.array([values[n] for n in self.inputs], dtype=float)

    # -- the oracle ----------------------------------------------------------------------
    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = _time.perf_counter()
        model, cov = self._split(state)
        n_sites = self.shape[0] * (self.shape[1] - (2 if self.boundary else 0))
        burst = bool(self.coverage_inputs)
        eq_sweeps = self.equilibration_sweeps if self.equilibration_sweeps is not None else (0.0 if burst else 100.0)
        sa_sweeps = self.sampling_sweeps if self.sampling_sweeps is not None else (0.1 if burst else 100.0)
        n_eq = budget.equilibration_steps or int(round(eq_sweeps * n_sites))
        n_block = max(1, (budget.sampling_steps or int(round(sa_sweeps * n_sites))) // self.n_blocks)
        S, P = len(model.species), len(model.processes)
        replica_means, block_means = [], []
        events, physical_time, absorbed, truncated = 0, 0.0, 0, False
        for child in np.random.SeedSequence(seed).spawn(budget.replicas):
            rng = np.random.default_rng(child)
            sim = KMCSimulation(initialise(self.shape, cov, rng, boundary=self.boundary), model, self.boundary)
            seeds = rng.integers(2**63, size=self.n_blocks + 1)
            done = sim.total_rate == 0
            if n_eq and not done:
                run = sim.advance(n_events=n_eq, seed=int(seeds[0]))
                done, events = run.absorbed, events + sum(run.counts.values())
            blocks, t_sum, integral, counts = [], 0.0, np.zeros(S), np.zeros(P)
            first = sim.coverages.copy()
            for k in range(self.n_blocks):
                before = sim.coverages.copy()
                if done:
                    blocks.append(np.concatenate([before, np.zeros(P + S)]))
                    continue
                run = sim.advance(n_events=n_block, seed=int(seeds[k + 1]))
                block_counts = np.array(list(run.counts.values()), dtype=float)
                events += int(block_counts.sum())
                if run.absorbed or run.time <= 0:
                    done = True
                    blocks.append(np.concatenate([sim.coverages, np.zeros(P + S)]))
                else:
                    t_sum += run.time
                    integral += run.mean_coverages * run.time
                    counts += block_counts
                    blocks.append(np.concatenate([run.mean_coverages, block_counts / (n_sites * run.time),
                                                  (sim.coverages - before) / run.time]))
                if budget.max_wall_s is not None and _time.perf_counter() - start > budget.max_wall_s:
                    truncated = True
                    break
            absorbed += int(done)
            physical_time += t_sum
            block_means.append(np.array(blocks))
            # the replica's answer: ratios of totals over the whole window (block ratios
            # are only for the batch-means stderr; their mean is biased for short blocks)
            if done:
                replica_means.append(np.concatenate([sim.coverages, np.zeros(P + S)]))
            else:
                replica_means.append(np.concatenate([integral / t_sum, counts / (n_sites * t_sum),
                                                     (sim.coverages - first) / t_sum]))
            if truncated:
                break
        values = np.array(replica_means)
        if len(values) >= 2:
            mean, stderr, n_eff = values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(len(values)), len(values)
        else:
            b = block_means[0]
            mean = values[0]
            stderr = b.std(axis=0, ddof=1) / math.sqrt(len(b)) if len(b) >= 2 else np.full(mean.shape, np.inf)
            n_eff = len(b)
        if not np.all(np.isfinite(mean)):
            raise RuntimeError(f"LatticeKMC: non-finite result at state {dict(zip(self.inputs, np.ravel(state)))}")
        return Estimate(mean, stderr, n_eff=float(n_eff), cost_s=_time.perf_counter() - start,
                        provenance={"events": events, "physical_time": physical_time, "n_sites": n_sites,
                                    "absorbed_replicas": absorbed, "truncated": truncated})
