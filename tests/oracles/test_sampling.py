"""The one sampling helper (oracles._sampling): the block rule on an AR(1) process with a
known autocorrelation, replica seeding, max_wall_s and target_stderr, weighted (time)
averages, and a tiny oracle that has no statistics code of its own.

Derivations used for the tolerances:
* AR(1) x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t (unit variance, rho_k = phi^k, integrated
  autocorrelation time tau = (1 + phi) / (1 - phi)). The squared stderr of the block rule
  is a quadratic form x^T Q x of the Gaussian samples, so its expectation tr(Q Sigma) and
  variance 2 tr((Q Sigma)^2) follow from the block-mean covariances
  cov(b_i, b_j) = L^-2 sum_m (L - |m|) phi^|D + m| (blocks of L samples, offset D); the
  Monte Carlo average of M runs must lie within 4 of its standard deviations of that.
* The variance of the mean of n samples is (1/n) [tau - 2 phi (1 - phi^n) / (n (1 - phi)^2)]
  (Priestley, Spectral Analysis and Time Series, 1981, sec. 5.3); the block rule's bias
  tr(Q Sigma) / Var - 1 is O(tau / L) and is computed, not assumed.
* n_eff ~ 1 / se^2: E[1 / X] = (1 + cv^2) / E[X] to second order in cv = sd(X) / E[X].
* Coverage of nominal 95 % t intervals (N - 1 degrees of freedom) is binomial over M runs:
  |covered - p| <= 4 sqrt(p (1 - p) / M), with p from the t distribution at the computed
  bias (se scaled by sqrt(bias ratio)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
from scipy import signal, stats

from hmm import Budget
from hmm.contract import Estimate, OracleSetupError, resolve_budget
from oracles._sampling import SampledOracle, Weighted, block_stats, replica_rngs, sample_replicas

PHI, BLOCKS, LENGTH = 0.9, 20, 400  # tau_int = 19 samples; blocks of ~21 tau


def ar1(phi: float, n: int, runs: int, rng: np.random.Generator) -> np.ndarray:
    """``runs`` stationary AR(1) series of length n, unit variance (rows)."""
    e = rng.standard_normal((runs, n)) * math.sqrt(1 - phi**2)
    x0 = rng.standard_normal(runs)
    out, _ = signal.lfilter([1.0], [1.0, -phi], e, axis=1, zi=(phi * x0)[:, None])
    return out


def block_covariance(phi: float, blocks: int, length: int) -> np.ndarray:
    """Covariance matrix of the ``blocks`` consecutive block means of a unit AR(1)."""
    m = np.arange(-(length - 1), length)
    pairs = length - np.abs(m)
    c = np.empty((blocks, blocks))
    for d in range(blocks):
        c_d = np.sum(pairs * phi ** np.abs(d * length + m)) / length**2
        idx = np.arange(blocks - d)
        c[idx, idx + d] = c[idx + d, idx] = c_d
    return c


def expected_se2(phi: float, blocks: int, length: int) -> tuple[float, float]:
    """(E, sd) of the block rule's squared stderr for one AR(1) series (quadratic form)."""
    cov = block_covariance(phi, blocks, length)
    centre = np.eye(blocks) - 1.0 / blocks
    q_sigma = centre @ cov / (blocks * (blocks - 1))
    return float(np.trace(q_sigma)), float(math.sqrt(2 * np.trace(q_sigma @ q_sigma)))


def test_block_rule_on_ar1_matches_its_exact_expectation_and_covers_the_mean():
    n, runs = BLOCKS * LENGTH, 400
    x = ar1(PHI, n, runs, np.random.default_rng(11))
    est = [block_stats([row[:, None]], BLOCKS) for row in x]
    se2 = np.array([e.stderr[0] ** 2 for e in est])
    e_se2, sd_se2 = expected_se2(PHI, BLOCKS, LENGTH)
    assert abs(se2.mean() - e_se2) < 4 * sd_se2 / math.sqrt(runs)
    tau = (1 + PHI) / (1 - PHI)
    var_mean = (tau - 2 * PHI * (1 - PHI**n) / (n * (1 - PHI) ** 2)) / n
    ratio = e_se2 / var_mean  # bias of the rule at blocks of LENGTH = 21 tau: computed, ~ 1 - O(tau / L)
    assert 0.85 < ratio < 1.0
    # 95 % t intervals: expected coverage at that bias, binomial tolerance over the runs
    t95 = stats.t.ppf(0.975, BLOCKS - 1)
    p = 2 * stats.t.cdf(t95 * math.sqrt(ratio), BLOCKS - 1) - 1
    covered = np.mean([abs(e.mean[0]) <= t95 * e.stderr[0] for e in est])
    assert abs(covered - p) <= 4 * math.sqrt(p * (1 - p) / runs)
    # n_eff = sample variance / se^2 ~ 1 / se^2 (unit variance): by the delta method to second order
    # E[1 / X] = (1 + cv^2) / E[X] and sd(1 / X) = cv / E[X], cv = sd(se^2) / E[se^2]
    cv = sd_se2 / e_se2
    n_eff = np.array([e.n_eff for e in est]) * e_se2
    assert abs(n_eff.mean() - (1 + cv**2)) < 4 * cv / math.sqrt(runs)


