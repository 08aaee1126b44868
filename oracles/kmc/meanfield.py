r"""Mean-field (well-mixed) limit of the lattice KMC models as a coarse time-stepper.

The mean-field ODE :math:`d\theta/dt = f(\theta)` of a surface model (single
processes at rate :math:`k\theta_a`, pair processes at :math:`4k\theta_a\theta_b`
per site; :func:`oracles.kmc.mean_field_rhs`) is what the KMC coverages obey
when hopping mixes the lattice infinitely fast. :class:`MeanFieldFlow` offers
it with the same ``lift``/``micro``/``restrict`` pieces as
:class:`oracles.KMCCoverages`, so that :mod:`hmm.ef` (coarse Newton,
continuation) runs unchanged on the deterministic flow map and on KMC.

For :class:`oracles.BistableAB` the steady states are known in closed form
(:func:`bistable_steady_curve`): with :math:`\theta_0 = 1 - \theta_A -
\theta_B`, :math:`d\theta_B/dt = 0` gives :math:`4k_r\theta_A\theta_B =
2\beta\theta_0^2` and then :math:`d\theta_A/dt = 0` gives

.. math:: \theta_0 = \frac{\theta_A(4k_r(1-\theta_A) + \gamma)}{4k_r\theta_A + \alpha},\qquad
          \beta = \frac{\alpha\theta_0 - \gamma\theta_A}{2\theta_0^2},

a curve parametrised by :math:`\theta_A`; its turning points
(:math:`d\beta/d\theta_A = 0`) are the folds (saddle-nodes): :func:`bistable_folds`
finds them on the closed form, :func:`fold_from_branch` on a noisy branch of
coarse fixed points (e.g. from KMC continuation).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from hmm.contract import OracleRunError, OracleSetupError

from .models import mean_field_rhs, model_parameters


@dataclass(frozen=True)
class MeanFieldFlow:
    """Deterministic coarse time-stepper of the mean-field ODE of ``model``.

    Coarse variables: the coverages of ``species`` (default all species of
    the model); parameters: ``params`` (float fields of the model, e.g.
    ``("beta",)``). ``micro`` integrates the ODE with ``solve_ivp`` (RK45,
    rtol 1e-10).
    """

    model: Any
    params: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        allowed = model_parameters(self.model)
        for name in self.params:
            if name not in allowed:
                raise OracleSetupError(f"MeanFieldFlow: parameter {name!r} is not one of {allowed}")

    def _model(self, p: Any) -> Any:
        values = dict(zip(self.params, np.atleast_1d(np.asarray(p, dtype=float)).tolist()))
        return replace(self.model, **values) if values else self.model

    def lift(self, U: Any, p: Any, rng: np.random.Generator) -> np.ndarray:
        return np.array(U, dtype=float)

    def micro(self, U: np.ndarray, p: Any, duration: float, rng: np.random.Generator) -> np.ndarray:
        model = self._model(p)
        sol = solve_ivp(lambda t, y: mean_field_rhs(model, y), (0.0, float(duration)), U, rtol=1e-10,
                        atol=1e-12)
        if not sol.success:
            raise OracleRunError(f"MeanFieldFlow: ODE solver failed: {sol.message}")
        return sol.y[:, -1]

    @staticmethod
    def restrict(U: np.ndarray) -> np.ndarray:
        return np.asarray(U, dtype=float)


def bistable_steady_curve(model: Any, theta_A: Any) -> tuple[np.ndarray, np.ndarray]:
    """(beta, theta_B) of the mean-field steady state of :class:`oracles.BistableAB`
    with A coverage ``theta_A`` (closed form, see the module docstring)."""
    A = np.asarray(theta_A, dtype=float)
    kr, al, ga = model.k_reaction, model.alpha, model.gamma
    th0 = A * (4 * kr * (1 - A) + ga) / (4 * kr * A + al)
    return (al * th0 - ga * A) / (2 * th0**2), 1.0 - A - th0


def bistable_folds(model: Any) -> list[tuple[float, float, float]]:
    """Mean-field folds (beta, theta_A, theta_B) of :class:`oracles.BistableAB`,
    where d beta / d theta_A = 0 on :func:`bistable_steady_curve` (roots
    bracketed on a fine grid, then refined by Brent's method)."""
    def slope(a: float) -> float:
        h = 1e-7
        return float((bistable_steady_curve(model, a + h)[0] - bistable_steady_curve(model, a - h)[0]) / (2 * h))

    grid = np.linspace(1e-3, 0.999, 4001)
    s = np.array([slope(a) for a in grid])
    out = []
    for i in np.nonzero(np.sign(s[1:]) != np.sign(s[:-1]))[0]:
        a = brentq(slope, grid[i], grid[i + 1], xtol=1e-13)
        beta, b = bistable_steady_curve(model, a)
        out.append((float(beta), float(a), float(b)))
    return out


def fold_from_branch(params, A, *, kind: str = "max", window: float = 0.4) -> tuple[float, float, float]:
    """Turning point of a noisy branch: (parameter, its stderr, A there).

    Fits parameter = c0 + c1 A + c2 A^2 by least squares to the branch points
    whose parameter lies within ``window`` of the extreme (``kind`` "max" or
    "min"); the fold is the vertex. Its stderr comes from the fit's
    covariance (residual scatter of the points, delta method), so it reflects
    the noise of the coarse fixed points. A branch with too few points near
    the extreme raises ValueError.
    """
    p, a = np.asarray(params, dtype=float), np.asarray(A, dtype=float)
    i_ext = int(np.argmax(p) if kind == "max" else np.argmin(p))
    if i_ext in (0, len(p) - 1):
        raise ValueError(f"fold_from_branch(): the branch has no turning point inside it (its extreme "
                         f"parameter {p[i_ext]:.4g} is an end point)")
    ext = p[i_ext]
    sel = np.abs(p - ext) <= window
    if sel.sum() < 4:
        raise ValueError(f"fold_from_branch(): {int(sel.sum())} points within {window} of the turning "
                         f"point, need >= 4")
    x, y = a[sel], p[sel]
    X = np.column_stack([np.ones_like(x), x, x**2])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    dof = max(1, len(y) - 3)
    s2 = float(np.sum((y - X @ coef) ** 2) / dof)
    cov = s2 * np.linalg.pinv(X.T @ X)
    c0, c1, c2 = coef
    if c2 == 0 or (kind == "max") != (c2 < 0):
        raise ValueError(f"fold_from_branch(): the fitted parabola opens the wrong way (c2 = {c2:.3g})")
    a_f = -c1 / (2 * c2)
    if not x.min() <= a_f <= x.max():
        raise ValueError(f"fold_from_branch(): the fitted vertex A = {a_f:.4g} lies outside the fitted points")
    p_f = c0 - c1**2 / (4 * c2)
    grad = np.array([1.0, -c1 / (2 * c2), c1**2 / (4 * c2**2)])
    return float(p_f), float(np.sqrt(max(grad @ cov @ grad, s2 / len(y)))), float(a_f)


def lattice_gas_profile(model: Any, theta0: Any, t_end: float, *, left: float, right: float,
                        length: float, refine: int = 2, x_out: Any = None) -> np.ndarray:
    r"""Mean-field PDE of :class:`oracles.LatticeGas` on a strip, by the method of lines.

    .. math:: \theta_t = D\,\theta_{xx} + k_a(1 - \theta) - k_d\,\theta,\qquad D = k_{hop} a^2,

    on 0 < x < ``length`` with Dirichlet values ``left``/``right`` (the
    reservoir columns of a lattice with ``length - 1`` interior columns sit at
    x = 0 and x = length). ``theta0`` is a callable theta0(x); the grid has
    ``refine`` points per lattice constant (second-order central differences,
    BDF with the exact sparse Jacobian). Returns theta(x_out, t_end)
    (default x_out: the lattice columns 1 .. length - 1).
    """
    import scipy.sparse as sp

    n = int(round(length * refine)) - 1
    dx = length / (n + 1)
    x = dx * np.arange(1, n + 1)
    D, ka, kd = model.k_hop, model.k_ads, model.k_des
    main = np.full(n, -2.0 * D / dx**2 - ka - kd)
    off = np.full(n - 1, D / dx**2)
    A = sp.diags([off, main, off], [-1, 0, 1], format="csc")
    b = np.full(n, ka)
    b[0] += D * left / dx**2
    b[-1] += D * right / dx**2
    sol = solve_ivp(lambda t, y: A @ y + b, (0.0, float(t_end)), np.asarray(theta0(x), dtype=float),
                    method="BDF", jac=A, rtol=1e-8, atol=1e-10)
    if not sol.success:
        raise OracleRunError(f"lattice_gas_profile(): {sol.message}")
    x_out = np.arange(1, int(round(length))) if x_out is None else np.asarray(x_out, dtype=float)
    xs = np.concatenate([[0.0], x, [length]])
    return np.interp(x_out, xs, np.concatenate([[left], sol.y[:, -1], [right]]))
