r"""Surface models of the lattice KMC (:mod:`oracles.kmc`): processes, model classes, reservoirs.

A model is a list of :class:`Process` es (Markov transitions with a rate in
the model's time unit): single-site ``(a,) -> (a',)`` per site holding a, or
pair ``(a, b) -> (a', b')`` per ordered nearest-neighbour pair (per
direction). :class:`Langmuir`, :class:`LatticeGas`, :class:`ZGB` and
:class:`BistableAB` build theirs from named rates; :class:`SurfaceModel`
takes any list. :class:`Reservoirs` are the bath columns of a strip.
:func:`mean_field_rhs` is the well-mixed limit d theta/dt of a model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from numbers import Real
from types import MappingProxyType
from typing import Any

import numpy as np

from hmm.contract import OracleSetupError

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
            raise OracleSetupError(f"Process {self.name!r}: `before`/`after` must both be 1- or 2-tuples")
        if not (math.isfinite(self.rate) and self.rate >= 0):
            raise OracleSetupError(f"Process {self.name!r}: `rate` must be a finite number >= 0, got {self.rate}")


def _check_rates(owner: Any, names: tuple[str, ...]) -> None:
    for name in names:
        value = getattr(owner, name)
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"{type(owner).__name__}: `{name}` must be a finite rate >= 0, got {value!r}")
        if not (math.isfinite(value) and value >= 0):
            raise OracleSetupError(f"{type(owner).__name__}: `{name}` must be a finite rate >= 0, got {value!r}")


@dataclass(frozen=True)
class SurfaceModel:
    """A general model: ``species`` names (species 1..S) and ``processes``."""

    species: tuple[str, ...]
    processes: tuple[Process, ...]

    def __post_init__(self) -> None:
        if not 1 <= len(self.species) <= MAX_SPECIES:
            raise OracleSetupError(f"SurfaceModel: `species` must name 1..{MAX_SPECIES} species, got {self.species}")
        for p in self.processes:
            if not all(0 <= s <= len(self.species) for s in p.before + p.after):
                raise OracleSetupError(f"SurfaceModel: process {p.name!r} uses a species outside 0..{len(self.species)}")


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
    units = MappingProxyType({"y": "1"})  # CO mole fraction of the gas (per sweep also its adsorption rate)

    def __post_init__(self) -> None:
        _check_rates(self, ("y", "k_reaction"))
        if self.y > 1:
            raise OracleSetupError(f"ZGB: `y` (CO fraction) must be in [0, 1], got {self.y}")

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
        raise OracleSetupError(f"{what}: need {n_species} coverages (species 1..{n_species}), got {len(cov)}")
    if not all(math.isfinite(c) and 0.0 <= c <= 1.0 for c in cov):
        raise OracleSetupError(f"{what}: coverages must lie in [0, 1], got {cov}")
    if sum(cov) > 1.0 + 1e-12:
        raise OracleSetupError(f"{what}: coverages must sum to <= 1, got sum {sum(cov):.6g}")
    return cov


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