def test_replicas_pool_their_blocks_and_the_spread_between_replicas_counts():
    rng = np.random.default_rng(3)
    a, b = ar1(PHI, 4000, 2, rng)
    pooled = block_stats([a, b], 10)
    assert pooled.blocks == 20 and pooled.dof == 19
    assert pooled.mean[0] == pytest.approx(0.5 * (a[-4000:].mean() + b.mean()), rel=1e-12)
    shifted = block_stats([a, b + 5.0], 10)  # replicas that disagree widen the error bar
    assert shifted.stderr[0] > 5 * pooled.stderr[0]
    assert block_stats([a[:1]], 10).stderr[0] == math.inf  # one block: no spread to judge by


def test_weighted_samples_give_the_ratio_of_totals_and_an_honest_stderr():
    # Poisson events at rate lam observed over intervals of random length: each sample is a
    # rate count / t with weight t; the weighted mean is total count / total time exactly
    lam, runs = 3.0, 300
    rng = np.random.default_rng(5)
    covered = []
    for _ in range(runs):
        t = rng.uniform(0.2, 2.0, 40)
        k = rng.poisson(lam * t)
        est = block_stats([(k / t)[:, None]], 20, [t])
        assert est.mean[0] == pytest.approx(k.sum() / t.sum(), rel=1e-12)
        covered.append(abs(est.mean[0] - lam) <= stats.t.ppf(0.975, 19) * est.stderr[0])
    assert abs(np.mean(covered) - 0.95) <= 4 * math.sqrt(0.95 * 0.05 / runs)

    def replica(rng):  # the same through the helper, one weighted sample per chunk
        for _ in range(40):
            t = rng.uniform(0.2, 2.0)
            yield Weighted(np.array([[rng.poisson(lam * t) / t]]), np.array([t]))
    out = sample_replicas(replica, Budget(replicas=2), 4, blocks=20)
    chunks = [list(replica(g)) for g in replica_rngs(4, 2)]
    x = [np.concatenate([c.values for c in cs]) for cs in chunks]
    w = [np.concatenate([c.weights for c in cs]) for cs in chunks]
    assert np.array_equal(out.stats.mean, block_stats(x, 20, w).mean) and out.stats.blocks == 40


def test_replica_seeding_is_one_idiom_independent_and_stable_in_the_replica_count():
    two, five = replica_rngs(7, 2), replica_rngs(7, 5)
    assert np.array_equal(two[1].standard_normal(8), five[1].standard_normal(8))  # replica r ignores R
    streams = np.array([g.standard_normal(20000) for g in replica_rngs(7, 6)])
    corr = np.corrcoef(streams)[np.triu_indices(6, 1)]
    assert np.all(np.abs(corr) < 4 / math.sqrt(20000))  # independent streams
    assert not np.array_equal(replica_rngs(8, 1)[0].standard_normal(4), replica_rngs(7, 1)[0].standard_normal(4))


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def chunked_noise(clock: FakeClock, per_chunk: int, n_chunks: int, dt: float = 1.0):
    """A replica of iid N(0, 1) samples in chunks; each chunk costs ``dt`` fake seconds."""
    def replica(rng):
        for _ in range(n_chunks):
            clock.now += dt
            yield rng.standard_normal((per_chunk, 1))
    return replica


