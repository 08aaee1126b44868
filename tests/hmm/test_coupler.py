"""Coupler contract: order, determinism, seeding, caching, batching, retries, errors."""

from __future__ import annotations

import numpy as np
import pytest

from hmm import (Budget, BudgetError, Coupler, Estimate, EstimateCache, OracleError, QueryError,
                 SchedulerError)
from hmm.provenance import query_seed, retry_seed
from oracles.toy import GaussianNoiseOracle, TrivialOracle
from tests.hmm.oracles_for_tests import (CountingOracle, DeclaredOracle, FlakyOracle, NaNOracle,
                                        SetupErrorOracle, WrongShapeOracle)

NOISY = GaussianNoiseOracle(slope=(1.0, -2.0), curvature=0.5, noise=0.3)
BUDGET = Budget(sampling_steps=16)


def _states(n=37, seed=1):
    return np.random.default_rng(seed).uniform(-1, 1, size=(n, 2))


def _same_bits(a, b):
    for name in ("mean", "stderr", "n_eff", "cost_s", "seed"):
        if name == "cost_s":
            continue  # wall time is measured, not deterministic
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_sync_results_in_query_order_and_match_the_oracle():
    states = _states()
    with Coupler(NOISY, "sync", seed=7) as coupler:
        batch = coupler.evaluate(states, BUDGET)
    assert batch.states.shape == (37, 2) and np.array_equal(batch.states, states)
    for i in (0, 5, 36):  # each row is exactly the oracle's answer with the derived seed
        seed = query_seed(7, states[i])
        direct = NOISY.run(states[i], seed=seed, budget=BUDGET)
        assert batch.seed[i] == seed
        assert np.array_equal(batch.mean[i], direct.mean)
    assert np.all(batch.worker == "sync")


def test_bitwise_identical_with_sync_one_and_two_workers(client_1w, client_2w):
    states = _states(101)
    with Coupler(NOISY, "sync", seed=3) as c:
        ref = c.evaluate(states, BUDGET)
    one = Coupler(NOISY, client_1w, seed=3, batch_size=7).evaluate(states, BUDGET)
    two = Coupler(NOISY, client_2w, seed=3, batch_size=1).evaluate(states, BUDGET)
    auto = Coupler(NOISY, client_2w, seed=3).evaluate(states, BUDGET)
    for other in (one, two, auto):
        _same_bits(ref, other)
    assert set(two.worker) == set(client_2w.scheduler_info()["workers"])  # both workers used


def test_seeds_do_not_depend_on_query_order_but_on_root_seed_and_replica():
    states = _states(20)
    perm = np.random.default_rng(0).permutation(20)
    with Coupler(NOISY, "sync", seed=11) as c:
        a = c.evaluate(states, BUDGET)
        b = c.evaluate(states[perm], BUDGET)
        r1 = c.evaluate(states, BUDGET, replica=1)
    assert np.array_equal(a.mean[perm], b.mean) and np.array_equal(a.seed[perm], b.seed)
    assert not np.any(a.seed == r1.seed)
    with Coupler(NOISY, "sync", seed=12) as c:
        assert not np.any(c.evaluate(states, BUDGET).seed == a.seed)


def test_stderr_of_noisy_oracle_is_honest():
    # z = (mean - exact) / stderr must be standard normal. With N = 2000 queries the
    # fraction inside +-1.96 is 0.95 with binomial standard error sqrt(.95*.05/N) = 0.0049;
    # we allow 4 sigma.
    states = _states(2000, seed=5)
    with Coupler(NOISY, "sync", seed=0) as c:
        batch = c.evaluate(states, BUDGET)
    z = (batch.mean[:, 0] - NOISY.exact(states)) / batch.stderr[:, 0]
    inside = np.mean(np.abs(z) < 1.96)
    assert abs(inside - 0.95) < 4 * np.sqrt(0.95 * 0.05 / 2000)
    assert abs(np.mean(z)) < 4 / np.sqrt(2000)


