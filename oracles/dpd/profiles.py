"""Binned velocity profiles of the walled DPD channel and their fits (DPD units: rc, kT, bead mass 1).

:func:`sample_chunks` samples a :class:`~oracles.dpd.ChannelSystem` chunk by
chunk (binned u_x, kT and bead counts, and the shear stress the fluid exerts
on each wall); :func:`steady_profile` and :func:`startup_profiles` turn runs
into ``xarray`` datasets with standard errors (the block rule and replica
idiom of :mod:`oracles._sampling`); :func:`fit_parabola` fits the steady
profile with the Poiseuille closed forms of :mod:`oracles.dpd.reference`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import numpy as np

from hmm.contract import OracleSetupError

from .._sampling import block_estimate, pooled_blocks, replica_rngs
from .reference import parabola_slip_length, poiseuille

if TYPE_CHECKING:
    from .channel import ChannelSystem, WalledChannel

PROFILE_CHUNK = 1.0  # DPD time units of each profile sample of the block-averaged series


def _bin_fields(profile: np.ndarray) -> np.ndarray:
    """(u_x, kT, count) per bin from summed accumulators (kT from the bin's
    velocity variance about its mean in this chunk)."""
    count = np.maximum(profile[:, 0], 1.0)
    u = profile[:, 1] / count
    kt = (profile[:, 2] / count - u**2 + (profile[:, 3] + profile[:, 4]) / count) / 3.0
    return np.column_stack([u, kt, profile[:, 0]])


def sample_chunks(system: ChannelSystem, chunk: int, n_chunks: int, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Advance ``n_chunks`` chunks of ``chunk`` steps, sampling every step.

    Returns the binned fields of every chunk, (n_chunks, bins, [u_x, kT,
    count]) as :func:`_bin_fields`, and the shear stress at the two wall
    planes over every chunk, (n_chunks, [tau at y' = 0, tau at y' = H])
    (the force of the fluid on the lower wall per area, minus that on the
    upper wall)."""
    series, wall = [], []
    area = system.channel.wall_area
    for _ in range(n_chunks):
        before = system.wall_x.copy()
        series.append(_bin_fields(system.advance(chunk, sample_every=1, profile_bins=bins)[1]))
        wall.append((system.wall_x - before) * [1.0, -1.0] / (chunk * area))
    return np.array(series), np.array(wall)


def steady_profile(channel: WalledChannel, *, bins: int = 20, time_eq: float = 100.0, time_sample: float = 400.0,
                   blocks: int = 10, seed: int = 0):
    """Time-averaged steady profile of the walled channel as an ``xarray.Dataset``.

    The run is equilibrated for ``time_eq`` (DPD time units; it must cover a
    few momentum diffusion times rho H^2 / (pi^2 eta)), then sampled every step
    for ``time_sample`` in chunks of ``PROFILE_CHUNK``; the chunk profiles
    are block averaged (``blocks``) for the stderr. Variables over ``y``
    (distance from the lower wall plane, rc): ``u`` and ``u_stderr``
    (rc / time), ``kT`` and ``kT_stderr``, ``density`` (beads / rc^3);
    ``chunk_u`` (chunk, y) holds the profile of every chunk for fits;
    ``wall_stress`` (wall: lower, upper) the shear stress at the two wall
    planes from the wall forces (momentum balance: tau(0) - tau(H) = rho g H
    in the steady state). Attrs: wall seconds, steps, beads, bounces and leaks.
    """
    import xarray as xr

    start = time.perf_counter()
    dt = channel.fluid.dt
    system = channel.system(seed=seed)
    system.advance(int(round(time_eq / dt)))
    chunk = max(int(round(PROFILE_CHUNK / dt)), 1)
    n_chunks = max(int(round(time_sample / (chunk * dt))), 2 * blocks)
    series, wall = sample_chunks(system, chunk, n_chunks, bins)
    mean, stderr, _ = block_estimate([series.reshape(n_chunks, -1)], blocks)
    mean, stderr = mean.reshape(bins, 3), stderr.reshape(bins, 3)
    wall_mean, wall_se, _ = block_estimate([wall], blocks)
    h = channel.width
    y = (np.arange(bins) + 0.5) * h / bins
    bin_volume = channel.length * channel.depth * h / bins
    wall_s = time.perf_counter() - start
    return xr.Dataset(
        {"u": ("y", mean[:, 0], {"units": "rc/tau", "long_name": "mean x velocity"}),
         "u_stderr": ("y", stderr[:, 0], {"units": "rc/tau"}),
         "kT": ("y", mean[:, 1], {"units": "kT", "long_name": "kinetic temperature about the local mean flow"}),
         "kT_stderr": ("y", stderr[:, 1], {"units": "kT"}),
         "density": ("y", mean[:, 2] / (chunk * bin_volume), {"units": "1/rc^3"}),
         "chunk_u": (("chunk", "y"), series[:, :, 0], {"units": "rc/tau", "long_name": "u per chunk"}),
         "wall_stress": ("wall", wall_mean, {"units": "kT/rc^3", "long_name": (
             "shear stress tau_xy at the wall planes from the force of the fluid on each wall (pair forces "
             "plus bounce-back impulses) per area; tau = eta du/dy for a Newtonian fluid")}),
         "wall_stress_stderr": ("wall", wall_se, {"units": "kT/rc^3"}),
         "chunk_wall_stress": (("chunk", "wall"), wall, {"units": "kT/rc^3"})},
        coords={"y": ("y", y, {"units": "rc", "long_name": "distance from the lower wall plane"}),
                "wall": ("wall", ["lower", "upper"])},
        attrs={"width": h, "body_force": system.body_force, "force_density": channel.force_density,
               "n_fluid": system.n_fluid, "n_beads": system.n, "steps": system.step, "wall_s": wall_s,
               "bounces": system.bounces, "leaks": system.leaks, "seed": seed, "time_eq": time_eq,
               "wall_speed": channel.wall_speed,
               "time_sample": n_chunks * chunk * dt, "blocks": blocks})


