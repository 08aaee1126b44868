"""Cell-problem oracle against closed-form homogenisation limits.

Sources: Bensoussan, Lions & Papanicolaou, *Asymptotic Analysis for Periodic
Structures* (1978), ch. 1: in 1D the homogenised coefficient is the harmonic
mean of a(y); for a laminate it is the harmonic mean across and the arithmetic
mean along the layers. For a(y) = 1/(a0 + amp cos 2 pi y): harmonic mean
1/a0, arithmetic mean 1/sqrt(a0^2 - amp^2) (integral of 1/(a0 + amp cos)).
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm import Budget
from hmm.provenance import oracle_token
from oracles import CellProblemOracle, LayeredCosine, TwoPhaseLaminate
from oracles.constitutive import CarreauFluid, NonlinearElastic

B = Budget()


def flux(oracle, state):
    return oracle.run(np.asarray(state, dtype=float), seed=0, budget=B).mean


@pytest.mark.parametrize("x", [0.0, 0.37, 1.0])
def test_1d_cosine_gives_harmonic_mean_spectrally(x):
    coef = LayeredCosine(a0=2.0, amp=1.0, macro_slope=0.5)
    exact = (1 + 0.5 * x) / 2.0
    # midpoint rule of a smooth periodic function: exponential convergence in `cells`
    err16 = abs(flux(CellProblemOracle(coef, 1, 16), [x, 1.0])[0] - exact)
    err64 = abs(flux(CellProblemOracle(coef, 1, 64), [x, 1.0])[0] - exact)
    assert err64 < 1e-13 * max(1, exact) and err16 < 1e-6


def test_1d_two_phase_harmonic_mean_exact_and_linear_in_gradient():
    coef = TwoPhaseLaminate(a_low=1.0, a_high=9.0, fraction=0.25)
    oracle = CellProblemOracle(coef, 1, 64)
    harmonic = 1.0 / (0.25 / 9.0 + 0.75 / 1.0)
    for g in (-3.0, 0.5, 2.0):
        assert flux(oracle, [0.2, g])[0] == pytest.approx(harmonic * g, rel=1e-12)


@pytest.mark.parametrize("axis", [0, 1])
def test_2d_laminate_arithmetic_along_harmonic_across(axis):
    coef = LayeredCosine(a0=2.0, amp=1.5, axis=axis, macro_slope=0.3)
    oracle = CellProblemOracle(coef, 2, 32)
    x = np.array([0.4, 0.7])
    tensor = np.column_stack([flux(oracle, [*x, 1.0, 0.0]), flux(oracle, [*x, 0.0, 1.0])])
    m = 1 + 0.3 * x[0]
    across, along = m / 2.0, m / np.sqrt(2.0**2 - 1.5**2)
    expected = np.diag([across, along] if axis == 0 else [along, across])
    assert np.allclose(tensor, expected, rtol=1e-9, atol=1e-12)
    assert np.allclose(tensor, coef.effective_tensor(x), rtol=1e-9, atol=1e-12)


def test_2d_two_phase_laminate_exact_on_aligned_grid():
    coef = TwoPhaseLaminate(a_low=1.0, a_high=10.0, fraction=0.5, axis=0)
    oracle = CellProblemOracle(coef, 2, 16)
    q = flux(oracle, [0.5, 0.5, 2.0, -1.0])
    assert q == pytest.approx([2.0 * 2 / (1 / 10 + 1 / 1), -1.0 * 5.5], rel=1e-12)


def test_factorisation_reuse_does_not_change_a_bit():
    coef = LayeredCosine(a0=3.0, amp=2.0, axis=0)
    fresh = CellProblemOracle(coef, 2, 24, reuse_factorisation=False)
    reuse = CellProblemOracle(coef, 2, 24, reuse_factorisation=True)
    for g in ([1.0, 0.3], [-0.2, 4.0], [1.0, 0.3]):
        assert np.array_equal(flux(fresh, [0.1, 0.9, *g]), flux(reuse, [0.1, 0.9, *g]))


def test_bad_configuration_is_rejected():
    with pytest.raises(ValueError, match="`dim` must be 1 or 2"):
        CellProblemOracle(LayeredCosine(), dim=3)
    with pytest.raises(ValueError, match="`cells` must be an int >= 2"):
        CellProblemOracle(LayeredCosine(), cells=1)
    with pytest.raises(ValueError, match=r"\|amp\| < a0"):
        LayeredCosine(a0=1.0, amp=1.0)
    assert oracle_token(LayeredCosine(a0=2.0)) != oracle_token(LayeredCosine(a0=2.5))


@pytest.mark.parametrize("oracle", [
    CarreauFluid(noise=0.1),
    NonlinearElastic(beta=-3.0, noise=0.2),
])
def test_constitutive_run_batch_equals_run(oracle):
    states = np.random.default_rng(2).uniform(-1, 1, size=(17, 1))
    seeds = np.arange(17, dtype=np.uint64) * 7919
    budget = Budget(sampling_steps=4)
    batch = oracle.run_batch(states, seeds=seeds, budget=budget)
    for i in range(17):
        est = oracle.run(states[i], seed=int(seeds[i]), budget=budget)
        assert np.array_equal(batch.mean[i], est.mean) and np.array_equal(batch.stderr[i], est.stderr)
