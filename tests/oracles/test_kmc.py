"""Lattice KMC (oracles.kmc): exact agreement with a slow reference, exact
stochastic limits (Langmuir isotherm, tracer diffusion, reservoir bath and
SSEP current), ZGB phases, the mean-field limit, and the oracle contract.

Sources: Langmuir theta = K/(1+K) and MSD = 4 k t of a continuous-time random
walk with rate k per direction are exact. ZGB phases: Ziff, Gulari & Barshad,
PRL 56, 2553 (1986): O-poisoned below y1 = 0.3874, CO-poisoned above
y2 = 0.5256 (Ziff & Brosilow, PRA 46, 4630, 1992). SSEP with reservoirs:
linear density profile and current k (theta_L - theta_R) / (L + 1) per row
(Derrida, Phys. Rep. 301, 65, 1998, sec. 2).
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from hmm import Budget
from hmm.provenance import oracle_token
from validation import kmc as validation
from oracles.base import Oracle
from oracles.kmc import (
    ZGB,
    BistableAB,
    KMCSimulation,
    Langmuir,
    LatticeGas,
    LatticeKMC,
    Process,
    Reservoirs,
    SurfaceModel,
    initialise,
    mean_field_rhs,
    simulate,
)
from oracles.kmc._kernels import ReferenceRandom, next_uniform, reference_bkl, seed_state

CASES = [
    (LatticeGas(0.7, 0.3, 1.0), None, (4, 6)),
    (ZGB(0.5, k_reaction=5.0), None, (8, 8)),
    (BistableAB(beta=5.0, k_hop=0.5), None, (6, 5)),
    (BistableAB(beta=5.0, k_hop=0.5), Reservoirs((0.2, 0.3), (0.1, 0.0)), (8, 12)),
    (LatticeGas(0.2, 0.3, 1.0), Reservoirs((0.9,), (0.1,)), (5, 6)),
]


def test_random_stream_matches_its_python_reference():
    s = seed_state(np.uint64(2**63 + 12345))
    ref = ReferenceRandom(2**63 + 12345)
    for _ in range(50):
        u, *s = next_uniform(*(np.uint64(w) for w in s))
        assert u == ref.random()


@pytest.mark.parametrize("model,boundary,shape", CASES)
def test_fast_kernel_reproduces_slow_reference_bit_for_bit(model, boundary, shape):
    """The reference recomputes every site's rates from the process list at every
    step; same random numbers must give the same trajectory and clock."""
    lattice = initialise(shape, [0.3] * len(model.species), np.random.default_rng(1), boundary=boundary)
    sim = KMCSimulation(lattice, model, boundary)
    start = sim.val.copy()
    run = sim.advance(n_events=400, seed=7)
    tab = sim.tables
    kernel_seed = int(np.random.SeedSequence(7).generate_state(1, np.uint64)[0])
    val, t, counts = reference_bkl(start, *shape, tab.n_species, tab.processes, tab.reservoir,
                                   tab.bucket_rate, 400, kernel_seed)
    assert np.array_equal(val, sim.val)
    assert run.time == pytest.approx(t, rel=1e-12)
    assert list(run.counts.values()) == counts.tolist()
    assert sum(counts) > 0


def test_bucket_structure_stays_consistent_with_a_rebuild():
    model, boundary = BistableAB(beta=5.0, k_hop=1.0), Reservoirs((0.3, 0.1), (0.0, 0.5))
    sim = KMCSimulation(initialise((16, 20), [0.2, 0.2], np.random.default_rng(3), boundary=boundary),
                        model, boundary)
    sim.advance(n_events=20_000, seed=5)
    fresh = KMCSimulation(sim.lattice(), model, boundary)
    mask, interior = (1 << sim._key_bits) - 1, sim.val <= 2
    assert np.array_equal(sim.site[interior] & mask, fresh.site[interior] & mask)  # same keys
    positions = sim.site[interior] >> sim._key_bits  # every bucket slot points back at its site
    for b in range(len(sim.bcount)):
        members = sim.members[b, :sim.bcount[b]]
        assert np.array_equal(sim.site[members] >> sim._key_bits, np.arange(sim.bcount[b]))
    assert positions.size
    assert np.array_equal(sim.bcount, fresh.bcount)
    assert sim.total_rate == pytest.approx(fresh.total_rate, rel=1e-12)


def test_time_records_and_event_budget_semantics():
    sim = KMCSimulation(initialise((16, 16), [0.5], np.random.default_rng(0)), LatticeGas())
    run = sim.advance(t_burst=3.0, n_records=6, seed=1)
    assert run.time == 3.0 and not run.absorbed
    assert np.allclose(run.record_times, np.arange(1, 7) * 0.5)
    assert run.record_coverages.shape == (6, 1) and run.record_coverages[-1, 0] == sim.coverages[0]
    run = sim.advance(n_events=123, seed=2)
    assert sum(run.counts.values()) == 123
    # a poisoned ZGB lattice is absorbing: the clock jumps to the end of the burst
    run = simulate(np.full((8, 8), 2, dtype=np.int8), ZGB(0.4), t_burst=5.0, n_records=2)
    assert run.absorbed and run.time == 5.0 and np.array_equal(run.record_coverages, [[0, 1], [0, 1]])


@pytest.mark.parametrize("K", [0.5, 3.0])
def test_langmuir_isotherm(K):
    theta, se, exact = validation.langmuir_isotherm(K, shape=(32, 32), replicas=4, sweeps=100.0)
    assert abs(theta - exact) < 4 * se and se < 0.01


def test_tracer_diffusion_coefficient_is_hop_rate_times_a_squared():
    # convention: k = hop rate per direction (4 k per particle), D = k a^2, MSD = 4 D t
    D, se = validation.tracer_msd(1.5, duration=6.0, walkers=300, size=24, seed=2)
    assert abs(D - 1.5) < 4 * se and se < 0.1


def test_reservoir_columns_are_a_particle_bath_and_carry_the_ssep_current():
    # equal reservoirs, hopping only: the interior fills to the reservoir coverage
    est = LatticeKMC(model=LatticeGas(0.0, 0.0, 1.0), inputs=("coverage_A",), shape=(16, 12),
                     boundary=Reservoirs((0.3,), (0.3,)), equilibration_sweeps=40.0, sampling_sweeps=200.0
                     ).run(np.array([0.8]), seed=1, budget=Budget(replicas=4))
    assert abs(est.mean[0] - 0.3) < 4 * est.stderr[0]
    # different reservoirs: current per row k (tl - tr) / (L + 1), L interior columns
    n_rows, n_cols, tl, tr = 16, 10, 0.9, 0.1
    boundary = Reservoirs((tl,), (tr,))
    sim = KMCSimulation(initialise((n_rows, n_cols), [0.5], np.random.default_rng(4), boundary=boundary),
                        LatticeGas(0.0, 0.0, 1.0), boundary)
    sim.advance(t_burst=100.0, seed=0)
    currents = []
    for b in range(8):
        run = sim.advance(t_burst=100.0, seed=b + 1)
        currents.append(0.5 * (run.boundary_flux[0, 0] - run.boundary_flux[1, 0]) / (run.time * n_rows))
    exact = (tl - tr) / (n_cols - 1)
    assert abs(np.mean(currents) - exact) < 4 * np.std(currents, ddof=1) / np.sqrt(len(currents))


def test_zgb_phases():
    # Ziff et al. 1986: O poisoning below y1 ~ 0.387, reactive window, CO poisoning above y2 ~ 0.526
    cov, absorbed = validation.zgb_final_state(0.35, size=48, t_max=1000.0, seed=1)
    assert absorbed and cov[1] == 1.0
    cov, absorbed = validation.zgb_final_state(0.45, size=48, t_max=300.0, seed=1)
    assert not absorbed and 0.0 < cov[1] < 0.95 and cov[0] < 0.2
    cov, absorbed = validation.zgb_final_state(0.60, size=48, t_max=1000.0, seed=1)
    assert absorbed and cov[0] == 1.0
    est = LatticeKMC(shape=(32, 32), equilibration_sweeps=50.0, sampling_sweeps=100.0).run(
        np.array([0.45]), seed=0, budget=Budget(replicas=3))
    production = est.mean[LatticeKMC().outputs.index("flux_CO2")]
    assert production > 10 * est.stderr[LatticeKMC().outputs.index("flux_CO2")]


def test_fast_hopping_approaches_the_mean_field_fixed_point():
    """Bistable A + B2 at beta = 2 (one stable mean-field state, high A)."""
    model = BistableAB(beta=2.0)
    stable = [x for x, ev in validation.mean_field_fixed_points(model) if np.all(ev.real < 0)]
    assert len(stable) == 1
    mf = stable[0]
    assert np.allclose(mean_field_rhs(model, mf), 0.0, atol=1e-10)
    fast, se_fast = validation.bistable_steady_state(2.0, 20.0, (0.97, 0.0), sampling_time=40.0, seed=1)
    slow, se_slow = validation.bistable_steady_state(2.0, 0.0, (0.97, 0.0), sampling_time=200.0,
                                                     replicas=8, seed=1)
    # fast hopping: within 4 stderr (plus 0.001 for the O(1/k_hop) correlations left)
    assert np.all(np.abs(fast - mf) < 4 * se_fast + 1e-3)
    # no hopping: pair correlations leave a clear deviation
    assert abs(slow[0] - mf[0]) > 4 * se_slow[0] + 1e-3


def test_bistable_mean_field_has_two_stable_states_inside_the_window():
    states = validation.mean_field_fixed_points(BistableAB(beta=5.0))
    interior = [(x, ev) for x, ev in states if x.sum() < 0.999]
    assert sorted(int(np.all(ev.real < 0)) for _, ev in interior) == [0, 1, 1]


def test_lifted_burst_derivative_is_the_mean_field_rhs():
    """A random lift is a product measure, on which the expected instantaneous
    drift is exactly the mean-field right-hand side; short bursts estimate it.
    Bias: 100 events on 128^2 sites last t ~ 0.003, over which d theta_B/dt
    (relaxation rate ~ 9) drifts by ~ 0.02, far below 4 stderr (~ 0.2)."""
    model = BistableAB(beta=5.0)
    oracle = LatticeKMC(model=model, inputs=("coverage_A", "coverage_B"), shape=(128, 128))
    est = oracle.run(np.array([0.3, 0.3]), seed=2, budget=Budget(sampling_steps=100, replicas=64))
    k = oracle.outputs.index("dcoverage_A_dt")
    rhs = mean_field_rhs(model, [0.3, 0.3])
    assert np.all(np.abs(est.mean[k:k + 2] - rhs) < 4 * est.stderr[k:k + 2])


def test_oracle_contract_pickle_determinism_and_coarse_pieces():
    oracle = LatticeKMC(model=BistableAB(), inputs=("coverage_A", "beta"), shape=(16, 16))
    assert isinstance(oracle, Oracle) and isinstance(LatticeKMC(), Oracle)
    clone = pickle.loads(pickle.dumps(oracle))
    assert oracle_token(clone) == oracle_token(oracle)
    assert oracle_token(oracle) != oracle_token(LatticeKMC(model=BistableAB(gamma=0.05),
                                                           inputs=("coverage_A", "beta"), shape=(16, 16)))
    b = Budget(sampling_steps=500, replicas=2)
    a1, a2 = oracle.run(np.array([0.2, 5.0]), seed=3, budget=b), clone.run(np.array([0.2, 5.0]), seed=3, budget=b)
    assert np.array_equal(a1.mean, a2.mean) and a1.mean.shape == (len(oracle.outputs),)
    assert not np.array_equal(a1.mean, oracle.run(np.array([0.2, 5.0]), seed=4, budget=b).mean)
    rng = np.random.default_rng(0)
    lattice = oracle.lift(np.array([0.25]), np.array([5.0]), rng)
    assert np.allclose(oracle.restrict(lattice), [0.25], atol=1 / 256)
    later = oracle.micro(lattice, np.array([5.0]), 0.5, rng)
    assert later.shape == lattice.shape and not np.array_equal(later, lattice)


def test_bad_input_is_rejected_with_the_field_named():
    with pytest.raises(ValueError, match="`k_des` must be a finite rate >= 0"):
        Langmuir(k_des=-1.0)
    with pytest.raises(ValueError, match="`y`"):
        ZGB(y=1.5)
    with pytest.raises(ValueError, match="`rate`"):
        Process("bad", (0,), (1,), -2.0)
    with pytest.raises(ValueError, match="outside 0..1"):
        SurfaceModel(("A",), (Process("p", (0,), (2,), 1.0),))
    with pytest.raises(ValueError, match=r"coverages must lie in \[0, 1\]"):
        initialise((8, 8), [1.2], np.random.default_rng(0))
    with pytest.raises(ValueError, match="sum to <= 1"):
        initialise((8, 8), [0.6, 0.6], np.random.default_rng(0))
    oracle = LatticeKMC(model=BistableAB(), inputs=("coverage_A", "coverage_B"), shape=(8, 8))
    with pytest.raises(ValueError, match=r"lift \(\('coverage_A', 'coverage_B'\)\).*\[0, 1\]"):
        oracle.run(np.array([-0.1, 0.2]), seed=0, budget=Budget())
    with pytest.raises(ValueError, match="`k_reaction` must be a finite rate"):
        LatticeKMC(model=ZGB(), inputs=("k_reaction",)).run(np.array([-1.0]), seed=0, budget=Budget())
    with pytest.raises(ValueError, match="input 'theta'"):
        LatticeKMC(inputs=("theta",))
    with pytest.raises(ValueError, match="Reservoirs.left"):
        Reservoirs((0.5, 0.7), (0.0, 0.0))
    with pytest.raises(ValueError, match="`blocks` must be an int >= 2"):  # `n_blocks=` is the old name of `blocks`
        LatticeKMC(n_blocks=1)
    with pytest.raises(TypeError, match="`model`"):
        LatticeKMC(model="ZGB")
