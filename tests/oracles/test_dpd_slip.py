"""Moving walls, wall stresses and the near-wall slip oracle (oracles.DPDWallSlip).

References:
* Momentum balance of steady plane Poiseuille flow: the two walls carry the
  whole body force, tau(0) - tau(H) = rho g H (Landau & Lifshitz, Fluid
  Mechanics, section 17) -- exact for the time means, any fluid, any slip.
* Plane Couette flow: the shear stress is uniform, so the stress the walls
  carry over the bulk shear rate is the bulk viscosity, which must equal
  the Lees-Edwards viscosity of the same fluid (Groot & Warren, J. Chem.
  Phys. 107, 4423, 1997; our Lees-Edwards oracle is validated against
  reverse Poiseuille flow in test_dpd.py).
* Navier slip (Navier 1823): u_s = l du/dy; in a symmetric Couette cell the
  bulk profile misses each wall speed by (U - gamma_b H) / 2.
Statistical tolerances are 4 block-averaged standard errors (fixed seeds).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hmm import Budget
from validation import dpd as V
from oracles import DPD, DPDWallSlip
from oracles.dpd.channel import WalledChannel, steady_profile


@pytest.mark.parametrize("integrator", ["gw", "dpd-vv"])
def test_walls_carry_the_whole_body_force(integrator):
    channel = WalledChannel(DPD(integrator=integrator), width=5.0, length=4.0, depth=4.0, body_force=0.1)
    prof = steady_profile(channel, bins=5, time_eq=20.0, time_sample=100.0, blocks=10, seed=4)
    chunks = prof["chunk_wall_stress"].values
    # per-chunk difference: both walls' stresses are correlated (one flow), so the
    # stderr of the difference comes from the blocked differences themselves
    diff = chunks[:, 0] - chunks[:, 1]
    blocks = diff[: len(diff) // 10 * 10].reshape(10, -1).mean(axis=1)
    se = blocks.std(ddof=1) / math.sqrt(10)
    expected = prof.attrs["n_fluid"] * channel.body_force / channel.wall_area  # = rho g H up to rounding of N
    assert abs(diff.mean() - expected) < 4 * se, (diff.mean(), expected, se)
    # and each wall carries about half (symmetric channel, shear stress positive at the lower wall)
    lower, upper = prof["wall_stress"].values
    assert lower > 0 > upper


def test_moving_walls_shear_the_fluid_and_the_wall_beads_ride_along():
    channel = WalledChannel(width=4.0, length=4.0, depth=4.0, wall_speed=1.6)
    system = channel.system(seed=1)
    walls = system.ids >= system.n_fluid
    x0 = system.pos[walls][np.argsort(system.ids[walls])].copy()
    system.advance(25)
    walls = system.ids >= system.n_fluid
    order = np.argsort(system.ids[walls])
    x1, v1 = system.pos[walls][order], system.vel[walls][order]
    lower = x0[:, 1] < system.y_lo
    shift = np.where(lower, -0.8, 0.8) * 25 * channel.fluid.dt
    np.testing.assert_allclose(np.mod(x1[:, 0] - x0[:, 0] - shift + 2.0, 4.0), 2.0, atol=1e-9)  # x moved by U t
    np.testing.assert_array_equal(x1[:, 1:], x0[:, 1:])  # y, z frozen
    np.testing.assert_array_equal(v1[:, 0], np.where(lower, -0.8, 0.8))
    assert system.leaks == 0


def test_couette_cell_viscosity_equals_the_lees_edwards_viscosity():
    fluid = DPD()
    oracle = DPDWallSlip(fluid, height=6.0, length=5.0, depth=5.0, exclude=1.2, bins=12)
    est = oracle.run(np.array([0.3]), seed=3, budget=Budget(equilibration_steps=1000, sampling_steps=8000))
    slip, rate, stress, _ = est.mean
    slip_se, rate_se, stress_se, _ = est.stderr
    eta, eta_se = stress / rate, stress / rate * math.hypot(stress_se / stress, rate_se / rate)
    (_, eta_le, se_le, _), = V.le_viscosity(DPD(box=(5.0,) * 3), (rate,), time_eq=5.0, time_sample=160.0)
    assert abs(eta - eta_le) < 4 * math.hypot(eta_se, se_le), (eta, eta_se, eta_le, se_le)
    # the slip length is the bulk rate's shortfall, by its definition
    assert slip == pytest.approx(0.5 * (0.3 * 6.0 / rate - 6.0), rel=1e-12)
    assert slip_se == pytest.approx(0.5 * 0.3 * 6.0 / rate**2 * rate_se, rel=1e-12)
    # the simple DPD fluid at bounce-back walls of its own density hardly slips
    # (Pivkin & Karniadakis 2005: no-slip to within a fraction of rc)
    assert abs(slip) < 4 * slip_se + 0.3


@pytest.mark.parametrize("kwargs, match", [
    (dict(height=4.0, exclude=2.0), "bulk region"),
    (dict(bins=1), "`bins` must be an int >= 2"),
    (dict(exclude=-1.0), "`exclude` must be >= 0"),
    (dict(height=3.0), "`width` must be >= 4 rc"),
])
def test_bad_wall_slip_oracle_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DPDWallSlip(**kwargs)


def test_wall_slip_oracle_rejects_a_zero_or_too_fast_query():
    oracle = DPDWallSlip(height=6.0, length=4.0, depth=4.0, exclude=1.0, bins=6)
    with pytest.raises(ValueError, match="0/0"):
        oracle.run(np.array([0.0]), seed=0, budget=Budget())
    with pytest.raises(ValueError, match="wall_speed"):
        oracle.run(np.array([3.0]), seed=0, budget=Budget())  # U = 18: 0.72 rc per step
