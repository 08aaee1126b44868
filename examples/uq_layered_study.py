"""Uncertainty across scales in a layered medium: micro noise and uncertain micro parameters.

Steady 1D diffusion ``(A*(x) u')' + 1 = 0`` on (0, 1) with u = 0 at both ends, closed at every face by
the noisy periodic cell problem of ``a(x, y) = (1 + s x) / (a0 + amp cos(2 pi y))`` (sampling noise of
the flux). Three questions, one figure:

1. How far does the micro noise move u? Linear propagation (one run) against a seed ensemble.
2. How much of the flow rate's variance is micro noise, how much the uncertain micro parameters
   (a0, s, amp)? The law of total variance over a scrambled Sobol' design of whole HMM runs.
3. Which parameter dominates? Sobol' indices (SALib) through one shared micro surrogate. Physics:
   across the layers A* is the harmonic mean (1 + s x) / a0, so amp cannot matter and a0 must lead.

Run: ``python examples/uq_layered_study.py [--out uq_layered_study.png]``
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PARAMETERS = {"coefficient.a0": {"dist": "uniform", "low": 1.8, "high": 2.2},
              "coefficient.macro_slope": {"dist": "uniform", "low": 0.3, "high": 0.7},
              "coefficient.amp": {"dist": "uniform", "low": 0.5, "high": 1.0}}


RUN_TIME = "Expected run time: --quick 30 s, default 90 s on 2 cores (measured)."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--quick", action="store_true", help="4 members, 8 design points, Saltelli base 8")
    parser.add_argument("--out", default="uq_layered_study.png", help="figure file")
    parser.add_argument("--members", type=int, default=16, help="seed ensemble members")
    parser.add_argument("--points", type=int, default=32, help="design points of the variance split")
    parser.add_argument("--base", type=int, default=32, help="Saltelli base sample of the Sobol' indices")
    args = parser.parse_args()
    if args.quick:
        args.members, args.points, args.base = 4, 8, 8

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from hmm import Budget, Coupler, HMMSolver
    from hmm.uq import epistemic, propagate
    from macro import DiffusionLaw, Grid1D
    from oracles import NoisyCellProblemFlux
    from oracles.cell.coefficients import LayeredCosine

    oracle = NoisyCellProblemFlux(LayeredCosine(a0=2.0, amp=0.75, axis=0, macro_slope=0.5), dim=1, cells=16,
                                  noise=0.01)
    with Coupler(oracle, "sync", seed=0, cache=True) as coupler:
        solver = HMMSolver(DiffusionLaw(source=1.0), Grid1D(12), coupler, budget=Budget(sampling_steps=4))
        linear = propagate(solver, "linear", goal="flow_rate")
        ensemble = propagate(solver, "ensemble", n=args.members, goal="flow_rate", seed=1, progress=True)
        split = epistemic(solver, PARAMETERS, n=args.points, goal="flow_rate", indices=False, seed=2,
                          progress=True)
        sobol = epistemic(solver, PARAMETERS, n=args.base, goal="flow_rate", seed=3, progress=True,
                          surrogate={"tol": 2e-3, "linear_in_gradient": True})
        runs = coupler.accounting.fresh_runs

    fig, (ax_u, ax_v, ax_s) = plt.subplots(1, 3, figsize=(13, 3.8))
    x = linear.dataset["x"].values
    ax_u.plot(x, ensemble.mean().values, "k-", label=f"ensemble mean ({ensemble.n} runs)")
    ax_u.fill_between(x, ensemble.mean() - 2 * ensemble.spread(), ensemble.mean() + 2 * ensemble.spread(),
                      color="C0", alpha=0.3, label="ensemble: 2 x spread of one run")
    ax_u.errorbar(x, linear.mean().values, yerr=2 * linear.spread().values, fmt="none", ecolor="C3",
                  capsize=2, label="linear: 2 x stderr (one run)")
    ax_u.set(xlabel="x", ylabel="u", title="micro noise in u")
    ax_u.legend(fontsize=7)
    parts = [split.split.aleatoric, split.split.epistemic]
    ax_v.bar(["aleatoric\n(micro noise)", "epistemic\n(parameters)"], parts, color=["C0", "C1"])
    ax_v.set(ylabel="variance of the flow rate", title="law of total variance", yscale="log")
    names = [n.split(".")[1] for n in sobol.indices.names]
    pos = np.arange(len(names))
    ix = sobol.indices
    ax_s.bar(pos - 0.2, ix.first, 0.4, yerr=ix.first_conf, capsize=3, label="first order")
    ax_s.bar(pos + 0.2, ix.total, 0.4, yerr=ix.total_conf, capsize=3, label="total")
    ax_s.set(xticks=pos, xticklabels=names, ylabel="Sobol' index",
             title=f"{sobol.design.n} design points, {int(sobol.micro_runs.sum())} micro runs")
    ax_s.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    dominant = names[int(np.argmax(ix.total))]
    print(f"flow rate {ensemble.goal_mean:.5f} +- {ensemble.goal_stderr:.1g}; linear stderr of one run "
          f"{float(linear.dataset['goal_spread']):.2g}, ensemble spread {float(ensemble.dataset['goal_spread']):.2g}")
    print(f"variance split: aleatoric {parts[0]:.3g} + epistemic {parts[1]:.3g}; dominant parameter {dominant} "
          f"(total index {ix.total.max():.2f}; amp {ix.total[names.index('amp')]:.3f})")
    print(f"{runs} micro runs in all; wrote {args.out}")


if __name__ == "__main__":
    main()
