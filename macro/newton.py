r"""The Newton stopping rule shared by :func:`macro.solve_steady` and the
implicit steppers.

Why the rule converges on the frozen-noise residual
---------------------------------------------------
Within one Newton solve (one implicit step, one steady solve) every closure
call draws its random numbers from the same seed rows (common random
numbers, ``seed_points``), so the residual ``R(v)`` is one smooth function of
``v`` with the noise frozen in it. Newton can drive it to the tolerance like
a noise-free residual. An earlier rule also accepted any iterate whose
residual was below a *noise floor* ``c w nu`` (``nu`` the closure noise of the
right-hand side). That iterate is not the root of its own residual: the
remaining Newton error is systematic (modified Newton from the old state
approaches the root from one side, so the accepted ``v`` lags behind it in the
same direction for every seed), and it does not average out over a seed
ensemble: the ensemble mean lands several of its standard errors away from
the noise-free answer. The rule therefore accepts

.. math::

    \|R(v)\|_\infty \le \mathrm{tol}\,\max(1, s) + 64\,\epsilon\, r ,

* ``tol max(1, s)``: the requested tolerance relative to a scale ``s`` of the
  problem (the forcing ``max |f|`` for a steady state, ``max |v|`` for an
  implicit step);
* ``64 eps r``: the machine-precision floor of evaluating ``R`` itself, with
  ``r = max(|dR/dv| |v|)`` (on fine grids ``|dR/dv| ~ 4 / h^2`` makes it
  far larger than ``eps``).

Stagnation guard
----------------
A closure whose answers are *not* frozen by their seed rows (a chaotic
particle simulation whose trajectory changes with the state, a closure that
ignores ``seed_rows``) gives a residual that is noisy between iterations;
below about ``c w nu`` Newton cannot reduce it. Such a solve is accepted,
and says so in its message, when

1. the residual is within the noise floor, ``||R|| <= threshold + c w nu``
   (``w`` the weight of the right-hand side in ``R``: 1 for a steady state,
   ``dt theta`` in an implicit step; ``c = noise_factor``), **and**
2. the last update was a full Newton step (Jacobian fresh at the previous
   iterate) that failed to contract the residual by the ``contraction``
   factor.

A smooth frozen-noise residual contracts under a full Newton step, so the
guard does not fire on it and the solve runs on to the tolerance; only a
residual that Newton provably cannot improve stops at the noise floor.

Iteration cap
-------------
With an inexact Jacobian (coarse finite-difference tangents of a noisy
closure) Newton contracts only linearly and may reach its last allowed
iteration short of the tolerance. Its iterate is then accepted if its
residual is below :data:`NOISE_RESOLUTION` (``10^-3``) of the noise floor:
the Newton error left is a thousandth of the closure noise, far below what a
seed ensemble can resolve. Otherwise the solve fails as before.
``noise_factor = 0`` switches the guard off. The old rule stays available
as ``newton_rule="noise_floor"`` (:data:`NEWTON_RULES`) to reproduce earlier
results; it is biased for noisy closures.
"""

from __future__ import annotations

import numpy as np

__all__ = ["noise_factor", "acceptance_threshold", "converged_threshold", "newton_status",
           "check_newton_rule", "NEWTON_RULES", "NOISE_RESOLUTION", "ROUNDOFF_ULPS"]

ROUNDOFF_ULPS = 64
"""Multiple of machine epsilon in the round-off floor."""

NOISE_RESOLUTION = 1e-3
"""Fraction of the noise floor below which an iterate at the iteration cap is accepted."""

NEWTON_RULES = ("converge", "noise_floor")
"""Stopping rules: ``"converge"`` (default, unbiased; see the module docstring)
and ``"noise_floor"`` (the earlier rule: accept below the noise floor once
Newton has moved; biased for noisy closures)."""


def check_newton_rule(rule: object, func: str) -> str:
    """Validate a ``newton_rule`` option (one of :data:`NEWTON_RULES`)."""
    if not isinstance(rule, str):
        raise TypeError(f"{func}: `newton_rule` must be a str, got {type(rule).__name__}")
    if rule not in NEWTON_RULES:
        raise ValueError(f"{func}: unknown `newton_rule` {rule!r}; valid: {list(NEWTON_RULES)}")
    return rule


