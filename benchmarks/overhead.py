"""Framework overhead per query against raw Dask on the same cluster.

Measures, in one run on one embedded LocalCluster (127.0.0.1, 2 single-thread
worker processes unless --workers says otherwise):

* raw:       ``client.gather(client.map(trivial, xs, pure=False))``;
* unbatched: ``Coupler(TrivialOracle(), client, batch_size=1).evaluate(states)``,
             one Dask task per query, so it must stay within 1.2x of raw;
* batched:   the same with ``batch_size=1000``: target <= 50 us per query.

Each figure is the median of ``--repeats`` timings. Last line:
``ratio_unbatched = <x>  batched_us_per_query = <y>``.

Run: ``python benchmarks/overhead.py [--tasks 2000] [--batched-queries 100000]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np


def trivial(x):
    """The raw-Dask baseline: the same work TrivialOracle.run does."""
    return x.sum()


def main() -> None:
    from hmm import Coupler
    from hmm._client import start_local_cluster
    from distributed import Client
    from oracles.toy import TrivialOracle

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--batched-queries", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    cluster = start_local_cluster(args.workers)
    client = Client(cluster, set_as_default=False)
    try:
        rng = np.random.default_rng(0)
        rows = [rng.random(1) for _ in range(args.tasks)]
        states = np.array(rows)
        oracle = TrivialOracle()
        unbatched = Coupler(oracle, client, batch_size=1)
        batched = Coupler(oracle, client, batch_size=1000)
        big = rng.random((args.batched_queries, 1))

        def raw():
            client.gather(client.map(trivial, rows, pure=False))

        # warm-up: imports and code paths on the workers
        raw()
        unbatched.evaluate(states[:200])
        batched.evaluate(big[:2000])
        t_raw, t_unb, t_bat = [], [], []
        for _ in range(args.repeats):  # interleave so drifts in machine load hit all three
            for call, times in ((raw, t_raw), (lambda: unbatched.evaluate(states), t_unb),
                                (lambda: batched.evaluate(big), t_bat)):
                t0 = time.perf_counter()
                call()
                times.append(time.perf_counter() - t0)
        raw_ms = statistics.median(t_raw) / args.tasks * 1e3
        unb_ms = statistics.median(t_unb) / args.tasks * 1e3
        bat_us = statistics.median(t_bat) / args.batched_queries * 1e6
        print(f"cluster: {args.workers} workers x 1 thread, {args.tasks} tasks, {args.repeats} repeats (median)")
        print(f"raw client.map        : {raw_ms:8.3f} ms per task")
        print(f"Coupler batch_size=1  : {unb_ms:8.3f} ms per query   (ratio {unb_ms / raw_ms:.3f}, target <= 1.2)")
        print(f"Coupler batch_size=1000: {bat_us:7.2f} us per query   (target <= 50; "
              f"{raw_ms * 1e3 / bat_us:.0f}x cheaper than a raw task)")
        print(f"ratio_unbatched = {unb_ms / raw_ms:.3f}  batched_us_per_query = {bat_us:.2f}")
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
