r"""Coarse steady states of an equation-free time-stepper.

A coarse steady state is a fixed point of the coarse map over a horizon T,
:math:`G(U) = \Phi_T(U) - U = 0`, found by Newton-Krylov (``scipy.optimize.
newton_krylov``; its Jacobian-vector products are finite differences of the
coarse stepper, evaluated with common random numbers so that noise does not
swamp them). Its stability comes from the coarse Jacobian
:math:`D = \partial\Phi_T/\partial U` (finite differences, one batch):
multipliers :math:`\mu = \mathrm{eig}(D)`, stable iff all :math:`|\mu| < 1`;
the equivalent continuous-time eigenvalues are :math:`\log(\mu)/T`
(Theodoropoulos, Qian & Kevrekidis, PNAS 97, 9840, 2000).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import NoConvergence, newton_krylov

from ..contract import HMMError
from .stepper import CoarseStepper

CRN_KEY = 0  # the common-random-numbers key of all residual evaluations


class CoarseNewtonError(HMMError, RuntimeError):
    """Raised when a coarse Newton iteration does not converge; carries the last
    iterate (``U``), its residual norm and the parameter values."""

    def __init__(self, message: str, U: np.ndarray, residual: float, params: Any) -> None:
        super().__init__(message)
        self.U, self.residual, self.params = U, residual, params


@dataclass
class CoarseFixedPoint:
    """A coarse steady state and its linear stability."""

    U: np.ndarray
    params: np.ndarray
    residual: float
    jacobian: np.ndarray  # dPhi_T/dU
    multipliers: np.ndarray
    eigenvalues: np.ndarray  # log(multipliers) / horizon
    horizon: float

    @property
    def stable(self) -> bool:
        return bool(np.all(np.abs(self.multipliers) < 1.0))


def _clip(U: np.ndarray, bounds) -> np.ndarray:
    return U if bounds is None else np.clip(U, bounds[0], bounds[1])


def coarse_map_jacobian(stepper: CoarseStepper, U: np.ndarray, params: Any, horizon: float,
                        step: float = 1e-5, *, with_params: bool = False,
                        bounds: tuple | None = None, with_stderr: bool = False) -> tuple[np.ndarray, ...]:
    """Phi_T(U) and its finite-difference Jacobian in one batch of bursts.

    Columns: dPhi/dU (n) and, if ``with_params``, dPhi/dp (n_params).
    Forward differences with step ``step * max(1, |x|)``, common random numbers.
    ``bounds=(lo, hi)`` for U (e.g. coverages in [0, 1]): U is clipped into
    them and a step that would leave them is taken backwards.
    ``with_stderr``: also return the replica stderr of Phi_T(U) (third value).
    """
    U = _clip(np.asarray(U, dtype=float).reshape(-1), bounds)
    p = np.asarray(params, dtype=float).reshape(-1)
    n, n_p = U.size, p.size
    base = np.concatenate([U, p])
    columns = n + (n_p if with_params else 0)
    h = step * np.maximum(1.0, np.abs(base[:columns]))
    if bounds is not None:
        h[:n] = np.where(base[:n] + h[:n] > np.broadcast_to(bounds[1], (n,)), -h[:n], h[:n])
    points = np.repeat(base[None, :], columns + 1, axis=0)
    points[1:, :columns] += np.diag(h)
    rec = stepper.run(points[:, :n], points[:, n:], (horizon,), common_random_numbers=CRN_KEY)
    phi = rec.mean[:, -1, :]
    jac = ((phi[1:] - phi[0]) / h[:, None]).T
    return (phi[0], jac, rec.stderr[0, -1, :]) if with_stderr else (phi[0], jac)


def stability(stepper: CoarseStepper, U: np.ndarray, params: Any, horizon: float,
              step: float = 1e-5, *, bounds: tuple | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Jacobian of Phi_T, multipliers, continuous-time eigenvalues) at U."""
    _, jac = coarse_map_jacobian(stepper, U, params, horizon, step, bounds=bounds)
    mu = np.linalg.eigvals(jac)
    return jac, mu, np.log(mu.astype(complex)) / horizon


def coarse_fixed_point(stepper: CoarseStepper, U0: Any, params: Any = (), *, horizon: float,
                       tol: float = 1e-8, max_iter: int = 30, fd_step: float = 1e-5,
                       bounds: tuple | None = None) -> CoarseFixedPoint:
    """Solve Phi_T(U) = U by Newton-Krylov from ``U0`` and classify the result.

    ``bounds=(lo, hi)``: admissible coarse states (e.g. coverages in [0, 1]);
    the residual is evaluated as Phi_T(clip(U)) - U, which leaves fixed
    points inside unchanged and pushes iterates that step outside back in.
    ``fd_step`` must exceed the resolution of the lifted micro state (for a
    lattice of N sites, coverage steps below 1/N change nothing).

    Raises
    ------
    CoarseNewtonError
        No convergence within ``max_iter`` iterations (names the parameters,
        the residual and carries the last iterate).
    """
    p = np.asarray(params, dtype=float).reshape(-1)

    def residual(U):
        U = np.asarray(U, float)
        return stepper(_clip(U, bounds), p, horizon, common_random_numbers=CRN_KEY) - U

    try:
        U = np.atleast_1d(newton_krylov(residual, np.asarray(U0, dtype=float).reshape(-1), f_tol=tol,
                                        maxiter=max_iter, rdiff=fd_step, method="lgmres"))
    except NoConvergence as exc:
        last = np.atleast_1d(np.asarray(exc.args[0], dtype=float))
        r = float(np.max(np.abs(residual(last))))
        raise CoarseNewtonError(
            f"coarse Newton-Krylov did not converge at params={p.tolist()}: "
            f"|Phi_T(U) - U| = {r:.3e} > tol={tol:g} after {max_iter} iterations", last, r, p) from None
    U = _clip(U, bounds)
    r = float(np.max(np.abs(residual(U))))
    jac, mu, lam = stability(stepper, U, p, horizon, fd_step, bounds=bounds)
    return CoarseFixedPoint(U, p, r, jac, mu, lam, horizon)
