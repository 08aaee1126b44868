"""History-carrying RVE (oracles.md.history.LJGlassStress): a 2D binary LJ glass under
athermal quasi-static shear. Under a strain cycle the stress-strain loop of the stateful
oracle (states kept between steps) encloses a dissipated energy > 0; the stateless oracle
(relaxed from the pristine sample at every query) encloses none.
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm.contract import Budget, OracleSetupError
from oracles.md.history import LJGlassStress

GLASS = LJGlassStress(n_atoms=100)
AMP, STEP = 0.15, 0.015
_K = int(round(AMP / STEP))
CYCLE = STEP * np.concatenate([np.arange(0, _K), np.arange(_K, -_K, -1), np.arange(-_K, _K + 1)[: _K + 1]])


def shear(g: float) -> np.ndarray:
    return np.array([1.0, g, 0.0, 1.0])  # F = I + g e_x e_y, row-major


def loop_work(gamma: np.ndarray, P_xy: np.ndarray) -> float:
    """Work per reference area, the closed-path integral of P : dF = P_xy d gamma (trapezoid rule)."""
    return float(np.sum(0.5 * (P_xy[1:] + P_xy[:-1]) * np.diff(gamma)))


def stateful_cycle(seed: int) -> tuple[float, np.ndarray]:
    state = GLASS.initial_state(shear(0.0), seed=seed)
    P = []
    for g in CYCLE:
        est, state = GLASS.advance(state, shear(g), seed=0, budget=Budget())
        P.append(est.mean[1])
    return loop_work(CYCLE, np.array(P)), np.array(P)


def test_cycle_encloses_dissipation_with_states_kept_and_none_without():
    assert CYCLE[0] == 0.0 and abs(CYCLE[-1]) < 1e-15 and np.isclose(CYCLE.max(), AMP) and np.isclose(CYCLE.min(), -AMP)
    works = np.array([stateful_cycle(seed)[0] for seed in range(5)])
    mean, se = works.mean(), works.std(ddof=1) / np.sqrt(len(works))
    assert mean > 4 * se, (works, mean, se)  # dissipated energy per cycle > 0 at 4 sigma over seeds
    stateless = []
    for seed in range(2):
        P = np.array([GLASS.run(shear(g), seed=seed, budget=Budget()).mean[1] for g in CYCLE])
        stateless.append(loop_work(CYCLE, P))
    s_mean = np.mean(stateless)
    s_se = np.std(stateless, ddof=1) / np.sqrt(len(stateless))
    # a single-valued P(F) encloses no area: the up and down trapezoids cancel to round-off
    assert abs(s_mean) <= 4 * s_se + 1e-12 * mean, stateless
    assert abs(s_mean) < 0.01 * mean


def test_state_carries_history_and_is_not_mutated():
    state = GLASS.initial_state(shear(0.0), seed=3)
    pristine = GLASS.advance(state, shear(0.0), seed=0, budget=Budget())[0].mean
    X0 = state["X"].copy()
    _, loaded = GLASS.advance(state, shear(0.12), seed=0, budget=Budget())
    assert np.array_equal(state["X"], X0)  # advance returns a new state
    back, after = GLASS.advance(loaded, shear(0.0), seed=0, budget=Budget())
    # plastic events at 12% shear leave residual stress: back at F = I the shear stress differs from the
    # pristine one by more than a tenth of the shear stress scale at the peak
    peak = GLASS.advance(loaded, shear(0.12), seed=0, budget=Budget())[0].mean[1]
    assert abs(back.mean[1] - pristine[1]) > 0.1 * abs(peak)
    assert np.array_equal(after["F"], np.eye(2)) and after["X"].shape == (1, GLASS.n_atoms, 2)
    # the stateless run is the advance of the pristine sample (same bits)
    assert np.array_equal(GLASS.run(shear(0.0), seed=3, budget=Budget()).mean, pristine)


def test_replicas_give_the_mean_and_stderr_over_samples():
    est = GLASS.run(shear(0.02), seed=5, budget=Budget(replicas=3))
    state = GLASS.initial_state(shear(0.02), seed=5, replicas=3)
    rows = np.array([GLASS.advance({"X": state["X"][r:r + 1], "types": state["types"][r:r + 1]}, shear(0.02),
                                   seed=0, budget=Budget())[0].mean for r in range(3)])
    assert est.n_eff == 3.0 and est.provenance["replicas"] == 3
    np.testing.assert_allclose(est.mean, rows.mean(axis=0), rtol=1e-13, atol=0)
    np.testing.assert_allclose(est.stderr, rows.std(axis=0, ddof=1) / np.sqrt(3), rtol=1e-12, atol=0)
    assert len({r[1] for r in rows}) == 3  # three different glass samples


def test_refusals():
    with pytest.raises(OracleSetupError, match="det F"):
        GLASS.run(np.array([1.0, 0.0, 0.0, -1.0]), seed=0, budget=Budget())
    with pytest.raises(OracleSetupError, match="n_atoms"):
        LJGlassStress(n_atoms=20)
    with pytest.raises(OracleSetupError, match="state X"):
        GLASS.advance({"X": np.zeros((1, 5, 2)), "types": np.zeros((1, 5))}, shear(0.0), seed=0, budget=Budget())


def test_follows_the_stateful_oracle_protocol():
    import hmm.contract as contract

    if hasattr(contract, "StatefulOracle"):
        assert isinstance(GLASS, contract.StatefulOracle)
    state = {k: np.array(v) for k, v in GLASS.initial_state(shear(0.05), seed=2).items()}
    for v in state.values():
        assert v.dtype.kind in "biufc"
        v.flags.writeable = False  # the driver hands read-only arrays
    est, new = GLASS.advance(state, shear(0.05), seed=0, budget=Budget())
    again, new2 = GLASS.advance(state, shear(0.05), seed=1, budget=Budget())
    assert np.array_equal(est.mean, again.mean) and all(np.array_equal(new[k], new2[k]) for k in new)
    assert set(new) == set(state) and all(new[k].shape == state[k].shape for k in state)
    assert est.provenance["micro_steps"] == sum(est.provenance["fire_iterations"]) > 0


def test_relaxed_tangent_is_symmetric_and_softer_than_the_affine_one():
    from oracles.md import _kernels2d as K2

    glass = LJGlassStress(n_atoms=100, tangent=True)
    assert glass.outputs[5:] == tuple(f"A_{a}_{b}" for a in range(1, 5) for b in range(1, 5))
    F = shear(0.01)
    est, state = glass.advance(glass.initial_state(F, seed=4), F, seed=0, budget=Budget())
    A = est.mean[5:].reshape(4, 4)
    # central differences of stresses relaxed to ftol carry an error ~ ftol / (2 h) = 5e-3 per component;
    # ten times that bounds the asymmetry of a hyperelastic (relaxed-branch) tangent
    tol = 10 * glass.ftol / glass.fd_step
    assert np.array_equal(A, A.T)  # returned symmetrised; the antisymmetric part of the estimate is its error
    assert est.provenance["tangent_asymmetry"] * np.abs(A).max() < tol
    # non-affine relaxation only lowers the stiffness: B - A >= 0 with B the affine (Born) tangent
    eps, sig, rc, shift = glass._params()
    L = glass.box_length
    born, obs = np.zeros(16), np.zeros(K2.N_OBS)
    K2.forces(np.ascontiguousarray(state["X"][0]), F.reshape(2, 2).copy(), np.array([L, L]),
              np.ascontiguousarray(state["types"][0]), eps, sig, rc, shift, np.empty((glass.n_atoms, 2)), obs, born,
              0.0)
    B = born.reshape(4, 4) / L**2
    assert np.linalg.eigvalsh(0.5 * (B - A + (B - A).T)).min() > -tol
    assert A[1, 1] < 0.8 * B[1, 1]  # a glass: the relaxed shear stiffness is well below the affine one
    np.testing.assert_allclose(est.mean[:4], glass.advance(state, F, seed=0, budget=Budget())[0].mean[:4],
                               rtol=0, atol=1e-6 * np.abs(est.mean[:4]).max())
