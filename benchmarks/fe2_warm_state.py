"""Micro states kept on the workers vs re-equilibrated at every advance, at equal stderr.

Problem: a plane-strain square (``--cells`` x ``--cells`` squares cut into
triangles, P1), left side fixed, right side pulled by 1e-3 in x (small strain)
or stretched to F_xx = 1.001 (finite strain, for an oracle that takes F), over
``--steps`` load steps, with a stateful micro model at every quadrature point
(:class:`hmm.stateful.StatefulClosure` through :func:`hmm.fe2.solve_fe2_stateful`
on an embedded Dask cluster of ``--workers`` processes, or in process with
``--workers 0``).

* kept: each advance continues from the point's committed state (a warm start);
* re-equilibrated: each advance starts from a fresh initial state and pays the
  oracle's full equilibration.

Both use the same budget (the oracle's default), so both sample the same number
of steps of a stationary process and have the same stderr (printed). Micro
seconds are the oracle's own ``cost_s`` summed over all advances. ``--oracle toy``
is :class:`oracles.solids.RelaxingStress`; ``--oracle md`` is the stateful MD RVE
of the registry (``--md-name NAME``, or the first registered oracle with
``initial_state`` and ``advance`` whose name mentions md or lj), built with its
defaults and ``warm_equilibration_steps = --warm-eq``. The last line is ``warm_ratio = <micro-s kept / micro-s re-equilibrated>``.
Run: ``OMP_NUM_THREADS=1 python benchmarks/fe2_warm_state.py [--oracle toy|md]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from hmm.contract import StatefulOracle  # noqa: E402
from hmm.fe2 import solve_fe2_stateful, stateful_fe2_closure  # noqa: E402
from macro.solids import Dirichlet, SolidLaw, box, rectangle  # noqa: E402


def md_oracle(name: str | None):
    """The stateful MD RVE of the registry (by name, or the first stateful md/lj entry)."""
    from oracles import ORACLES

    if name is not None:
        return ORACLES[name]()
    for key in ORACLES:
        if "md" not in key and "lj" not in key:
            continue
        try:
            cls = ORACLES[key]
        except ImportError:
            continue
        if callable(getattr(cls, "initial_state", None)) and callable(getattr(cls, "advance", None)):
            return cls()
    raise SystemExit("fe2_warm_state.py: no stateful MD oracle (initial_state/advance) is registered in "
                     "oracles.ORACLES yet; give --md-name NAME or use --oracle toy")


def body_for(oracle, cells: int) -> SolidLaw:
    names = tuple(oracle.inputs)
    dim = 3 if any(n.endswith("zz") for n in names) else 2
    finite = any(n.startswith("F_") for n in names)
    mesh = rectangle(cells, cells) if dim == 2 else box(cells, cells, cells)
    fixed = [Dirichlet("left", 0.0)]
    pulled = [Dirichlet("right", 1e-3, components=[0])] + [Dirichlet("right", 0.0, components=[c])
                                                            for c in range(1, dim)]
    return SolidLaw(mesh, kinematics="finite" if finite else "small", dirichlet=fixed + pulled)


def run(oracle, cells: int, steps: int, workers: int, keep: bool, tol: float, seed: int):
    law = body_for(oracle, cells)
    client = "sync" if workers == 0 else None
    closure = stateful_fe2_closure(law, oracle, client=client, n_workers=workers or None, seed=seed,
                                   keep_states=keep)
    try:
        start = time.perf_counter()
        out = solve_fe2_stateful(law, closure, steps, tol=tol)
        wall = time.perf_counter() - start
    finally:
        closure.close()
    ns = law.n_stress
    stderr = float(np.mean(out.result.evaluation.result.stderr[:, :ns]))
    return law, out, wall, stderr


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--oracle", choices=("toy", "md"), default="toy")
    parser.add_argument("--md-name", default=None, help="registry name of the stateful MD oracle")
    parser.add_argument("--cells", type=int, default=2)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="worker processes (0: in process)")
    parser.add_argument("--tol", type=float, default=1e-2,
                        help="relative Newton tolerance: above the residual noise (about 3e-3 at the first of 16 steps)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm-eq", type=int, default=100,
                        help="md: equilibration steps of an advance from a kept (equilibrated) state, the "
                             "oracle's warm_equilibration_steps (the cold start pays its budget's)")
    args = parser.parse_args(argv)
    if args.oracle == "toy":
        from oracles.solids import RelaxingStress

        oracle = RelaxingStress()
    else:
        import dataclasses

        oracle = md_oracle(args.md_name)
        if "warm_equilibration_steps" in {f.name for f in dataclasses.fields(oracle)}:
            oracle = dataclasses.replace(oracle, warm_equilibration_steps=args.warm_eq)
    if not isinstance(oracle, StatefulOracle):
        raise SystemExit(f"fe2_warm_state.py: {type(oracle).__name__} is not a stateful oracle")
    rows, counted = {}, {}
    for keep in (True, False):
        law, out, wall, stderr = run(oracle, args.cells, args.steps, args.workers, keep, args.tol, args.seed)
        log = out.closure.log
        rows[keep] = log.micro_seconds
        counted[keep] = log.micro_steps
        label = "kept" if keep else "re-equilibrated"
        print(f"{label:>16}: {law.n_points} points, {out.result.closure_calls} batches, {log.advances} advances, "
              f"{log.micro_steps} micro steps, {log.micro_seconds:.3f} micro-s, wall {wall:.2f} s, "
              f"mean stress stderr {stderr:.3e}")
        print(f"{'':>16}  state {out.state_bytes:.0f} B/point ({out.state_bytes * law.n_points / 1e3:.1f} kB "
              f"in all); sent per load step {out.transfer_bytes} B, of which states {out.state_transfer_bytes} B")
    ratio = rows[True] / rows[False]
    if counted[False]:  # timed micro seconds vary with the machine's load; counted steps do not
        print(f"micro-step ratio = {counted[True] / counted[False]:.3f}")
    print(f"warm_ratio = {ratio:.3f}")
    return ratio


if __name__ == "__main__":
    main()