def test_duplicates_run_once_and_cache_answers_repeats(tmp_path):
    counting = CountingOracle(tag=str(tmp_path))
    states = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0], [-0.0, 1.0], [0.0, 1.0]])
    path = tmp_path / "cache.npz"
    with Coupler(counting, "sync", cache=path) as c:
        first = c.evaluate(states)
        assert counting.calls() == 3  # duplicates and -0.0 == 0.0 run once
        assert np.array_equal(first.mean[0], first.mean[2])
        # repeats are answered without a run: not counted as fresh, their cost not spent again
        assert first.cached.tolist() == [False, False, True, False, True]
        assert first.total_cost_s == pytest.approx(float(first.cost_s[[0, 1, 3]].sum()))
        again = c.evaluate(states)
        assert counting.calls() == 3 and np.all(again.cached)
        _same_bits(first, again)
        c.save_cache()
    with Coupler(counting, "sync", cache=path) as c:  # restart from the saved file
        restored = c.evaluate(states)
    assert counting.calls() == 3 and np.all(restored.cached)
    _same_bits(first, restored)
    with Coupler(counting, "sync", cache=EstimateCache(path)) as c:
        c.evaluate(states, Budget(sampling_steps=2))  # another budget is another query
    assert counting.calls() == 6


def test_flaky_oracle_is_retried_then_fails_with_named_state(tmp_path):
    flaky = FlakyOracle(tag=str(tmp_path), failures=2)
    with Coupler(flaky, "sync", retries=2) as c:
        batch = c.evaluate(np.array([[0.5]]))
    assert batch.mean[0, 0] == 0.5
    flaky = FlakyOracle(tag=str(tmp_path / "b"), failures=2)
    with Coupler(flaky, "sync", retries=1) as c, pytest.raises(OracleError) as info:
        c.evaluate(np.array([[0.5]]))
    assert "s0=0.5" in str(info.value) and "RuntimeError: transient" in str(info.value)
    # the error names the seed of the last attempt: the retry ran with a fresh, recorded seed
    assert info.value.seed == retry_seed(query_seed(0, np.array([0.5])), 1)
    assert "2 attempts" in str(info.value)


def test_a_retried_answer_records_the_fresh_seed_it_came_from(tmp_path):
    flaky = FlakyOracle(tag=str(tmp_path), failures=1)
    with Coupler(flaky, "sync", retries=2) as c:
        batch = c.evaluate(np.array([[0.5]]))
        assert c.accounting.failed_runs == 1 and c.accounting.fresh_runs == 1
    assert int(batch.seed[0]) == retry_seed(query_seed(0, np.array([0.5])), 1)
    assert retry_seed(7, 1) != retry_seed(7, 2) != 7


def test_setup_errors_and_deterministic_failures_are_not_retried(tmp_path):
    setup = SetupErrorOracle(tag=str(tmp_path / "setup"))
    with Coupler(setup, "sync", retries=3) as c, pytest.raises(OracleError, match="OracleSetupError"):
        c.evaluate(np.array([[0.5]]))
    assert setup.calls() == 1
    pure = FlakyOracle(tag=str(tmp_path / "pure"), failures=5)
    object.__setattr__(pure, "deterministic", True)  # the same seed would fail again: no retry
    with Coupler(pure, "sync", retries=3) as c, pytest.raises(OracleError):
        c.evaluate(np.array([[0.5]]))
    assert int(open(tmp_path / "pure" / "calls").read()) == 1


def test_unsupported_budget_fields_are_refused_before_anything_runs(tmp_path):
    oracle = DeclaredOracle(tag=str(tmp_path))
    with Coupler(oracle, "sync", cache=True) as c:
        with pytest.raises(BudgetError, match="target_stderr.*honours: sampling_steps"):
            c.evaluate(np.array([[0.5]]), Budget(target_stderr=0.1))
        assert oracle.calls() == 0
        assert c.resolve(Budget()) == Budget(sampling_steps=100)  # the default, made explicit
        a = c.evaluate(np.array([[0.5]]))
        b = c.evaluate(np.array([[0.5]]), Budget(sampling_steps=100))  # the same work: a cache hit
    assert oracle.calls() == 1 and a.mean[0, 0] == b.mean[0, 0] == 100.0
    assert a.provenance["budget"] == b.provenance["budget"]


