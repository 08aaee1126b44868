"""Lennard-Jones MD oracle: kernels against a slow reference, T = 0 against lattice
sums and closed forms, the fluid against an equation of state, error bars by coverage.

Sources: Thol et al., J. Phys. Chem. Ref. Data 45, 023101 (2016) and Johnson,
Zollweg & Gubbins, Mol. Phys. 78, 591 (1993) (equations of state, implemented in
oracles.md.reference); Born & Huang (1954) for the
lattice-sum elastic constants; the discrete Langevin (BAOAB) free-particle
diffusion D = (kT/m)(dt/2) coth(gamma dt/2) follows from the AR(1) velocity
process (-> kT/(m gamma) as dt -> 0, Einstein 1905).
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from scipy import stats

from hmm import Budget
from hmm.contract import OracleRunError, OracleSetupError
from hmm.provenance import oracle_token
from validation import md as V
from oracles.base import Oracle
from oracles.md import (
    LennardJonesMD,
    LJChain,
    LJSystem,
    diffusion_coefficient,
    fcc_lattice,
    reference_forces,
    trajectory,
)
from oracles.md import reference as R


def jittered_fcc(cells, a, seed=0, amp=0.08):
    pos, box = fcc_lattice(cells, a)
    return pos + amp * np.random.default_rng(seed).standard_normal(pos.shape), box


@pytest.mark.parametrize("cells, a", [((3, 3, 3), 1.9), ((5, 6, 7), 1.9)])  # all-pairs and cell-stencil paths
def test_kernel_forces_energy_virial_match_slow_reference(cells, a):
    pos, box = jittered_fcc(cells, a)
    system = LJSystem(pos, np.random.default_rng(1).standard_normal(pos.shape), box, cutoff=2.5, skin=0.3)
    for _ in range(3):  # also after atoms moved, were re-sorted and the list rebuilt
        row = system.static()
        f, u, w = reference_forces(system.pos, system.box, 2.5)
        scale = np.abs(f).max()
        assert np.abs(system.force - f).max() < 1e-12 * scale
        assert row[0] == pytest.approx(u, rel=1e-12)
        assert np.allclose(row[7:], w, rtol=1e-12, atol=1e-12 * np.abs(w).max())
        assert np.abs(system.force.sum(axis=0)).max() < 1e-12 * scale * len(pos)
        system.run(150, sample_every=0)
    assert system.rebuilds > 0


def test_fcc_zero_temperature_two_routes_agree():
    lattice, md = R.lattice_sum_constants(2.5), V.md_elastic_constants(2.5)
    for key in ("a0", "cohesive_energy", "C11", "C12", "C44"):
        assert md[key] == pytest.approx(lattice[key], rel=1e-6), key
    # the oracle at T = 0 returns the static stress of the strained lattice
    oracle = LennardJonesMD(cells=4, density=4 / lattice["a0"] ** 3, shift=False)
    h = 1e-5
    s = [oracle.run(np.array([e, 0.0]), seed=0, budget=Budget()).mean[0] for e in (h, -h)]
    assert (s[0] - s[1]) / (2 * h) == pytest.approx(lattice["C11"], rel=1e-6)


def test_harmonic_chain_modulus_and_wave_speed_exact():
    chain = LJChain(bond="harmonic", spring=2.0, a0=1.1, mass=1.5)
    for e in (0.01, -0.02, 0.3):
        assert chain.run(np.array([e, 0.0]), seed=0, budget=Budget()).mean[0] == pytest.approx(2.0 * 1.1 * e, rel=1e-13)
    h = 1e-3
    s = [chain.run(np.array([x, 0.0]), seed=0, budget=Budget()).mean[0] for x in (h, -h)]
    modulus = (s[0] - s[1]) / (2 * h)
    assert modulus == pytest.approx(2.0 * 1.1, rel=1e-12)
    assert math.sqrt(modulus / chain.density) == pytest.approx(1.1 * math.sqrt(2.0 / 1.5), rel=1e-12)


def test_harmonic_chain_finite_temperature_tension_exact():
    # periodic harmonic chain of N bonds, length L = N abar: the bond lengths have (N - 1) kT / k total
    # variance (one constraint), so <sum r phi'> = N k abar (abar - a0) + (N - 1) kT; minus the kinetic
    # sum m v^2 = N kT gives tension k (abar - a0) - kT / L (equipartition; BAOAB samples harmonic
    # configurations exactly, its kinetic bias (omega dt)^2 / 4 < 1e-4 is far below the stderr)
    chain = LJChain(bond="harmonic", spring=1.0, a0=1.0, n_atoms=16)
    est = chain.run(np.array([0.05, 0.5]), seed=3, budget=Budget(2000, 400000))
    exact = 0.05 - 0.5 / (16 * 1.05)
    assert abs(est.mean[0] - exact) < 4 * est.stderr[0] and est.stderr[0] < 0.2 * exact


def test_thol_eos_reproduces_the_papers_check_values():
    # Thol et al. 2016 at tau = delta = 1, values from the paper's ljfeos.cpp (quoted in NIST teqp's tests)
    dev = R.thol_check()
    assert np.abs(dev).max() < 1e-13, dev


def test_lj_fluid_pressure_and_energy_match_the_thol_eos():
    # reference Thol 2016; allowance for its own error |Thol - JZG 1993| (0.0023 in p, 0.0076 in u here)
    r = V.fluid_state_point(2.0, 0.5, cells=4, equilibration=2000, sampling=20000)
    assert abs(r["p"] - r["p_ref"]) <= 4 * r["p_se"] + r["p_allow"]
    assert abs(r["u"] - r["u_ref"]) <= 4 * r["u_se"] + r["u_allow"]
    assert 0 < r["p_se"] < 0.05 and 0 < r["u_se"] < 0.01


def test_block_stderr_95_percent_intervals_cover_the_mean():
    oracle = LennardJonesMD(cells=3, density=0.5, cutoff=2.5, observables=("pressure",), sample_every=5)
    budget = Budget(equilibration_steps=1000, sampling_steps=3000)
    runs = [oracle.run(np.array([0.0, 2.0]), seed=s, budget=budget) for s in range(48)]
    means = np.array([r.mean[0] for r in runs])
    errors = np.array([r.stderr[0] for r in runs])
    t95 = stats.t.ppf(0.975, oracle.blocks - 1)
    covered = np.mean(np.abs(means - means.mean()) <= t95 * errors)
    assert abs(covered - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / len(runs))


def test_einstein_relation_on_langevin_free_particles():
    gamma, kT, dt = 5.0, 1.0, 0.01
    pos, box = fcc_lattice((5, 5, 5), 2.0)
    system = LJSystem(pos, np.zeros_like(pos), box, cutoff=2.5, skin=0.5, dt=dt, seed=4, eps=0.0)
    frames = trajectory(system, 2000, 5, friction=gamma, temperature=kT)
    d, se = diffusion_coefficient(frames, 5 * dt, blocks=10)
    exact = kT * dt / 2 / math.tanh(gamma * dt / 2) * (1 - 1 / len(pos))  # centre-of-mass motion removed
    assert abs(d - exact) < 4 * se and se < 0.05 * exact


def test_nve_energy_drift_is_small():
    dr = V.nve_drift(cells=4, steps=6000)
    assert abs(dr["drift_per_atom_per_time"]) < 1e-4 and dr["rms"] < 1e-3


def test_contract_pickle_hash_determinism():
    oracle = LennardJonesMD(cells=3, density=0.5, sample_every=5)
    assert isinstance(oracle, Oracle) and oracle.inputs == ("strain", "temperature")
    assert oracle.outputs == ("stress", "pressure", "energy")
    clone = pickle.loads(pickle.dumps(oracle))
    assert oracle_token(clone) == oracle_token(oracle) and hash(clone) == hash(oracle)
    assert oracle_token(LennardJonesMD(cells=3, density=0.5, dt=0.004)) != oracle_token(oracle)
    budget = Budget(equilibration_steps=200, sampling_steps=400, replicas=2)
    a = oracle.run(np.array([0.02, 1.0]), seed=7, budget=budget)
    b = clone.run(np.array([0.02, 1.0]), seed=7, budget=budget)
    c = oracle.run(np.array([0.02, 1.0]), seed=8, budget=budget)
    assert np.array_equal(a.mean, b.mean) and np.array_equal(a.stderr, b.stderr)
    assert not np.array_equal(a.mean, c.mean) and a.mean.shape == (3,) and (a.stderr > 0).all()
    # stress = -P_xx and pressure = -tr(sigma)/3: for a fluid at zero strain both ~ agree
    assert abs(a.mean[0] + a.mean[1]) < 6 * math.hypot(a.stderr[0], a.stderr[1]) + 0.2


def test_bad_input_raises_clear_errors():
    oracle = LennardJonesMD(cells=3, density=0.5)
    b = Budget(equilibration_steps=100, sampling_steps=400)
    with pytest.raises(OracleSetupError, match="`temperature` must be >= 0"):  # a ValueError, never retried
        oracle.run(np.array([0.0, -1.0]), seed=0, budget=b)
    with pytest.raises(ValueError, match="`strain` must be > -1"):
        oracle.run(np.array([-1.0, 1.0]), seed=0, budget=b)
    with pytest.raises(ValueError, match="box side"):
        oracle.run(np.array([-0.3, 1.0]), seed=0, budget=b)
    with pytest.raises(ValueError, match="`cutoff` \\+ `skin`"):
        LennardJonesMD(cells=2, density=0.8442)
    with pytest.raises(ValueError, match="`observables`"):
        LennardJonesMD(observables=("viscosity",))
    with pytest.raises(ValueError, match="`thermostat`"):
        LennardJonesMD(thermostat="berendsen")
    with pytest.raises(ValueError, match="`bond`"):
        LJChain(bond="morse")
    with pytest.raises(TypeError, match="`unit_cells` must be an int"):  # a type error is a TypeError everywhere
        LennardJonesMD(cells=3.0)  # `cells=` is the old name of `unit_cells`
    exploding = LennardJonesMD(cells=3, density=0.8442, cutoff=2.0, dt=0.05)
    with pytest.raises(OracleRunError, match="strain=0.0, temperature=5.0.*non-finite.*dt=0.05"):
        exploding.run(np.array([0.0, 5.0]), seed=0, budget=b)
