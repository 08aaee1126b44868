"""FE² under cyclic shear with a history RVE: a binary LJ glass at every quadrature point.

A unit square in plane strain (finite strain) has its whole boundary driven by the
affine simple shear u = lambda * gamma_max * y e_x, with the load factor lambda cycled
0 -> 1 -> -1 -> 0. The constitutive answer at every quadrature point is a 2D binary
Lennard-Jones glass (:class:`oracles.md.history.LJGlassStress`, athermal quasi-static),
one glass sample per point, whose state stays on the worker between load steps
(:class:`hmm.stateful.StatefulClosure`). Plastic events make the RVE stress jump and its
tangent lose ellipticity, so Newton uses a fixed tangent (the relaxed tangent of pristine
samples at F = I, :class:`FixedTangent`): a modified Newton iteration that converges
linearly and never asks an unstable RVE for its tangent. With ``--mesh 1`` every node
lies on the driven boundary, so every quadrature point sees the imposed F exactly;
on finer meshes the free nodes must find an equilibrium between RVEs whose stress
jumps at plastic events, and the modified Newton can stall there (it then stops with
``SolidNewtonError``): a limitation of AQS micro models without rate effects. The script runs the cycle twice:
with the states kept (plastic history: the reaction-displacement loop encloses a
dissipated energy) and re-relaxed from the pristine samples at every query (no history:
no area), and prints the dissipated energy per cycle of both; ``--plot FILE`` draws the
mean shear stress against the imposed shear. Reduced LJ units (stress epsilon/sigma^2
per unit thickness). Run: ``python examples/fe2_cyclic.py --plot fe2_cyclic.png``.
"""

from __future__ import annotations

import argparse

import numpy as np

from hmm.contract import Budget
from hmm.stateful import StatefulClosure
from macro.closure import ClosureResult
from macro.solids import Dirichlet, SolidLaw, rectangle, solve_quasistatic
from macro.solids.kinematics import piola_names
from oracles.md.history import LJGlassStress


class FixedTangent:
    """A closure returning the stresses of ``inner`` and the fixed tangent ``A`` (4, 4)
    at every point; forwards ``commit``/``rollback`` (a history closure)."""

    def __init__(self, inner: StatefulClosure, A: np.ndarray) -> None:
        self.inner, self.A = inner, np.asarray(A, dtype=float).ravel()

    def __call__(self, points: np.ndarray, *, seed_rows=None) -> ClosureResult:
        r = self.inner(points, seed_rows=seed_rows)
        n = len(r.mean)
        return ClosureResult(np.hstack([r.mean, np.tile(self.A, (n, 1))]),
                             np.hstack([r.stderr, np.zeros((n, self.A.size))]), r.cost_s, r.fresh)

    def commit(self) -> None:
        self.inner.commit()

    def rollback(self) -> None:
        self.inner.rollback()


RUN_TIME = "Expected run time: --quick 2 s, default 4 s in process (measured)."


def pristine_tangent(oracle: LJGlassStress, samples: int, seed: int) -> np.ndarray:
    """Mean relaxed tangent A (4, 4) of ``samples`` pristine glass samples at F = I."""
    from dataclasses import replace

    est = replace(oracle, tangent=True).run(np.eye(2).ravel(), seed=seed, budget=Budget(replicas=samples))
    return est.mean[5:].reshape(4, 4)


def cycle(steps_per_quarter: int) -> np.ndarray:
    """Load factors 0 -> 1 -> -1 -> 0 (the first 0 included: the residual stress of the samples)."""
    q = np.linspace(0.0, 1.0, steps_per_quarter + 1)[1:]
    half = np.linspace(0.0, 1.0, 2 * steps_per_quarter + 1)[1:]
    return np.concatenate([[0.0], q, 1.0 - 2.0 * half, -1.0 + q])


