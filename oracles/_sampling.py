"""Statistics of correlated micro samples shared by the oracles: block averages and
the pooling of independent replicas."""

from __future__ import annotations

import math

import numpy as np


def _block_means(series: np.ndarray, blocks: int) -> np.ndarray:
    length = len(series) // blocks
    kept = series[len(series) - blocks * length:]
    return kept.reshape(blocks, length, -1).mean(axis=1)


def block_estimate(datasets: list[np.ndarray], blocks: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean, standard error and effective sample count of correlated series.

    Each series (one per independent replica, shape (n_samples, k)) is cut
    into ``blocks`` consecutive blocks (the first ``n mod blocks`` samples
    dropped); the stderr is the standard deviation of all block means over
    the square root of their number (Flyvbjerg & Petersen, J. Chem. Phys. 91,
    461, 1989), taken as the larger of the estimates with ``blocks`` and with
    ``blocks // 2`` blocks per series: if blocks are not yet much longer than
    the correlation time the second is larger, and it is used. n_eff is the
    smallest over outputs of sample variance / stderr^2.
    """
    fine = np.concatenate([_block_means(d, blocks) for d in datasets])
    coarse = np.concatenate([_block_means(d, max(blocks // 2, 2)) for d in datasets])
    mean = fine.mean(axis=0)
    stderr = np.maximum(fine.std(axis=0, ddof=1) / math.sqrt(len(fine)),
                        coarse.std(axis=0, ddof=1) / math.sqrt(len(coarse)))
    var = np.mean([d.var(axis=0, ddof=1) for d in datasets], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = float(np.min(np.where(stderr > 0, var / stderr**2, np.inf)))
    return mean, stderr, n_eff


def pooled_blocks(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and stderr of independent block estimates (rows of ``means``)."""
    return means.mean(axis=0), means.std(axis=0, ddof=1) / math.sqrt(len(means))

