r"""Coarse projective integration (Gear & Kevrekidis, SIAM J. Sci. Comput. 24, 1091, 2003).

One outer step of projective forward Euler (PFE): from ``U_n`` run ``k + 1``
inner steps of size ``dt`` with the coarse time-stepper (the first ``k`` heal
the lifted micro state onto the slow manifold), estimate the slow time
derivative from the last two records, and extrapolate over ``M`` more inner
steps:

.. math::

    U_{n+1} = U^{(k+1)} + M\,\delta t\,\frac{U^{(k+1)} - U^{(k)}}{\delta t},
    \qquad t_{n+1} = t_n + (k + 1 + M)\,\delta t .

Projective Heun (``"prk2"``, Lee & Gear, J. Comput. Appl. Math. 201, 258, 2007)
averages the slope at the start and at the PFE predictor: second order in the
outer step as long as the healing interval ``(k+1) dt`` is small against it.

Stability: a fast mode whose inner-step multiplier is ``rho`` is amplified
per outer step by ``sigma(rho) = rho^k ((M + 1) rho - M)`` (PFE). Fast modes
(``|rho| <= rho_fast``) are damped when
``rho_fast^k ((M + 1) rho_fast + M) <= 1``; :func:`check_stability` raises
:class:`ProjectiveStabilityError` otherwise, naming the smallest ``k`` that works.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..contract import HMMError
from .stepper import CoarseStepper

METHODS = ("pfe", "prk2")


class ProjectiveStabilityError(HMMError, ValueError):
    """Raised before any micro work when the inner steps cannot damp the fast modes."""


def amplification(rho: Any, k: int, M: int) -> np.ndarray:
    """PFE amplification factor sigma(rho) = rho^k ((M + 1) rho - M) per outer step."""
    rho = np.asarray(rho, dtype=complex)
    return rho**k * ((M + 1) * rho - M)


def check_stability(k: int, M: int, rho_fast: float) -> None:
    """Raise if fast modes with |inner multiplier| <= rho_fast are not damped."""
    if not 0 <= rho_fast < 1:
        raise ValueError(f"check_stability(): `rho_fast` must be in [0, 1), got {rho_fast}")
    bound = rho_fast**k * ((M + 1) * rho_fast + M)
    if bound > 1:
        k_needed = next(j for j in range(k, 10_000) if rho_fast**j * ((M + 1) * rho_fast + M) <= 1)
        raise ProjectiveStabilityError(
            f"projective step with k={k} inner steps and M={M} amplifies fast modes with "
            f"|rho| = {rho_fast:g} by up to {bound:.3g} > 1; use k >= {k_needed} or a smaller M")


@dataclass
class ProjectiveResult:
    """Coarse trajectory: ``t`` (n_steps + 1,), ``U`` and ``stderr`` (n_steps + 1, n_coarse)."""

    t: np.ndarray
    U: np.ndarray
    stderr: np.ndarray
    micro_seconds: float
    bursts: int
    method: str
    info: dict = field(default_factory=dict)

    def to_xarray(self, names: tuple[str, ...]):
        import xarray as xr

        data = {}
        for j, name in enumerate(names):
            data[name] = ("time", self.U[:, j])
            data[f"{name}_stderr"] = ("time", self.stderr[:, j])
        return xr.Dataset(data, coords={"time": self.t},
                          attrs={"method": self.method, "micro_seconds": self.micro_seconds,
                                 "bursts": self.bursts, **{k: str(v) for k, v in self.info.items()}})


def _slope(stepper: CoarseStepper, U: np.ndarray, params, k: int, dt: float):
    """(U after k+1 inner steps, slope from the last two records, its stderr)."""
    rec = stepper.run(U, params, (k * dt, (k + 1) * dt))
    last, prev = rec.mean[0, 1], rec.mean[0, 0]
    slope = (last - prev) / dt
    slope_se = np.hypot(rec.stderr[0, 1], rec.stderr[0, 0]) / dt
    return last, slope, rec.stderr[0, 1], slope_se


def projective_integrate(stepper: CoarseStepper, U0: Any, t_end: float, *, params: Any = (),
                         inner_dt: float, inner_steps: int, projection_steps: int,
                         method: str = "pfe", rho_fast: float | None = None) -> ProjectiveResult:
    """Integrate the coarse dynamics from ``U0`` to (at least) ``t_end``.

    Parameters
    ----------
    stepper : CoarseStepper
    U0 : array_like (n_coarse,)
    t_end : float
        Final time; the last outer step is shortened (fewer projection steps).
    inner_dt : float
        Inner (micro-burst record) step ``dt``.
    inner_steps : int
        ``k``: healing inner steps before the slope is measured (``k >= 1``).
    projection_steps : int
        ``M``: inner steps' worth of time skipped by extrapolation.
    method : {"pfe", "prk2"}
    rho_fast : float, optional
        Bound on the fast modes' inner-step multipliers; checked before running.
    """
    if method not in METHODS:
        raise ValueError(f"projective_integrate(): unknown `method` {method!r}; choose from {METHODS}")
    for name, value, low in (("inner_steps", inner_steps, 1), ("projection_steps", projection_steps, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"projective_integrate(): `{name}` must be an int >= {low}, got {value!r}")
    if not (math.isfinite(inner_dt) and inner_dt > 0):
        raise ValueError(f"projective_integrate(): `inner_dt` must be > 0, got {inner_dt}")
    if rho_fast is not None:
        check_stability(inner_steps, projection_steps, rho_fast)
    k, M, dt = inner_steps, projection_steps, float(inner_dt)
    U = np.asarray(U0, dtype=float).reshape(-1)
    t, ts, Us, ses = 0.0, [0.0], [U.copy()], [np.zeros_like(U)]
    cost0, bursts0 = stepper.micro_seconds, stepper.calls
    while t < t_end - 1e-12 * max(1.0, abs(t_end)):
        remaining = t_end - t
        h = min(M * dt, max(remaining - (k + 1) * dt, 0.0))  # projected part of this step
        U_b, s1, se_b, se1 = _slope(stepper, U, params, k, dt)
        if method == "pfe" or h == 0.0:
            U_new = U_b + h * s1
            se = np.hypot(se_b, h * se1)
        else:
            _, s2, _, se2 = _slope(stepper, U_b + h * s1, params, k, dt)
            U_new = U_b + 0.5 * h * (s1 + s2)
            se = np.sqrt(se_b**2 + (0.5 * h) ** 2 * (se1**2 + se2**2))
        if not np.all(np.isfinite(U_new)):
            raise RuntimeError(f"projective_integrate(): non-finite coarse state at t={t:.6g}")
        t += (k + 1) * dt + h
        U = U_new
        ts.append(t)
        Us.append(U.copy())
        ses.append(se)
    return ProjectiveResult(np.array(ts), np.array(Us), np.array(ses),
                            stepper.micro_seconds - cost0, stepper.calls - bursts0, method,
                            {"inner_dt": dt, "inner_steps": k, "projection_steps": M})
