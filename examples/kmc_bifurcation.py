"""Coarse bifurcation diagram of a bistable surface reaction from lattice KMC (equation-free).

Model (oracles.BistableAB; Makeev, Maroudas & Kevrekidis, J. Chem. Phys. 116,
10083, 2002): A adsorbs (alpha = 1.6) and desorbs (gamma = 0.04), B2 adsorbs
dissociatively on empty pairs (beta), A + B -> 0 + 0 (k_r = 1), both species
hop (k_hop per direction). Mean field:

    d theta_A/dt = alpha theta_0 - gamma theta_A - 4 k_r theta_A theta_B
    d theta_B/dt = 2 beta theta_0^2 - 4 k_r theta_A theta_B,

S-shaped in beta with folds at beta = 2.5223 and 8.4953.

The KMC diagram is traced by pseudo-arclength continuation (hmm.ef) of fixed
points of the coarse time-stepper Phi_T: lift (random lattice at coverages
(A, B)) -> KMC burst of T = 2 -> restrict (coverages), averaged over
replicas, common random numbers across each Newton iteration's bursts, a
residual tolerance of 3 replica stderr of Phi_T at each point, at least three Newton corrections
per point (no stopping bias), finite-difference steps of many lattice
quanta. The random lift lacks the lattice's pair correlations, which heal
during the first ~1/k_hop of a burst and bias the fixed points of Phi_T by
O(1/T); ``--lift-bias`` adds runs at T = 1 and removes it by Richardson
extrapolation. Each KMC fold is the mean over five seeds, its stderr the
spread between them (a single branch's fit stderr undercounts: consecutive
points inherit the predictor's excursions). The same continuation code runs on the
deterministic mean-field flow map (oracles.kmc.meanfield.MeanFieldFlow); the
closed-form curve checks it. Folds are located by a parabola fitted to the
noisy branch points near the turning point (stderr from the fit). The lower
fold (low-A branch meets the unstable branch) is well conditioned and is
traced for two hopping rates (its offset from the mean field shrinks as
hopping mixes the lattice). The upper fold is not traced by KMC: there
d f / d beta = 2 theta_0^2 ~ 0.005, so the noise band of the residual
(3 stderr ~ 0.013 at 64^2 sites, 8 replicas, T = 2) leaves the branch
undetermined by ~ +-1 in beta (measured: points with multipliers > 1
anywhere between beta = 7.4 and 8.7).

Run: python examples/kmc_bifurcation.py [--quick] [--client sync|embedded]
Writes results/kmc_bifurcation.png; prints fold positions with stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the validation studies (not installed)
from hmm.ef import ContinuationError, coarse_stepper, continuation  # noqa: E402
from validation.kmc import NOISY_CONTINUATION, bistable_kmc_stepper  # noqa: E402
from oracles.kmc.meanfield import fold_from_branch  # noqa: E402
from oracles.kmc import BistableAB  # noqa: E402
from oracles.kmc.meanfield import MeanFieldFlow, bistable_folds, bistable_steady_curve  # noqa: E402


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: --quick 100 s, default 15 min (measured; the machine was shared, load average about 6 on 2 cores). --lift-bias adds five k_hop = 20 branches with half-length bursts, about 40 % more (estimated from the measured branch times).")


def mean_field_branch(horizon: float):
    """The whole S-curve by continuation of the mean-field flow map Phi_T."""
    flow = MeanFieldFlow(BistableAB(), ("beta",))
    A0 = 0.9738  # beta = 1.6 on the high-A branch
    beta0, B0 = bistable_steady_curve(BistableAB(), A0)
    with coarse_stepper(flow, coarse_names=("coverage_A", "coverage_B"), param_names=("beta",)) as stepper:
        return continuation(stepper, [A0, float(B0)], float(beta0), horizon=horizon, ds=0.1, ds_max=0.4,
                            n_points=400, p_range=(1.5, 10.0), fd_step=1e-6, tol=1e-9,
                            ds_min=1e-9)


def kmc_branch(k_hop: float, shape, replicas: int, n_points: int, client, *, A_start: float,
               direction: float, horizon: float, seed: int):
    """KMC continuation from the mean-field steady state with A coverage ``A_start``
    (its beta from the closed form), in ``direction`` of beta. The residual
    tolerance is 3 replica stderr of Phi_T at each point (``noise_tol``)."""
    beta_start, B_start = bistable_steady_curve(BistableAB(), A_start)
    options = {**NOISY_CONTINUATION, "horizon": horizon}
    error = None
    with bistable_kmc_stepper(k_hop, shape=shape, replicas=replicas, seed=seed, client=client) as stepper:
        try:
            branch = continuation(stepper, [A_start, float(B_start)], float(beta_start), n_points=n_points,
                                  tol=1e-4, direction=direction, p_range=(1.5, 10.0), **options)
        except ContinuationError as exc:  # keep the branch traced so far
            branch, error = exc.branch, str(exc)
        # error bars: replica stderr of Phi_T at each branch point (cached bursts, common random numbers)
        se = np.array([stepper.run(U, [p], (horizon,), common_random_numbers=0).stderr[0, -1]
                       for p, U in zip(branch.params, branch.U)])
        cost = stepper.micro_seconds
    return branch, se, error, cost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--quick", action="store_true", help="32^2 lattice, 3 seeds instead of 5")
    parser.add_argument("--client", default="sync", help="'sync' or 'embedded' (LocalCluster)")
    parser.add_argument("--lift-bias", action="store_true",
                        help="also run k_hop = 20 at T = 1 and extrapolate the fold to T -> infinity")
    parser.add_argument("--out", default="results/kmc_bifurcation.png")
    args = parser.parse_args()
    client = None if args.client == "embedded" else "sync"
    # the low-A branch from theta_A = 0.172 (beta ~ 3.12) down through the lower fold onto the
    # unstable branch, for each k_hop and seed (the spread between seeds gives the fold's stderr)
    if args.quick:
        shape, replicas, n_points, seeds = (32, 32), 8, 16, (1, 2, 3)
    else:
        shape, replicas, n_points, seeds = (64, 64), 8, 15, (1, 2, 3, 4, 5)
    k_hops = (2.0, 20.0)
    horizons = (2.0, 1.0) if args.lift_bias else (2.0,)
    horizon = NOISY_CONTINUATION["horizon"]
    start = time.perf_counter()

    mf = mean_field_branch(horizon)
    exact = bistable_folds(BistableAB())
    mf_folds = sorted(f[0] for f in mf.fold_points())
    print(f"mean field: folds by continuation at beta = {[round(f, 5) for f in mf_folds]}; closed form "
          f"{[round(f[0], 5) for f in exact]} ({len(mf.params)} points)")
    beta_low, beta_up = exact[0][0], exact[-1][0]

    fig, (ax1, axz, ax2) = plt.subplots(1, 3, figsize=(17, 5), constrained_layout=True)
    p, U, stable = np.asarray(mf.params), np.asarray(mf.U), mf.stable
    lam = np.log(np.abs(np.asarray(mf.multipliers))).max(axis=1) / horizon
    for i in range(len(p) - 1):
        style = "-" if stable[i] and stable[i + 1] else "--"
        ax1.plot(p[i:i + 2], U[i:i + 2, 0], style, color="k", lw=1.5, label="mean field" if i == 0 else None)
        ax2.plot(p[i:i + 2], lam[i:i + 2], style, color="k", lw=1.5, label="mean field" if i == 0 else None)
    A = np.linspace(0.02, 0.995, 400)
    ax1.plot(bistable_steady_curve(BistableAB(), A)[0], A, ":", color="grey", lw=1, label="closed form")
    # zoom: the closed form, stable outside the two folds' A values (mean-field fold A = 0.3612, 0.9404)
    Az = np.linspace(0.15, 0.55, 400)
    bz = bistable_steady_curve(BistableAB(), Az)[0]
    low = Az <= exact[0][1]
    axz.plot(bz[low], Az[low], "k-", lw=1.5, label="mean field (closed form), stable")
    axz.plot(bz[~low], Az[~low], "k--", lw=1.5, label="mean field, unstable")

    folds = {}  # (k_hop, T) -> per-seed folds
    for c, k_hop in enumerate(k_hops):
        colour = f"C{c}"
        for T in horizons if k_hop == max(k_hops) else horizons[:1]:
            folds[k_hop, T] = []
            for seed in seeds:
                t0 = time.perf_counter()
                branch, se, error, cost = kmc_branch(k_hop, shape, replicas, n_points, client, A_start=0.172,
                                                     direction=-1, horizon=T, seed=seed)
                if len(branch.params) < 4:
                    print(f"KMC k_hop={k_hop:g} seed {seed}: no branch ({error})")
                    continue
                bp, bU, st = np.asarray(branch.params), np.asarray(branch.U), branch.stable
                try:
                    fold, fold_se, _ = fold_from_branch(bp, bU[:, 0], kind="min")
                    folds[k_hop, T].append(fold)
                except ValueError as exc:
                    fold, fold_se = float("nan"), float("nan")
                    print(f"  no fold estimate ({exc})")
                print(f"KMC k_hop={k_hop:g} ({shape[0]}x{shape[1]}, {replicas} replicas, T={T}, seed {seed}): "
                      f"lower fold beta = {fold:.3f} (fit stderr {fold_se:.3f}); {len(bp)} points "
                      f"({int(st.sum())} stable), {cost:.1f} micro s, {time.perf_counter() - t0:.1f} s wall"
                      + (f"; stopped: {error}" if error else ""))
                if T != 2.0 or seed != seeds[0]:
                    continue  # plot one branch per k_hop
                blam = np.log(np.abs(np.asarray(branch.multipliers))).max(axis=1) / T
                for mask, fmt in ((st, "o"), (~st, "s")):
                    axz.errorbar(bp[mask], bU[mask, 0], se[mask, 0], fmt=fmt, ms=4, color=colour,
                                 mfc=colour if fmt == "o" else "none", capsize=2,
                                 label=f"KMC k_hop={k_hop:g} ({'stable' if fmt == 'o' else 'unstable'})")
                for ax in (ax1, axz):
                    ax.plot(bp, bU[:, 0], "-", color=colour, lw=0.6, alpha=0.6)
                ax2.plot(bp, blam, "o-", color=colour, ms=3, lw=0.8, label=f"KMC k_hop={k_hop:g}")
        f = np.array(folds[k_hop, 2.0])
        if f.size >= 2:
            axz.errorbar([f.mean()], [0.17], xerr=[2 * f.std(ddof=1) / np.sqrt(f.size)], fmt="*", ms=12,
                         color=colour, capsize=4, label=f"KMC fold, k_hop={k_hop:g} (+-2 stderr, {f.size} seeds)")

    summary = {}
    for (k_hop, T), f in folds.items():
        f = np.array(f)
        if f.size >= 2:
            summary[k_hop, T] = (f.mean(), f.std(ddof=1) / np.sqrt(f.size))
            print(f"k_hop={k_hop:g}, T={T}: lower fold beta = {summary[k_hop, T][0]:.3f} +- {summary[k_hop, T][1]:.3f} "
                  f"(mean of {f.size} seeds, stderr from their spread; mean field {beta_low:.4f}, offset "
                  f"{summary[k_hop, T][0] - beta_low:+.3f})")
    # The random lift has no pair correlations; the burst spends its first ~1/k_hop healing them,
    # which biases Phi_T's fixed points by O(1/T). Richardson extrapolation in 1/T removes it.
    k_max = max(k_hops)
    if (k_max, 1.0) in summary and (k_max, 2.0) in summary:
        (f1, s1), (f2, s2) = summary[k_max, 1.0], summary[k_max, 2.0]
        f_inf, s_inf = 2 * f2 - f1, float(np.hypot(2 * s2, s1))
        print(f"k_hop={k_max:g} lower fold extrapolated to T -> infinity (2 f(T=2) - f(T=1)): {f_inf:.3f} +- "
              f"{s_inf:.3f} (mean field {beta_low:.4f}, offset {f_inf - beta_low:+.3f} = "
              f"{abs(f_inf - beta_low) / s_inf:.1f} stderr)")
    if all((k, 2.0) in summary for k in k_hops):
        (fa, sa), (fb, sb) = summary[k_hops[0], 2.0], summary[k_hops[1], 2.0]
        shrink = abs(fa - beta_low) - abs(fb - beta_low)
        print(f"offset from the mean-field fold shrinks by {shrink:.3f} +- {np.hypot(sa, sb):.3f} "
              f"({shrink / np.hypot(sa, sb):.1f} stderr) from k_hop={k_hops[0]:g} to k_hop={k_hops[1]:g}")

    ax1.axvline(beta_up, color="grey", lw=0.6, ls=":")
    ax1.set(xlabel="beta, B2 adsorption rate (k_r)", ylabel="theta_A (dimensionless)", xlim=(1.5, 10), ylim=(0, 1.02),
            title="A + B2 steady states (solid stable, dashed unstable)")
    ax1.legend(fontsize=7, loc="lower left")
    ax1.add_patch(plt.Rectangle((2.45, 0.15), 0.8, 0.4, fill=False, ec="grey", ls="--", lw=0.8))  # the zoom
    axz.axvline(beta_low, color="grey", lw=0.6, ls=":")
    axz.set(xlabel="beta (k_r)", ylabel="theta_A (dimensionless)", xlim=(2.45, 3.25), ylim=(0.15, 0.55),
            title="lower fold: KMC (filled stable, open unstable; stars: folds)")
    axz.legend(fontsize=7, loc="upper right")
    ax2.axhline(0, color="grey", lw=0.6)
    ax2.set(xlabel="beta (k_r)", ylabel="max Re lambda = log|mu| / T (k_r)", xlim=(2.45, 3.25), ylim=(-0.6, 0.4),
            title="leading coarse eigenvalue (KMC: FD Jacobian of Phi_T)")
    ax2.legend(fontsize=7)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out} ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
