"""Reference physics next to the models (oracles.md.reference, oracles.dpd.reference, the
KMC folds in oracles.kmc.meanfield) against published numbers and exact relations.

Sources:
* Thol, Rutkai, Koester, Lustig, Span & Vrabec, J. Phys. Chem. Ref. Data 45, 023101 (2016):
  alpha^r and its reduced derivatives at tau = delta = 1 from the paper's code ljfeos.cpp
  (as quoted in NIST teqp's tests); critical point Tc = 1.32, rho_c = 0.31, p_c = 0.130.
* Johnson, Zollweg & Gubbins, Mol. Phys. 78, 591 (1993): the MBWR equation has its critical
  point at T = 1.313, rho = 0.310, p = 0.13.
* Born & Huang (1954): a pair potential's static elastic constants obey the Cauchy relation
  C12 = C44.
* Groot & Warren, J. Chem. Phys. 107, 4423 (1997) after Marsh, Backx & Ernst, Phys. Rev. E 56,
  1676 (1997): D = 45 kT / (2 pi gamma rho rc^3), eta = rho D / 2 + 2 pi gamma rho^2 rc^5 / 1575.
* Landau & Lifshitz, Fluid Mechanics, sec. 17: plane Poiseuille flow has u_max = f H^2 / (8 eta)
  and the flux per width Q = f H^3 / (12 eta); Navier (1823): u = l du/dn at a wall.
* Makeev, Maroudas & Kevrekidis, J. Chem. Phys. 116, 10083 (2002): mean-field folds of the
  A + B2 model at beta = 2.5223 and 8.4953 (alpha = 1.6, gamma = 0.04, k_r = 1).
Tolerances: half a unit of the last published digit, plus 4 of an estimator's own stderr
where an estimator is tested.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import fsolve

from oracles.dpd import DPD_PRESETS, DPDShearStress
from oracles.dpd import reference as dpd_ref
from oracles.kmc import BistableAB
from oracles.kmc.meanfield import bistable_folds, bistable_steady_curve, fold_from_branch
from oracles.md import reference as md_ref


def critical_point(eos, guess=(1.32, 0.31)):
    """(T, rho, p) where dp/drho = d2p/drho2 = 0 (central differences of the EOS pressure)."""
    def conditions(x):
        t, r = x
        h = 1e-4
        p = [eos(t, r + k * h)[0] for k in (-1, 0, 1)]
        return [(p[2] - p[0]) / (2 * h), (p[2] - 2 * p[1] + p[0]) / h**2]
    t, r = fsolve(conditions, guess, xtol=1e-12)
    return t, r, eos(t, r)[0]


def test_thol_eos_reproduces_the_check_values_of_the_papers_code():
    assert np.abs(md_ref.thol_check()).max() < 1e-13  # the constants are given to 15 digits


def test_both_equations_of_state_have_their_published_critical_points():
    t, r, p = critical_point(md_ref.jzg_eos)
    assert abs(t - 1.313) < 5e-4 and abs(r - 0.310) < 5e-4 and abs(p - 0.13) < 5e-3
    t, r, p = critical_point(md_ref.thol_eos)
    assert abs(t - 1.32) < 5e-3 and abs(r - 0.31) < 5e-3 and abs(p - 0.130) < 5e-4


def test_eos_reference_allows_for_the_difference_of_the_two_equations():
    ref = md_ref.eos_reference(2.0, 0.5)
    assert ref["p_allow"] == pytest.approx(abs(ref["p"] - ref["p_jzg"]), rel=1e-15)
    assert ref["p"] == md_ref.thol_eos(2.0, 0.5)[0] and ref["u_jzg"] == md_ref.jzg_eos(2.0, 0.5)[1]


def test_lattice_sums_obey_the_cauchy_relation_and_zero_pressure():
    c = md_ref.lattice_sum_constants(2.5)
    assert c["C12"] == pytest.approx(c["C44"], rel=1e-12)  # Cauchy relation of a pair potential
    assert abs(md_ref.lj_lattice_sum(c["a0"], 2.5)["pressure"]) < 1e-12


def test_dpd_kinetic_theory_is_the_published_closed_form():
    rho, gamma, kT = 3.0, 4.5, 1.0
    assert dpd_ref.kinetic_theory_diffusion(rho, gamma, kT) == pytest.approx(45 / (2 * math.pi * 4.5 * 3), rel=1e-15)
    eta_d, eta_c = dpd_ref.kinetic_theory_viscosity(rho, gamma, kT)
    # rho D / 2 = 45 kT / (4 pi gamma rc^3) does not depend on the density
    assert eta_d == pytest.approx(45 / (4 * math.pi * 4.5), rel=1e-14)
    assert eta_c == pytest.approx(2 * math.pi * 4.5 * 9 / 1575, rel=1e-15)
    assert dpd_ref.kinetic_theory_viscosity(5.0, gamma, kT)[0] == pytest.approx(eta_d, rel=1e-14)


def test_poiseuille_and_navier_profiles():
    f, eta, h = 0.3, 0.86, 4.0
    assert dpd_ref.poiseuille(h / 2, f, eta, h) == pytest.approx(f * h**2 / (8 * eta), rel=1e-15)
    flux = quad(lambda y: dpd_ref.poiseuille(y, f, eta, h), 0.0, h)[0]
    assert flux == pytest.approx(f * h**3 / (12 * eta), rel=1e-12)
    slip = 0.35
    y = np.linspace(0.0, h, 9)
    u = dpd_ref.navier_poiseuille(y, f, eta, h, slip)
    dudy = f * (h - 2 * y) / (2 * eta)
    assert u[0] == pytest.approx(slip * dudy[0], rel=1e-14) and u[-1] == pytest.approx(-slip * dudy[-1], rel=1e-14)
    np.testing.assert_allclose(dpd_ref.navier_wall_velocities(dudy, slip), [u[0], u[-1]], rtol=1e-14)
    delta = dpd_ref.slip_plane_offset(slip, h)  # delta (H + delta) = l H: the same profile
    np.testing.assert_allclose(dpd_ref.poiseuille(y, f, eta, h, delta), u, rtol=1e-13)
    c2, c1, c0 = np.polyfit(y, u, 2)
    assert dpd_ref.parabola_slip_length(c0, c1, c2, h) == pytest.approx(slip, rel=1e-10)


def test_dpd_presets():
    assert DPDShearStress.preset("simple_fluid") == DPDShearStress()
    poly = DPDShearStress.polymer_solution(box=(6.0,) * 3)
    assert (poly.polymer_fraction, poly.chain_length, poly.bond_k, poly.bond_r0, poly.box) == (0.8, 20, 4.0, 0.0,
                                                                                              (6.0, 6.0, 6.0))
    assert DPDShearStress.polymer_solution().box == (8.0, 8.0, 8.0) and set(DPD_PRESETS) >= {"polymer_solution"}
    with pytest.raises(ValueError, match="unknown preset 'oil'"):
        DPDShearStress.preset("oil")


def test_mean_field_folds_and_the_fold_estimator_give_the_published_folds():
    model = BistableAB()
    (b1, a1, _), (b2, a2, _) = bistable_folds(model)
    assert abs(b1 - 2.5223) < 5e-5 and abs(b2 - 8.4953) < 5e-5
    # the noisy-branch estimator on exact branch points around each fold: its stderr measures
    # its own model error (the parabola's misfit), so published value within rounding + 4 se
    for beta_pub, a_fold, kind in ((2.5223, a1, "min"), (8.4953, a2, "max")):
        A = np.linspace(a_fold - 0.005, a_fold + 0.004, 21)
        beta, _ = bistable_steady_curve(model, A)
        fold, se, _ = fold_from_branch(beta, A, kind=kind, window=10.0)
        assert abs(fold - beta_pub) < 5e-5 + 4 * se and se < 1e-3
