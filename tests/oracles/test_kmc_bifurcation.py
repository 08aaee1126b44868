"""Coarse bifurcation analysis of the A + B2 model (oracles.BistableAB): the
mean-field flow map as a coarse stepper, the closed-form folds, the noisy
fold estimator and the error raised by a KMC continuation that cannot
converge. Mean field (Makeev, Maroudas & Kevrekidis, J. Chem. Phys. 116,
10083, 2002): folds at beta = 2.5223 and 8.4953 for alpha = 1.6,
gamma = 0.04, k_r = 1; the further digits are derived in the test from the
closed form."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import Polynomial

from hmm.ef import ContinuationError, coarse_fixed_point, coarse_stepper, continuation
from validation import kmc as validation
from oracles.kmc import BistableAB, mean_field_rhs
from oracles.kmc.meanfield import MeanFieldFlow, bistable_folds, bistable_steady_curve, fold_from_branch


def test_closed_form_curve_is_steady_and_folds_bound_the_bistable_window():
    model = BistableAB()
    A = np.linspace(0.05, 0.97, 30)
    beta, B = bistable_steady_curve(model, A)
    for a, b, be in zip(A, B, beta):
        assert np.allclose(mean_field_rhs(BistableAB(beta=float(be)), [a, b]), 0.0, atol=1e-12)
    (b1, _, _), (b2, _, _) = bistable_folds(model)
    # the literature gives 4 digits (Makeev et al. 2002); the closed form gives all of them: with
    # theta_0 = N / D, N = A (4 k_r (1 - A) + gamma), D = 4 k_r A + alpha, beta = D (alpha N - gamma A D) / (2 N^2)
    # = P / Q, a rational function of A, so the folds are the roots of P' Q - P Q' in (0, 1): exact polynomial
    # algebra, independent of bistable_folds' finite differences (both routes round at ~1e-13)
    assert abs(b1 - 2.5223) < 5e-5 and abs(b2 - 8.4953) < 5e-5
    a = Polynomial([0.0, 1.0])
    n, d = a * (4 * (1 - a) + 0.04), 4 * a + 1.6
    p, q = d * (1.6 * n - 0.04 * a * d), 2 * n**2
    roots = (p.deriv() * q - p * q.deriv()).roots()
    roots = np.sort(roots[(abs(roots.imag) < 1e-12) & (roots.real > 0) & (roots.real < 1)].real)
    np.testing.assert_allclose([b1, b2], p(roots) / q(roots), rtol=1e-9)

    def n_stable(beta):
        states = validation.mean_field_fixed_points(BistableAB(beta=beta))
        return sum(int(np.all(ev.real < 0)) for x, ev in states if x.sum() < 0.999)

    assert (n_stable(b1 - 0.02), n_stable(b1 + 0.02), n_stable(b2 - 0.02), n_stable(b2 + 0.02)) == (1, 2, 2, 1)


def test_mean_field_flow_map_fixed_point_and_eigenvalues():
    flow = MeanFieldFlow(BistableAB(), ("beta",))
    with coarse_stepper(flow.lift, flow.micro, flow.restrict, coarse_names=("A", "B"),
                        param_names=("beta",)) as stepper:
        fp = coarse_fixed_point(stepper, [0.2, 0.5], [3.0], horizon=1.0, bounds=(0.0, 1.0))
    beta, B = bistable_steady_curve(BistableAB(), fp.U[0])
    assert beta == pytest.approx(3.0, abs=1e-6) and fp.U[1] == pytest.approx(B, abs=1e-7) and fp.stable
    with pytest.raises(ValueError, match="parameter 'bet'"):
        MeanFieldFlow(BistableAB(), ("bet",))


def test_fold_estimator_recovers_a_noisy_parabola_within_its_stderr():
    rng = np.random.default_rng(4)
    a = np.linspace(0.2, 0.6, 25)
    p = 2.5 + 3.0 * (a - 0.37) ** 2 + rng.normal(0.0, 0.01, a.size)
    fold, se, a_f = fold_from_branch(p, a, kind="min", window=0.2)
    assert abs(fold - 2.5) < 4 * se and 0.001 < se < 0.02 and abs(a_f - 0.37) < 0.05
    with pytest.raises(ValueError, match="no turning point inside"):
        fold_from_branch(p, a, kind="max", window=1.0)
    with pytest.raises(ValueError, match="opens the wrong way"):
        a9 = np.linspace(0.0, 1.0, 9)  # a downward parabola with one interior outlier as its minimum
        fold_from_branch(np.where(a9 == 0.5, 0.5, 1 - (a9 - 0.5) ** 2), a9, kind="min", window=10.0)


def test_kmc_continuation_that_cannot_converge_names_beta_and_residual():
    """A tolerance far below the noise of the coarse KMC map: the corrector fails
    at the first point; the error names the parameter value and the residual."""
    with validation.bistable_kmc_stepper(20.0, shape=(16, 16), replicas=2, seed=0) as stepper:
        with pytest.raises(ContinuationError, match=r"beta=3\.1\d*.*residual \d\.\d+e-0\d") as info:
            continuation(stepper, [0.17, 0.58], 3.12, n_points=5, tol=1e-7,
                         **{**validation.NOISY_CONTINUATION, "max_newton": 2, "noise_tol": None})
    assert info.value.branch.params == []


def test_same_continuation_code_on_the_mean_field_flow_finds_the_lower_fold():
    """hmm.ef continuation on the deterministic mean-field flow map passes the
    lower fold; Branch.fold_points and the noisy-branch parabola fit both
    return the closed-form fold."""
    flow = MeanFieldFlow(BistableAB(), ("beta",))
    A0 = 0.25
    beta0, B0 = bistable_steady_curve(BistableAB(), A0)
    with coarse_stepper(flow.lift, flow.micro, flow.restrict, coarse_names=("A", "B"),
                        param_names=("beta",)) as stepper:
        branch = continuation(stepper, [A0, float(B0)], float(beta0), horizon=2.0, ds=0.05, n_points=14,
                              direction=-1, fd_step=1e-6, tol=1e-9, ds_min=1e-6)
    beta_f = bistable_folds(BistableAB())[0][0]
    folds = branch.fold_points()
    assert len(folds) == 1 and abs(folds[0][0] - beta_f) < 1e-4, folds
    fit, se, _ = fold_from_branch(branch.params, np.asarray(branch.U)[:, 0], kind="min", window=0.1)
    # a deterministic branch: the estimator's stderr is its parabola misfit (residual scatter), so 4 of it
    assert abs(fit - beta_f) < 4 * se
    stable = branch.stable
    A = np.asarray(branch.U)[:, 0]
    assert np.all(stable[A < 0.33]) and not np.any(stable[A > 0.39])  # low-A branch stable, middle unstable


def test_kmc_coarse_map_approaches_the_mean_field_at_its_turning_point_as_hopping_grows():
    """At the mean-field lower turning point (beta*, A*, B*) the mean-field coarse
    map has a fixed point: Phi_T(U*) - U* = 0. The KMC coarse map (32^2 sites,
    64 replicas, T = 2) misses it by many standard errors with slow hopping
    (k_hop = 1: the lattice is not well mixed), and by clearly less with fast
    hopping (k_hop = 100): the residual of the KMC steady-state equation at
    the mean-field turning point shrinks as diffusion grows (by more than 4
    combined standard errors of the two independent estimates). A small
    residual remains at k_hop = 100 (finite hopping, and the random lift's
    missing correlations, an O(1/T) bias), so no claim of zero is made. The
    turning points themselves, by continuation at 64^2 sites over five seeds,
    are in docs/validation.md (offset from the mean field shrinks from
    k_hop = 2 to 20); too slow for a unit test."""
    (beta, A, B), _ = bistable_folds(BistableAB())
    U = np.array([A, B])
    residual = {}
    for k_hop in (1.0, 100.0):
        with validation.bistable_kmc_stepper(k_hop, shape=(32, 32), replicas=64, seed=3) as stepper:
            rec = stepper.run(U, [beta], (2.0,))
        residual[k_hop] = (rec.mean[0, -1] - U, rec.stderr[0, -1])
    (r_slow, se_slow), (r_fast, se_fast) = residual[1.0], residual[100.0]
    print(f"residual at the mean-field fold: k_hop=1 {r_slow} +- {se_slow}; k_hop=100 {r_fast} +- {se_fast}")
    assert abs(r_slow[0]) > 4 * se_slow[0]  # slow hopping: far from the mean-field fixed point
    assert abs(r_slow[0]) - abs(r_fast[0]) > 4 * np.hypot(se_slow[0], se_fast[0])
