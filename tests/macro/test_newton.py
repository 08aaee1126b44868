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
