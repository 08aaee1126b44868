"""Sobol' indices of the Ishigami function posed as a parametrised oracle, through the epistemic path.

The oracle answers ``q = grad u / R`` with the resistance ``R = Ishigami(x1, x2, x3) + 11`` (positive:
|Ishigami| <= 1 + 0.1 pi^4 = 10.74), ``x_i ~ U(-pi, pi)``. A steady 1D diffusion solve with a constant
source has u proportional to R exactly (its discrete equations are linear with a matrix proportional to
1 / R), so the HMM flow rate is an affine function of the Ishigami function and has its Sobol' indices
(Ishigami & Homma 1990; a = 7, b = 0.1 as in Saltelli et al. 2010, Comput. Phys. Commun. 181, 259):
S1 = (0.3139, 0.4424, 0), ST = (0.5576, 0.4424, 0.2437).

Every design point is a whole HMM solve through the Coupler (``hmm.uq.epistemic``, SALib's Saltelli
design and estimators). Printed: the indices with their bootstrap half-widths, the errors, the number of
model evaluations (whole HMM solves) and of micro runs. Last line: ``max_abs_error = <x>``.

Run: ``python benchmarks/uq_sobol.py [--base 4096]``
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

A, B, SHIFT = 7.0, 0.1, 11.0


@dataclass(frozen=True)
class IshigamiResistance:
    """Deterministic oracle ``flux = grad_x / (Ishigami(x1, x2, x3) + 11)``."""

    x1: float = 0.0
    x2: float = 0.0
    x3: float = 0.0

    inputs = ("x", "grad_x")
    outputs = ("flux",)
    units: ClassVar[dict] = {"x": "1", "grad_x": "1", "flux": "1"}
    deterministic = True

    @property
    def resistance(self) -> float:
        return math.sin(self.x1) + A * math.sin(self.x2) ** 2 + B * self.x3**4 * math.sin(self.x1) + SHIFT

    def run_batch(self, states, *, seeds, budget):
        from hmm.contract import EstimateArrays

        k = len(states)
        return EstimateArrays(np.asarray(states, dtype=float)[:, 1:2] / self.resistance, np.zeros((k, 1)),
                              np.full(k, np.inf), np.full(k, 1e-7))

    def run(self, state, *, seed, budget):
        from hmm.contract import Estimate

        return Estimate(np.array([float(state[1]) / self.resistance]), np.zeros(1), n_eff=np.inf, cost_s=1e-7)


def exact_indices() -> tuple[np.ndarray, np.ndarray]:
    v1 = B * math.pi**4 / 5 + B**2 * math.pi**8 / 50 + 0.5
    v2 = A**2 / 8
    v13 = B**2 * math.pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def main() -> None:
    from scipy import stats

    from hmm import Coupler, HMMSolver
    from hmm.uq import epistemic
    from macro import DiffusionLaw, Grid1D

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", type=int, default=4096, help="Saltelli base sample (power of two)")
    parser.add_argument("--cells", type=int, default=4, help="macro cells")
    args = parser.parse_args()
    u = stats.uniform(-math.pi, 2 * math.pi)
    start = time.perf_counter()
    with Coupler(IshigamiResistance(), "sync", seed=0, cache=True) as coupler:
        res = epistemic(HMMSolver(DiffusionLaw(source=1.0), Grid1D(args.cells), coupler),
                        {"x1": u, "x2": u, "x3": u}, n=args.base, goal="flow_rate", seed=0)
        runs = coupler.accounting.fresh_runs
    s1, st = exact_indices()
    ix = res.indices
    for k, name in enumerate(ix.names):
        print(f"{name}: S1 = {ix.first[k]:.4f} +- {ix.first_conf[k]:.4f} (exact {s1[k]:.4f})   "
              f"ST = {ix.total[k]:.4f} +- {ix.total_conf[k]:.4f} (exact {st[k]:.4f})")
    err = max(float(np.abs(ix.first - s1).max()), float(np.abs(ix.total - st).max()))
    print(f"model evaluations = {res.design.n} whole HMM solves ({runs} micro runs), "
          f"{time.perf_counter() - start:.1f} s wall")
    print(f"max_abs_error = {err:.4f}")


if __name__ == "__main__":
    main()
