r"""Sobol' sensitivity indices through SALib.

The Saltelli design and the estimators are SALib's
(:func:`SALib.sample.sobol.sample`, :func:`SALib.analyze.sobol.analyze`,
first-order and total indices, no second order). SALib draws the design in
the unit cube; each column is mapped to its parameter by the inverse CDF of
the parameter's distribution. The indices refer to the independent inputs
and are invariant under these monotone maps, so any ``scipy.stats``
marginal can be used. A base sample of ``N`` points costs ``N (d + 2)``
model runs; the confidence intervals are SALib's bootstrap intervals.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

MIN_BASE_SAMPLES = 8
"""Smallest Saltelli base sample ``N`` accepted (the bootstrap intervals need a few points)."""


def check_base_samples(n: Any, func: str) -> int:
    """The Saltelli base sample ``n``: an int power of two >= :data:`MIN_BASE_SAMPLES`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{func}: `n` must be an int, got {type(n).__name__}")
    if n < MIN_BASE_SAMPLES or 2 ** int(round(math.log2(n))) != n:
        raise ValueError(f"{func}: `n` (the Saltelli base sample) must be a power of two >= "
                         f"{MIN_BASE_SAMPLES} for a balanced Sobol' design, got {n}")
    return int(n)


def _problem(names) -> dict:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def saltelli_unit(names, n: int, seed: int) -> np.ndarray:
    """SALib's Saltelli design in the unit cube, shape ``(n (d + 2), d)`` (scrambled, seeded)."""
    from SALib.sample import sobol as sobol_sample

    return sobol_sample.sample(_problem(names), n, calc_second_order=False, scramble=True, seed=seed)


@dataclass(frozen=True)
class SobolIndices:
    """First-order and total Sobol' indices with bootstrap half-widths at level ``confidence``."""

    names: tuple[str, ...]
    first: np.ndarray
    first_conf: np.ndarray
    total: np.ndarray
    total_conf: np.ndarray
    confidence: float

    def as_dict(self) -> dict[str, Mapping[str, float]]:
        return {k: {"S1": float(a), "S1_conf": float(b), "ST": float(c), "ST_conf": float(e)}
                for k, a, b, c, e in zip(self.names, self.first, self.first_conf, self.total, self.total_conf)}


def sobol_indices(names, y: np.ndarray, *, confidence: float = 0.95, num_resamples: int = 200,
                  seed: int = 0) -> SobolIndices:
    """Sobol' indices of the outputs ``y`` of a Saltelli design (:func:`saltelli_unit`)."""
    from SALib.analyze import sobol as sobol_analyze

    y = np.asarray(y, dtype=float)
    if not np.all(np.isfinite(y)):
        raise ValueError("sobol_indices(): the goal is not finite at every design point")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant goal: 0 / 0 indices, reported as NaN
        res = sobol_analyze.analyze(_problem(names), y, calc_second_order=False, num_resamples=num_resamples,
                                    conf_level=confidence, print_to_console=False, seed=seed)
    return SobolIndices(tuple(names), np.asarray(res["S1"]), np.asarray(res["S1_conf"]), np.asarray(res["ST"]),
                        np.asarray(res["ST_conf"]), float(confidence))
