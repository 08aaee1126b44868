"""The noise-aware Newton acceptance rule (macro.newton)."""

import numpy as np
import pytest

from macro.newton import acceptance_threshold, noise_factor

EPS = np.finfo(float).eps


def test_threshold_terms():
    base = dict(tol=1e-10, roundoff=1e4, noise=1e-3, noise_factor=5.0)
    # before the first update only the tolerance and the round-off floor count
    assert acceptance_threshold(scale=0.5, moved=False, **base) == 1e-10 + 64 * EPS * 1e4
    assert acceptance_threshold(scale=8.0, moved=False, **base) == 8e-10 + 64 * EPS * 1e4
    # then the noise floor c w nu joins; w weighs the right-hand side in the residual (dt theta)
    moved = acceptance_threshold(scale=0.5, moved=True, noise_weight=0.02, **base)
    assert moved == pytest.approx(1e-10 + 64 * EPS * 1e4 + 5.0 * 0.02 * 1e-3, rel=1e-15)


def test_noise_factor_grows_like_the_maximum_of_n_normals():
    assert noise_factor(1) == pytest.approx(3 * np.sqrt(2))
    assert noise_factor(32) == pytest.approx(np.sqrt(2) * (1 + np.sqrt(2 * np.log(32))))
    assert noise_factor(10**4) > noise_factor(32) > noise_factor(1)


# -- the verdict of macro.newton.newton_status ----------------------------------------------------

def _status(rnorm, **kw):
    from macro.newton import newton_status

    base = dict(threshold=1e-10, noise_floor=1e-3, previous=2e-4, full_step=True, contraction=0.5)
    base.update(kw)
    return newton_status(rnorm, **base)


def test_converge_rule_does_not_accept_at_the_noise_floor():
    # 5e-5 <= 0.5 * 2e-4: below the noise floor but still contracting, so Newton goes on to the tolerance
    assert _status(5e-5) == "continue"
    assert _status(1e-10) == "converged"
    assert _status(0.0) == "converged"


def test_stagnation_needs_a_full_step_that_failed_to_contract_within_the_floor():
    assert _status(1.5e-4) == "stagnated"  # 1.5e-4 > 0.5 * 2e-4, within the floor, full step
    assert _status(1.5e-4, full_step=False) == "continue"  # a stale Jacobian: refresh first
    assert _status(1.5e-4, previous=None) == "continue"
    assert _status(2e-3, previous=2e-3) == "continue"  # above the floor: not noise
    assert _status(1.5e-4, noise_floor=0.0) == "continue"  # noise_factor = 0 switches the guard off


def test_noise_floor_rule_is_the_old_threshold():
    # the earlier rule: accept below threshold + floor once moved, whatever the contraction
    assert _status(5e-5, rule="noise_floor") == "converged"
    assert _status(5e-5, rule="noise_floor", moved=False) == "continue"
    assert _status(2e-3, rule="noise_floor") == "continue"


def test_newton_rule_is_validated():
    from macro.newton import check_newton_rule

    assert check_newton_rule("converge", "f()") == "converge"
    with pytest.raises(ValueError, match=r"f\(\): unknown `newton_rule` 'fast'"):
        check_newton_rule("fast", "f()")
    with pytest.raises(TypeError, match=r"f\(\): `newton_rule` must be a str"):
        check_newton_rule(1, "f()")


def test_iteration_cap_accepts_only_a_residual_far_below_the_noise_floor():
    # at the cap: 1e-7 <= 1e-10 + 1e-3 * 1e-3 is resolved; 1e-5 is not (fails); before the cap, go on
    assert _status(1e-7, previous=1e-6, last=True) == "resolved"
    assert _status(1e-5, previous=1e-4, last=True) == "continue"
    assert _status(1e-7, previous=1e-6, last=False) == "continue"
    assert _status(1e-7, previous=1e-6, last=True, noise_floor=0.0) == "continue"  # noise-free: tolerance only