def test_nan_from_oracle_raises_oracle_error_naming_state_seed_and_worker(client_2w, tmp_path):
    states = np.array([[0.1], [0.2], [-1.0], [0.3]])  # NaNOracle returns NaN for s0 < 0
    with Coupler(NaNOracle(), client_2w, batch_size=1) as c, pytest.raises(OracleError) as info:
        c.evaluate(states)
    err = info.value
    assert "s0=-1" in str(err) and "non-finite" in str(err) and str(err.seed) in str(err)
    assert err.worker in client_2w.scheduler_info()["workers"] and err.worker in str(err)
    assert np.array_equal(err.state, [-1.0])
    with Coupler(WrongShapeOracle(), "sync") as c, pytest.raises(OracleError, match="2 outputs, expected 1"):
        c.evaluate(states[:1])


def test_finished_queries_are_kept_in_the_cache_when_one_fails():
    cache = EstimateCache()
    with Coupler(NaNOracle(), "sync", cache=cache) as c:
        with pytest.raises(OracleError):
            c.evaluate(np.array([[0.1], [0.2], [-1.0]]))
        assert len(cache) == 2  # the two good answers are kept for the rerun


@pytest.mark.parametrize("states, expected", [
    (np.zeros(2), r"shape \(n_queries, 2\).*got shape \(2,\)"),
    (np.zeros((3, 3)), r"shape \(n_queries, 2\).*got shape \(3, 3\)"),
    (np.array([[0.0, np.nan]]), r"row 0 has s1=nan"),
    ("abc", r"numeric array"),
])
def test_bad_states_raise_query_error_before_anything_runs(states, expected):
    with Coupler(NOISY, "sync") as c, pytest.raises(QueryError, match=expected):
        c.evaluate(states, BUDGET)


def test_bad_budget_and_arguments():
    with pytest.raises(BudgetError, match="sampling_steps must be >= 0"):
        Budget(sampling_steps=-5)
    with pytest.raises(BudgetError, match="max_wall_s must be a positive"):
        Budget(max_wall_s=-1.0)
    with pytest.raises(BudgetError, match="equilibration_steps must be an int"):
        Budget(equilibration_steps=1.5)
    with pytest.raises(ValueError, match="`batch_size` must be >= 1"):
        Coupler(NOISY, "sync", batch_size=0)
    with pytest.raises(TypeError, match="`oracle` must provide"):
        Coupler(object(), "sync")
    with pytest.raises(TypeError, match="client must be None"):
        Coupler(NOISY, 42)
    with Coupler(NOISY, "sync") as c, pytest.raises(TypeError, match="`budget` must be a hmm.Budget"):
        c.evaluate(_states(2), {"sampling_steps": 3})


def test_unreachable_scheduler_raises_scheduler_error_naming_the_address():
    with pytest.raises(SchedulerError, match=r"tcp://127\.0\.0\.1:9.*within 1 s"):
        Coupler(TrivialOracle(), "tcp://127.0.0.1:9", timeout_s=1.0)


def test_embedded_cluster_listens_on_localhost_and_closes():
    with Coupler(TrivialOracle(), None, n_workers=1) as c:
        address = c.client.scheduler.address
        assert address.startswith("tcp://127.0.0.1:")
        assert c.evaluate(np.array([[2.0]])).mean[0, 0] == 2.0
        cluster = c._resolved.cluster
    assert c.client is None and cluster.status.name == "closed"


def test_batch_to_xarray_roundtrip_netcdf(tmp_path):
    import xarray as xr

    with Coupler(NOISY, "sync") as c:
        batch = c.evaluate(_states(5), BUDGET)
    ds = batch.to_xarray(units={"value": "J"})
    assert ds["value"].attrs["units"] == "J" and "value_stderr" in ds
    ds.to_netcdf(tmp_path / "b.nc")
    back = xr.load_dataset(tmp_path / "b.nc")
    assert np.array_equal(back["value"].values, batch.mean[:, 0])
    assert back.attrs["oracle_token"] == batch.provenance["oracle_token"]
    assert np.array_equal(back["seed"].values, batch.seed)


