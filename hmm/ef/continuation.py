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

from ..contract import HMMError, OracleError
from .fixed_point import coarse_map_jacobian
from .stepper import CoarseStepper


class ContinuationError(HMMError, RuntimeError):
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
    tangents: list = field(default_factory=list)  # unit tangents (dU/ds, dp/ds)

    def append(self, p: float, U: np.ndarray, mu: np.ndarray, r: float, tangent: np.ndarray) -> None:
        self.params.append(float(p))
        self.U.append(np.array(U, dtype=float))
        self.multipliers.append(np.array(mu, dtype=complex))
        self.residual.append(float(r))
        self.tangents.append(np.array(tangent, dtype=float))

    @property
    def stable(self) -> np.ndarray:
        return np.array([np.all(np.abs(m) < 1.0) for m in self.multipliers])

    def folds(self) -> list[int]:
        """Indices ``i`` such that the parameter turns between points i and i+1
        (the tangent's parameter component changes sign)."""
        tp = np.array([t[-1] for t in self.tangents])
        return [i for i in range(len(tp) - 1) if tp[i] * tp[i + 1] < 0]

    def fold_points(self) -> list[tuple[float, np.ndarray]]:
        """(parameter, U) at each fold, from the cubic Hermite interpolant of the
        branch in arclength between the two points around the turn (values and
        tangents known there), at the zero of dp/ds."""
        out = []
        for i in self.folds():
            xa = np.concatenate([self.U[i], [self.params[i]]])
            xb = np.concatenate([self.U[i + 1], [self.params[i + 1]]])
            ds = float(np.linalg.norm(xb - xa))
            ta, tb = self.tangents[i] * ds, self.tangents[i + 1] * ds
            # Hermite p(th) = h00 pa + h10 ta + h01 pb + h11 tb; solve dp/dth = 0 on [0, 1]
            c2 = 6 * xa[-1] + 3 * ta[-1] - 6 * xb[-1] + 3 * tb[-1]
            c1 = -6 * xa[-1] - 4 * ta[-1] + 6 * xb[-1] - 2 * tb[-1]
            c0 = ta[-1]
            roots = np.roots([c2, c1, c0]) if abs(c2) > 1e-300 else np.array([-c0 / c1])
            roots = [r.real for r in np.atleast_1d(roots) if abs(r.imag) < 1e-12 and 0 <= r.real <= 1]
            th = roots[0] if roots else 0.5
            h = np.array([2 * th**3 - 3 * th**2 + 1, th**3 - 2 * th**2 + th, -2 * th**3 + 3 * th**2,
                          th**3 - th**2])
            x = h[0] * xa + h[1] * ta + h[2] * xb + h[3] * tb
            out.append((float(x[-1]), x[:-1]))
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
                 ds_max: float | None = None, fd_step: float = 1e-5,
                 fold_ds: float | None = None, bounds: tuple | None = None, min_newton: int = 1,
                 noise_tol: float | None = None) -> Branch:
    """Trace a branch of coarse fixed points starting near ``(U0, p0)``.

    ``direction`` (+1/-1) sets the initial direction in the parameter; the run
    stops after ``n_points`` points or when the parameter leaves ``p_range``.
    Steps adapt: halved when the corrector fails, grown by 1.3 after fast
    convergence, within [ds_min, ds_max] (defaults ds/64,
    4 ds); a step that jumps over a fold by more than ``fold_ds`` (default
    ds/8) is redone with an eighth of its length, so folds are located by
    :meth:`Branch.fold_points` from closely spaced points. ``bounds=(lo,
    hi)`` keeps the bursts' coarse states admissible (see
    :func:`coarse_map_jacobian`). A corrector iterate farther than
    max(2 ds, ds_max) from its predictor, or a failed burst
    (:class:`hmm.OracleError`, e.g. a noisy Newton step that took the
    parameter out of the micro model's domain), counts as a failed step.

    For a noisy (stochastic) coarse stepper, ``tol`` must exceed the noise
    of Phi_T (a few standard errors of the replica mean) and ``fd_step``
    must exceed the lift's resolution and be large enough that the
    finite-difference Jacobian is not swamped by noise. ``min_newton``
    (default 1) corrections are always made before the residual test:
    stopping at the first iterate inside the noise band biases the points
    towards the predictor (by up to tol / |dG/dp| in the parameter), while
    after a few full Newton corrections the error is the zero-mean noise.
    ``noise_tol`` (e.g. 3) makes the test noise-aware: a point is accepted
    when max |G| <= max(tol, noise_tol x the largest replica stderr of
    Phi_T there), so the tolerance follows the noise along the branch (it
    grows with the event rate of a KMC burst).
    """
    if len(stepper.param_names) != 1:
        raise ValueError(f"continuation(): the stepper needs exactly one parameter, has {stepper.param_names}")
    ds_min = ds / 64 if ds_min is None else ds_min
    ds_max = 4 * ds if ds_max is None else ds_max
    fold_ds = ds / 8 if fold_ds is None else fold_ds
    n = stepper.n_coarse
    branch = Branch(stepper.param_names[0], stepper.coarse_names, horizon)

    accept = {"tol": tol, "why": ""}  # last residual test's tolerance and the last failure's cause

    def system(X):
        phi, jac, se = coarse_map_jacobian(stepper, X[:n], X[n:], horizon, fd_step, with_params=True,
                                           bounds=bounds, with_stderr=True)
        G = phi - X[:n]
        J = jac.copy()
        J[:, :n] -= np.eye(n)
        accept["tol"] = tol if noise_tol is None else max(tol, noise_tol * float(np.max(se)))
        return G, J, jac[:, :n]

    def converged(G):
        return np.max(np.abs(G)) <= accept["tol"]

    def correct(X_pred, tau, radius=np.inf):
        """Newton on (G, arclength); fails (X None) without convergence, when an
        iterate strays farther than ``radius`` from the predictor or when a
        burst fails there (e.g. a noisy step took the parameter out of the
        micro model's domain): the caller then halves the step."""
        X = X_pred.copy()
        G = np.full(n, np.inf)
        D = np.full((n, n), np.nan)
        try:
            for it in range(max_newton):
                G, J, D = system(X)
                F = np.concatenate([G, [tau @ (X - X_pred)]])
                if converged(G) and it >= min_newton:
                    return X, G, D, it
                A = np.vstack([J, tau[None, :]])
                X = X - np.linalg.solve(A, F)
                if not np.all(np.isfinite(X)) or np.linalg.norm(X - X_pred) > radius:
                    accept["why"] = f"a Newton iterate left the trust radius {radius:.3g}"
                    return None, G, D, it + 1
            G, J, D = system(X)
        except (OracleError, np.linalg.LinAlgError) as exc:
            if not np.isfinite(radius):
                raise
            accept["why"] = f"{type(exc).__name__} in the corrector"
            return None, G, D, max_newton
        accept["why"] = f"no convergence in {max_newton} Newton steps"
        return (X, G, D, max_newton) if converged(G) else (None, G, D, max_newton)

    # first point: correct at fixed parameter (tau = e_p keeps p = p0)
    X = np.concatenate([np.asarray(U0, dtype=float).reshape(-1), [float(p0)]])
    e_p = np.zeros(n + 1)
    e_p[-1] = 1.0
    X, G, D, _ = correct(X, e_p)
    if X is None:
        raise ContinuationError(f"continuation(): no coarse steady state near U0 at "
                                f"{branch.param_name}={p0:g} (residual {np.max(np.abs(G)):.3e})", branch)
    _, J, _ = system(X)
    tau = _tangent(J, e_p * np.sign(direction))
    branch.append(X[-1], X[:n], np.linalg.eigvals(D), np.max(np.abs(G)), tau)
    while len(branch.params) < n_points:
        X_new, G, D, iters = correct(X + ds * tau, tau, radius=max(2 * ds, ds_max))
        if X_new is None:
            ds /= 2
            if ds < ds_min:
                raise ContinuationError(
                    f"continuation(): corrector failed at {branch.param_name}={X[-1] + ds * tau[-1]:.6g} "
                    f"({accept['why']}; residual {np.max(np.abs(G)):.3e}, tol={accept['tol']:.3g}) with "
                    f"ds < ds_min={ds_min:g}; {len(branch.params)} points kept", branch)
            continue
        _, J, _ = system(X_new)
        tau_new = _tangent(J, tau)
        step = float(np.linalg.norm(X_new - X))
        if tau_new[-1] * tau[-1] < 0 and step > fold_ds:
            ds = step / 8  # a fold lies in this step: approach it with small steps
            continue
        X, tau = X_new, tau_new
        branch.append(X[-1], X[:n], np.linalg.eigvals(D), np.max(np.abs(G)), tau)
        if iters <= min_newton + 1:  # fast convergence: grow the step
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