def run(law: SolidLaw, oracle: LJGlassStress, A0: np.ndarray, loads: np.ndarray, gamma_max: float, *,
        keep: bool, client, seed: int) -> dict:
    """One cycle; returns the imposed shear, the mean shear stress and the dissipated work per area."""
    inner = StatefulClosure(oracle, law.closure_inputs(), piola_names(2), Budget(), client=client, seed=seed,
                            keep_states=keep)
    closure = FixedTangent(inner, A0)
    D = law.dirichlet_dofs
    u_D, reaction, mean_P = [], [], []

    def record(step, load, ev):
        u_D.append(law.dirichlet_values(load))
        reaction.append(ev.internal[D].copy())
        mean_P.append(float(np.mean(ev.result.mean[:, 1])))  # P_xy, the quadrature weights are equal here
        print(f"  step {step:2d}  gamma = {load * gamma_max:+.4f}  <P_xy> = {mean_P[-1]:+.4f}", flush=True)

    try:
        solve_quasistatic(law, closure, loads, tol=1e-4, max_iterations=300, callback=record)
        log = inner.log
    finally:
        inner.close()
    u_D, reaction = np.array(u_D), np.array(reaction)
    # work of the boundary on the body, trapezoid rule over the load steps; the square has unit area
    work = float(np.sum(0.5 * (reaction[1:] + reaction[:-1]) * np.diff(u_D, axis=0)))
    return {"gamma": loads * gamma_max, "P_xy": np.array(mean_P), "work": work,
            "log": log}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=RUN_TIME)
    parser.add_argument("--quick", action="store_true", help="36-atom RVEs, 2 load steps per quarter cycle")
    parser.add_argument("--n-atoms", type=int, default=64, help="atoms per glass RVE")
    parser.add_argument("--mesh", type=int, default=1,
                        help="macro squares per side (two P1 triangles each); 1: every node on the boundary")
    parser.add_argument("--gamma", type=float, default=0.12, help="shear amplitude of the cycle")
    parser.add_argument("--steps", type=int, default=4, help="load steps per quarter cycle")
    parser.add_argument("--workers", type=int, default=0, help="Dask worker processes (0: in-process)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plot", default=None, help="write the stress-strain loops to this file")
    args = parser.parse_args()
    if args.quick:
        args.n_atoms, args.steps = min(args.n_atoms, 36), min(args.steps, 2)

    oracle = LJGlassStress(n_atoms=args.n_atoms)
    A0 = pristine_tangent(oracle, 4, args.seed)
    print("fixed Newton tangent (relaxed, pristine samples at F = I):")
    print(np.array2string(A0, precision=2, suppress_small=True))
    law = SolidLaw(rectangle(args.mesh, args.mesh), kinematics="finite",
                   dirichlet=[Dirichlet(lambda x: np.ones(x.shape[1], bool),
                                        lambda x: np.stack([args.gamma * x[1], 0.0 * x[0]]))])
    loads = cycle(args.steps)
    client = "sync" if args.workers == 0 else None
    results = {}
    for keep in (True, False):
        print(f"states {'kept' if keep else 'rebuilt from the pristine samples'}:")
        results[keep] = run(law, oracle, A0, loads, args.gamma, keep=keep, client=client, seed=args.seed)
    n_points = law.closure_points(np.zeros(law.n_dofs)).shape[0]
    print(f"{n_points} quadrature points, {args.n_atoms} atoms each")
    for keep, label in ((True, "states kept"), (False, "stateless  ")):
        r = results[keep]
        print(f"{label}: dissipated energy per cycle = {r['work']:+.5f} epsilon/sigma^2 "
              f"(FIRE iterations {r['log'].micro_steps}, micro s {r['log'].micro_seconds:.1f})")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 4), constrained_layout=True)
        for keep, label in ((True, "states kept"), (False, "stateless")):
            ax.plot(results[keep]["gamma"], results[keep]["P_xy"], "o-", ms=3, label=label)
        ax.set_xlabel("imposed shear gamma")
        ax.set_ylabel("mean P_xy (epsilon/sigma^2)")
        ax.legend()
        fig.savefig(args.plot, dpi=150)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
