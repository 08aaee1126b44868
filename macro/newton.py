r"""The noise-aware Newton acceptance rule shared by :func:`macro.solve_steady`
and the implicit steppers.

Newton stops at an iterate ``v`` whose residual satisfies

.. math::

    \|R(v)\|_\infty \le \mathrm{tol}\,\max(1, s)
      + 64\,\epsilon\, r
      + [\text{moved}]\; c\, w\, \nu ,

* ``tol max(1, s)``: the requested tolerance relative to a scale ``s`` of the
  problem (the forcing ``max |f|`` for a steady state, ``max |v|`` for an
  implicit step);
* ``64 eps r``: the machine-precision floor of evaluating ``R`` itself, with
  ``r = max(|dR/dv| |v|)`` (on fine grids ``|dR/dv| ~ 4 / h^2`` makes it
  far larger than ``eps``);
* ``c w nu``: the noise floor, ``nu`` the largest closure noise propagated
  into the right-hand side (``max rhs_stderr``), ``w`` the weight with which
  the right-hand side enters ``R`` (1 for a steady state, ``dt theta`` in an
  implicit step) and ``c = noise_factor`` (default :func:`noise_factor`). Below it Newton
  cannot improve, so noisy closures stop there. It applies only once Newton
  has *moved* (after the first update): a residual of the initial guess
  below the noise is still a real change to make, not noise (otherwise a
  noisy run would stop evolving).
"""

from __future__ import annotations

import numpy as np

__all__ = ["noise_factor", "acceptance_threshold", "ROUNDOFF_ULPS"]

ROUNDOFF_ULPS = 64
"""Multiple of machine epsilon in the round-off floor."""


def noise_factor(n_cells: int) -> float:
    """Default multiplier ``c`` of the noise floor for a residual over ``n_cells`` cells.

    After a Newton update computed from a noisy right-hand side ``F + eta_k``,
    the next residual is about ``eta_{k+1} - eta_k``: two independent draws,
    so ``sqrt(2)`` times the single-evaluation noise per cell. Its infinity
    norm over ``n`` cells grows like the maximum of ``n`` normals,
    ``~ sqrt(2 ln n)``. The factor

    .. math:: c(n) = \\sqrt{2}\\,\\max\\bigl(3,\\; 1 + \\sqrt{2 \\ln n}\\bigr)

    keeps the chance that a converged iterate is rejected below about 1% per
    iteration for any grid size (a flat ``3`` would reject almost surely
    once ``n`` exceeds a few thousand cells). ``c(1) = 4.24``, ``c(32) = 5.1``,
    ``c(10^4) = 7.5``.
    """
    return float(np.sqrt(2.0) * max(3.0, 1.0 + np.sqrt(2.0 * np.log(max(int(n_cells), 1)))))


def acceptance_threshold(*, tol: float, scale: float, roundoff: float, noise: float,
                         noise_factor: float, moved: bool, noise_weight: float = 1.0) -> float:
    """Largest residual ``||R||_inf`` Newton accepts (see the module docstring).

    Parameters
    ----------
    tol : float
        Relative tolerance.
    scale : float
        Problem scale ``s`` (the tolerance is ``tol * max(1, s)``).
    roundoff : float
        ``r = max(|dR/dv| |v|)``, the magnitude the residual is computed from.
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