def startup_profiles(channel: WalledChannel, times, *, window: float = 2.0, replicas: int = 8, bins: int = 20,
                     time_eq: float = 20.0, seed: int = 0):
    """Start-up from rest: mean profiles u(t, y) over ``replicas`` independent runs.

    Each replica is equilibrated at rest (body force off) for ``time_eq``;
    at t = 0 the body force is switched on and the profile is averaged over
    ``[t - window / 2, t + window / 2]`` around each of ``times`` (sorted,
    >= window / 2). Returns a Dataset (time, y) of ``u`` and ``u_stderr``
    (spread of the replicas) with the wall seconds in its attrs.
    """
    import xarray as xr

    start = time.perf_counter()
    times = np.asarray(sorted(float(t) for t in times))
    dt = channel.fluid.dt
    half = int(round(0.5 * window / dt))
    if half < 1 or times[0] < half * dt:
        raise OracleSetupError(f"startup_profiles(): every time must be >= window / 2 = {half * dt} and window >= 2 dt")
    out = np.zeros((replicas, len(times), bins))
    steps = 0
    for r, rng in enumerate(replica_rngs(seed, replicas)):
        system = channel.system(seed=int(rng.integers(2**63)))
        system.body_force = 0.0
        system.advance(int(round(time_eq / dt)))
        system.body_force = channel.body_force
        done = 0
        for k, t in enumerate(times):
            first = int(round(t / dt)) - half
            system.advance(first - done)
            _, prof = system.advance(2 * half, sample_every=1, profile_bins=bins)
            done = first + 2 * half
            out[r, k] = _bin_fields(prof)[:, 0]
        steps += system.step
    mean, se = pooled_blocks(out.reshape(replicas, -1))
    y = (np.arange(bins) + 0.5) * channel.width / bins
    return xr.Dataset(
        {"u": (("time", "y"), mean.reshape(len(times), bins), {"units": "rc/tau"}),
         "u_stderr": (("time", "y"), se.reshape(len(times), bins), {"units": "rc/tau"})},
        coords={"time": ("time", times, {"units": "tau"}), "y": ("y", y, {"units": "rc"})},
        attrs={"replicas": replicas, "window": 2 * half * dt, "steps": steps, "wall_s": time.perf_counter() - start,
               "force_density": channel.force_density})


def fit_parabola(profile, force_density: float, *, exclude: float = 1.0):
    """Fit u = c0 + c1 y + c2 y^2 to the block means of a :func:`steady_profile`
    (bins closer than ``exclude`` rc to a wall left out: the density dips
    there). Returns dict of (mean, stderr) for ``eta`` = -rho g / (2 c2)
    (viscosity from the curvature, independent of slip), ``delta`` (mean
    distance of the two zeros of the parabola beyond the wall planes: the
    effective no-slip planes sit at y = -delta and H + delta) and
    ``slip_length`` (the Navier slip length u / (du/dn) of the parabola at the
    wall planes, mean of both walls; for the Newtonian profile with Navier
    slip l, delta (H + delta) = l H). The stderr is the spread of the fits
    to the ``blocks`` block means (the block rule of
    :func:`oracles._sampling.block_stats` applied to the fitted numbers)."""
    y = profile["y"].values
    h = float(profile.attrs["width"])
    keep = (y > exclude) & (y < h - exclude)
    design = np.column_stack([np.ones(keep.sum()), y[keep], y[keep] ** 2])
    chunks = profile["chunk_u"].values[:, keep]
    blocks = int(profile.attrs["blocks"])
    per = len(chunks) // blocks
    means = chunks[len(chunks) - blocks * per:].reshape(blocks, per, -1).mean(axis=1)
    c0, c1, c2 = np.linalg.lstsq(design, means.T, rcond=None)[0]
    disc = np.sqrt(np.maximum(c1 * c1 - 4 * c2 * c0, 0.0))
    lo, hi = (-c1 + disc) / (2 * c2), (-c1 - disc) / (2 * c2)  # c2 < 0: lo < hi
    navier = parabola_slip_length(c0, c1, c2, h)  # u / (du/dn) of the bulk parabola, mean of both walls
    mean, se = pooled_blocks(np.column_stack([-force_density / (2 * c2), 0.5 * (hi - lo - h), navier]))
    return {"eta": (float(mean[0]), float(se[0])), "delta": (float(mean[1]), float(se[1])),
            "slip_length": (float(mean[2]), float(se[2]))}


parabola = poiseuille  # Newtonian Poiseuille u(y) = f (y + delta)(H + delta - y) / (2 eta), f = rho g


__all__ = ["sample_chunks", "steady_profile", "startup_profiles", "fit_parabola", "parabola", "PROFILE_CHUNK"]
