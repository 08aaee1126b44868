"""ZGB CO oxidation by lattice KMC on Dask: steady coverages versus the CO fraction y.

Each y is one query of ``oracles.LatticeKMC(model=ZGB(), inputs=("y",))``
(rejection-free BKL, numba), all sent out at once through a Coupler; the
error bars are the spread of independent replicas. The reactive window lies
between the O-poisoning transition y1 ~ 0.3874 (continuous) and the
CO-poisoning transition y2 ~ 0.5256 (discontinuous) (Ziff, Gulari & Barshad,
PRL 56, 2553, 1986; refined values from later work; our finite lattices and
finite runs locate them in docs/validation.md).

Run: python examples/zgb_coverages.py [--client sync|embedded] [--size 64]   (extra `examples`)
Writes results/zgb_coverages.png and prints the coverages.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: --quick 11 s, default 15 s (measured).")


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hmm import Budget, Coupler
    from oracles import ZGB, LatticeKMC

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--client", default="embedded", help="'sync' or 'embedded' (LocalCluster)")
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="32^2 lattice, 2 replicas, 16 values of y")
    args = parser.parse_args()
    if args.quick:
        args.size, args.replicas = 32, 2

    oracle = LatticeKMC(model=ZGB(), inputs=("y",), shape=(args.size, args.size),
                        equilibration_sweeps=200, sampling_sweeps=100)
    ys = np.round(np.linspace(0.30, 0.60, 16 if args.quick else 31), 4)
    with Coupler(oracle, None if args.client == "embedded" else "sync", seed=1) as coupler:
        batch = coupler.evaluate(ys[:, None], Budget(replicas=args.replicas))
        where = coupler.describe()
    co = batch.mean[:, oracle.outputs.index("coverage_CO")]
    ox = batch.mean[:, oracle.outputs.index("coverage_O")]
    co_se = batch.stderr[:, oracle.outputs.index("coverage_CO")]
    ox_se = batch.stderr[:, oracle.outputs.index("coverage_O")]
    flux_name = "flux_CO2"
    rate = batch.mean[:, oracle.outputs.index(flux_name)]
    print(f"{len(ys)} values of y x {args.replicas} replicas on {where}; "
          f"{batch.total_cost_s:.1f} micro seconds")
    for y, c, o, r in zip(ys, co, ox, rate):
        print(f"y = {y:.3f}: CO {c:.3f}  O {o:.3f}  {flux_name} {r:.3g}")
    reactive = ys[(co < 0.99) & (ox < 0.99)]
    print(f"reactive window on this lattice: y in [{reactive.min():.3f}, {reactive.max():.3f}] "
          f"(literature: 0.3874 .. 0.5256)")

    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    ax.errorbar(ys, co, co_se, fmt="o-", ms=3, label="CO coverage")
    ax.errorbar(ys, ox, ox_se, fmt="s-", ms=3, label="O coverage")
    ax2 = ax.twinx()
    ax2.plot(ys, rate, "k:", label=f"{flux_name} (per site per sweep)")
    for y_t in (0.3874, 0.5256):
        ax.axvline(y_t, color="grey", lw=0.8, ls="--")
    ax.set(xlabel="CO fraction y (dimensionless)", ylabel="coverage (dimensionless)", title=f"ZGB model, {args.size}^2 lattice, KMC on Dask")
    ax2.set_ylabel("CO2 production rate (per site per sweep)")
    ax.legend(loc="center left")
    ax2.legend(loc="upper right")
    out = Path("results")
    out.mkdir(exist_ok=True)
    fig.savefig(out / "zgb_coverages.png", dpi=110)
    print(f"wrote {out / 'zgb_coverages.png'}")


if __name__ == "__main__":
    main()
