r"""Near-wall micro model: the apparent slip of a DPD fluid at a frozen-bead wall.

A bulk closure (Lees-Edwards :class:`~oracles.dpd.DPD`) says nothing about
what happens within a few rc of a wall. For a polymer solution the chains are
depleted there (a chain cannot reach closer to a wall than about its radius of
gyration), so a thin, solvent-rich and strongly sheared layer lubricates the
flow: seen from the bulk, the fluid slips. This oracle measures that slip in
plane Couette flow, the simplest flow with a uniform shear stress.

Cell: the fluid between two frozen-bead walls a distance ``height`` apart
(:class:`~oracles.dpd.channel.WalledChannel`, same wall model as the direct
channel), the lower wall moving at -U/2 and the upper at +U/2 along x with
U = ``shear_rate`` x ``height`` (the query is this *nominal* shear rate). In
the bulk of the cell (bins more than ``exclude`` from both walls) the profile
is linear with slope gamma_b (the bulk shear rate); extrapolated to the wall
planes it misses the wall velocities by the slip velocity
u_s = (U - gamma_b H) / 2 (the same at both walls by symmetry), so the
Navier slip length is

.. math:: \ell = \frac{u_s}{\gamma_b} = \frac{H}{2}\Bigl(\frac{U}{\gamma_b H} - 1\Bigr),

the distance beyond each wall plane where the bulk profile extrapolates to
the wall velocity (Navier 1823; for a depletion layer of thickness d and
viscosity eta_s, ell = d (eta_b / eta_s - 1), de Gennes 1979 / Barnes 1995).
A macro model then uses u_wall = ell du/dy at the wall (see
``macro.DiffusionLaw(slip_length=...)``).

Outputs ``("slip_length", "bulk_shear_rate", "shear_stress", "temperature")``:
ell (rc), gamma_b (1/tau), the shear stress carried by the walls (kT / rc^3;
the mean of the two walls' force per area, uniform across a Couette cell, so
shear_stress / bulk_shear_rate is the bulk viscosity) and the kinetic
temperature of the bulk bins. Standard errors by block averaging of
per-chunk values (chunks of ``chunk_time``); the slip length's by the delta
method from the bulk rate's, d ell / d gamma_b = -U / (2 gamma_b^2).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from .._sampling import chunk_sizes, sample_replicas
from .._validate import check_int, check_positive
from .channel import WalledChannel
from .oracle import DPD
from .profiles import sample_chunks

DEFAULT_EQUILIBRATION = 2500  # steps (100 tau at dt = 0.04: a few momentum diffusion times of a 10 rc cell)
DEFAULT_SAMPLING = 10000
CHUNKS_PER_YIELD = 10  # profile chunks between two max_wall_s checks


@dataclass(frozen=True)
class DPDWallSlip:
    """Apparent Navier slip length of a DPD fluid at a frozen-bead wall, from a Couette cell.

    All quantities are in DPD units (rc, kT, bead mass 1).

    Parameters
    ----------
    fluid : DPD
        The fluid (its ``box`` is ignored).
    height : float
        H, wall plane to wall plane (rc); the bulk region [exclude, H - exclude]
        must hold at least 3 bins.
    length, depth : float
        Periodic edges of the cell along x and z (>= 4 rc; larger than a
        chain's extent for a polymer solution).
    wall_thickness, wall_type : float, int
        As :class:`~oracles.dpd.channel.WalledChannel`.
    exclude : float
        Distance from each wall plane within which bins are left out of the
        bulk fit (cover the depletion layer: ~2 radii of gyration).
    bins : int
        Profile bins across the cell.
    chunk_time : float
        DPD time of each profile sample of the block-averaged series.
    blocks : int
        Blocks per replica for the standard errors.

    Inputs ``("shear_rate",)``: the nominal shear rate U / H (1/tau), U the
    relative wall speed, ``|U| dt <= 0.5 rc``. Outputs ``("slip_length",
    "bulk_shear_rate", "shear_stress", "temperature")``. Budget: 0
    equilibration / sampling steps mean 2500 / 10000 (``default_budget``);
    replicas, block averaging and ``max_wall_s`` as in :mod:`oracles._sampling`
    (the samples are the chunks; ``target_stderr`` is not supported: the
    slip length is derived after sampling).
    At shear_rate 0 the slip length is undefined (0/0): the oracle raises.
    """

    fluid: DPD = field(default_factory=DPD)
    height: float = 10.0
    length: float = 8.0
    depth: float = 8.0
    wall_thickness: float = 1.0
    wall_type: int = 0
    exclude: float = 2.0
    bins: int = 20
    chunk_time: float = 1.0
    blocks: int = 10

    inputs = ("shear_rate",)
    outputs = ("slip_length", "bulk_shear_rate", "shear_stress", "temperature")
    units: ClassVar[Mapping[str, str]] = MappingProxyType({
        "shear_rate": "1/tau", "slip_length": "rc", "bulk_shear_rate": "1/tau", "shear_stress": "kT/rc^3",
        "temperature": "kT"})
    default_budget: ClassVar[Budget] = Budget(DEFAULT_EQUILIBRATION, DEFAULT_SAMPLING)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps", "replicas",
                                                    "max_wall_s"})

    def __post_init__(self) -> None:
        self.channel(0.0)  # validates fluid, sizes and wall parameters
        check_positive(self.exclude, "exclude", "DPDWallSlip", allow_zero=True)
        check_positive(self.chunk_time, "chunk_time", "DPDWallSlip")
        check_int(self.bins, "bins", "DPDWallSlip", minimum=2)
        check_int(self.blocks, "blocks", "DPDWallSlip", minimum=2)
        if self.bulk_bins.sum() < 3:
            raise OracleSetupError(f"DPDWallSlip: the bulk region [exclude, height - exclude] = [{self.exclude}, "
                             f"{self.height - self.exclude}] holds {self.bulk_bins.sum()} of {self.bins} bins; "
                             "at least 3 are needed for the bulk fit (lower `exclude` or raise `height`/`bins`)")

    @property
    def chunk_steps(self) -> int:
        """Steps per profile sample (``chunk_time`` / dt, at least 1)."""
        return max(int(round(self.chunk_time / self.fluid.dt)), 1)

    @property
    def bin_centres(self) -> np.ndarray:
        """y of the bin centres, from the lower wall plane (rc)."""
        return (np.arange(self.bins) + 0.5) * self.height / self.bins

    @property
    def bulk_bins(self) -> np.ndarray:
        """Mask of the bins in the bulk fit."""
        y = self.bin_centres
        return (y > self.exclude) & (y < self.height - self.exclude)

    def channel(self, shear_rate: float) -> WalledChannel:
        """The Couette cell at nominal rate ``shear_rate``."""
        if not math.isfinite(shear_rate):
            raise OracleSetupError(f"DPDWallSlip: `shear_rate` must be finite, got {shear_rate}")
        return WalledChannel(self.fluid, width=self.height, length=self.length, depth=self.depth,
                             wall_thickness=self.wall_thickness, wall_type=self.wall_type,
                             wall_speed=shear_rate * self.height)

    def _fit(self, series: np.ndarray, wall: np.ndarray) -> np.ndarray:
        """Per-chunk (bulk_shear_rate, shear_stress, temperature) from binned fields and wall stresses."""
        bulk = self.bulk_bins
        y = self.bin_centres[bulk]
        design = np.column_stack([np.ones_like(y), y])
        u, kt, count = series[:, bulk, 0], series[:, bulk, 1], series[:, bulk, 2]
        slope = np.linalg.lstsq(design, u.T, rcond=None)[0][1]  # one fit per chunk
        kt_bulk = np.sum(kt * count, axis=1) / np.maximum(count.sum(axis=1), 1.0)  # count-weighted per chunk
        return np.column_stack([slope, 0.5 * (wall[:, 0] + wall[:, 1]), kt_bulk])

    def replica_chunks(self, shear_rate: float, *, seed: int, equilibration_steps: int, sampling_steps: int):
        """One replica as a generator of per-chunk (bulk_shear_rate, shear_stress, temperature) rows,
        :data:`CHUNKS_PER_YIELD` chunks at a time (at least ``blocks`` chunks in all)."""
        system = self.channel(shear_rate).system(seed=seed)
        system.advance(int(equilibration_steps))
        n_chunks = max(int(sampling_steps) // self.chunk_steps, self.blocks)
        for group in chunk_sizes(n_chunks, CHUNKS_PER_YIELD):
            yield self._fit(*sample_chunks(system, self.chunk_steps, group, self.bins))

    def chunk_series(self, shear_rate: float, *, seed: int, equilibration_steps: int,
                     sampling_steps: int) -> np.ndarray:
        """One replica: per-chunk (bulk_shear_rate, shear_stress, temperature), shape (n_chunks, 3)."""
        return np.concatenate(list(self.replica_chunks(shear_rate, seed=seed, equilibration_steps=equilibration_steps,
                                                       sampling_steps=sampling_steps)))

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One Couette cell per replica at ``state = [shear_rate]``; the slip length from the
        pooled bulk shear rate (delta method for its stderr)."""
        start = time.perf_counter()
        name = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=name)
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (1,):
            raise OracleSetupError(f"DPDWallSlip.run(): `state` must be (shear_rate,), got shape {state.shape}")
        rate = float(state[0])
        if rate == 0.0:
            raise OracleSetupError("DPDWallSlip.run(): the slip length at `shear_rate` 0 is 0/0; query a nonzero rate")
        self.channel(rate)  # validates the wall speed before any work
        n_eq, n_sample = budget.equilibration_steps, budget.sampling_steps
        sampled = sample_replicas(
            lambda rng: self.replica_chunks(rate, seed=int(rng.integers(2**63)), equilibration_steps=n_eq,
                                            sampling_steps=n_sample), budget, seed, blocks=self.blocks, start=start,
            name=name)
        (bulk_rate, stress, kt), (rate_se, stress_se, kt_se) = sampled.stats.mean, sampled.stats.stderr
        if not np.isfinite([bulk_rate, stress, kt, rate_se]).all() or bulk_rate * rate <= 0:
            raise OracleRunError(f"DPDWallSlip at shear_rate={rate}: bulk shear rate {bulk_rate} has the wrong sign "
                                 "or is not finite (budget too small or the flow not developed)")
        wall_speed = rate * self.height
        slip = 0.5 * (wall_speed / bulk_rate - self.height)
        slip_se = 0.5 * abs(wall_speed) / bulk_rate**2 * rate_se
        steps = budget.replicas * n_eq + sum(sampled.samples) * self.chunk_steps
        est = sampled.estimate({"n_beads": round(self.fluid.density * self.length * self.depth
                                                 * (self.height + 2 * self.wall_thickness)), "steps": steps})
        return replace(est, mean=np.array([slip, bulk_rate, stress, kt]),
                       stderr=np.array([slip_se, rate_se, stress_se, kt_se]))