def test_estimate_validation():
    with pytest.raises(ValueError, match="stderr must be >= 0"):
        Estimate([1.0], [-1.0])
    with pytest.raises(ValueError, match="shape of mean"):
        Estimate([1.0, 2.0], [0.1])


def test_vectorised_seeds_equal_numpy_seedsequence_bit_for_bit():
    from hmm.provenance import query_seeds

    rng = np.random.default_rng(3)
    for root in (0, 1, 2**40 + 7, 2**64 - 1, 2**130 + 5):
        for replica in (0, 5, 2**33):
            states = rng.standard_normal((40, 3)) * 10.0 ** rng.integers(-300, 300, size=(40, 3))
            states[0, 0] = -0.0
            fast = query_seeds(root, states, replica)
            slow = [query_seed(root, row, replica) for row in states]
            assert fast.tolist() == slow
    assert query_seed(0, np.array([-0.0])) == query_seed(0, np.array([0.0]))


def test_replica_arrays_give_independent_seeds_in_one_batch():
    states = np.repeat(_states(3), 4, axis=0)
    replicas = np.tile(np.arange(4), 3)
    with Coupler(NOISY, "sync", seed=9) as c:
        stacked = c.evaluate(states, BUDGET, replica=replicas)
        one_by_one = [c.evaluate(states[replicas == r], BUDGET, replica=r) for r in range(4)]
    for r in range(4):
        assert np.array_equal(stacked.mean[replicas == r], one_by_one[r].mean)
    assert len(set(stacked.seed.tolist())) == 12  # every (state, replica) has its own seed
    with Coupler(NOISY, "sync") as c, pytest.raises(QueryError, match="`replica` must be an int"):
        c.evaluate(states, BUDGET, replica=np.arange(5))


def test_seed_from_gives_common_random_numbers():
    states = _states(5)
    shifted = states + 1e-3
    key = np.zeros((5, 1))
    with Coupler(NOISY, "sync", seed=1, cache=True) as c:
        a = c.evaluate(states, BUDGET, seed_from=key)
        b = c.evaluate(shifted, BUDGET, seed_from=key)
        plain = c.evaluate(states, BUDGET)
    assert np.array_equal(a.seed, b.seed) and len(set(a.seed.tolist())) == 1
    # same noise draws: the difference is exactly the smooth part
    assert np.allclose(b.mean[:, 0] - a.mean[:, 0], NOISY.exact(shifted) - NOISY.exact(states), atol=1e-12)
    assert not np.array_equal(plain.mean, a.mean)  # the cache keeps the two apart
    with Coupler(NOISY, "sync") as c, pytest.raises(QueryError, match="`seed_from` must be"):
        c.evaluate(states, BUDGET, seed_from=np.zeros(5))


def test_existing_cluster_by_address_is_used_and_left_running(client_2w):
    address = client_2w.scheduler.address
    with Coupler(NOISY, address, seed=3) as c:
        batch = c.evaluate(_states(8), BUDGET)
        assert "external cluster" in c.describe()
    with Coupler(NOISY, "sync", seed=3) as ref:
        _same_bits(ref.evaluate(_states(8), BUDGET), batch)
    assert client_2w.status == "running"  # closing the Coupler did not stop the cluster


def test_tls_cluster_through_security():
    pytest.importorskip("cryptography")
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls", host="127.0.0.1",
                      security=security, dashboard_address=None,
                      scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}) as cluster:
        assert cluster.scheduler_address.startswith("tls://")
        with Coupler(TrivialOracle(), cluster.scheduler_address, security=security) as c:
            assert c.evaluate(np.array([[1.5], [2.5]])).mean[:, 0].tolist() == [1.5, 2.5]


def test_deterministic_oracles_ignore_seed_rows_and_keep_cache_hits():
    from oracles import CellProblemOracle, LayeredCosine

    oracle = CellProblemOracle(LayeredCosine(), dim=1, cells=16)
    states = np.array([[0.2, 1.0], [0.4, -1.0]])
    with Coupler(oracle, "sync", cache=True) as c:
        plain = c.evaluate(states)
        crn = c.evaluate(states, seed_from=np.zeros((2, 1)))
    assert np.all(crn.cached) and np.array_equal(plain.mean, crn.mean)
