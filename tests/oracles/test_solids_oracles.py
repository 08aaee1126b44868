"""Solid oracles against closed forms.

* Periodic FE cell of a two-phase laminate: the effective stiffness equals the exact
  laminate formulas (Backus 1962, J. Geophys. Res. 67, 4427; Milton, The Theory of
  Composites, 2002, ch. 9): series (Reuss) averages for the normal and transverse-shear
  components, the parallel (Voigt) average for the in-plane shear, and the mixed
  forms for the in-plane normal components (oracles.solids.reference). P1 elements
  whose faces carry the interfaces contain the exact piecewise-affine cell solution,
  so the match is at the round-off of the direct solve (1e-12 relative allowed).
* Hill-Mandel: <sigma : eps> - <sigma> : <eps> = 0 for periodic fluctuations (Hill 1963),
  at solver round-off.
* Voigt and Reuss bounds (Hill 1952): C_Reuss <= C* <= C_Voigt in the energy sense, for
  the circular inclusion.
* Cauchy-Born LJ at T = 0 (Born & Huang 1954; Wallace 1972): stress-free at the relaxed
  spacing, Cauchy relation C12 = C44 for central pair potentials, 2D triangular isotropy
  C11 = C12 + 2 C44, the closed form of the nearest-neighbour triangular spring lattice
  lambda = mu = sqrt(3) k / 4, and the closed-form P and dP/dF against finite differences
  of W and P (an independent computation).
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm.contract import Budget, OracleSetupError
from oracles.solids import CauchyBornStress, CellProblemStress, CircularInclusion, Laminate, relaxed_spacing
from oracles.solids.microstructure import lame
from oracles.solids.reference import laminate_stiffness, triangular_nn_moduli

EPS = np.finfo(float).eps
LAM = Laminate(E=(10.0, 1.0), nu=(0.3, 0.25), fraction=0.5)


def run(oracle, state):
    return oracle.run(np.asarray(state, dtype=float), seed=0, budget=Budget()).mean


@pytest.mark.parametrize("dim,cells,fraction", [(2, 8, 0.5), (2, 10, 0.3), (3, 4, 0.5)])
def test_laminate_effective_stiffness_equals_the_closed_form(dim, cells, fraction):
    lam = Laminate(E=(10.0, 1.0), nu=(0.3, 0.25), fraction=fraction)
    C, H = CellProblemStress(lam, dim=dim, cells=cells).effective()
    exact = laminate_stiffness(lam.E, lam.nu, fraction, dim)
    assert np.abs(C - exact).max() <= 1e-12 * np.abs(exact).max()
    # the closed forms are the series / parallel averages named in the module docstring
    f = np.array([fraction, 1 - fraction])
    lm = np.array([lame(e, n) for e, n in zip(lam.E, lam.nu)])
    M, mu = lm[:, 0] + 2 * lm[:, 1], lm[:, 1]
    normal_shear = 2 if dim == 2 else 5  # Voigt index of the xy shear (across the layers)
    assert C[0, 0] == pytest.approx(1 / (f @ (1 / M)), rel=1e-12)  # Reuss of M
    assert C[normal_shear, normal_shear] == pytest.approx(1 / (f @ (1 / mu)), rel=1e-12)  # Reuss of mu
    if dim == 3:
        assert C[3, 3] == pytest.approx(f @ mu, rel=1e-12)  # Voigt of mu (yz, in the layers)


def test_laminate_along_y_is_the_permuted_stiffness():
    C = CellProblemStress(Laminate(E=LAM.E, nu=LAM.nu, axis=1), cells=8).effective()[0]
    exact = laminate_stiffness(LAM.E, LAM.nu, 0.5, 2)[np.ix_([1, 0, 2], [1, 0, 2])]
    assert np.abs(C - exact).max() <= 1e-12 * np.abs(exact).max()


@pytest.mark.parametrize("microstructure", [LAM, CircularInclusion(radius=0.3)], ids=["laminate", "inclusion"])
def test_stress_tangent_and_hill_mandel_residual(microstructure):
    oracle = CellProblemStress(microstructure, cells=16)
    rng = np.random.default_rng(1)
    for eps in 0.01 * rng.standard_normal((4, 3)):
        out = run(oracle, eps)
        sigma, C, hm = out[:3], out[3:12].reshape(3, 3), out[12]
        assert np.abs(sigma - C @ eps).max() <= 10 * EPS * np.abs(C).max() * np.abs(eps).max()
        assert abs(hm) <= 1e-12 * (eps @ C @ eps)  # Hill-Mandel at solver round-off
    assert oracle.outputs[-1] == "hill_mandel" and oracle.units["sigma_xx"] == "Pa"
    assert np.abs(C - C.T).max() <= 1e-12 * np.abs(C).max() and np.linalg.eigvalsh(C).min() > 0


def test_inclusion_lies_between_the_voigt_and_reuss_bounds_and_converges():
    inc = CircularInclusion(E=(20.0, 1.0), nu=(0.2, 0.35), radius=0.35)
    y = np.random.default_rng(0).random((200_000, 2))  # phase fractions by Monte Carlo: ~1e-3 error
    frac = np.mean(inc.phase(y) == 0)
    Cph = [inc.stiffness(np.array([[0.5, 0.5]]))[0], inc.stiffness(np.array([[0.0, 0.0]]))[0]]
    voigt = frac * Cph[0] + (1 - frac) * Cph[1]
    reuss = np.linalg.inv(frac * np.linalg.inv(Cph[0]) + (1 - frac) * np.linalg.inv(Cph[1]))
    Cs = [CellProblemStress(inc, cells=n).effective()[0] for n in (16, 32, 64)]
    margin = 0.01 * np.abs(voigt).max()  # allowance for the Monte Carlo fraction and the staircase
    for C in Cs:
        assert np.linalg.eigvalsh(voigt - C).min() > -margin
        assert np.linalg.eigvalsh(C - reuss).min() > -margin
        assert np.linalg.eigvalsh(C - reuss).max() > 0.05 * np.abs(reuss).max()  # strictly inside
    # staircase convergence: successive differences shrink
    assert np.abs(Cs[2] - Cs[1]).max() < np.abs(Cs[1] - Cs[0]).max()


def test_cell_problem_refusals():
    with pytest.raises(OracleSetupError, match="cells"):
        CellProblemStress(Laminate(fraction=0.3), cells=8)  # interfaces off the element faces
    with pytest.raises(OracleSetupError, match="fraction"):
        Laminate(fraction=1.5)
    with pytest.raises(OracleSetupError, match="nu"):
        CircularInclusion(nu=(0.5, 0.3))
    with pytest.raises(TypeError, match="microstructure"):
        CellProblemStress("laminate")


@pytest.mark.parametrize("lattice", ["triangular", "fcc"])
def test_cauchy_born_is_stress_free_at_the_relaxed_spacing_and_obeys_the_cauchy_relation(lattice):
    oracle = CauchyBornStress(lattice, cutoff=2.5)
    d = oracle.dim
    W, P, A = oracle.response(np.eye(d))
    scale = np.abs(A).max()
    assert np.abs(P).max() <= 1e3 * EPS * scale  # P(F = I) ~ 0 at the relaxed spacing
    c11, c12, c44 = A[0, 0, 0, 0], A[0, 0, 1, 1], A[0, 1, 0, 1]
    assert abs(c12 - c44) <= 1e3 * EPS * scale  # Cauchy relation C12 = C44
    assert abs(A[1, 1, 1, 1] - c11) <= 1e3 * EPS * scale  # cubic / hexagonal symmetry
    if d == 2:
        assert abs(c11 - c12 - 2 * c44) <= 1e3 * EPS * scale  # the triangular lattice is isotropic
    else:
        assert abs(A[2, 2, 2, 2] - c11) <= 1e3 * EPS * scale and abs(A[1, 2, 1, 2] - c44) <= 1e3 * EPS * scale
    # the minor symmetric part at F = I equals the major one (zero stress)
    assert np.abs(A - A.transpose(1, 0, 2, 3)).max() <= 1e3 * EPS * scale
    assert W < 0 and oracle.reference_spacing == pytest.approx(relaxed_spacing(lattice, 2.5), abs=0)


def test_nearest_neighbour_triangular_lattice_matches_the_spring_network_closed_form():
    oracle = CauchyBornStress("triangular", cutoff=1.5)  # first shell only
    assert oracle.reference_spacing == pytest.approx(2 ** (1 / 6), rel=1e-14)  # phi'(r_nn) = 0
    assert len(oracle.neighbours()[0]) == 6
    k = 72.0 / 2 ** (1 / 3)  # phi''(2^(1/6) sigma) = 72 epsilon / r^2
    lam, mu = triangular_nn_moduli(k)
    _, _, A = oracle.response(np.eye(2))
    assert A[0, 0, 0, 0] == pytest.approx(lam + 2 * mu, rel=1e-13)
    assert A[0, 0, 1, 1] == pytest.approx(lam, rel=1e-13) and A[0, 1, 0, 1] == pytest.approx(mu, rel=1e-13)


@pytest.mark.parametrize("lattice", ["triangular", "fcc"])
def test_closed_form_stress_and_tangent_against_finite_differences(lattice):
    oracle = CauchyBornStress(lattice, cutoff=2.2)
    d = oracle.dim
    F = np.eye(d) + 0.03 * np.random.default_rng(4).standard_normal((d, d))
    W, P, A = oracle.response(F)
    # central differences, h = 1e-5: truncation h^2 |W'''| / 6 ~ 1e-8 |P|, round-off eps |W| / h ~ 1e-10
    h = 1e-5
    for k in range(d):
        for L in range(d):
            dF = np.zeros((d, d))
            dF[k, L] = h
            Wp, Pp, _ = oracle.response(F + dF)
            Wm, Pm, _ = oracle.response(F - dF)
            assert (Wp - Wm) / (2 * h) == pytest.approx(P[k, L], abs=1e-6 * np.abs(P).max() + 1e-8)
            assert np.abs((Pp - Pm) / (2 * h) - A[:, :, k, L]).max() <= 1e-6 * np.abs(A).max()
    # the elastic constants from second differences of W at F = I (lattice-sum independent route)
    W0 = oracle.response(np.eye(d))[0]
    _, _, A0 = oracle.response(np.eye(d))
    h = 1e-4  # truncation h^2 |W''''| / 12 ~ 1e-7 |C|, round-off eps |W| / h^2 ~ 1e-7
    for (i, J), (k, L) in [((0, 0), (0, 0)), ((0, 0), (1, 1)), ((0, 1), (0, 1))]:
        def w(a, b, first=(i, J), second=(k, L)):
            dF = np.zeros((d, d))
            dF[first] += a
            dF[second] += b
            return oracle.response(np.eye(d) + dF)[0]
        second = (w(h, h) - w(h, -h) - w(-h, h) + w(-h, -h)) / (4 * h * h)
        assert second == pytest.approx(A0[i, J, k, L], rel=1e-5)
    assert W0 == pytest.approx(oracle.run(np.eye(d).ravel(), seed=0, budget=Budget()).mean[-1], rel=1e-15)


def test_cauchy_born_oracle_layout_and_refusals():
    oracle = CauchyBornStress("fcc", cutoff=1.8)
    out = run(oracle, np.eye(3).ravel() + 0.01)
    assert out.shape == (9 + 81 + 1,) and oracle.inputs[1] == "F_xy" and oracle.outputs[9] == "A_1_1"
    assert oracle.units["P_xx"] == "epsilon/sigma^3"
    W, P, A = oracle.response(np.eye(3) + 0.01)
    assert np.array_equal(out[:9], P.ravel()) and np.array_equal(out[9:90], A.reshape(9, 9).ravel())
    with pytest.raises(OracleSetupError, match="lattice"):
        CauchyBornStress("bcc")
    with pytest.raises(OracleSetupError, match="cutoff"):
        CauchyBornStress("fcc", cutoff=0.9)
    with pytest.raises(OracleSetupError, match="closer than"):
        run(oracle, 0.1 * np.eye(3).ravel())
