"""Gap-tooth KMC for 1D reaction-diffusion vs a full-lattice KMC and the mean-field PDE.

Lattice gas (oracles.LatticeGas): A adsorbs (k_a per empty site), desorbs
(k_d per A) and hops to empty neighbours (k_hop per direction) on a strip of
``rows`` x L sites between two reservoir columns holding theta_L, theta_R.
The expected coverage obeys exactly (symmetric exclusion hopping is linear)

    theta_t = D theta_xx + k_a (1 - theta) - k_d theta,   D = k_hop a^2,

with Dirichlet values at the reservoir columns x = 0 and x = L + 1.

Three solutions at time T from theta_0(x) = 0.5 + 0.3 sin(2 pi x / (L + 1)):
1. gap-tooth (hmm.ef.GapTooth) with KMC teeth (oracles.kmc.tooth.KMCTooth):
   n teeth of ``inner`` columns plus buffers at spacing H; each step lifts every
   tooth from the local quadratic interpolant of the tooth averages, sets its
   reservoir columns to the interpolant there, runs KMC for dt and restricts
   the inner coverage; teeth are one batch of futures per step; independent
   runs averaged (their spread gives the stderr);
2. direct KMC of the whole strip, ensemble averaged, coarse-grained over the
   same tooth windows;
3. the mean-field PDE by the method of lines (scipy solve_ivp, BDF).

Prints the L2 differences (root mean square over the teeth) with their
stderr and the wall times. Run:
    python examples/kmc_gaptooth.py [--quick] [--client sync|embedded]
Writes results/kmc_gaptooth.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hmm import Coupler  # noqa: E402
from hmm.ef import GapTooth, ToothBurst  # noqa: E402
from oracles.kmc import LatticeGas  # noqa: E402
from oracles.kmc.meanfield import lattice_gas_profile  # noqa: E402
from oracles.kmc.tooth import KMCTooth, strip_profile  # noqa: E402


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: --quick 5 s, default 14 s (measured).")


def initial_profile(length: float):
    def theta0(x):
        return 0.5 + 0.3 * np.sin(2 * np.pi * np.asarray(x, dtype=float) / length)
    return theta0


def tooth_windows(profile: np.ndarray, centres: np.ndarray, inner: int) -> np.ndarray:
    """Averages of a column profile (column j at index j - 1) over each tooth's inner columns."""
    return np.array([profile[int(c) - inner // 2 - 1:int(c) + inner // 2].mean() for c in centres])


def gap_tooth_run(model, U0, centres, inner: int, buffer: int, rows: int, dt: float, T: float, left: float,
                  right: float, *, seed: int, client="sync") -> np.ndarray:
    """Tooth averages at time T of one gap-tooth KMC run (independent runs give the stderr:
    the noise accumulated over the steps is then measured, not bounded)."""
    tooth = KMCTooth(model, rows=rows, buffer=buffer)
    with Coupler(ToothBurst(tooth, float(inner), dt), client, seed=seed) as coupler, \
            GapTooth(tooth, centres, coupler, boundary=(left, right)) as gt:
        return gt.run(U0, (), (T,)).mean[0, -1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--quick", action="store_true", help="shorter time, fewer replicas")
    parser.add_argument("--client", default="sync", help="'sync' or 'embedded' (LocalCluster)")
    parser.add_argument("--out", default="results/kmc_gaptooth.png")
    args = parser.parse_args()
    client = None if args.client == "embedded" else "sync"

    model = LatticeGas(k_ads=5e-4, k_des=5e-4, k_hop=1.0)
    n, H, inner, buffer, rows, dt = 8, 32, 15, 5, 64, 3.0
    T, replicas, ensemble = (60.0, 4, 4) if args.quick else (300.0, 8, 4)
    left, right = 0.8, 0.2
    length = n * H  # reservoir columns at x = 0 and x = length
    columns = length - 1
    centres = (np.arange(n) + 0.5) * H
    theta0 = initial_profile(length)
    x = np.arange(1, length, dtype=float)
    U0 = tooth_windows(theta0(x), centres, inner)
    print(f"strip {rows} x {columns} sites, D = k_hop = {model.k_hop}, k_a = {model.k_ads}, k_d = {model.k_des}, "
          f"theta_L = {left}, theta_R = {right}, T = {T}")
    print(f"gap-tooth: {n} teeth of {inner} + 2 x {buffer} buffer columns at H = {H} "
          f"({(inner + 2 * buffer) / H:.0%} of the strip simulated), dt = {dt}, {replicas} independent runs")

    t0 = time.perf_counter()
    pde = lattice_gas_profile(model, theta0, T, left=left, right=right, length=length)
    t_pde = time.perf_counter() - t0
    U_pde = tooth_windows(pde, centres, inner)

    t0 = time.perf_counter()
    runs = np.array([gap_tooth_run(model, U0, centres, inner, buffer, rows, dt, T, left, right, seed=s,
                                   client=client) for s in range(replicas)])
    t_gt = time.perf_counter() - t0
    U_gt, se_gt = runs.mean(axis=0), runs.std(axis=0, ddof=1) / np.sqrt(replicas)

    t0 = time.perf_counter()
    profiles = np.array([strip_profile(model, theta0, T, left=left, right=right, columns=columns, rows=rows,
                                       seed=100 + s) for s in range(ensemble)])
    t_full = time.perf_counter() - t0
    windows = np.array([tooth_windows(p, centres, inner) for p in profiles])
    U_full, se_full = windows.mean(axis=0), windows.std(axis=0, ddof=1) / np.sqrt(ensemble)

    def rms(a, b, se):
        d = a - b
        return float(np.sqrt(np.mean(d**2))), float(np.sqrt(np.mean(se**2)))

    for name, (d, s) in (("gap-tooth - PDE", rms(U_gt, U_pde, se_gt)),
                         ("full lattice - PDE", rms(U_full, U_pde, se_full)),
                         ("gap-tooth - full lattice", rms(U_gt, U_full, np.hypot(se_gt, se_full)))):
        print(f"L2 (rms over teeth) {name:26s}: {d:.4f}   (rms stderr {s:.4f})")
    print(f"max |gap-tooth - PDE| / stderr = {np.max(np.abs(U_gt - U_pde) / se_gt):.2f}; "
          f"max |full - PDE| / stderr = {np.max(np.abs(U_full - U_pde) / se_full):.2f}")
    print(f"wall: gap-tooth {t_gt:.1f} s ({replicas} runs), full lattice {t_full:.1f} s ({ensemble} runs), "
          f"PDE {t_pde:.2f} s; ratio gap-tooth / full = {t_gt / t_full:.2f}; per unit variance "
          f"(wall x stderr^2, gap-tooth / full) {t_gt * np.mean(se_gt**2) / (t_full * np.mean(se_full**2)):.2f}")

    fig, ax = plt.subplots(figsize=(9, 4.8), constrained_layout=True)
    for c in centres:
        ax.axvspan(c - inner / 2 - buffer, c + inner / 2 + buffer, color="0.93")
        ax.axvspan(c - inner / 2, c + inner / 2, color="0.85")
    ax.plot(x, theta0(x), ":", color="grey", label="initial theta_0(x)")
    ax.plot(x, pde, "k-", lw=1.5, label=f"mean-field PDE, t = {T:g}")
    ax.plot(x, profiles.mean(axis=0), "-", color="C0", lw=0.6, alpha=0.6,
            label=f"full-lattice KMC columns ({ensemble} runs)")
    ax.errorbar(centres - 1.5, U_full, 2 * se_full, fmt="s", color="C0", ms=5, capsize=3,
                label="full lattice, tooth windows (+-2 stderr)")
    ax.errorbar(centres + 1.5, U_gt, 2 * se_gt, fmt="o", color="C3", ms=5, capsize=3,
                label=f"gap-tooth KMC ({replicas} runs, +-2 stderr)")
    ax.set(xlabel="x (lattice constants)", ylabel="coverage theta (dimensionless)", xlim=(0, length),
           title="lattice gas: gap-tooth KMC (grey: teeth, light: buffers) vs full KMC vs mean-field PDE")
    ax.legend(fontsize=8, loc="lower left")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
