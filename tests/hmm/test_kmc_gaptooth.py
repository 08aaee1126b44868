"""Gap-tooth scheme with lattice-KMC teeth (oracles.kmc.tooth.KMCTooth) on the
lattice gas, whose expected coverage obeys the linear reaction-diffusion
equation theta_t = D theta_xx + k_a (1 - theta) - k_d theta, D = k_hop a^2,
exactly (symmetric exclusion hopping is linear in the occupations)."""

from __future__ import annotations

import numpy as np
import pytest

from hmm.ef import GapTooth
from oracles.kmc import LatticeGas
from oracles.kmc.meanfield import lattice_gas_profile
from oracles.kmc.tooth import KMCTooth, lift_columns, strip_profile

MODEL = LatticeGas(k_ads=2e-3, k_des=2e-3, k_hop=1.0)
N, H, INNER, BUFFER, ROWS, DT = 6, 16, 7, 3, 32, 2.0
LEFT, RIGHT = 0.8, 0.2
LENGTH = N * H
CENTRES = (np.arange(N) + 0.5) * H


def theta0(x):
    return 0.5 + 0.3 * np.sin(2 * np.pi * np.asarray(x, dtype=float) / LENGTH)


def windows(profile):
    return np.array([profile[int(c) - INNER // 2 - 1:int(c) + INNER // 2].mean() for c in CENTRES])


def test_lift_is_unbiased_and_reservoirs_follow_the_interpolant():
    rng = np.random.default_rng(0)
    lattice = lift_columns(np.array([0.0, 0.26, 0.5, 1.0]), 1000, rng)
    assert lattice.shape == (1000, 4) and lattice.dtype == np.int8
    assert np.allclose(lattice.mean(axis=0), [0.0, 0.26, 0.5, 1.0], atol=1e-3)
    tooth = KMCTooth(MODEL, rows=16, buffer=3)
    means = [tooth.restrict(tooth.lift(0.4013, 0.01, 1e-3, 7.0, rng)) for _ in range(400)]
    assert abs(np.mean(means) - 0.4013) < 4 * np.std(means) / np.sqrt(400)  # stochastic rounding: unbiased
    state = tooth.lift(0.4, 0.01, 1e-3, 7.0, rng)
    edge = 7 / 2 + 3 + 0.5  # the bath columns sit one lattice constant beyond the buffers
    m2 = np.mean((np.arange(7) - 3.0) ** 2)
    assert state.left == pytest.approx(0.4 - 0.01 * edge + 1e-3 * (edge**2 - m2))
    assert state.right == pytest.approx(0.4 + 0.01 * edge + 1e-3 * (edge**2 - m2))
    assert state.lattice.shape == (16, 7 + 2 * 3 + 2)


def test_gap_tooth_kmc_agrees_with_the_mean_field_pde_within_its_stderr():
    T, runs = 40.0, 8
    x = np.arange(1, LENGTH, dtype=float)
    U0 = windows(theta0(x))
    U_pde = windows(lattice_gas_profile(MODEL, theta0, T, left=LEFT, right=RIGHT, length=LENGTH))
    out = []
    for seed in range(runs):  # independent runs: their spread is the stderr of the accumulated noise
        with GapTooth(KMCTooth(MODEL, rows=ROWS, buffer=BUFFER), CENTRES, float(INNER), DT,
                      boundary=(LEFT, RIGHT), seed=seed) as gt:
            out.append(gt.run(U0, (), (T,)).mean[0, -1])
    out = np.array(out)
    U, se = out.mean(axis=0), out.std(axis=0, ddof=1) / np.sqrt(runs)
    assert np.all(np.abs(U - U_pde) < 4 * se), (U, U_pde, se)
    assert np.all(se < 0.05)  # measured 0.020-0.033
    # the test discriminates: chi^2 over the 6 teeth rejects the initial profile (no
    # dynamics; chi^2 > 30 has p < 4e-5 for 6 degrees of freedom) but not the PDE
    # (measured chi^2: 47 against the initial profile)
    chi2_pde, chi2_initial = np.sum(((U - U_pde) / se) ** 2), np.sum(((U - U0) / se) ** 2)
    assert chi2_initial > 30 and chi2_pde < 22.5, (chi2_pde, chi2_initial)  # 22.5: p = 1e-3


def test_full_strip_kmc_matches_the_pde():
    T = 40.0
    pde = lattice_gas_profile(MODEL, theta0, T, left=LEFT, right=RIGHT, length=LENGTH)
    profiles = np.array([windows(strip_profile(MODEL, theta0, T, left=LEFT, right=RIGHT, columns=LENGTH - 1,
                                               rows=ROWS, seed=s)) for s in range(4)])
    U, se = profiles.mean(axis=0), profiles.std(axis=0, ddof=1) / 2
    assert np.all(np.abs(U - windows(pde)) < 4 * se + 1e-3), (U, windows(pde), se)


def test_bad_tooth_arguments_are_named():
    with pytest.raises(ValueError, match="exactly one species"):
        KMCTooth(model=__import__("oracles").BistableAB())
    with pytest.raises(ValueError, match="`buffer` must be an int >= 1"):
        KMCTooth(MODEL, buffer=0)
    with pytest.raises(ValueError, match="whole number of columns"):
        KMCTooth(MODEL).lift(0.5, 0.0, 0.0, 6.5, np.random.default_rng(0))
