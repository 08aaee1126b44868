"""Gap-tooth scheme and patch dynamics on the heat equation.

Gear, Li & Kevrekidis (Phys. Lett. A 316, 190, 2003): with teeth initialised
from the local quadratic interpolant and boundary gradients held at its
derivative, the gap-tooth step for diffusion is the explicit central-difference
scheme U_i += dt D (U_{i+1} - 2 U_i + U_{i-1}) / H^2 -- to round-off here,
because the fine tooth solver conserves the tooth average exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm.ef import projective_integrate
from hmm.ef.gaptooth import GapTooth
from oracles.ef_models.tooth_diffusion import DiffusionTooth

D = 1.0


def grid(n):
    x = (np.arange(n) + 0.5) / n
    H = 1.0 / n
    h = 0.2 * H
    return x, H, h, np.sin(np.pi * h) / (np.pi * h)  # tooth average of sin(2 pi x) is sinc-damped


def forward_euler_fd(U, H, dt, steps, boundary=None):
    for _ in range(steps):
        if boundary is None:
            prev, nxt = np.roll(U, 1), np.roll(U, -1)
        else:
            prev = np.concatenate([[2 * boundary[0] - U[0]], U[:-1]])
            nxt = np.concatenate([U[1:], [2 * boundary[1] - U[-1]]])
        U = U + dt * D * (prev - 2 * U + nxt) / H**2
    return U


@pytest.mark.parametrize("boundary", ["periodic", (0.3, -0.2)])
def test_gap_tooth_is_the_central_difference_scheme(boundary):
    x, H, h, _ = grid(12)
    U0 = np.sin(2 * np.pi * x) + 0.5 * x
    dt = 2e-4
    with GapTooth(DiffusionTooth(D, 0.0, 16), x, h, dt, boundary=boundary) as gt:
        U = U0.copy()
        for _ in range(50):
            U, se = gt.step(U)
    ref = forward_euler_fd(U0, H, dt, 50, None if boundary == "periodic" else boundary)
    assert np.max(np.abs(U - ref)) < 1e-12 and np.all(se == 0)


def test_gap_tooth_converges_at_second_order_in_H():
    T, errors = 0.01, []
    for n in (8, 16, 32):
        x, H, h, damp = grid(n)
        dt = T / np.ceil(T / (0.05 * H**2))  # time error kept below the spatial one
        exact = np.exp(-4 * np.pi**2 * D * T) * np.sin(2 * np.pi * x) * damp
        with GapTooth(DiffusionTooth(D, 0.0, 8), x, h, dt) as gt:
            rec = gt.run(np.sin(2 * np.pi * x) * damp, (), (T,))
        errors.append(np.max(np.abs(rec.mean[0, -1] - exact)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    # measured: errors 9.0e-3, 2.4e-3, 6.0e-4 for H = 1/8, 1/16, 1/32; orders 1.93, 1.99
    assert np.all(orders > 1.8), (errors, orders)


def test_patch_dynamics_skips_gaps_in_time_and_keeps_the_accuracy():
    x, H, h, damp = grid(20)
    T, dt = 0.02, 1e-4
    exact = np.exp(-4 * np.pi**2 * D * T) * np.sin(2 * np.pi * x) * damp
    U0 = np.sin(2 * np.pi * x) * damp
    with GapTooth(DiffusionTooth(D, 0.0, 8), x, h, dt) as gt:
        full = gt.run(U0, (), (T,)).mean[0, -1]
        full_steps = gt.calls
        patch = projective_integrate(gt, U0, T, inner_dt=dt, inner_steps=2, projection_steps=7,
                                     method="prk2")
        patch_steps = gt.calls - full_steps
    err_full = np.max(np.abs(full - exact))
    err_patch = np.max(np.abs(patch.U[-1] - exact))
    # patch dynamics runs the teeth for 6 of every 10 time steps here (PRK2: 2 x 3);
    # measured 120 of 200 gap-tooth steps
    assert full_steps == round(T / dt) and patch.bursts == patch_steps
    assert patch_steps <= 0.65 * full_steps
    # and its error stays at the level of the full gap-tooth run (measured 3.2e-3 vs 2.2e-3)
    assert err_patch < 2 * err_full, (err_patch, err_full)


def test_bad_arguments_are_named():
    model = DiffusionTooth()
    x = np.linspace(0.05, 0.95, 10)
    with pytest.raises(ValueError, match="`width` must be in"):
        GapTooth(model, x, 0.5, 1e-4)
    with pytest.raises(ValueError, match="uniformly spaced"):
        GapTooth(model, x**2 + 0.01, 0.01, 1e-4)
    with pytest.raises(ValueError, match="`boundary` must be"):
        GapTooth(model, x, 0.01, 1e-4, boundary="reflecting")
    with GapTooth(model, x, 0.01, 1e-4) as gt, pytest.raises(ValueError, match="multiples of dt"):
        gt.run(np.zeros(10), (), (1.5e-4,))
    with pytest.raises(ValueError, match="`diffusivity` must be > 0"):
        DiffusionTooth(diffusivity=0.0)


def test_gap_tooth_on_a_coupler_has_the_bits_of_the_compatibility_form_and_reads_the_ledger():
    from hmm import Coupler
    from hmm.ef import ToothBurst
    from oracles.kmc import LatticeGas
    from oracles.kmc.tooth import KMCTooth

    model = KMCTooth(LatticeGas(k_ads=2e-3, k_des=2e-3, k_hop=1.0), rows=8, buffer=2)  # noisy teeth
    centres = (np.arange(4) + 0.5) * 8
    U0 = np.array([0.2, 0.4, 0.6, 0.8])
    with Coupler(ToothBurst(model, 3.0, 1.0), "sync", seed=5) as coupler:
        with GapTooth(model, centres, coupler, boundary=(0.9, 0.1), replicas=2) as gt:
            new = gt.run(U0, (), (1.0, 3.0))
            assert (gt.calls, gt.accounting.fresh_runs) == (3, 3 * 4 * 2)
            assert new.cost_s == gt.micro_seconds > 0
        coupler.evaluate([[0.5, 0.0, 0.0]])  # left open for its owner
    with GapTooth(model, centres, 3.0, 1.0, boundary=(0.9, 0.1), replicas=2, seed=5) as gt:
        old = gt.run(U0, (), (1.0, 3.0))
    assert new.mean.tobytes() == old.mean.tobytes() and new.stderr.tobytes() == old.stderr.tobytes()
    assert np.all(new.stderr[0, -1] > 0)
    with Coupler(ToothBurst(model, 3.0, 1.0), "sync") as coupler:
        with pytest.raises(TypeError, match="come from the Coupler"):
            GapTooth(model, centres, coupler, dt=1.0)
        with pytest.raises(ValueError, match="`model` must be the ToothModel"):
            GapTooth(DiffusionTooth(), centres, coupler)
