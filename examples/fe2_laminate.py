"""FE² of a plate with a periodic microstructure: a cell problem at every quadrature point.

A plane-strain plate [0, 2] x [0, 1] is clamped on the left and pulled on the right by
a uniform traction (load factor ramped in ``--steps`` steps). Its constitutive law at
every quadrature point is the periodic finite-element cell problem of a two-phase
microstructure (``--micro laminate`` or ``inclusion``), answered through an
``hmm.Coupler`` (``--workers`` Dask processes, 0 for in-process). The script prints the
effective stiffness of the cell, the Hill-Mandel residual, the Newton history and the
micro work from the Coupler's ledger; ``--plot FILE`` draws the mesh, the deformed shape
and the von Mises stress. Run: ``python examples/fe2_laminate.py --micro inclusion --plot fe2.png``.
"""

from __future__ import annotations

import argparse

import numpy as np

from hmm import Coupler
from hmm.fe2 import solve_fe2
from macro.solids import Dirichlet, SolidLaw, Traction, perturbed, rectangle
from oracles.solids import CellProblemStress, CircularInclusion, Laminate


def microstructure(name: str):
    if name == "laminate":
        return Laminate(E=(10.0, 1.0), nu=(0.3, 0.3), fraction=0.5)
    return CircularInclusion(E=(10.0, 1.0), nu=(0.3, 0.3), radius=0.3)


def von_mises(stress: np.ndarray, nu: float) -> np.ndarray:
    """Von Mises stress of plane-strain Voigt stresses (sigma_zz = nu (sigma_xx + sigma_yy))."""
    sxx, syy, sxy = stress.T
    szz = nu * (sxx + syy)
    return np.sqrt(0.5 * ((sxx - syy) ** 2 + (syy - szz) ** 2 + (szz - sxx) ** 2) + 3 * sxy**2)


def plot(law: SolidLaw, u: np.ndarray, stress: np.ndarray, path: str, scale: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mesh = law.mesh
    disp = law.nodal_displacement(u)
    vm = von_mises(stress, 0.3).reshape(mesh.t.shape[1], -1).mean(axis=1)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), constrained_layout=True)
    axes[0].triplot(mesh.p[0], mesh.p[1], mesh.t.T, lw=0.4, color="0.5")
    axes[0].set_title("reference mesh")
    x, y = mesh.p + scale * disp
    tpc = axes[1].tripcolor(x, y, mesh.t.T, facecolors=vm, cmap="viridis")
    axes[1].set_title(f"deformed (x{scale:g}), von Mises stress")
    fig.colorbar(tpc, ax=axes[1], label="von Mises stress")
    for ax in axes:
        ax.set_aspect("equal")
    fig.savefig(path, dpi=150)
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--micro", choices=("laminate", "inclusion"), default="laminate")
    parser.add_argument("--cells", type=int, default=16, help="cell-problem elements per side")
    parser.add_argument("--macro", type=int, default=8, help="macro elements along the short side")
    parser.add_argument("--steps", type=int, default=2, help="load steps")
    parser.add_argument("--traction", type=float, default=0.05, help="traction on the right edge (stress units)")
    parser.add_argument("--workers", type=int, default=0, help="Dask worker processes (0: in-process)")
    parser.add_argument("--plot", default=None, help="write a figure to this file")
    args = parser.parse_args()

    oracle = CellProblemStress(microstructure(args.micro), cells=args.cells)
    C, _ = oracle.effective()
    print(f"effective plane-strain stiffness of the {args.micro} cell (Voigt xx, yy, xy):")
    print(np.array2string(C, precision=4, suppress_small=True))

    mesh = perturbed(rectangle(2 * args.macro, args.macro, 2.0, 1.0), 0.2, seed=1)
    law = SolidLaw(mesh, order=2, dirichlet=[Dirichlet("left", 0.0)],
                   traction=[Traction("right", [args.traction, 0.0])])
    client = "sync" if args.workers == 0 else None
    with Coupler(oracle, client, n_workers=args.workers or None) as coupler:
        out = solve_fe2(law, coupler, steps=args.steps)
    res = out.result
    points = res.evaluation.points  # closure points of the accepted state
    answers = [oracle.run(p[2:], seed=0, budget=out.closure.budget).mean[-1] for p in points[:: max(1, len(points) // 50)]]
    u_tip = law.displacement_at(res.u, np.array([[2.0], [0.5]]))[:, 0]
    print(f"macro: {mesh.t.shape[1]} P2 triangles, {law.n_points} quadrature points per closure call")
    print(f"Newton updates per step: {res.iterations}; residuals of the last step: "
          + ", ".join(f"{r:.1e}" for r in res.residuals[-1]))
    print(f"displacement at (2, 0.5): ({u_tip[0]:.5f}, {u_tip[1]:.5f})")
    print(f"max |Hill-Mandel residual| over sampled points: {max(abs(a) for a in answers):.2e}")
    ledger = out.ledger
    print(f"micro work: {ledger.fresh_runs} fresh runs, {ledger.cached_answers} cached answers, "
          f"{ledger.micro_seconds:.3f} micro s in {ledger.batches} batches")
    if args.plot:
        plot(law, res.u, res.stress, args.plot, scale=0.2 / max(np.abs(res.u).max(), 1e-12))


if __name__ == "__main__":
    main()
