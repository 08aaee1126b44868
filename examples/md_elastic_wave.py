"""HMM elastodynamics with molecular-dynamics stress, against a direct MD of the whole chain.

Macro: 1D Lagrangian elastodynamics (macro.ElasticWaveLaw) on the reference
configuration of a periodic chain, Nessyahu-Tadmor central scheme; at every
stage the stress at each macro cell comes from an MD oracle
(oracles.md.LJChain, Lennard-Jones bonds) at that cell's strain: nothing is
tabulated in advance. Micro: the same chain simulated atom by atom (velocity
Verlet, >= 10^4 atoms) from the same macro initial condition -- a smooth
tensile strain pulse at rest -- and coarse-grained onto the macro cells.

At T = 0 both are deterministic, so the comparison needs no ensemble
average; finite temperature (with the energy equation, Li & E 2005) is not
in this example yet.

Run: python examples/md_elastic_wave.py [--atoms 10000] [--cells 200] [--amplitude 0.02]
(extra `examples`). Prints the L2 errors and the wall-time ratio; writes
results/md_elastic_wave.png and results/md_elastic_wave.nc.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def direct_md(n_atoms: int, a0: float, strain0, t_end: float, dt: float, cells: int):
    """NVE velocity Verlet of the whole chain; coarse-grained strain and velocity per cell."""
    from oracles import _md_kernels as K

    X = np.arange(n_atoms) * a0
    eps = strain0(X + 0.5 * a0)  # bond strains
    x = np.concatenate([[0.0], np.cumsum(a0 * (1 + eps))[:-1]])
    length = float(np.sum(a0 * (1 + eps)))
    v = np.zeros(n_atoms)
    f = np.zeros(n_atoms)
    K.chain_forces(x, f, length, False, 1.0, a0, 1.0)
    n_steps = int(round(t_end / dt))
    status = K.chain_steps(x, v, f, length, 1.0, dt, n_steps, False, 1.0, a0, 1.0, 0.0, 0.0,
                           n_steps + 1, np.empty((0, 3)))
    if status != K.OK:
        raise RuntimeError("direct MD became non-finite")
    per = n_atoms // cells
    ends = np.append(x, x[0] + length)[::per]
    strain = np.diff(ends) / (per * a0) - 1.0
    velocity = v.reshape(cells, per).mean(axis=1)
    return strain, velocity


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from hmm import Coupler, HMMSolver
    from macro import ElasticWaveLaw, Grid1D
    from oracles.md import LJChain

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--atoms", type=int, default=10_000)
    parser.add_argument("--cells", type=int, default=200)
    parser.add_argument("--amplitude", type=float, default=0.02)
    parser.add_argument("--client", default="sync", help="'sync' or 'embedded'")
    args = parser.parse_args()
    if args.atoms % args.cells:
        parser.error("--atoms must be a multiple of --cells")

    oracle = LJChain(bond="lj", n_atoms=16)  # T = 0: the static stress of the strained chain
    a0, rho0 = oracle.spacing, oracle.density
    L = args.atoms * a0
    width = L / 20

    def strain0(X, t=0.0):
        return args.amplitude * np.exp(-0.5 * ((X - 0.5 * L) / width) ** 2)

    # sound speed at zero strain from the oracle itself, for the run length
    from hmm import Budget

    h = 1e-6
    s = [oracle.run(np.array([e, 0.0]), seed=0, budget=Budget()).mean[0] for e in (0.0, h)]
    c0 = np.sqrt((s[1] - s[0]) / h / rho0)
    t_end = 0.2 * L / c0
    print(f"chain: {args.atoms} LJ atoms, a0 = {a0:.6f}, rho0 = {rho0:.4f}, sound speed c0 = {c0:.4f}; "
          f"t_end = {t_end:.1f} (a wave travels L/5)")

    grid = Grid1D(args.cells, (0.0, L))
    start = time.perf_counter()
    with Coupler(oracle, None if args.client == "embedded" else "sync", cache=True) as coupler:
        ds = HMMSolver(ElasticWaveLaw(rho0), grid, coupler, fixed_inputs={"temperature": 0.0},
                       units={"x": "sigma", "time": "tau"}).run(
            t_end, dt=t_end / 20, u0={"strain": strain0}, save_every=20)
    hmm_wall = time.perf_counter() - start

    start = time.perf_counter()
    md_strain, md_velocity = direct_md(args.atoms, a0, strain0, float(ds.time[-1]), 0.005, args.cells)
    md_wall = time.perf_counter() - start

    hmm_strain, hmm_velocity = ds["strain"].values[-1], ds["velocity"].values[-1]
    l2 = lambda a, b: float(np.sqrt(np.mean((a - b) ** 2)) / np.sqrt(np.mean(b**2)))  # noqa: E731
    e_strain, e_velocity = l2(hmm_strain, md_strain), l2(hmm_velocity, md_velocity)
    print(f"HMM: {int(ds.attrs['micro_runs'])} MD stress queries, {hmm_wall:.2f} s wall; "
          f"direct MD: {md_wall:.2f} s wall")
    print(f"relative L2 error of HMM against coarse-grained MD: strain {e_strain:.3e}, velocity {e_velocity:.3e}")
    print(f"wall-time ratio direct MD / HMM = {md_wall / hmm_wall:.2f}")

    out = Path("results")
    out.mkdir(exist_ok=True)
    ds.to_netcdf(out / "md_elastic_wave.nc")
    X = grid.centres[0]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
    axes[0].plot(X, strain0(X), "k:", label="initial")
    axes[0].plot(X, md_strain, "-", lw=2, label="direct MD (coarse-grained)")
    axes[0].plot(X, hmm_strain, "--", lw=1.5, label="HMM (MD stress on demand)")
    axes[0].set(xlabel="X (reference position, sigma)", ylabel="strain", title=f"t = {float(ds.time[-1]):.1f} tau")
    axes[1].plot(X, md_velocity, "-", lw=2, label="direct MD")
    axes[1].plot(X, hmm_velocity, "--", lw=1.5, label="HMM")
    axes[1].set(xlabel="X", ylabel="velocity", title=f"L2 errors: strain {e_strain:.2e}, velocity {e_velocity:.2e}")
    for ax in axes:
        ax.legend()
    fig.savefig(out / "md_elastic_wave.png", dpi=110)
    print(f"wrote {out / 'md_elastic_wave.png'}")


if __name__ == "__main__":
    main()
