r"""Pseudo-arclength continuation of coarse steady states in one parameter.

Unknowns :math:`X = (U, p)`; equations :math:`G(U, p) = \Phi_T(U; p) - U = 0`
plus the arclength condition :math:`\tau\cdot(X - X_{pred}) = 0`, where
:math:`\tau` is the unit tangent of the branch and :math:`X_{pred} = X_k + ds\,\tau`
(Keller 1977; for coarse time-steppers: Kevrekidis et al., Comm. Math. Sci.
1, 715, 2003). Each Newton correction uses the finite-difference Jacobian
:math:`[G_U\ G_p]` from one batch of ``n + 2`` bursts (common random numbers).
Folds are passed naturally (the tangent turns), so stable **and** unstable
branches are traced; each point carries its coarse multipliers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .fixed_point import coarse_map_jacobian
from .stepper import CoarseStepper


class ContinuationError(RuntimeError):
    """Raised when the corrector fails even at the smallest step; names the
    parameter value and residual and keeps the branch computed so far in
    ``.branch``."""

    def __init__(self, message: str, branch: "Branch") -> None:
        super().__init__(message)
        self.branch = branch


@dataclass
class Branch:
    """A branch of coarse steady states: ``params`` (m,), ``U`` (m, n),
    ``multipliers`` (m, n) complex, ``stable`` (m,) bool, ``residual`` (m,)."""

    param_name: str
    coarse_names: tuple[str, ...]
    horizon: float
    params: list = field(default_factory=list)
    U: list = field(default_factory=list)
    multipliers: list = field(default_factory=list)
    residual: list = field(default_factory=list)

    def append(self, p: float, U: np.ndarray, mu: np.ndarray, r: float) -> None:
        self.params.append(float(p))
        self.U.append(np.array(U, dtype=float))
        self.multipliers.append(np.array(mu, dtype=complex))
        self.residual.append(float(r))

    @property
    def stable(self) -> np.ndarray:
        return np.array([np.all(np.abs(m) < 1.0) for m in self.multipliers])

    def folds(self) -> list[int]:
        """Indices where the parameter turns back (sign change of its increments)."""
        d = np.diff(np.asarray(self.params))
        return [i + 1 for i in range(len(d) - 1) if d[i] * d[i + 1] < 0]

    def fold_points(self, component: int = 0) -> list[tuple[float, float]]:
        """(parameter, U_component) of each fold, refined by the vertex of the
        parabola p(U) through the three points around the turn."""
        p, u = np.asarray(self.params), np.asarray(self.U)[:, component]
        out = []
        for i in self.folds():
            a, b, c = np.polyfit(u[i - 1:i + 2], p[i - 1:i + 2], 2)
            u_star = -b / (2 * a)
            out.append((float(np.polyval([a, b, c], u_star)), float(u_star)))
        return out

    def to_xarray(self):
        import xarray as xr

        U = np.asarray(self.U)
        data = {name: ("point", U[:, j]) for j, name in enumerate(self.coarse_names)}
        mu = np.asarray(self.multipliers)
        data["multiplier_abs_max"] = ("point", np.abs(mu).max(axis=1))
        data["eigenvalue_real_max"] = ("point", (np.log(mu.astype(complex)).real / self.horizon).max(axis=1))
        data["stable"] = ("point", self.stable.astype(np.int8))
        data["residual"] = ("point", np.asarray(self.residual))
        return xr.Dataset(data, coords={self.param_name: ("point", np.asarray(self.params))},
                          attrs={"horizon": self.horizon})


def continuation(stepper: CoarseStepper, U0: Any, p0: float, *, horizon: float, ds: float,
                 n_points: int, p_range: tuple[float, float] | None = None, direction: float = 1.0,
                 tol: float = 1e-8, max_newton: int = 8, ds_min: float | None = None,
                 ds_max: float | None = None, fd_step: float = 1e-5) -> Branch:
    """Trace a branch of coarse fixed points starting near ``(U0, p0)``.

    ``direction`` (+1/-1) sets the initial direction in the parameter; the run
    stops after ``n_points`` points or when the parameter leaves ``p_range``.
    Steps adapt: halved when the corrector fails, grown by 1.3 after fast
    convergence, within [ds_min, ds_max] (defaults ds/64, 4 ds).
    """
    if len(stepper.param_names) != 1:
        raise ValueError(f"continuation(): the stepper needs exactly one parameter, has {stepper.param_names}")
    ds_min = ds / 64 if ds_min is None else ds_min
    ds_max = 4 * ds if ds_max is None else ds_max
    n = stepper.n_coarse
    branch = Branch(stepper.param_names[0], stepper.coarse_names, horizon)

    def system(X):
        phi, jac = coarse_map_jacobian(stepper, X[:n], X[n:], horizon, fd_step, with_params=True)
        G = phi - X[:n]
        J = jac.copy()
        J[:, :n] -= np.eye(n)
        return G, J, jac[:, :n]

    def correct(X_pred, tau):
        X = X_pred.copy()
        for it in range(max_newton):
            G, J, D = system(X)
            F = np.concatenate([G, [tau @ (X - X_pred)]])
            if np.max(np.abs(G)) <= tol and it > 0:
                return X, G, D, it
            A = np.vstack([J, tau[None, :]])
            X = X - np.linalg.solve(A, F)
        G, J, D = system(X)
        return (X, G, D, max_newton) if np.max(np.abs(G)) <= tol else (None, G, D, max_newton)

    # first point: correct at fixed parameter (tau = e_p keeps p = p0)
    X = np.concatenate([np.asarray(U0, dtype=float).reshape(-1), [float(p0)]])
    e_p = np.zeros(n + 1)
    e_p[-1] = 1.0
    X, G, D, _ = correct(X, e_p)
    if X is None:
        raise ContinuationError(f"continuation(): no coarse steady state near U0 at "
                                f"{branch.param_name}={p0:g} (residual {np.max(np.abs(G)):.3e})", branch)
    branch.append(X[-1], X[:n], np.linalg.eigvals(D), np.max(np.abs(G)))
    _, J, _ = system(X)
    tau = _tangent(J, e_p * np.sign(direction))
    while len(branch.params) < n_points:
        X_new, G, D, iters = correct(X + ds * tau, tau)
        if X_new is None:
            ds /= 2
            if ds < ds_min:
                raise ContinuationError(
                    f"continuation(): corrector failed at {branch.param_name}={X[-1] + ds * tau[-1]:.6g} "
                    f"(residual {np.max(np.abs(G)):.3e} > tol={tol:g}) with ds < ds_min={ds_min:g}; "
                    f"{len(branch.params)} points kept", branch)
            continue
        _, J, _ = system(X_new)
        tau = _tangent(J, tau)
        X = X_new
        branch.append(X[-1], X[:n], np.linalg.eigvals(D), np.max(np.abs(G)))
        if iters <= 2:
            ds = min(ds * 1.3, ds_max)
        if p_range is not None and not (p_range[0] <= X[-1] <= p_range[1]):
            break
    return branch


def _tangent(J: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Unit null vector of the n x (n+1) matrix J, oriented like ``previous``."""
    _, _, vt = np.linalg.svd(J)
    t = vt[-1]
    t = t / np.linalg.norm(t)
    return t if t @ previous >= 0 else -t
