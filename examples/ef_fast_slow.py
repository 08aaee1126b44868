"""Equation-free analysis of a fast/slow SDE whose averaged equation is known.

    dx = -(x - y)/eps dt + sigma/sqrt(eps) dW,     dy/dt = lambda + x - x^3/3
    averaged:  dy/dt = lambda + (1 - sigma^2/2) y - y^3/3

1. Coarse projective integration (forward Euler and Heun) with outer steps
   up to 10^6 times the fast time scale, against the averaged equation.
2. Coarse bifurcation diagram by pseudo-arclength continuation of fixed
   points of the coarse time-stepper, deterministic (sigma = 0) and noisy
   (sigma = 0.6, 16 replicas, common random numbers), stable branches solid,
   unstable dashed, with the averaged equation's curve for comparison.

Run: python examples/ef_fast_slow.py [--client sync|embedded]   (extra `examples`)
Writes results/ef_fast_slow.png and prints the measured errors.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from hmm import Coupler  # noqa: E402
from hmm.ef import CoarseBurst, CoarseStepper, coarse_fixed_point, continuation, projective_integrate  # noqa: E402
from oracles import FastSlowSDE  # noqa: E402


# expected run time, measured on 2 shared cores (docs/notebooks.md has the table)
RUN_TIME = ("Expected run time: 4 s (measured, with or without --quick: the default run is already quick).")


def burst_coupler(model, client):
    """The Coupler of the model's lift -> burst -> restrict oracle (coarse y, parameter lambda);
    cached, since Newton and continuation revisit states with common random numbers."""
    return Coupler(CoarseBurst.from_model(model, ("y",), ("lambda",)), client, cache=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=RUN_TIME)
    parser.add_argument("--client", default="sync", help="'sync' or 'embedded' (LocalCluster)")
    parser.add_argument("--out", default="results/ef_fast_slow.png")
    parser.add_argument("--quick", action="store_true",
                        help="accepted for uniformity with the other examples: the default run is already quick")
    args = parser.parse_args()
    client = None if args.client == "embedded" else "sync"
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)

    # 1. projective integration
    model = FastSlowSDE(eps=1e-7, lift_x=0.0)
    lam, y0, T = 0.2, 0.5, 1.0
    ref = solve_ivp(lambda t, y: model.averaged_rhs(y, lam), (0, T), [y0], rtol=1e-12, atol=1e-14,
                    dense_output=True)
    ts = np.linspace(0, T, 200)
    ax1.plot(ts, ref.sol(ts)[0], "k-", lw=1, label="averaged equation")
    with burst_coupler(model, client) as coupler, CoarseStepper(model, coupler) as s:
        for method, marker in (("pfe", "o"), ("prk2", "s")):
            errors, steps = [], []
            for M in (25_000, 50_000, 100_000):
                res = projective_integrate(s, [y0], T, params=[lam], inner_dt=1e-6, inner_steps=10,
                                           projection_steps=M, method=method)
                errors.append(abs(res.U[-1, 0] - ref.sol(T)[0]))
                steps.append(M * 1e-6)
                if M == 100_000:
                    ax1.plot(res.t, res.U[:, 0], marker, ms=4, label=f"{method}, outer step 0.1")
            order = np.polyfit(np.log(steps), np.log(errors), 1)[0]
            print(f"{method}: errors at t=1 {['%.2e' % e for e in errors]} for outer steps {steps}; "
                  f"observed order {order:.2f}")
            ax2.loglog(steps, errors, marker + "-", label=f"{method} (order {order:.2f})")
    ax1.set(xlabel="t (dimensionless)", ylabel="y (dimensionless)", title="projective integration, eps = 1e-7")
    ax1.legend()
    ax2.set(xlabel="projective step M dt (dimensionless)", ylabel="|y(1) - averaged| (dimensionless)", title="error vs outer step")
    ax2.legend()

    # 2. coarse bifurcation diagrams
    for sigma, replicas, colour in ((0.0, 1, "C0"), (0.6, 16, "C3")):
        model = FastSlowSDE(eps=1e-4, sigma=sigma, lift_x=None)
        with burst_coupler(model, client) as coupler, CoarseStepper(model, coupler, replicas=replicas) as s:
            fp = coarse_fixed_point(s, [-2.0], [-1.2], horizon=0.05)
            branch = continuation(s, fp.U, -1.2, horizon=0.05, ds=0.1, n_points=80, p_range=(-1.2, 1.2))
        p, y, stable = np.asarray(branch.params), np.asarray(branch.U)[:, 0], branch.stable
        for i in range(len(p) - 1):
            ax3.plot(p[i:i + 2], y[i:i + 2], "-" if stable[i] and stable[i + 1] else "--", color=colour,
                     lw=2, label=f"coarse, sigma={sigma}" if i == 0 else None)
        yy = np.linspace(-2.3, 2.3, 400)
        ax3.plot(-(1 - sigma**2 / 2) * yy + yy**3 / 3, yy, ":", color="k", lw=1,
                 label="averaged equation" if sigma == 0 else None)
        folds = branch.fold_points()
        s2 = 1 - sigma**2 / 2
        exact = 2 / 3 * s2**1.5
        print(f"sigma={sigma}: folds at lambda = {[round(f[0], 4) for f in folds]}, y = {[round(float(f[1][0]), 4) for f in folds]} "
              f"(averaged equation: +-{exact:.4f}); {len(p)} points")
    ax3.set(xlim=(-1.2, 1.2), ylim=(-2.5, 2.5), xlabel="lambda (dimensionless)", ylabel="coarse steady state y (dimensionless)",
            title="coarse bifurcations (solid stable, dashed unstable)")
    ax3.legend(loc="lower right")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
