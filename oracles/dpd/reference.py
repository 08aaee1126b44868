r"""Closed forms the DPD models are checked against (DPD units: rc, kT, bead mass 1).

Kinetic theory of the DPD viscosity (Groot & Warren, J. Chem. Phys. 107,
4423, 1997, after Marsh, Backx & Ernst, Phys. Rev. E 56, 1676, 1997),
conservative forces neglected:

.. math::

    D = \frac{45\,k_BT}{2\pi\gamma\rho r_c^3}, \qquad
    \eta = \eta_D + \eta_C = \frac{\rho D}{2} + \frac{2\pi\gamma\rho^2 r_c^5}{1575}.

Plane Poiseuille flow of a Newtonian fluid of viscosity eta between walls at
y = 0 and y = H, driven by a force density f = rho g (Landau & Lifshitz,
*Fluid Mechanics*, section 17). With the no-slip planes a distance delta
beyond each wall,

.. math:: u(y) = \frac{f}{2\eta}\,(y + \delta)(H + \delta - y);

with the Navier condition u = l du/dn at both walls (Navier 1823),

.. math:: u(y) = \frac{f}{2\eta}\,\big(y (H - y) + l H\big),

the same profile when delta (H + delta) = l H. These are the one home of
these formulas; :func:`oracles.dpd.fit_parabola` and the channel example
use them.
"""

from __future__ import annotations

import math

import numpy as np


def kinetic_theory_diffusion(rho: float = 3.0, gamma: float = 4.5, kT: float = 1.0, rc: float = 1.0) -> float:
    """Self-diffusion coefficient D = 45 kT / (2 pi gamma rho rc^3) (rc^2 / tau)."""
    return 45.0 * kT / (2 * math.pi * gamma * rho * rc**3)


def kinetic_theory_viscosity(rho: float = 3.0, gamma: float = 4.5, kT: float = 1.0,
                             rc: float = 1.0) -> tuple[float, float]:
    """(eta_D, eta_C), the kinetic (rho D / 2) and dissipative (2 pi gamma rho^2 rc^5 / 1575)
    parts of the kinetic-theory shear viscosity (kT tau / rc^3)."""
    return rho * kinetic_theory_diffusion(rho, gamma, kT, rc) / 2.0, 2 * math.pi * gamma * rho**2 * rc**5 / 1575.0


def poiseuille(y, force_density: float, eta: float, width: float, delta: float = 0.0) -> np.ndarray:
    """Newtonian Poiseuille u(y) = f (y + delta)(H + delta - y) / (2 eta), no-slip planes
    ``delta`` beyond the walls (0: no slip at the walls)."""
    y = np.asarray(y, dtype=float)
    return force_density * (y + delta) * (width + delta - y) / (2.0 * eta)


def navier_poiseuille(y, force_density: float, eta: float, width: float, slip: float) -> np.ndarray:
    """Newtonian Poiseuille flow with Navier slip length l at both walls: f (y (H - y) + l H) / (2 eta)."""
    y = np.asarray(y, dtype=float)
    return force_density * (y * (width - y) + slip * width) / (2.0 * eta)


def slip_plane_offset(slip: float, width: float) -> float:
    """delta of the no-slip planes for a Navier slip length l: the root >= -H/2 of
    delta (H + delta) = l H."""
    return 0.5 * (-width + math.sqrt(width * width + 4.0 * slip * width))


def parabola_slip_length(c0, c1, c2, width: float):
    """Navier slip length of u = c0 + c1 y + c2 y^2 between walls at 0 and H: the mean over
    both walls of u / (du/dn), n the normal into the fluid."""
    upper = c0 + c1 * width + c2 * width * width
    return 0.5 * (c0 / c1 + upper / -(c1 + 2 * c2 * width))


def navier_wall_velocities(face_rate, slip: float) -> np.ndarray:
    """Velocities u = l du/dn at the lower and upper wall (walls at rest) from the shear rates
    du/dy at the first and last face."""
    face_rate = np.asarray(face_rate, dtype=float)
    return np.array([slip * face_rate[0], -slip * face_rate[-1]])


__all__ = ["kinetic_theory_diffusion", "kinetic_theory_viscosity", "poiseuille", "navier_poiseuille",
           "slip_plane_offset", "parabola_slip_length", "navier_wall_velocities"]