def noise_factor(n_cells: int) -> float:
    """Default multiplier ``c`` of the noise floor for a residual over ``n_cells`` cells.

    When the closure noise is not frozen between iterations, the residual
    after a Newton update computed from a noisy right-hand side ``F + eta_k``
    is about ``eta_{k+1} - eta_k``: two independent draws, so ``sqrt(2)``
    times the single-evaluation noise per cell. Its infinity norm over ``n``
    cells grows like the maximum of ``n`` normals, ``~ sqrt(2 ln n)``. The
    factor

    .. math:: c(n) = \\sqrt{2}\\,\\max\\bigl(3,\\; 1 + \\sqrt{2 \\ln n}\\bigr)

    bounds that residual with a chance of exceeding it below about 1% per
    iteration for any grid size. ``c(1) = 4.24``, ``c(32) = 5.1``,
    ``c(10^4) = 7.5``.
    """
    return float(np.sqrt(2.0) * max(3.0, 1.0 + np.sqrt(2.0 * np.log(max(int(n_cells), 1)))))


def converged_threshold(*, tol: float, scale: float, roundoff: float) -> float:
    """Residual ``||R||_inf`` at or below which Newton has converged,
    ``tol max(1, scale) + 64 eps roundoff`` (see the module docstring).

    Parameters
    ----------
    tol : float
        Relative tolerance.
    scale : float
        Problem scale ``s``.
    roundoff : float
        ``r = max(|dR/dv| |v|)``, the magnitude the residual is computed from.
    """
    return float(tol * max(1.0, scale) + ROUNDOFF_ULPS * np.finfo(float).eps * roundoff)


def acceptance_threshold(*, tol: float, scale: float, roundoff: float, noise: float,
                         noise_factor: float, moved: bool, noise_weight: float = 1.0) -> float:
    """Largest residual the earlier ``"noise_floor"`` rule accepts:
    :func:`converged_threshold` plus ``c w nu`` once Newton has moved.

    Parameters
    ----------
    tol, scale, roundoff : float
        As in :func:`converged_threshold`.
    noise : float
        ``nu``, the largest closure noise propagated into the right-hand side.
    noise_factor : float
        ``c`` (>= 0).
    moved : bool
        Whether Newton has updated the iterate yet (the noise floor applies
        only then).
    noise_weight : float
        ``w``, the weight of the right-hand side in ``R``.
    """
    threshold = tol * max(1.0, scale) + ROUNDOFF_ULPS * np.finfo(float).eps * roundoff
    if moved:
        threshold += noise_factor * noise_weight * noise
    return float(threshold)


def newton_status(rnorm: float, *, threshold: float, noise_floor: float, previous: float | None,
                  full_step: bool, contraction: float, rule: str = "converge",
                  moved: bool = True, last: bool = False) -> str:
    """Verdict on a Newton iterate: ``"converged"``, ``"stagnated"``, ``"resolved"`` or ``"continue"``.

    Parameters
    ----------
    rnorm : float
        ``||R(v)||_inf`` of the iterate.
    threshold : float
        :func:`converged_threshold` of the iterate.
    noise_floor : float
        ``c w nu``: the residual a closure that is noisy between iterations
        can leave (0 for a noise-free closure or ``noise_factor = 0``).
    previous : float or None
        Residual norm of the iterate the last update started from (None if
        there is none, or if it was not computed with the current Jacobian).
    full_step : bool
        Whether that update used a Jacobian evaluated at its starting iterate.
    contraction : float
        Required reduction factor ``||R_k+1|| <= contraction ||R_k||``.
    rule : {"converge", "noise_floor"}
        :data:`NEWTON_RULES`.
    moved : bool
        Whether Newton has updated the iterate yet (``"noise_floor"`` rule only).
    last : bool
        Whether this is the last iterate Newton may take (the iteration cap).

    Returns
    -------
    str
        ``"converged"``: accept, the residual is at the tolerance (or, for the
        ``"noise_floor"`` rule, below the noise floor once moved).
        ``"stagnated"``: accept at the noise floor, a full Newton step could not
        reduce the residual (the closure is noisy between iterations).
        ``"resolved"``: accept at the iteration cap, the residual is below
        :data:`NOISE_RESOLUTION` of the noise floor.
        ``"continue"``: iterate on (or, if ``last``, fail).
    """
    if rule == "noise_floor":
        return "converged" if rnorm <= threshold + (noise_floor if moved else 0.0) else "continue"
    if rnorm <= threshold:
        return "converged"
    if (noise_floor > 0.0 and full_step and previous is not None and rnorm <= threshold + noise_floor
            and rnorm > contraction * previous):
        return "stagnated"
    if last and noise_floor > 0.0 and rnorm <= threshold + NOISE_RESOLUTION * noise_floor:
        return "resolved"
    return "continue"
