"""Adaptive vs uniform HMM: micro seconds to reach a goal-functional error.

Problem: -(a(x, x/eps) u')' = 1 on (0, 1), u = 0 at both ends, with a layered
cosine microstructure inside a steep inclusion (``InclusionCosine``, edges of
width 0.015 at x = 0.3 +- 0.06). Goal: mean of u over (0.5, 0.75); the exact
value comes from the closed-form homogenised solution (Bensoussan, Lions &
Papanicolaou 1978). Micro model: ``NoisyCellProblem`` -- the cell problem
with a cost model of 10 ms per sample on top of the measured solve, emulating
an expensive micro run (the measured cell solve, 0.1-0.5 ms, depends on the
batch size and the machine load, so it would otherwise blur the comparison)
-- in two settings:

* deterministic (noise 0, one sample per run): the headline;
* noisy (0.005 per sample, four samples per run), as in the first version
  of this benchmark.

* uniform: plain HMM Newton solves, a fresh micro run at every face of
  every evaluation (the classical HMM), on grids H = 1/16 ... 1/1024. The
  column ``1/face`` gives the micro seconds of a cheaper uniform variant that
  a user who knows the closure is linear in the gradient could run (one micro
  run per face, then a linear solve): the savings against it are printed too.
* adaptive: :class:`hmm.adaptive.AdaptiveSteadySolver` (GP surrogate with
  arc-length input warping, a linear trend and leave-one-out variance
  calibration, fresh
  runs / extra samples where the goal-weighted uncertainty is, macro
  refinement -- free, answered by the surrogate -- driven by the
  dual-weighted residual), stopping when 1.96 sigma_model + |disc| <= tol.

Micro seconds are the ``cost_s`` the oracle reports (sum over fresh runs).
For every tolerance the uniform cost is that of the cheapest uniform grid
whose true error is at most the tolerance. Run:
``OMP_NUM_THREADS=1 python benchmarks/adaptive_vs_uniform.py``. The last
line is ``savings = <uniform micro s / adaptive micro s>`` of the
deterministic setting at the tightest tolerance.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from validation import adaptivity as va  # noqa: E402

SURROGATE = dict(warp=True, calibrate=True, trend=True)  # for deterministic closures with a localised feature
SETTINGS = {"deterministic": dict(noise=0.0, samples=1, tols=(1e-4, 3e-5, 1e-5, 3e-6),
                                  grids=(16, 32, 64, 128, 256, 512, 1024), surrogate=SURROGATE),
            "noisy": dict(noise=0.005, samples=4, tols=(1e-3, 4e-4, 2e-4),
                          grids=(16, 32, 64, 128, 256), surrogate={})}
COST_PER_SAMPLE_S = 0.01  # an expensive micro run; the measured cell solve (~0.1-0.5 ms) is a small extra


def compare(name, coef, noise, samples, tols, grids, surrogate):
    print(f"\n== {name}: noise per sample {noise}, {samples} sample(s) per run ==")
    print("uniform HMM (fresh micro run at every face of every evaluation)")
    print(f"{'cells':>6} {'runs':>7} {'micro_s':>9} {'1/face s':>9} {'|error|':>10}")
    rows = []
    for cells in grids:
        r = va.uniform_run(coef, cells, noise=noise, samples=samples, cost_per_sample_s=COST_PER_SAMPLE_S)
        err, cost, runs, per_face = r["error"], r["micro_seconds"], r["fresh_runs"], r["per_face_s"]
        rows.append((cells, runs, cost, per_face, abs(err)))
        print(f"{cells:6d} {runs:7d} {cost:9.3f} {per_face:9.3f} {abs(err):10.2e}")
    print(f"adaptive (GP reuse {surrogate or 'stationary'} + goal-oriented fresh runs / samples / free refinement)")
    print(f"{'tol':>8} {'cells':>6} {'runs':>7} {'micro_s':>9} {'est.err':>10} {'|error|':>10} {'stop':>10}"
          f" {'uniform_s':>10} {'savings':>8} {'vs 1/face':>9}")
    out = []
    for tol in tols:
        ds = va.adaptive_run(coef, tol, noise=noise, seed=0, cells=16, samples=samples, max_cells=2048,
                             max_iterations=80, surrogate_options=surrogate, cost_per_sample_s=COST_PER_SAMPLE_S)
        last = ds.isel(iteration=-1)
        a_cost, a_err = ds.attrs["micro_seconds"], abs(float(last.true_error))
        hit = next((r for r in rows if r[4] <= tol), None)
        u_cost = hit[2] if hit else float("nan")
        u_face = hit[3] if hit else float("nan")
        out.append((tol, u_cost / a_cost))
        print(f"{tol:8.1e} {int(last.cells):6d} {ds.attrs['micro_runs']:7d} {a_cost:9.3f} "
              f"{float(last.est_error):10.2e} {a_err:10.2e} {ds.attrs['stop_reason']:>10} "
              f"{u_cost:10.3f} {u_cost / a_cost:8.1f} {u_face / a_cost:9.1f}")
    return out


def main() -> None:
    coef = va.problems()["inclusion"]
    ref = va.reference_goal_1d(coef)
    print(f"exact goal J = {ref:.10f}; cost model {COST_PER_SAMPLE_S * 1e3:g} ms/sample + measured solve")
    results = {name: compare(name, coef, **opts) for name, opts in SETTINGS.items()}
    tol, savings = results["deterministic"][-1]
    print(f"\ndeterministic, tol {tol:.0e}: uniform micro s / adaptive micro s")
    print(f"savings = {savings:.1f}")


if __name__ == "__main__":
    main()
