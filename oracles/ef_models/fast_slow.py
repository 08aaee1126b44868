r"""A fast/slow stochastic system: the standard test bed of HMM and equation-free methods.

.. math::

    dx = -\frac{x - y}{\varepsilon}\,dt + \frac{\sigma}{\sqrt{\varepsilon}}\,dW, \qquad
    \frac{dy}{dt} = \lambda + x - \frac{x^3}{3}.

The fast variable x relaxes on the time scale eps to a Gaussian around y with
variance s^2 = sigma^2 / 2. Averaging over it (Pavliotis & Stuart,
*Multiscale Methods*, 2008, ch. 10) gives the slow equation

.. math::

    \frac{dy}{dt} = F(y; \lambda) = \lambda + (1 - s^2)\,y - \frac{y^3}{3},

an S-shaped family of equilibria with folds at y = +-sqrt(1 - s^2) (for s < 1):
two stable branches and an unstable middle one, the classic target of coarse
bifurcation analysis (Kevrekidis et al., Comm. Math. Sci. 1, 715, 2003).

The coarse variable is ``y``; the parameter is ``lambda``. The class gives the
three pieces of an equation-free coarse time-stepper: :meth:`lift`,
:meth:`micro`, :meth:`restrict` (use them with :func:`hmm.ef.coarse_stepper`).
Units: dimensionless time and state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hmm.contract import OracleRunError

from .._validate import check_positive, check_real
from ._fast_slow_kernels import integrate_fast_slow


@dataclass(frozen=True)
class FastSlowSDE:
    """Fast/slow SDE with micro step ``dt`` (default ``eps / 10``).

    Parameters
    ----------
    eps : float
        Time-scale separation (> 0).
    sigma : float
        Noise amplitude of the fast variable (>= 0; 0 gives an ODE).
    dt : float or None
        Micro time step; ``None`` means ``eps / 10``.
    lift_x : float or None
        Initial fast variable after lifting; ``None`` starts it at ``y`` plus a
        draw from its stationary distribution, a number starts it there (off
        the slow manifold: the healing steps must relax it).
    """

    eps: float = 1e-3
    sigma: float = 0.0
    dt: float | None = None
    lift_x: float | None = 0.0

    def __post_init__(self) -> None:
        check_positive(self.eps, "eps", "FastSlowSDE")
        check_positive(self.sigma, "sigma", "FastSlowSDE", allow_zero=True)
        if self.dt is not None:
            check_positive(self.dt, "dt", "FastSlowSDE")
        if self.lift_x is not None:
            check_real(self.lift_x, "lift_x", "FastSlowSDE")

    @property
    def step(self) -> float:
        return self.eps / 10 if self.dt is None else float(self.dt)

    @property
    def fast_variance(self) -> float:
        """Stationary variance s^2 = sigma^2 / 2 of x around y."""
        return 0.5 * self.sigma**2

    def averaged_rhs(self, y, lam) -> np.ndarray:
        """F(y; lambda) of the averaged slow equation."""
        y = np.asarray(y, dtype=float)
        return lam + (1.0 - self.fast_variance) * y - y**3 / 3.0

    # -- the three pieces of a coarse time-stepper --------------------------------------
    def lift(self, coarse: np.ndarray, params: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Micro state (x, y) consistent with the coarse y."""
        y = float(coarse[0])
        if self.lift_x is None:
            x = y + math.sqrt(self.fast_variance) * rng.standard_normal()
        else:
            x = float(self.lift_x)
        return np.array([x, y])

    def micro(self, state: np.ndarray, params: np.ndarray, duration: float,
              rng: np.random.Generator) -> np.ndarray:
        """Run the SDE for ``duration`` (rounded to whole micro steps)."""
        n = max(1, int(round(duration / self.step)))
        h = duration / n
        normals = rng.standard_normal(n) if self.sigma > 0 else np.empty(0)
        x, y = integrate_fast_slow(float(state[0]), float(state[1]), float(params[0]), self.eps,
                                   self.sigma, h, n, normals)
        if not (math.isfinite(x) and math.isfinite(y)):
            raise OracleRunError(f"FastSlowSDE diverged (lambda={params[0]}, start={state.tolist()})")
        return np.array([x, y])

    @staticmethod
    def restrict(state: np.ndarray) -> np.ndarray:
        """The coarse variable y."""
        return state[1:2].copy()
