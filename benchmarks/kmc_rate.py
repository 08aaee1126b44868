"""KMC event rate: class-grouped BKL (oracles.kmc) on a lattice gas, one core.

System: lattice gas with adsorption (k_a = 0.5 per empty site), desorption
(k_d = 0.5 per particle) and hopping (k = 1 per direction to an empty
neighbour), periodic, coverage 1/2 (equilibrated before timing). Numba is
compiled and every lattice warmed up before timing. Rates are events per
CPU second of this process (``time.process_time``: the machine is shared,
so wall time also counts other jobs), best of ``--repeats``.

Baselines in the same script, same system: a binary sum tree over the site
rates (numba, O(log N) selection and updates; the issue quotes ~4e6 events/s
for one) and the slow NumPy/Python reference BKL on a small lattice. LAMMPS
has no lattice KMC (its sister code SPPARKS does), so there is no LAMMPS run.

Prints a table and, as the last line, ``events/s = <rate at 256^2>``.
Usage: ``python benchmarks/kmc_rate.py [--repeats 3] [--events 4000000]`` (serial code).
"""

from __future__ import annotations

import argparse
import math
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from numba import njit  # noqa: E402

from oracles.kmc._kernels import reference_bkl  # noqa: E402
from oracles.kmc import KMCSimulation, LatticeGas, initialise  # noqa: E402

MODEL = LatticeGas(k_ads=0.5, k_des=0.5, k_hop=1.0)


# -- baseline: binary sum tree over per-site total rates ------------------------------

@njit(cache=True)
def _site_rate(occ, i, n):
    r = i // n
    c = i - r * n
    if occ[i] == 0:
        return 0.5
    empty = (1 - occ[r * n + (c + 1) % n]) + (1 - occ[r * n + (c - 1) % n]) \
        + (1 - occ[((r + 1) % n) * n + c]) + (1 - occ[((r - 1) % n) * n + c])
    return 0.5 + 1.0 * empty


@njit(cache=True)
def _tree_set(tree, leaf0, i, rate):
    k = leaf0 + i
    d = rate - tree[k]
    while k >= 1:
        tree[k] += d
        k >>= 1


@njit(cache=True)
def sum_tree_lattice_gas(occ, n, n_events, seed):
    """Lattice gas BKL with a sum tree (leaves = site rates); returns elapsed time."""
    np.random.seed(seed)
    N = n * n
    leaf0 = 1
    while leaf0 < N:
        leaf0 *= 2
    tree = np.zeros(2 * leaf0)
    for i in range(N):
        tree[leaf0 + i] = _site_rate(occ, i, n)
    for k in range(leaf0 - 1, 0, -1):
        tree[k] = tree[2 * k] + tree[2 * k + 1]
    t = 0.0
    nb = np.empty(4, np.int64)
    for _ in range(n_events):
        total = tree[1]
        x = np.random.random() * total
        k = 1
        while k < leaf0:
            if x < tree[2 * k]:
                k = 2 * k
            else:
                x -= tree[2 * k]
                k = 2 * k + 1
        i = k - leaf0
        r = i // n
        c = i - r * n
        nb[0] = r * n + (c + 1) % n
        nb[1] = r * n + (c - 1) % n
        nb[2] = ((r + 1) % n) * n + c
        nb[3] = ((r - 1) % n) * n + c
        j = -1
        if occ[i] == 0:
            occ[i] = 1
        else:
            y = x - 0.5
            if y < 0:
                occ[i] = 0
            else:
                for d in range(4):
                    if occ[nb[d]] == 0:
                        j = nb[d]
                        y -= 1.0
                        if y < 0:
                            break
                occ[i] = 0
                occ[j] = 1
        for s in (i, j):
            if s < 0:
                continue
            _tree_set(tree, leaf0, s, _site_rate(occ, s, n))
            rs = s // n
            cs = s - rs * n
            _tree_set(tree, leaf0, rs * n + (cs + 1) % n, _site_rate(occ, rs * n + (cs + 1) % n, n))
            _tree_set(tree, leaf0, rs * n + (cs - 1) % n, _site_rate(occ, rs * n + (cs - 1) % n, n))
            _tree_set(tree, leaf0, ((rs + 1) % n) * n + cs, _site_rate(occ, ((rs + 1) % n) * n + cs, n))
            _tree_set(tree, leaf0, ((rs - 1) % n) * n + cs, _site_rate(occ, ((rs - 1) % n) * n + cs, n))
        t += -math.log(1.0 - np.random.random()) / total
    return t


def best_rate(step, events: int, repeats: int) -> float:
    """Best events per CPU second over ``repeats`` calls of ``step(events, seed)``."""
    best = 0.0
    for k in range(repeats):
        t0 = time.process_time()
        step(events, k + 1)
        best = max(best, events / (time.process_time() - t0))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--events", type=int, default=4_000_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    sizes = (64, 128, 256, 512, 1024)
    rows = []
    for n in sizes:
        sim = KMCSimulation(initialise((n, n), [0.5], rng), MODEL)
        sim.advance(n_events=2 * n * n, seed=0)  # compile (first size) and equilibrate
        rate = best_rate(lambda e, s: sim.advance(n_events=e, seed=s), args.events, args.repeats)
        occ = initialise((n, n), [0.5], rng).ravel().copy()
        sum_tree_lattice_gas(occ, n, 2 * n * n, 0)
        tree_rate = best_rate(lambda e, s: sum_tree_lattice_gas(occ, n, e, s), args.events, args.repeats)
        rows.append((n, rate, tree_rate))
    lat = initialise((16, 16), [0.5], rng)
    tab = KMCSimulation(lat, MODEL).tables
    t0 = time.process_time()
    reference_bkl(lat.ravel(), 16, 16, 1, tab.processes, None, tab.bucket_rate, 2000, 1)
    ref_rate = 2000 / (time.process_time() - t0)

    base = 1e9 / rows[0][1]
    print("lattice gas (k_a = k_d = 0.5, k_hop = 1), one core, events per CPU second (best of "
          f"{args.repeats}; shared machine)")
    print(f"{'lattice':>10} {'BKL classes [ev/s]':>19} {'ns/event':>9} {'vs 64^2':>8} {'sum tree [ev/s]':>16}")
    for n, rate, tree_rate in rows:
        print(f"{n:>5}^2    {rate:>19.3e} {1e9 / rate:>9.1f} {1e9 / rate / base:>8.2f} {tree_rate:>16.3e}")
    print(f"NumPy reference BKL (16^2, brute-force rates): {ref_rate:.3e} events/s")
    print(f"slowdown 1024^2 / 64^2 = {rows[0][1] / rows[-1][1]:.2f} (target <= 2.5)")
    print(f"events/s = {dict((n, r) for n, r, _ in rows)[256]:.3g}")


if __name__ == "__main__":
    main()