def test_max_wall_s_stops_each_replica_at_its_share_once_it_has_a_sample_per_block():
    clock = FakeClock()
    budget = Budget(sampling_steps=1000, max_wall_s=10.0, replicas=2)
    out = sample_replicas(chunked_noise(clock, 3, 100), budget, 1, blocks=4, start=0.0, clock=clock)
    # replica 0: deadline 5 s -> stops after the 6th chunk (t = 6 > 5); replica 1: deadline 10 s,
    # starts at t = 6, stops after its 5th chunk (t = 11 > 10)
    assert out.samples == (18, 15) and out.truncated and out.stopped == "max_wall_s"
    assert out.cost_s == 11.0
    slow = FakeClock()
    one = sample_replicas(chunked_noise(slow, 1, 100, dt=100.0), Budget(max_wall_s=1.0), 1, blocks=4,
                          start=0.0, clock=slow)
    assert one.samples == (4,)  # past the deadline at once, but one sample per block is kept
    free = sample_replicas(chunked_noise(FakeClock(), 3, 100), Budget(replicas=2), 1, blocks=4, start=0.0,
                           clock=FakeClock())
    assert free.samples == (300, 300) and not free.truncated


def test_target_stderr_stops_sampling_once_every_output_is_below_it():
    clock = FakeClock()
    target = 0.1  # iid unit samples: se ~ 1 / sqrt(n) reaches 0.1 near n = 100
    out = sample_replicas(chunked_noise(clock, 10, 100), Budget(target_stderr=target), 2, blocks=5, clock=clock)
    assert out.stopped == "target_stderr" and (out.stats.stderr < target).all()
    assert 4 * 5 <= out.samples[0] < 1000 and out.samples[0] % 10 == 0
    full = sample_replicas(chunked_noise(FakeClock(), 10, 100), Budget(), 2, blocks=5, clock=FakeClock())
    assert full.samples == (1000,) and full.stopped == "budget"
    # the same seed without the target gives the same first samples (chunks do not depend on the budget)
    assert np.array_equal(full.stats.mean, block_stats([np.concatenate(
        [g for g in chunked_noise(FakeClock(), 10, 100)(replica_rngs(2, 1)[0])])], 5).mean)


def test_a_generator_may_replace_its_samples_when_it_ends():
    def replica(rng):
        yield rng.standard_normal((5, 2))
        return np.tile([0.25, 0.0], (6, 1))  # e.g. an absorbing state: its long-time average
    out = sample_replicas(replica, Budget(), 0, blocks=3)
    assert np.array_equal(out.stats.mean, [0.25, 0.0]) and np.array_equal(out.stats.stderr, [0.0, 0.0])
    assert out.samples == (6,)
    with pytest.raises(OracleSetupError, match="no samples"):
        sample_replicas(lambda rng: np.zeros((0, 1)), Budget(), 0, blocks=3, name="Tiny.run()")


@dataclass(frozen=True)
class NoisyLevel(SampledOracle):
    """value = level(state) observed through AR(1) noise of amplitude ``noise``: the whole
    oracle is its per-replica simulation (no seeding, blocking or stopping code)."""

    noise: float = 0.5
    phi: float = 0.8
    blocks: int = 10

    inputs = ("x",)
    outputs = ("value",)
    units: ClassVar[dict[str, str]] = {"x": "1", "value": "1"}
    default_budget: ClassVar[Budget] = Budget(100, 2000)

    def level(self, x: float) -> float:
        return 2.0 * x + 1.0

    def sample_replica(self, state, rng, n_equilibration, n_sampling):
        noise = self.noise * ar1(self.phi, n_equilibration + n_sampling, 1, rng)[0, n_equilibration:]
        for start in range(0, n_sampling, 500):
            yield (self.level(state[0]) + noise[start:start + 500])[:, None]


def test_a_tiny_oracle_on_the_mixin_meets_the_budget_contract():
    oracle = NoisyLevel()
    assert resolve_budget(oracle, Budget()) == Budget(100, 2000)
    est = oracle.run(np.array([0.3]), seed=1, budget=Budget(replicas=3))
    assert isinstance(est, Estimate) and est.provenance["replicas"] == 3 and est.provenance["blocks"] == 30
    assert abs(est.mean[0] - 1.6) < 4 * est.stderr[0] and 0 < est.stderr[0] < 0.1
    again = oracle.run(np.array([0.3]), seed=1, budget=Budget(replicas=3))
    other = oracle.run(np.array([0.3]), seed=2, budget=Budget(replicas=3))
    assert np.array_equal(est.mean, again.mean) and not np.array_equal(est.mean, other.mean)
    short = oracle.run(np.array([0.3]), seed=1, budget=Budget(target_stderr=0.2))
    assert short.provenance["stopped"] == "target_stderr" and short.stderr[0] < 0.2
    with pytest.raises(OracleSetupError, match=r"`state` must hold 1 values"):
        oracle.run(np.array([0.3, 0.1]), seed=1, budget=Budget())
