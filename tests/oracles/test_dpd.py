"""DPD oracle (Groot & Warren, J. Chem. Phys. 107, 4423, 1997) against a NumPy
reference, fluctuation-dissipation and published fluid properties.

Reference numbers (see validation/dpd.py for the long versions):
* p ~ 23.6 at rho = 3, a = 25, kT = 1 (well-converged published value;
  GW97's fit p = rho kT + 0.101 a rho^2 is rough).
* GW97: with lambda = 0.65 the kinetic temperature stays within ~1-2% of kT at
  dt = 0.04; with lambda = 1/2 it drifts upwards with dt.
* DPD-VV (Besold, Vattulainen, Karttunen & Polson, Phys. Rev. E 62, R7611,
  2000; Vattulainen et al., J. Chem. Phys. 116, 3967, 2002): velocity Verlet
  with the dissipative force re-evaluated from v(t + dt) keeps kT close to
  the set value at dt where the lambda = 1/2 Groot-Warren scheme heats up.
* Reverse Poiseuille flow measures the same shear viscosity as Lees-Edwards
  shear for a Newtonian fluid (Backer et al., J. Chem. Phys. 122, 154503, 2005).
Statistical tolerances are 4 block-averaged standard errors plus the stated
systematic allowances.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from hmm import Budget
from hmm.provenance import oracle_token
from validation import dpd as V
from oracles import Oracle
from oracles.dpd import DPD, reference_forces
from oracles.dpd import _kernels as K

SMALL = dict(box=(6.0, 6.0, 6.0))
# REGRESSION PIN (a number this code produced, not a published one): the kinetic temperature of DPD-VV at
# dt = 0.04 with its stderr, measured in a box of 8^3 over 100 tau (validation.dpd.integrator_rows, the
# docs/validation.md row, before the one sampling helper). The time-step excess has no closed form; the pin
# guards the known +1 % bias of the integrator, and an integrator that removes it will fail this on purpose.
KT_DPD_VV_004, KT_DPD_VV_004_SE = 1.0098, 0.0015


@pytest.mark.parametrize("config, shear_rate", [
    (DPD(density=0.8, box=(4.0, 4.0, 4.0), gamma=0.0), 0.0),  # conservative force only
    (DPD(density=0.8, box=(4.0, 4.5, 5.0), a_matrix=((25.0, 40.0), (40.0, 18.0)), composition=(0.5, 0.5),
         polymer_fraction=0.5, chain_length=5, chain_type=1), 0.9),
    (DPD(density=1.0, box=(4.0, 4.5, 5.0), bond="fene", bond_k=20.0, polymer_fraction=0.5, chain_length=5,
         vv_lambda=0.65), -0.7),
])
def test_kernel_forces_and_virial_equal_numpy_pair_loop(config, shear_rate):
    system = config.system(shear_rate, seed=3)
    system.advance(37)  # sorted, diffused, Lees-Edwards offset != 0 when sheared
    assert (system.offset != 0.0) == (shear_rate != 0.0)
    pos, vel, force, row = system.forces()
    ref_force, ref_virial = reference_forces(system, pos, vel)
    scale = np.abs(ref_force).max()
    assert np.allclose(force, ref_force, rtol=0, atol=1e-12 * scale)
    assert np.allclose(row[K.WC0:K.WB0 + 6].reshape(4, 6), ref_virial, rtol=0, atol=1e-11 * scale)
    # Newton's third law pairwise: total force vanishes to round-off
    assert np.abs(force.sum(axis=0)).max() < 1e-12 * scale * len(force)


def test_pair_noise_is_symmetric_reproducible_and_unit_variance():
    key = np.uint64(K.step_key(7, 123))
    i = np.arange(200_000, dtype=np.int64)
    j = (i * 7919 + 13) % 1_000_003
    u = K.pair_uniforms(key, i, j)
    assert np.array_equal(u, K.pair_uniforms(key, j, i))
    assert not np.array_equal(u, K.pair_uniforms(np.uint64(K.step_key(7, 124)), i, j))
    theta = math.sqrt(3.0) * u
    se_mean, se_var = 1 / math.sqrt(u.size), math.sqrt(0.8 / u.size)  # var of theta^2 = 9/5 - 1 for uniform
    assert abs(theta.mean()) < 4 * se_mean and abs(theta.var() - 1.0) < 4 * se_var


def test_oracle_contract_pickle_and_same_bits():
    oracle = DPD(box=(4.0, 4.0, 4.0))
    assert isinstance(oracle, Oracle)
    clone = pickle.loads(pickle.dumps(oracle))
    assert oracle_token(clone) == oracle_token(oracle) != oracle_token(DPD(box=(4.0, 4.0, 4.0), gamma=3.0))
    budget = Budget(equilibration_steps=50, sampling_steps=200)
    a = oracle.run(np.array([0.3]), seed=11, budget=budget)
    b = clone.run(np.array([0.3]), seed=11, budget=budget)
    c = oracle.run(np.array([0.3]), seed=12, budget=budget)
    assert a.mean.shape == (len(oracle.outputs),) and np.array_equal(a.mean, b.mean)
    assert np.array_equal(a.stderr, b.stderr) and not np.array_equal(a.mean, c.mean)
    assert (a.stderr > 0).all() and a.n_eff > 1


def test_budget_replicas_and_target_stderr():
    oracle = DPD(box=(4.0, 4.0, 4.0))
    two = oracle.run(np.array([0.0]), seed=1, budget=Budget(equilibration_steps=50, sampling_steps=500, replicas=2))
    assert two.provenance["steps"] == 2 * 550
    target = oracle.run(np.array([0.0]), seed=1, budget=Budget(equilibration_steps=50, target_stderr=0.3))
    assert (target.stderr < 0.3).all() and target.provenance["steps"] < 50 + 10**6


def test_lees_edwards_imposes_the_linear_velocity_profile():
    config = DPD(box=(6.0, 8.0, 6.0))
    shear_rate = 0.5
    system = config.system(shear_rate, seed=5)
    system.advance(200)
    bins, blocks, slopes = 8, 10, []
    y = (np.arange(bins) + 0.5) * config.box[1] / bins
    for _ in range(blocks):
        _, prof = system.advance(100, sample_every=1, profile_bins=bins)
        slopes.append(np.polyfit(y, prof[:, 0] / prof[:, 1], 1)[0])
    se = np.std(slopes, ddof=1) / math.sqrt(blocks)
    assert abs(np.mean(slopes) - shear_rate) < 4 * se
    # pairwise forces conserve momentum; only Lees-Edwards crossings change <v_x>
    assert abs(system.vel[:, 1:].sum(axis=0)).max() < 1e-9


def test_pressure_at_rho3_matches_published_value_within_dt_bias():
    rows, (p0, p0_se) = V.pressure_dt_extrapolation(box=6.0, dts=(0.04, 0.01), time_sample=50.0)
    (_, p_coarse, se_coarse, kt_coarse, _), (_, p_fine, se_fine, _, _) = rows
    bias = abs(p_coarse - p_fine)  # measured time-step bias at dt = 0.04
    assert abs(p_coarse - V.P_REFERENCE) <= 4 * math.hypot(se_coarse, se_fine) + bias + V.P_REFERENCE_ROUNDING
    assert abs(p0 - V.P_REFERENCE) <= 4 * p0_se + V.P_REFERENCE_ROUNDING
    assert p_coarse > p_fine  # the bias at lambda = 1/2 is upwards, as is kT's
    assert kt_coarse > 1.0


def test_temperature_control_at_dt_004():
    # 100 tau: long enough that the stderr meets the 0.005 precision asked below (at 60 tau it is ~0.004
    # with a spread of ~20 % between seeds, so some seeds miss it)
    mean, se, _ = V.state_point(DPD(**SMALL, vv_lambda=0.65), time_sample=100.0)
    assert abs(mean["temperature"] - 1.0) < 0.02 and se["temperature"] < 0.005  # GW97, lambda = 0.65
    assert abs(mean["shear_stress"]) < 4 * se["shear_stress"]  # no shear, no mean shear stress


def test_newtonian_viscosity_lees_edwards_equals_poiseuille():
    fluid = DPD(box=(6.0, 10.0, 6.0))
    (g, eta_le, se_le, _), = V.le_viscosity(fluid, (0.4,), time_sample=80.0)
    eta_p, se_p, max_rate, _ = V.poiseuille_viscosity(fluid, 0.06, bins=10, time_sample=120.0, blocks=10)
    assert max_rate < 0.6  # both probe the same (Newtonian) range of shear rates
    assert abs(eta_le - eta_p) < 4 * math.hypot(se_le, se_p)
    assert 0.5 < eta_le < 1.5  # DPD simple fluid, order of the kinetic theory estimate (~0.96)


def test_polymer_solution_shear_thins():
    # 80% of the beads in N = 20 Gaussian-spring chains (GW97 k = 4); the low rate,
    # whose stress is small against its noise, gets two independent replicas
    polymer = DPD.polymer_solution(box=(6.0, 6.0, 6.0))
    (_, eta_low, se_low, _), = V.le_viscosity(polymer, (0.1,), time_eq=20.0, time_sample=300.0, replicas=2)
    (_, eta_high, se_high, kt_high), = V.le_viscosity(polymer, (0.5,), time_eq=20.0, time_sample=300.0)
    # one-sided 3 sigma; viscous heating (kT ~ 1.14 at rate 0.5) raises eta, so it works against thinning
    assert eta_low - eta_high > 3 * math.hypot(se_low, se_high)
    assert kt_high > 1.0


def test_dissipative_pass_equals_numpy_pair_loop_across_lees_edwards():
    config = DPD(density=3.0, box=(4.0, 4.5, 5.0), polymer_fraction=0.5, chain_length=5)
    system = config.system(0.9, seed=4)
    system.advance(37)  # Lees-Edwards offset != 0, beads have crossed the y boundary
    assert system.offset != 0.0
    pos, vel, _, _ = system.forces()
    crossing = np.abs(pos[:, None, 1] - pos[None, :, 1]) > config.box[1] - config.rc
    assert crossing.any()  # pairs across the sheared boundary exist (and feel the velocity jump)
    rng = np.random.default_rng(0)
    for u in (vel, rng.normal(size=vel.shape)):  # the velocities and an arbitrary velocity field
        ref_parts, ref_virial = reference_forces(system, pos, u, parts=True)
        fd, wd = system.dissipative_forces(u)
        scale = np.abs(ref_parts[1]).max()
        assert np.allclose(fd, ref_parts[1], rtol=0, atol=1e-12 * scale)
        assert np.allclose(wd, ref_virial[1], rtol=0, atol=1e-11 * scale)


@pytest.mark.parametrize("integrator", ["gw", "dpd-vv"])
def test_dpd_vv_force_is_conservative_random_of_the_step_plus_dissipative_of_new_velocities(integrator):
    # Besold et al. 2000: after the second half-kick F_D is recomputed with v(t + dt); F_C, F_R are kept
    config = DPD(density=3.0, box=(4.0, 4.5, 5.0), bond="fene", bond_k=20.0, polymer_fraction=0.5, chain_length=5,
                 integrator=integrator)
    system = config.system(-0.7, seed=3)
    system.advance(36)
    obs, _ = system.advance(1, sample_every=1)
    order = np.argsort(system.ids)
    ref_force, ref_virial = reference_forces(system, system.pos[order], system.vel[order])
    scale = np.abs(ref_force).max()
    matches = np.allclose(system.stored_forces(), ref_force, rtol=0, atol=1e-12 * scale)
    virial = obs[0, K.WC0:K.WB0 + 6].reshape(4, 6)
    assert matches == (integrator == "dpd-vv")  # GW keeps F_D of the half-step velocity
    if integrator == "dpd-vv":  # the stress sample holds the updated F_D too
        assert np.allclose(virial, ref_virial, rtol=0, atol=1e-11 * scale)
    else:
        assert np.allclose(virial[[0, 2, 3]], ref_virial[[0, 2, 3]], rtol=0, atol=1e-11 * scale)


def test_dpd_vv_gw_default_is_unchanged_and_vv_differs():
    budget = Budget(equilibration_steps=20, sampling_steps=100)
    a = DPD(box=(4.0, 4.0, 4.0)).run(np.array([0.3]), seed=11, budget=budget)
    b = DPD(box=(4.0, 4.0, 4.0), integrator="gw").run(np.array([0.3]), seed=11, budget=budget)
    c = DPD(box=(4.0, 4.0, 4.0), integrator="dpd-vv").run(np.array([0.3]), seed=11, budget=budget)
    assert np.array_equal(a.mean, b.mean) and not np.array_equal(a.mean, c.mean)
    assert oracle_token(DPD(integrator="dpd-vv")) != oracle_token(DPD())


def test_dpd_vv_conserves_momentum():
    # pairwise forces (F_D update included) are antisymmetric: P stays at its initial 0 to round-off
    system = DPD(box=(5.0, 5.0, 5.0), integrator="dpd-vv").system(0.0, seed=2)
    p_scale = math.sqrt(system.n)  # |sum v| of uncorrelated unit-variance velocities
    assert np.abs(system.vel.sum(axis=0)).max() < 1e-12 * p_scale
    system.advance(500)
    assert np.abs(system.vel.sum(axis=0)).max() < 1e-11 * p_scale
    sheared = DPD(box=(5.0, 5.0, 5.0), integrator="dpd-vv").system(0.5, seed=2)
    sheared.advance(500)  # Lees-Edwards crossings change only P_x
    assert np.abs(sheared.vel[:, 1:].sum(axis=0)).max() < 1e-11 * p_scale


def test_dpd_vv_temperature_control_at_dt_004():
    # The target: kT within 2% of 1 at dt = 0.04 with lambda = 1/2 (rho = 3, a = 25, gamma = 4.5).
    # Same seed, same length, both integrators; box 6^3 (648 beads), 200 time units each (~6 s in all).
    vv, vv_se, _ = V.state_point(DPD(**SMALL, integrator="dpd-vv"), time_sample=200.0)
    gw, gw_se, _ = V.state_point(DPD(**SMALL), time_sample=200.0)
    kt, se = vv["temperature"], vv_se["temperature"]
    assert abs(kt - 1.0) < 0.02 and se < 0.005
    # honest statements: DPD-VV is not exact, it leaves a +1% excess at dt = 0.04 (the regression pin above),
    # which this smaller run reproduces within 4 combined stderr; and it removes most of the lambda = 1/2
    # heating GW97 report
    assert abs(kt - KT_DPD_VV_004) < 4 * math.hypot(se, KT_DPD_VV_004_SE)
    assert gw["temperature"] - kt > 4 * math.hypot(se, gw_se["temperature"])
    assert abs(vv["shear_stress"]) < 4 * vv_se["shear_stress"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(gamma=-1.0), "`gamma` must be >= 0"),
    (dict(kT=-1.0), "`kT` must be > 0"),
    (dict(density=12.0), "`density`"),
    (dict(box=(3.0, 10.0, 10.0)), "`box`"),
    (dict(composition=(0.5, 0.5)), "`composition`"),
    (dict(bond="spring"), "`bond`"),
    (dict(chain_length=0), "`chain_length`"),
    (dict(box=(200.0, 200.0, 200.0)), "cell-list memory"),
    (dict(integrator="shardlow"), "`integrator` must be one of"),
    (dict(integrator="DPD-VV"), "`integrator` must be one of"),
    (dict(integrator="dpd-vv", vv_lambda=0.65), "needs `vv_lambda` = 0.5"),
])
def test_bad_configuration_is_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DPD(**kwargs)


def test_shear_rate_beyond_lees_edwards_limit_is_rejected():
    oracle = DPD(box=(4.0, 4.0, 4.0))
    assert oracle.max_shear_rate == pytest.approx(1.0)
    with pytest.raises(ValueError, match="`shear_rate`"):
        oracle.run(np.array([1.5]), seed=0, budget=Budget(sampling_steps=100))
    with pytest.raises(ValueError, match="`state`"):
        oracle.run(np.array([0.1, 0.2]), seed=0, budget=Budget(sampling_steps=100))
