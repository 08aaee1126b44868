"""Micro runs saved by the semi-intrusive shared surrogate in a Sobol' study of a multiscale run.

Problem: steady 1D diffusion ``(A*(x) u')' + f = 0``, u = 0 at both ends, closed by the noisy periodic
cell problem of a layered coefficient ``a = (1 + s x) / (a0 + amp cos(2 pi y))``
(``oracles.NoisyCellProblemFlux``, Gaussian sampling noise). Uncertain: ``coefficient.a0``,
``coefficient.macro_slope`` and ``coefficient.amp``. Goal: the flow rate (integral of u).

Physics: across layers the homogenised coefficient is the harmonic mean ``(1 + s x) / a0``, independent of
the layer amplitude ``amp``, so amp's Sobol' indices must vanish and a0 must dominate.

Two paths over the same Saltelli design (SALib, base sample ``--base``):

* plain: every design point a whole HMM solve with its own micro runs;
* shared: one GP surrogate over (x, parameters, gradient) serves every design point
  (``hmm.uq.epistemic(surrogate={"tol": ...})``).

Printed: both sets of indices with their bootstrap half-widths, the largest difference between the two
paths (to be compared with the half-widths: "equal Sobol-index error"), and the fresh micro runs of each.
Last line: ``savings = <plain micro runs / shared micro runs>``.

Run: ``python benchmarks/uq_shared_savings.py [--base 128] [--tol 2e-3]``
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from hmm import Budget, Coupler, HMMSolver
    from hmm.uq import epistemic
    from macro import DiffusionLaw, Grid1D
    from oracles import NoisyCellProblemFlux
    from oracles.cell.coefficients import LayeredCosine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=128, help="Saltelli base sample (power of two)")
    parser.add_argument("--tol", type=float, default=2e-3, help="surrogate tolerance (flux units)")
    parser.add_argument("--noise", type=float, default=0.01, help="one sample's flux noise")
    parser.add_argument("--cells", type=int, default=12, help="macro cells")
    args = parser.parse_args()

    parameters = {"coefficient.a0": {"dist": "uniform", "low": 1.8, "high": 2.2},
                  "coefficient.macro_slope": {"dist": "uniform", "low": 0.3, "high": 0.7},
                  "coefficient.amp": {"dist": "uniform", "low": 0.5, "high": 1.0}}
    oracle = NoisyCellProblemFlux(LayeredCosine(a0=2.0, amp=0.75, axis=0, macro_slope=0.5), dim=1, cells=16,
                                  noise=args.noise)
    results = {}
    for name, surrogate in (("plain", None), ("shared", {"tol": args.tol, "linear_in_gradient": True})):
        start = time.perf_counter()
        with Coupler(oracle, "sync", seed=0, cache=True) as coupler:
            solver = HMMSolver(DiffusionLaw(source=1.0), Grid1D(args.cells), coupler,
                               budget=Budget(sampling_steps=4))
            res = epistemic(solver, parameters, n=args.base, goal="flow_rate", seed=1, surrogate=surrogate)
        results[name] = res
        ix = res.indices
        print(f"{name:6s}: {res.design.n} design points, {int(res.micro_runs.sum())} micro runs, "
              f"{time.perf_counter() - start:.1f} s wall")
        for k, p in enumerate(ix.names):
            print(f"        {p:24s} S1 = {ix.first[k]:+.3f} +- {ix.first_conf[k]:.3f}   "
                  f"ST = {ix.total[k]:+.3f} +- {ix.total_conf[k]:.3f}")
    a, b = results["plain"].indices, results["shared"].indices
    diff = max(float(abs(a.first - b.first).max()), float(abs(a.total - b.total).max()))
    half = max(float(a.first_conf.max()), float(a.total_conf.max()))
    print(f"largest index difference shared - plain = {diff:.3f} (largest bootstrap half-width of plain {half:.3f})")
    savings = results["plain"].micro_runs.sum() / max(results["shared"].micro_runs.sum(), 1)
    print(f"savings = {savings:.1f}")


if __name__ == "__main__":
    main()
