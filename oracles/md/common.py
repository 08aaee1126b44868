"""Shared helpers of the MD oracles: constants, state validation, tail corrections,
block averages, mean squared displacement and the Einstein diffusion coefficient.

Reduced LJ units (sigma, epsilon, m, k_B = 1). Re-exported by :mod:`oracles.md`.
"""

from __future__ import annotations

import math

import numpy as np

from hmm.contract import OracleSetupError

from .._sampling import block_stats

OBSERVABLES = ("stress", "stress_yy", "stress_zz", "stress_xy", "pressure", "energy",
               "total_energy", "temperature")
DEFAULT_EQUILIBRATION_STEPS = 2000
DEFAULT_SAMPLING_STEPS = 10000
CHUNK_STEPS = 2000  # steps per sampling chunk (rounded to sample_every); budget checks happen between chunks


def check_samples(name: str, n_sampling: int, sample_every: int, blocks: int) -> int:
    """Samples of a replica, ``n_sampling // sample_every``; an OracleSetupError if fewer than ``blocks``."""
    n = n_sampling // sample_every
    if n < blocks:
        raise OracleSetupError(f"{name}.run(): budget.sampling_steps = {n_sampling} gives {n} samples at "
                               f"sample_every = {sample_every}, fewer than blocks = {blocks}")
    return n


def tail_corrections(density: float, cutoff: float) -> tuple[float, float]:
    """(energy per atom, pressure) of the LJ tail beyond ``cutoff`` with g(r) = 1."""
    ri3, ri9 = cutoff**-3, cutoff**-9
    return (8.0 / 3.0 * math.pi * density * (ri9 / 3.0 - ri3),
            16.0 / 3.0 * math.pi * density**2 * (2.0 * ri9 / 3.0 - ri3))


def parse_state(name: str, state) -> tuple[float, float]:
    """Validated (strain, temperature) from a state row; errors name the field."""
    state = np.asarray(state, dtype=float).reshape(-1)
    if state.shape != (2,):
        raise OracleSetupError(f"{name}.run(): `state` must be [strain, temperature], got shape {state.shape}")
    strain, temperature = float(state[0]), float(state[1])
    if not math.isfinite(strain) or strain <= -1.0:
        raise OracleSetupError(f"{name}.run(): `strain` must be > -1 (1 + strain is the stretch; "
                         f"<= -1 inverts the box), got {strain}")
    if not math.isfinite(temperature) or temperature < 0:
        raise OracleSetupError(f"{name}.run(): `temperature` must be >= 0, got {temperature}")
    return strain, temperature


def block_average(values: np.ndarray, blocks: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, block stderr and effective sample count (per column) of one correlated series.

    ``values`` (n_samples, k) is cut into ``blocks`` equal consecutive blocks
    (the first ``n mod blocks`` samples are dropped); the stderr is the
    standard deviation of the block means over sqrt(blocks), with
    ``blocks - 1`` degrees of freedom: the rule of :func:`oracles._sampling.block_stats`
    for one replica. n_eff = sample variance / stderr^2 per column.
    """
    values = np.asarray(values, dtype=float)
    values = values.reshape(len(values), -1)
    if len(values) < blocks:
        raise ValueError(f"block_average(): {len(values)} samples cannot make {blocks} blocks")
    columns = [block_stats([values[:, [k]]], blocks) for k in range(values.shape[1])]
    return (np.concatenate([c.mean for c in columns]), np.concatenate([c.stderr for c in columns]),
            np.array([c.n_eff for c in columns]))


def mean_squared_displacement(frames: np.ndarray, max_lag: int) -> np.ndarray:
    """MSD(lag) for lags 0..max_lag from unwrapped frames (n_frames, n, d),
    averaged over atoms and all time origins, centre-of-mass drift removed."""
    frames = np.asarray(frames, dtype=float)
    frames = frames - frames.mean(axis=1, keepdims=True)
    msd = np.zeros(max_lag + 1)
    for lag in range(1, max_lag + 1):  # a loop over lags; atoms and origins are vectorised
        msd[lag] = np.mean(np.sum((frames[lag:] - frames[:-lag]) ** 2, axis=-1))
    return msd


def diffusion_coefficient(frames: np.ndarray, frame_dt: float, *, blocks: int = 8,
                          fit_from: float = 0.3) -> tuple[float, float]:
    """Self-diffusion coefficient by the Einstein relation, MSD(t) ~ 2 d D t.

    The trajectory (n_frames, n, d) is cut into ``blocks`` consecutive
    segments; in each, D is the slope of MSD over lags from ``fit_from`` to 1
    times a quarter of the segment length, divided by 2 d. Returns the mean
    over blocks and its stderr (blocks are nearly independent when a segment
    is much longer than the velocity correlation time).
    """
    frames = np.asarray(frames, dtype=float)
    length = len(frames) // blocks
    max_lag = length // 4
    lo = max(1, int(fit_from * max_lag))
    if max_lag - lo < 2:
        raise ValueError(f"diffusion_coefficient(): {len(frames)} frames are too few for {blocks} blocks")
    lags = np.arange(lo, max_lag + 1) * frame_dt
    d = frames.shape[-1]
    slopes = [np.polyfit(lags, mean_squared_displacement(frames[b * length:(b + 1) * length], max_lag)[lo:], 1)[0]
              for b in range(blocks)]
    slopes = np.asarray(slopes) / (2 * d)
    return float(slopes.mean()), float(slopes.std(ddof=1) / math.sqrt(blocks))
