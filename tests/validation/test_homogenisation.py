"""HMM for homogenised diffusion against closed forms and a direct fine-grid solve.

The cases and the theory they check are in :mod:`validation.homogenisation`
(Bensoussan, Lions & Papanicolaou 1978; E & Engquist 2003). Measured values
(this machine) are quoted next to each assertion and tabulated by
``docs/make_validation.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from validation import homogenisation as case


def test_hmm_1d_converges_to_homogenised_solution_at_second_order():
    res = case.convergence_in_H(1)
    # measured: errors 4.6e-3, 1.2e-3, 3.0e-4, 7.5e-5 for H = 1/8 .. 1/64; orders 1.96-1.99
    assert np.all(np.abs(np.array(res["orders"]) - 2.0) < 0.15), res
    # the HMM is the homogenised finite-volume scheme up to the cell-problem error
    assert max(res["scheme_gap"]) < 1e-12, res


def test_hmm_2d_is_the_homogenised_scheme_and_converges_at_second_order():
    res = case.convergence_in_H(2)
    # measured: errors 3.6e-3, 1.0e-3, 2.6e-4 for H = 1/8, 1/16, 1/32; orders 1.83, 1.93
    # (the 256^2 reference and its interpolation contribute ~1e-5); scheme gap 1.0e-12
    assert np.all(np.array(res["orders"]) > 1.7), res
    assert max(res["scheme_gap"]) < 1e-9, res  # spectral accuracy of 32^2 cell problems


@pytest.mark.parametrize("eps", [1e-2, 1e-3])
def test_hmm_1d_agrees_with_direct_fine_solve_to_O_eps_plus_H2(eps):
    (row,) = case.against_direct(1, [eps], H_cells=32, cells_per_period=32)
    # measured (H = 1/32): eps=1e-2: |u_hmm - u_eps| = 9.4e-4, with |u_hmm - u_0| = 2.9e-4
    #   and |u_eps - u_0| = 7.38e-4 vs corrector estimate 7.42e-4;
    #   eps=1e-3: |u_hmm - u_eps| = 3.6e-4, |u_eps - u_0| = 7.40e-5 vs estimate 7.42e-5
    assert row["err_hmm_direct"] <= row["err_hmm_homogenised"] + 1.5 * row["corrector_estimate"], row
    # the O(eps) term is really there and is what the corrector predicts
    assert 0.5 < row["gap_direct_homogenised"] / row["corrector_estimate"] < 1.5, row


def test_hmm_1d_gap_to_direct_solve_is_linear_in_eps():
    rows = case.against_direct(1, [1e-2, 1e-3], H_cells=32, cells_per_period=32)
    ratio = rows[1]["gap_direct_homogenised"] / rows[0]["gap_direct_homogenised"]
    assert 0.07 < ratio < 0.14, rows  # tenfold smaller eps, about tenfold smaller gap


def test_hmm_2d_agrees_with_direct_fine_solve_to_O_eps_plus_H2():
    rows = case.against_direct(2, [1 / 10, 1 / 20, 1 / 40], H_cells=16, cells_per_period=8)
    # measured (H = 1/16): |u_hmm - u_eps| = 5.7e-3, 3.3e-3, 1.8e-3; |u_eps - u_0| = 6.0e-3,
    # 3.1e-3, 1.5e-3 vs corrector estimates 6.2e-3, 3.2e-3, 1.6e-3; |u_hmm - u_0| = 1.0e-3
    for row in rows:
        assert row["err_hmm_direct"] <= row["err_hmm_homogenised"] + 1.5 * row["corrector_estimate"], row
    gaps = [r["gap_direct_homogenised"] for r in rows]
    # O(eps): halving eps about halves the gap
    assert all(0.35 < gaps[i + 1] / gaps[i] < 0.65 for i in range(2)), rows
