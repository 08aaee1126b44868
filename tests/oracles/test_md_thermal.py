"""Microcanonical chain oracle (oracles.NVEChain): exact harmonic relations, energy
conservation, ensemble equivalence with the canonical chain, contract and errors.

Harmonic periodic chain, N bonds of mean length abar, sum of bond extensions fixed:
U = U_static + sum k d_b^2 / 2, and per normal mode the time-averaged potential and
kinetic energies are equal (virial theorem for a harmonic oscillator; holds for
every trajectory, integrable or not). With zero momentum both have N - 1 modes, so
the NVE tension is k (abar - a0) exactly (no -kT/L term, unlike the canonical chain
with free momentum) and, with the thermal energy (N - 1) m (u - u_0) the oracle gives
the chain, T = sum m v^2 / (N - 1) = m (u - u_0) for every N.
"""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from hmm import Budget
from hmm.provenance import oracle_token
from oracles import NVEChain, Oracle
from oracles.md import LJChain


def test_harmonic_nve_tension_and_temperature_exact():
    chain = NVEChain(bond="harmonic", n_atoms=16, dt=0.01, observables=("stress", "temperature", "internal_energy"))
    u = float(chain.ground_state_energy(0.05)) + 0.25
    est = chain.run(np.array([0.05, u]), seed=1, budget=Budget(2000, 100000))
    exact = np.array([0.05, 0.25, u])
    assert np.all(np.abs(est.mean - exact)[:2] < 4 * est.stderr[:2]), (est.mean, est.stderr)
    # Verlet conserves a shadow energy: the measured energy is the input to O((omega dt)^2) = 4e-4 relative
    assert abs(est.mean[2] - u) < 1e-3 * (u - 0.5 * 0.05**2)


def test_lj_nve_conserves_energy_and_agrees_with_the_canonical_chain_at_its_temperature():
    nve = NVEChain(bond="lj", n_atoms=32, observables=("stress", "temperature", "internal_energy"))
    u = float(nve.ground_state_energy(0.01)) + 0.05
    a = nve.run(np.array([0.01, u]), seed=2, budget=Budget(2000, 40000, replicas=2))
    assert abs(a.mean[2] - u) < 5e-4 * 0.05  # thermal energy hit to 0.05 % (velocity Verlet, dt = 0.005)
    assert 0.04 < a.mean[1] < 0.06  # ~ equipartition T = m (u - u_0) for weak anharmonicity
    # ensemble equivalence: the Langevin chain at the NVE temperature has the same tension up to
    # O(1/N) corrections (Lebowitz, Percus & Verlet, Phys. Rev. 153, 250, 1967): 4 sigma + 0.02
    nvt = LJChain(bond="lj", n_atoms=32, dt=0.005).run(np.array([0.01, a.mean[1]]), seed=3,
                                                        budget=Budget(2000, 40000, replicas=2))
    assert abs(a.mean[0] - nvt.mean[0]) < 4 * math.hypot(a.stderr[0], nvt.stderr[0]) + 0.02


def test_ground_state_is_static_and_below_it_is_rejected():
    chain = NVEChain(bond="lj", n_atoms=8)
    u0 = float(chain.ground_state_energy(0.02))
    est = chain.run(np.array([0.02, u0]), seed=0, budget=Budget())
    a = chain.spacing * 1.02
    tension = -24.0 * a**-7 * (2 * a**-6 - 1)  # sum r phi'(r) / L = phi'(a) for the uniform chain
    assert est.mean[0] == pytest.approx(tension, rel=1e-12) and est.mean[1] == 0 and est.stderr[0] == 0
    with pytest.raises(ValueError, match="below the ground state"):
        chain.run(np.array([0.02, u0 - 0.01]), seed=0, budget=Budget())
    with pytest.raises(ValueError, match="`observables`"):
        NVEChain(observables=("pressure",))


def test_contract_pickle_and_determinism():
    chain = NVEChain(bond="lj", n_atoms=16, sample_every=5, blocks=10)
    assert isinstance(chain, Oracle) and chain.inputs == ("strain", "internal_energy")
    assert chain.outputs == ("stress", "temperature")
    clone = pickle.loads(pickle.dumps(chain))
    assert oracle_token(clone) == oracle_token(chain) != oracle_token(NVEChain(bond="lj", n_atoms=16))
    state, budget = np.array([0.0, -0.97]), Budget(200, 1000)
    a, b = chain.run(state, seed=5, budget=budget), clone.run(state, seed=5, budget=budget)
    assert np.array_equal(a.mean, b.mean) and not np.array_equal(a.mean, chain.run(state, seed=6, budget=budget).mean)


def test_equilibration_runs_its_nve_half_before_sampling():
    # module docstring, steps 1-3: n_eq / 2 Langevin steps, the rescale to U + K = E (plus any
    # rethermalisation steps), then the other n_eq / 2 steps NVE; sampling starts after all of them
    chain = NVEChain(bond="lj", n_atoms=16)
    u = float(chain.ground_state_energy(0.01)) + 0.05
    for seed in range(4):
        system, u_static, extra = chain.equilibrated((0.01, u), np.random.default_rng(seed), 2000)
        assert system.steps == 2000 + extra
        # the NVE half kept the energy set by the rescale: E = U_static + (N - 1) m (u - u_0), to O(dt^2)
        energy = system.forces()[0] + system.kinetic_energy
        thermal = (16 - 1) * (u - u_static / 16)
        assert abs(energy - (u_static + thermal)) < 1e-3 * thermal


def test_chain_system_is_the_engine_of_both_chain_oracles_and_conserves_energy():
    # the NVE chain from a strained, thermal start: velocity Verlet keeps U + K to O(dt^2)
    from oracles.md import ChainSystem, coarse_grain

    rng = np.random.default_rng(0)
    a0 = 2.0 ** (1 / 6)
    chain = ChainSystem(np.arange(64) * a0 * 1.01, 0.2 * rng.standard_normal(64), 64 * a0 * 1.01, bond="lj",
                        a0=a0, dt=0.005)
    chain.v -= chain.v.mean()
    e0 = chain.forces()[0] + chain.kinetic_energy
    rows = chain.run(4000, sample_every=100)
    e = rows[:, 0] + 0.5 * rows[:, 1]
    assert chain.steps == 4000 and rows.shape == (40, 3)
    # Verlet conserves a shadow energy within O((omega_max dt)^2) of the kinetic energy (Hairer, Lubich
    # & Wanner, Geometric Numerical Integration, 2006, ch. IX): omega_max = 2 sqrt(phi''(a0) / m) = 15.1
    omega_dt = 2 * math.sqrt(72 * 2 ** (-1 / 3)) * 0.005  # phi''(2^(1/6)) = 72 / 2^(1/3) = 57.1
    assert np.abs(e - e0).max() < omega_dt**2 * 0.5 * rows[:, 1].mean()
    strain, velocity, energy, temperature = coarse_grain(chain, 4)
    assert strain.mean() == pytest.approx(0.01, rel=1e-12)  # the period is fixed: mean strain exact
    assert abs(velocity.mean()) < 1e-12  # zero momentum is conserved
    with pytest.raises(ValueError, match="`bond`"):
        ChainSystem(np.zeros(4), np.zeros(4), 4.0, bond="morse")
