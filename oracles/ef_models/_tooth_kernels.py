"""Numba kernel of the fine-grid reaction-diffusion tooth (see oracles.ef_models.tooth_diffusion)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def heat_tooth(u: np.ndarray, dx: float, diffusivity: float, rate: float, dt: float, n_steps: int,
               slope_left: float, slope_right: float) -> np.ndarray:
    """Explicit steps of u_t = D u_xx + r u (1 - u) on a tooth of cell-centred
    values with prescribed boundary gradients (Neumann data through ghost cells)."""
    n = u.shape[0]
    new = np.empty_like(u)
    coef = diffusivity * dt / (dx * dx)
    for _ in range(n_steps):
        for i in range(n):
            left = u[i - 1] if i > 0 else u[0] - slope_left * dx
            right = u[i + 1] if i < n - 1 else u[n - 1] + slope_right * dx
            new[i] = u[i] + coef * (left - 2.0 * u[i] + right) + dt * rate * u[i] * (1.0 - u[i])
        u, new = new, u
    return u
