"""Closed forms and published values the validation studies compare with.

The closed forms of a micro model live next to it (``oracles.md.reference``,
``oracles.dpd.reference``, the DPD presets) and are re-exported here;
published values only the studies use are defined here.

Lennard-Jones fluid and crystal (reduced LJ units):

* the MBWR equation of state of Johnson, Zollweg & Gubbins, Mol. Phys. 78,
  591 (1993), Table 10 coefficients (:func:`jzg_eos`);
* the Helmholtz-energy equation of state of Thol, Rutkai, Koester, Lustig,
  Span & Vrabec, J. Phys. Chem. Ref. Data 45, 023101 (2016), coefficients as
  encoded in NIST's teqp and checked against the paper's own check values
  (:func:`thol_eos`, :func:`thol_check`);
* static fcc lattice sums with the Born formula for the elastic constants
  (Born & Huang, *Dynamical Theory of Crystal Lattices*, 1954;
  :func:`lattice_sum_constants`);
* self-diffusion and viscosity at T* = 0.722, rho* = 0.8442 (Meier,
  Laesecke & Kabelac 2004) and the Yeh-Hummer constant.

DPD (Groot & Warren, J. Chem. Phys. 107, 4423, 1997): the reference
pressure at rho = 3, a = 25, kT = 1, the GW97 fit constant, the kinetic
theory of the viscosity (:func:`kinetic_theory_viscosity`), the
reverse-Poiseuille profile shape (:func:`reverse_poiseuille_bin_means`) and
the polymer-solution preset :data:`POLYMER`.

Lattice KMC: the 2D directed-percolation exponent, the ZGB transition
points, and the fixed points of a model's mean-field ODE
(:func:`mean_field_fixed_points`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import fsolve

from oracles.dpd import DPD_PRESETS
from oracles.dpd.reference import kinetic_theory_viscosity
from oracles.md.reference import (JZG_GAMMA, JZG_X, THOL_CHECK, THOL_GAUSS, THOL_POWER, eos_reference,
                                  fcc_shells, jzg_eos, lattice_sum_constants, lj_lattice_sum, thol_alphar,
                                  thol_check, thol_eos)

__all__ = ["JZG_GAMMA", "JZG_X", "THOL_CHECK", "THOL_GAUSS", "THOL_POWER", "eos_reference", "fcc_shells",
           "jzg_eos", "lattice_sum_constants", "lj_lattice_sum", "thol_alphar", "thol_check", "thol_eos",
           "kinetic_theory_viscosity", "POLYMER", "D_MEIER_1372", "ETA_MEIER", "XI_YEH_HUMMER", "P_REFERENCE",
           "P_REFERENCE_ROUNDING", "ALPHA_GW", "reverse_poiseuille_bin_means", "DP_DELTA", "Y1_LITERATURE", "Y2_LITERATURE",
           "mean_field_fixed_points"]

# --------------------------------------------------------------------- LJ
D_MEIER_1372 = 0.0325  # Meier, Laesecke & Kabelac, JCP 121, 9526 (2004), N = 1372
ETA_MEIER = 3.258  # Meier, Laesecke & Kabelac, JCP 121, 3671 (2004), T* = 0.722, rho* = 0.8442
XI_YEH_HUMMER = 2.837297


# --------------------------------------------------------------------- DPD
P_REFERENCE = 23.6  # p at rho = 3, a = 25, kT = 1: the converged value the DPD section is checked against
P_REFERENCE_ROUNDING = 0.05  # quoted to 3 digits
ALPHA_GW = 0.101  # GW97 fit of (p - rho kT) / (a rho^2), rho > 2


#: Concentrated polymer solution (DPD keyword arguments; :data:`oracles.dpd.DPD_PRESETS`).
POLYMER = dict(DPD_PRESETS["polymer_solution"])


def reverse_poiseuille_bin_means(ly: float, bins: int) -> np.ndarray:
    """Bin averages of phi(y) = +-y' (Ly/2 - y') / 2 over ``bins`` equal bins of (0, ``ly``): the
    reverse-Poiseuille velocity profile for rho g / eta = 1 (Backer, Lowe, Hoefsloot & Iedema,
    J. Chem. Phys. 122, 154503, 2005); y' = y mod ly/2, lengths in rc."""
    edges = np.linspace(0.0, ly, bins + 1)
    h = ly / 2

    def antiderivative(y):  # of +y'(h - y')/2 on [0, h), -(..) on [h, 2h); continuous
        y1 = np.minimum(y, h)
        y2 = np.maximum(y - h, 0.0)
        prim = lambda t: (h * t**2 / 2 - t**3 / 3) / 2  # noqa: E731
        return prim(y1) - prim(y2)

    return np.diff(antiderivative(edges)) / np.diff(edges)


# --------------------------------------------------------------------- lattice KMC
DP_DELTA = 0.4505  # 2D directed percolation decay exponent (Grassberger & Zhang 1996)
Y1_LITERATURE = 0.38737  # Voigt & Ziff 1997
Y2_LITERATURE = 0.5256  # Ziff & Brosilow 1992


def mean_field_fixed_points(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """All fixed points of the mean-field ODE inside the simplex, with the
    eigenvalues of their Jacobian (found from a grid of starting points)."""
    from oracles.kmc import mean_field_rhs

    S = len(model.species)
    found: list[np.ndarray] = []
    grid = np.linspace(0.0, 1.0, 9)
    for start in np.array(np.meshgrid(*[grid] * S)).reshape(S, -1).T:
        if start.sum() > 1:
            continue
        x, _, ier, _ = fsolve(lambda c: mean_field_rhs(model, c), start, full_output=True, xtol=1e-13)
        if (ier == 1 and np.all(x >= -1e-9) and x.sum() <= 1 + 1e-9
                and np.max(np.abs(mean_field_rhs(model, x))) < 1e-10
                and not any(np.allclose(x, f, atol=1e-7) for f in found)):
            found.append(x)
    out = []
    for x in found:
        h = 1e-7
        J = np.array([(mean_field_rhs(model, x + h * e) - mean_field_rhs(model, x - h * e)) / (2 * h)
                      for e in np.eye(S)]).T
        out.append((x, np.linalg.eigvals(J)))
    return out
