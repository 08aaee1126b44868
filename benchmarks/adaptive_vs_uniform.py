"""Adaptive vs uniform HMM: micro seconds to reach a goal-functional error.

Problem: -(a(x, x/eps) u')' = 1 on (0, 1), u = 0 at both ends, with a layered
cosine microstructure inside a steep inclusion (``InclusionCosine``, edges of
width 0.015 at x = 0.3 +- 0.06), micro model ``NoisyCellProblem`` (cell
problem plus sampling noise, cost model 1 ms per sample plus the measured
solve). Goal: mean of u over (0.5, 0.75); the exact value comes from the
closed-form homogenised solution (Bensoussan, Lions & Papanicolaou 1978).

* uniform: plain HMM Newton solves, a fresh micro run at every face of
  every evaluation, grids H = 1/16 ... 1/256 with 4 ... 64 samples per run;
* adaptive: :class:`hmm.adaptive.AdaptiveSteadySolver` (GP surrogate reuse,
  fresh runs / extra samples where the goal-weighted uncertainty is,
  macro refinement driven by the dual-weighted residual).

Micro seconds are the ``cost_s`` the oracle reports (sum over fresh runs).
Run: ``OMP_NUM_THREADS=1 python benchmarks/adaptive_vs_uniform.py``.
The last line is ``savings = <uniform micro s / adaptive micro s>`` at the
first uniform configuration whose error is at most the adaptive run's
tolerance.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hmm import Budget, Coupler  # noqa: E402
from hmm.adaptive import MicroClosure  # noqa: E402
from hmm.closure import CouplerClosure  # noqa: E402
from hmm.validation import adaptivity as va  # noqa: E402
from macro import Grid1D, solve_steady  # noqa: E402
from oracles.noisy_flux import NoisyCellProblem  # noqa: E402

NOISE = 0.005
TOLS = (2e-3, 1e-3, 4e-4)


def uniform(coef, ref, cells, samples, seed=0):
    law, goal, grid = va.law(), va.goal(), Grid1D(cells)
    with Coupler(NoisyCellProblem(coef, cells=32, noise=NOISE), "sync", seed=seed) as c:
        cc = CouplerClosure(c, law.closure_inputs(grid), law.closure_outputs(grid), Budget(sampling_steps=samples))
        u = solve_steady(law, grid, MicroClosure(cc)).u
        return goal.value(grid, u) - ref, cc.log.micro_seconds, cc.log.fresh_runs


def main() -> None:
    coef = va.problems()["inclusion"]
    ref = va.reference_goal_1d(coef)
    print(f"exact goal J = {ref:.8f}; noise per sample {NOISE}; cost model 1 ms/sample + solve")
    print("\nuniform HMM (fresh micro run at every face of every evaluation)")
    print(f"{'cells':>6} {'samples':>8} {'runs':>7} {'micro_s':>9} {'|error|':>10}")
    rows = []
    for cells, samples in ((16, 4), (32, 8), (64, 16), (128, 32), (256, 64), (256, 256)):
        err, cost, runs = uniform(coef, ref, cells, samples)
        rows.append((cells, samples, runs, cost, abs(err)))
        print(f"{cells:6d} {samples:8d} {runs:7d} {cost:9.3f} {abs(err):10.2e}")
    print("\nadaptive (GP reuse + goal-oriented fresh runs / samples / refinement)")
    print(f"{'tol':>8} {'cells':>6} {'runs':>7} {'micro_s':>9} {'est.err':>10} {'|error|':>10} {'stop':>10}")
    adaptive = []
    for tol in TOLS:
        ds = va.adaptive_run(coef, tol, noise=NOISE, seed=0, cells=16, samples=4, max_cells=256,
                             max_iterations=40)
        last = ds.isel(iteration=-1)
        adaptive.append((tol, ds.attrs["micro_seconds"], abs(float(last.true_error))))
        print(f"{tol:8.1e} {int(last.cells):6d} {ds.attrs['micro_runs']:7d} {ds.attrs['micro_seconds']:9.3f} "
              f"{float(last.est_error):10.2e} {abs(float(last.true_error)):10.2e} {ds.attrs['stop_reason']:>10}")
    tol, a_cost, a_err = adaptive[-1]
    target = max(tol, a_err)
    u_cost = next((r[3] for r in rows if r[4] <= target), float("nan"))
    print(f"\ntarget error {target:.1e}: uniform {u_cost:.3f} micro s, adaptive {a_cost:.3f} micro s")
    print(f"savings = {u_cost / a_cost:.1f}")


if __name__ == "__main__":
    main()
