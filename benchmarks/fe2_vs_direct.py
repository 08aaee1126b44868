"""FE² vs a direct fine-scale finite-element solve of a 2D laminated body.

Problem: plane-strain linear elasticity on the unit square, Dirichlet data
``g(x) = 0.02 (x y + sin(pi y) / 2, x^2 / 2 - x y + 0.3 sin(pi x))`` on the whole
boundary, a two-phase laminate (E = 10 and 1, nu = 0.3, layers normal to x, volume
fraction 1/2) of period eps.

* direct: P1 on a structured mesh with ``per_period`` (8) elements per period,
  the microstructure resolved (C(x / eps) at every quadrature point);
* FE²: P2 on an 8 x 8 macro mesh, the periodic FE cell problem
  (``oracles.CellProblemStress``, 8 x 8 cell) at every quadrature point through an
  ``hmm.Coupler`` (embedded Dask cluster with ``--workers`` processes, or
  ``--workers 0`` for in-process), one Coupler batch per Newton iteration. The
  cell store is emptied first, so the FE² time includes the cell solves.

Both are timed in the same run (wall seconds of the solve; the cluster start-up
is not counted). The FE² work does not depend on eps; its error against the
direct solve (relative L2 at the fine nodes) falls as O(eps). Run:
``OMP_NUM_THREADS=1 python benchmarks/fe2_vs_direct.py [--smallest 32]``. The last
line is ``speedup = <direct wall s / FE² wall s>`` at the smallest eps (default
1/64: the direct P1 solve then has about 5e5 unknowns; 1/128 has four times as
many, beyond a small shared machine's memory for a direct factorisation).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hmm import Coupler  # noqa: E402
from hmm.fe2 import solve_fe2  # noqa: E402
from macro.solids import Dirichlet, LinearElasticClosure, SolidLaw, rectangle, solve_quasistatic  # noqa: E402
from oracles.solids import CellProblemStress, Laminate, clear_cell_cache  # noqa: E402

LAM = Laminate(E=(10.0, 1.0), nu=(0.3, 0.3), fraction=0.5)


def boundary_data(x: np.ndarray) -> np.ndarray:
    X, Y = x
    return 0.02 * np.stack([X * Y + 0.5 * np.sin(np.pi * Y), 0.5 * X**2 - X * Y + 0.3 * np.sin(np.pi * X)])


def sides() -> list[Dirichlet]:
    return [Dirichlet(name, boundary_data) for name in ("left", "right", "bottom", "top")]


def fe2(coupler: Coupler, macro_cells: int, client) -> tuple[SolidLaw, np.ndarray, float, object]:
    clear_cell_cache()
    if client is not None:  # empty every worker's cell store too
        client.run(clear_cell_cache)
    start = time.perf_counter()
    law = SolidLaw(rectangle(macro_cells, macro_cells), order=2, dirichlet=sides())
    out = solve_fe2(law, coupler)
    return law, out.result.u, time.perf_counter() - start, out.ledger


def direct(eps: float, per_period: int) -> tuple[SolidLaw, np.ndarray, float]:
    start = time.perf_counter()
    n = int(round(per_period / eps))
    law = SolidLaw(rectangle(n, n), order=1, dirichlet=sides())
    res = solve_quasistatic(law, LinearElasticClosure(lambda x: LAM.stiffness(x / eps)))
    return law, res.u, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smallest", type=int, default=64, help="smallest eps = 1 / SMALLEST (power of 2 >= 4)")
    parser.add_argument("--per-period", type=int, default=8, help="direct-solve elements per period")
    parser.add_argument("--macro-cells", type=int, default=8, help="FE² macro mesh cells per side")
    parser.add_argument("--workers", type=int, default=2, help="Dask worker processes (0: in-process)")
    args = parser.parse_args()
    client = None
    if args.workers:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        client = Client(cluster, set_as_default=False)
    oracle = CellProblemStress(LAM, cells=8)
    ks = [k for k in (4, 8, 16, 32, 64, 128, 256) if k <= args.smallest]
    print(f"{'eps':>8} {'direct dofs':>12} {'direct s':>9} {'FE2 s':>7} {'FE2 runs':>9} {'L2 error':>9}")
    with Coupler(oracle, client or "sync") as coupler:
        fe2(coupler, args.macro_cells, client)  # warm-up: imports and worker start-up are not FE² work
        for k in ks:
            macro_law, u_fe2, t_fe2, ledger = fe2(coupler, args.macro_cells, client)
            fine, u_direct, t_direct = direct(1.0 / k, args.per_period)
            ud = fine.nodal_displacement(u_direct)
            uh = macro_law.displacement_at(u_fe2, fine.mesh.p)
            err = float(np.sqrt(np.mean((ud - uh) ** 2) / np.mean(ud**2)))
            print(f"{'1/' + str(k):>8} {fine.n_dofs:>12d} {t_direct:>9.2f} {t_fe2:>7.2f} "
                  f"{ledger.fresh_runs:>9d} {err:>9.4f}", flush=True)
    if client is not None:
        client.close()
        cluster.close()
    print(f"speedup = {t_direct / t_fe2:.1f}")


if __name__ == "__main__":
    main()
