"""Numba kernel of the fast/slow SDE (see :mod:`oracles.ef_models.fast_slow`)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True)
def integrate_fast_slow(x: float, y: float, lam: float, eps: float, sigma: float, dt: float,
                        n_steps: int, normals: np.ndarray) -> tuple[float, float]:
    """Advance (x, y) by ``n_steps`` steps of ``dt``.

    Fast: exact Ornstein-Uhlenbeck update of x towards y over one step with y
    frozen (stable for any dt/eps); slow: forward Euler of
    dy/dt = lam + x - x^3/3. ``normals`` holds one standard normal per step
    (ignored when sigma == 0).
    """
    decay = math.exp(-dt / eps)
    spread = sigma * math.sqrt(0.5 * (1.0 - decay * decay))
    for i in range(n_steps):
        y_old = y
        y = y + dt * (lam + x - x * x * x / 3.0)
        x = y_old + (x - y_old) * decay
        if sigma > 0.0:
            x += spread * normals[i]
    return x, y
