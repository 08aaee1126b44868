"""Coverage of nominal 95% intervals of a goal by the linear and the ensemble method (hmm.uq.propagate).

Problem: steady layered diffusion ``(A*(x) u')' + f = 0`` on (0, 1), u = 0 at both ends, whose closure
is the cell-problem flux of a layered coefficient observed through Gaussian sampling noise
(``oracles.NoisyCellProblemFlux``). For a layered medium the homogenised coefficient is the harmonic
mean of the coefficient over the cell, which the cell problem returns exactly (up to round-off), so the
truth of the goal (the flow rate, the integral of u) is the noise-free HMM solve with the deterministic
``CellProblemFlux``: the same macro discretisation, no micro noise.

Each repetition uses fresh micro seeds (the Coupler root seed) and gives

* linear: one solve, interval Q +- z se_lin (z the normal 97.5% quantile, se_lin the adjoint of the state
  covariance, ``goals.linear_goal_stderr``);
* ensemble: ``--members`` solves, interval mean +- t se (Student t with members - 1 dof).

A correct interval covers the truth in about 95% of the repetitions; with R repetitions the count is
binomial, so the fraction has a standard deviation sqrt(0.95 * 0.05 / R) (0.015 for R = 200).

Last line: ``coverage = <fraction>`` (the linear method).

Run: ``python benchmarks/uq_coverage.py [--repetitions 200] [--members 8]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from hmm import Budget, Coupler, HMMSolver
    from hmm.uq import propagate
    from macro import DiffusionLaw, Grid1D
    from oracles import CellProblemFlux, NoisyCellProblemFlux
    from oracles.cell.coefficients import LayeredCosine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--members", type=int, default=8)
    parser.add_argument("--cells", type=int, default=16, help="macro cells")
    parser.add_argument("--noise", type=float, default=0.2, help="one sample's flux noise")
    args = parser.parse_args()

    coefficient = LayeredCosine(a0=2.0, amp=1.0, axis=0, macro_slope=0.5)
    law, grid = DiffusionLaw(source=1.0), Grid1D(args.cells)
    budget = Budget(sampling_steps=4)
    with Coupler(CellProblemFlux(coefficient, dim=1, cells=16), "sync") as exact:
        truth = propagate(HMMSolver(law, grid, exact), "linear", goal="flow_rate").goal_mean
    start = time.perf_counter()
    hits = {"linear": 0, "ensemble": 0}
    with Coupler(NoisyCellProblemFlux(coefficient, dim=1, cells=16, noise=args.noise), "sync", cache=True) as cp:
        solver = HMMSolver(law, grid, cp, budget=budget)
        for rep in range(args.repetitions):
            cp.seed = 10_000 + rep  # the single run of the linear method: its own micro seeds
            lin = propagate(solver, "linear", goal="flow_rate").dataset
            hits["linear"] += int(float(lin["goal_lower"]) <= truth <= float(lin["goal_upper"]))
            ens = propagate(solver, "ensemble", n=args.members, goal="flow_rate", seed=rep).dataset
            hits["ensemble"] += int(float(ens["goal_lower"]) <= truth <= float(ens["goal_upper"]))
        runs = cp.accounting.fresh_runs
    sd = math.sqrt(0.95 * 0.05 / args.repetitions)
    print(f"truth (noise-free flow rate) = {truth:.8g}; linear stderr of one run = {float(lin['goal_stderr'][0]):.3g}")
    print(f"{args.repetitions} repetitions, {runs} micro runs, {time.perf_counter() - start:.1f} s wall; "
          f"binomial sd of a 95% coverage = {sd:.3f}")
    for method, count in hits.items():
        print(f"{method:8s} coverage = {count / args.repetitions:.3f}")
    print(f"coverage = {hits['linear'] / args.repetitions:.3f}")


if __name__ == "__main__":
    main()
