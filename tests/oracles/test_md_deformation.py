"""2D LJ MD under a full imposed F (oracles.md.deformed.DeformedLJStress).

Exact checks: at T = 0 the affinely deformed lattice gives the Cauchy-Born P and A of
the same potential and lattice to round-off, and the small-strain view is the exact
derivative of the Cauchy stress. Statistical checks (T > 0): the spread of the stress
over independent seeds matches the reported block stderr (an F-test bound), the
stress-fluctuation tangent agrees with finite differences of the sampled stress, and a
warm-started state gives the stress of a cold run.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from hmm.contract import Budget, OracleSetupError
from oracles.md.deformed import DeformedLJStress, cauchy_from_piola
from oracles.solids import CauchyBornStress

F0 = np.array([[1.02, 0.03], [-0.01, 0.985]])  # no pair crosses r_c = 2.5 under it (shells at 2.2 and 2.9)
HOT = DeformedLJStress(temperature=0.15)
BUDGET = Budget(1000, 10000)


@pytest.mark.parametrize("F", [np.eye(2), F0, np.array([[0.97, -0.04], [0.02, 1.03]])])
def test_static_lattice_is_cauchy_born_to_round_off(F):
    W, P, A = CauchyBornStress("triangular", cutoff=2.5).response(F)
    est = DeformedLJStress(temperature=0.0).run(F.ravel(), seed=3, budget=Budget())
    scale = np.abs(A).max()
    np.testing.assert_allclose(est.mean[:4], P.ravel(), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(est.mean[4:], A.reshape(16), rtol=0, atol=1e-13 * scale)
    assert not est.stderr.any() and est.provenance["static"]


def test_small_strain_view_is_the_cauchy_stress_and_its_exact_derivative():
    small = DeformedLJStress(temperature=0.0, kinematics="small")
    finite = DeformedLJStress(temperature=0.0)
    assert small.inputs == ("eps_xx", "eps_yy", "gamma_xy") and small.outputs[:3] == ("sigma_xx", "sigma_yy",
                                                                                        "sigma_xy")
    # at the stress-free reference: isotropic hexagonal elasticity with the Cauchy relation, C11 = 3 C12 = 3 C33
    C = small.run(np.zeros(3), seed=0, budget=Budget()).mean[3:].reshape(3, 3)
    assert np.abs(small.run(np.zeros(3), seed=0, budget=Budget()).mean[:3]).max() < 1e-12 * C[0, 0]
    np.testing.assert_allclose([C[0, 0], C[0, 0], C[2, 2]], [3 * C[0, 1], C[1, 1], C[0, 1]], rtol=1e-12)
    assert abs(C[0, 2]) < 1e-12 * C[0, 0] and abs(C[1, 2]) < 1e-12 * C[0, 0]
    # away from it: sigma = P F^T / J of the finite view, and C by central differences of sigma (O(h^2))
    eps = np.array([0.01, -0.006, 0.02])
    F = np.eye(2) + np.array([[eps[0], eps[2] / 2], [eps[2] / 2, eps[1]]])
    fin = finite.run(F.ravel(), seed=0, budget=Budget()).mean
    sigma, _ = cauchy_from_piola(F, fin[:4].reshape(2, 2), fin[4:].reshape(2, 2, 2, 2))
    got = small.run(eps, seed=0, budget=Budget()).mean
    np.testing.assert_allclose(got[:3], [sigma[0, 0], sigma[1, 1], sigma[0, 1]], rtol=1e-13)
    h = 1e-5
    for b in range(3):
        up, dn = eps.copy(), eps.copy()
        up[b] += h
        dn[b] -= h
        fd = (small.run(up, seed=0, budget=Budget()).mean[:3] - small.run(dn, seed=0, budget=Budget()).mean[:3]) / (2 * h)
        # central difference error ~ h^2 |d^3 sigma| ~ 1e-10 * 1e4: 1e-5 of C11 is generous and still sharp
        np.testing.assert_allclose(got[3:].reshape(3, 3)[:, b], fd, rtol=0, atol=1e-5 * C[0, 0])


@pytest.fixture(scope="module")
def ensemble():
    """Twelve independent runs at F0 (seeds 0..11)."""
    return [HOT.run(F0.ravel(), seed=s, budget=BUDGET) for s in range(12)]


def _pooled(runs, sl):
    """Mean of the run means and its stderr (independent runs)."""
    return (np.mean([r.mean[sl] for r in runs], 0),
            np.sqrt(np.sum([r.stderr[sl] ** 2 for r in runs], 0)) / len(runs))


def test_thermal_stderr_is_honest_over_seeds(ensemble):
    mean = np.array([r.mean for r in ensemble])
    se = np.array([r.stderr for r in ensemble])
    # spread over 12 seeds (11 dof) against the pooled reported variance (12 x (blocks - 1) dof):
    # the ratio follows F(11, 108) if the block stderr is honest; two-sided 0.1% bounds per column
    lo, hi = stats.f.ppf([0.001, 0.999], 11, 12 * (HOT.blocks - 1))
    ratio = mean.var(axis=0, ddof=1) / (se**2).mean(axis=0)
    cols = [0, 1, 2, 3, 4, 9, 19]  # P_* and A_1_1, A_2_2, A_4_4
    assert ((ratio[cols] > lo) & (ratio[cols] < hi)).all(), dict(zip(np.array(HOT.outputs)[cols], ratio[cols]))
    # thermal stress is visible: P_xx differs from the T = 0 Cauchy-Born value by > 10 sigma
    P0 = CauchyBornStress("triangular", cutoff=2.5).response(F0)[1]
    assert abs(mean[:, 0].mean() - P0[0, 0]) > 10 * se[:, 0].mean() / np.sqrt(12)
    # balance of angular momentum: P F^T = (sum phi'/r r r - K) / V0 is symmetric sample by sample,
    # so every mean is symmetric to round-off
    s = np.array([m[:4].reshape(2, 2) @ F0.T for m in mean])
    assert np.abs(s[:, 0, 1] - s[:, 1, 0]).max() < 1e-12 * np.abs(s).max()


def test_fluctuation_tangent_agrees_with_finite_differences(ensemble):
    h = 0.01
    A, A_se = _pooled(ensemble, slice(4, 20))
    for col in (0, 3):  # dP/dF_xx and dP/dF_yy
        up, dn = F0.ravel().copy(), F0.ravel().copy()
        up[col] += h
        dn[col] -= h
        p, sp = _pooled([HOT.run(up, seed=100 + s, budget=BUDGET) for s in range(3)], slice(0, 4))
        m, sm = _pooled([HOT.run(dn, seed=200 + s, budget=BUDGET) for s in range(3)], slice(0, 4))
        fd, fd_se = (p - m) / (2 * h), np.hypot(sp, sm) / (2 * h)
        a, a_se = A.reshape(4, 4)[:, col], A_se.reshape(4, 4)[:, col]
        # 4 sigma of the combined stderr; the central-difference bias h^2 |d^3 P| / 6 ~ 1e-4 x 1e3 / 6
        # is below a tenth of the stderr (~0.5)
        assert (np.abs(a - fd) < 4 * np.hypot(a_se, fd_se)).all(), (col, a, fd, a_se, fd_se)


def test_stateful_warm_start_gives_the_cold_stress_with_few_equilibration_steps():
    warm = DeformedLJStress(temperature=0.15, warm_equilibration_steps=50)
    state = warm.initial_state(F0.ravel(), seed=7)
    assert state["age"] == 0 and state["X"].shape == (warm.n_atoms, 2)
    _, state = warm.advance(state, F0.ravel(), seed=8, budget=BUDGET)
    assert state["age"] == 11000 and np.array_equal(state["F"], F0)
    F1 = F0 + np.array([[0.01, 0.0], [0.0, -0.005]])
    est, new = warm.advance(state, F1.ravel(), seed=9, budget=BUDGET)
    assert est.provenance["equilibration_steps"] == 50 and np.array_equal(new["F"], F1)
    again, _ = warm.advance(state, F1.ravel(), seed=9, budget=BUDGET)  # the state is not mutated: same bits
    assert np.array_equal(again.mean, est.mean) and np.array_equal(again.stderr, est.stderr)
    cold = [warm.run(F1.ravel(), seed=20 + s, budget=Budget(3000, 10000)) for s in range(3)]
    c_mean = np.mean([c.mean[:4] for c in cold], 0)
    c_se = np.sqrt(np.sum([c.stderr[:4] ** 2 for c in cold], 0)) / 3
    assert (np.abs(est.mean[:4] - c_mean) < 4 * np.hypot(est.stderr[:4], c_se)).all()


def test_refusals_name_the_problem():
    o = DeformedLJStress(temperature=0.0)
    with pytest.raises(OracleSetupError, match="det F"):
        o.run(np.array([1.0, 0.0, 0.0, -1.0]), seed=0, budget=Budget())
    with pytest.raises(OracleSetupError, match="cutoff"):
        o.run(np.array([0.5, 0.0, 0.0, 0.5]), seed=0, budget=Budget())
    with pytest.raises(OracleSetupError, match="cells"):
        DeformedLJStress(cells=(2, 2))
    with pytest.raises(OracleSetupError, match="blocks"):
        HOT.run(F0.ravel(), seed=0, budget=Budget(10, 50))


def frozen(state):
    """The state as the stateful driver hands it over: read-only numeric numpy arrays."""
    out = {k: np.array(v) for k, v in state.items()}
    for v in out.values():
        assert v.dtype.kind in "biufc"
        v.flags.writeable = False
    return out


def test_follows_the_stateful_oracle_protocol():
    import hmm.contract as contract

    warm = DeformedLJStress(cells=(6, 4), temperature=0.1, warm_equilibration_steps=20, sample_every=5, blocks=5)
    if hasattr(contract, "StatefulOracle"):
        assert isinstance(warm, contract.StatefulOracle)
    state = frozen(warm.initial_state(F0.ravel(), seed=1))
    est, new = warm.advance(state, F0.ravel(), seed=2, budget=Budget(100, 200))  # read-only input is fine
    again, new2 = warm.advance(state, F0.ravel(), seed=2, budget=Budget(100, 200))
    assert np.array_equal(est.mean, again.mean) and all(np.array_equal(new[k], new2[k]) for k in new)
    assert set(new) == set(state) and all(np.asarray(new[k]).shape == state[k].shape for k in state)
    assert est.provenance["micro_steps"] == 300
    est2, _ = warm.advance(frozen(new), F0.ravel(), seed=3, budget=Budget(100, 200))
    assert est2.provenance["micro_steps"] == 220  # a warm state equilibrates for warm_equilibration_steps


F3 = np.array([[1.01, 0.005, -0.003], [0.002, 0.995, 0.004], [-0.001, 0.003, 1.007]])


def test_fcc_static_lattice_is_cauchy_born_and_obeys_the_cauchy_relation():
    # r_c = 2.3 lies between the fourth (2.18) and fifth (2.44) shells of the relaxed fcc lattice
    W, P, A = CauchyBornStress("fcc", cutoff=2.3).response(F3)
    fcc = DeformedLJStress(lattice="fcc", cutoff=2.3, temperature=0.0)
    assert fcc.n_atoms == 256 and fcc.cells == (4, 4, 4) and fcc.inputs[1] == "F_xy"
    est = fcc.run(F3.ravel(), seed=0, budget=Budget())
    scale = np.abs(A).max()
    np.testing.assert_allclose(est.mean[:9], P.ravel(), rtol=0, atol=1e-13 * scale)
    np.testing.assert_allclose(est.mean[9:], A.ravel(), rtol=0, atol=1e-13 * scale)
    C = DeformedLJStress(lattice="fcc", cutoff=2.3, temperature=0.0, kinematics="small").run(
        np.zeros(6), seed=0, budget=Budget()).mean[6:].reshape(6, 6)
    # cubic symmetry and, at zero stress for a central pair potential, C12 = C44
    np.testing.assert_allclose([C[1, 1], C[2, 2], C[0, 2], C[1, 2], C[4, 4], C[5, 5], C[3, 3]],
                               [C[0, 0], C[0, 0], C[0, 1], C[0, 1], C[3, 3], C[3, 3], C[0, 1]], rtol=1e-12)
    assert np.abs(C[:3, 3:]).max() < 1e-12 * C[0, 0]


def test_fcc_thermal_run_and_warm_advance():
    hot = DeformedLJStress(lattice="fcc", cutoff=2.3, temperature=0.1, sample_every=10, blocks=5,
                           warm_equilibration_steps=50)
    est, state = hot.advance(hot.initial_state(F3.ravel(), seed=1), F3.ravel(), seed=2, budget=Budget(300, 1000))
    assert est.mean.shape == (90,) and np.isfinite(est.mean).all() and (est.stderr[:9] > 0).all()
    assert state["X"].shape == (256, 3) and int(state["age"]) == 1300
    # balance of angular momentum: P F^T = (sum phi'/r r r - K) / V0 is symmetric sample by sample,
    # so the mean is symmetric to round-off
    s = est.mean[:9].reshape(3, 3) @ F3.T
    assert np.abs(s - s.T).max() < 1e-12 * np.abs(s).max()
    warm, _ = hot.advance(state, F3.ravel(), seed=3, budget=Budget(300, 1000))
    assert warm.provenance["equilibration_steps"] == 50
