"""Command line: ``hmm run CONFIG.toml`` and ``hmm info``.

Exit codes: 0 success, 2 invalid configuration, arguments or input, 3
unreachable scheduler, 4 a micro run failed (OracleError), 5 macro solver
failure or out of memory, 130 interrupted. No error ends in a traceback.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from typing import Sequence


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("hmm-ef", "numpy", "scipy", "numba", "dask", "distributed", "xarray", "netCDF4",
                 "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def cmd_info(args: argparse.Namespace) -> int:
    for name, version in _versions().items():
        print(f"{name:12s} {version}")
    if args.scheduler in (None, ""):
        from ._client import default_n_workers

        print(f"cluster      embedded LocalCluster on 127.0.0.1 (dashboard off), "
              f"{default_n_workers()} worker process(es) x 1 thread")
    elif args.scheduler == "sync":
        print("cluster      sync (in process)")
    else:
        from ._client import resolve_client

        resolved = resolve_client(args.scheduler, timeout_s=args.timeout)
        try:
            print(f"cluster      {resolved.description}")
        finally:
            resolved.close()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    import numpy as np

    from .config import load_config
    from .coupler import Coupler
    from .results import write_netcdf
    from .solver import HMMSolver

    cfg = load_config(args.config)
    out = args.out or cfg.output.path
    if not str(out).endswith(".nc"):
        from .errors import ConfigError

        raise ConfigError(f"--out must end in .nc, got {out!r}")
    oracle, grid, law, budget = cfg.build_oracle(), cfg.build_grid(), cfg.build_law(), cfg.build_budget()
    scheduler = args.scheduler if args.scheduler is not None else cfg.coupler.scheduler
    start = time.perf_counter()
    with Coupler(oracle, scheduler, seed=cfg.coupler.seed, cache=cfg.coupler.cache or None,
                 batch_size=cfg.coupler.batch_size, retries=cfg.coupler.retries,
                 n_workers=args.workers or cfg.coupler.workers, timeout_s=args.timeout) as coupler:
        solver = HMMSolver(law, grid, coupler, budget=budget, stepper=cfg.run.stepper,
                           rename=cfg.macro.rename or None)
        if cfg.uq is not None:
            return _run_uq(cfg, args, solver, coupler, out, start)
        if cfg.run.mode == "steady":
            ds = solver.solve_steady()
        else:
            ds = solver.run(cfg.run.t_end, dt=cfg.run.dt, u0=cfg.macro.initial,
                            save_every=cfg.run.save_every, checkpoint=cfg.output.checkpoint,
                            progress=not args.no_progress)
        cluster = coupler.describe()
        coupler.save_cache()
    ds.attrs["title"] = cfg.title
    ds.attrs["config"] = str(args.config)
    path = write_netcdf(ds, out)
    wall = time.perf_counter() - start
    u = ds["u"].values
    final = u[-1] if cfg.run.mode == "transient" else u
    closure = [v for v in ds.data_vars if v.endswith("_stderr") and v != "u_stderr"]  # the oracle's outputs
    noise = ", ".join(f"max {v.removesuffix('_stderr')} stderr {float(np.max(ds[v].values)):.2g}" for v in closure)
    shape = "x".join(str(c) for c in grid.shape)
    when = (f"t={float(ds.time[-1]):.4g} after {int(ds.attrs['n_steps'])} {cfg.run.stepper} steps"
            if cfg.run.mode == "transient" else f"steady ({ds.attrs['newton_iterations']} Newton its)")
    print(f"{cfg.title}: {grid.dim}D {shape} grid, {when}; max|u|={np.max(np.abs(final)):.6g} "
          f"({noise}); {int(ds.attrs['micro_runs'])} micro runs, "
          f"{float(ds.attrs['micro_seconds']):.3g} micro-s on {cluster}; wall {wall:.3g} s; wrote {path}")
    return 0


def _run_uq(cfg, args, solver, coupler, out, start) -> int:
    """The ``[uq]`` branch of ``hmm run``: the study instead of a single run (:func:`hmm.uq.run_study`)."""
    from .results import write_netcdf
    from .uq.study import run_study

    ds, summary = run_study(cfg, solver, progress=not args.no_progress)
    cluster = coupler.describe()
    coupler.save_cache()
    ds.attrs["title"] = cfg.title
    ds.attrs["config"] = str(args.config)
    path = write_netcdf(ds, out)
    print(f"{cfg.title}: {summary}; {int(ds.attrs['micro_runs'])} micro runs, "
          f"{float(ds.attrs['micro_seconds']):.3g} micro-s on {cluster}; wall {time.perf_counter() - start:.3g} s; "
          f"wrote {path}")
    return 0


def _positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (the number of worker processes)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hmm", description="Heterogeneous multiscale runs on Dask.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run an HMM configuration (TOML)")
    run.add_argument("config", help="path of the TOML run configuration")
    run.add_argument("--scheduler", default=None,
                     help="Dask scheduler address (tcp://host:port), or 'sync'; default: embedded LocalCluster")
    run.add_argument("--out", default=None, help="results file (.nc); default: output.path of the config")
    run.add_argument("--workers", type=_positive_int, default=None,
                     help="worker processes of the embedded cluster (>= 1)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--timeout", type=float, default=10.0,
                     help="seconds to wait for a scheduler address (default 10)")
    run.set_defaults(func=cmd_run)
    info = sub.add_parser("info", help="print versions and the cluster that would be used")
    info.add_argument("--scheduler", default=None, help="scheduler address to check (default: embedded)")
    info.add_argument("--timeout", type=float, default=10.0, help="connection timeout in seconds")
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import CheckpointError, ConfigError, OracleError, SchedulerError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, CheckpointError) as exc:
        print(f"hmm: error: {exc}", file=sys.stderr)
        return 2
    except SchedulerError as exc:
        print(f"hmm: error: {exc}", file=sys.stderr)
        return 3
    except OracleError as exc:
        print(f"hmm: error: {exc}", file=sys.stderr)
        return 4
    except RuntimeError as exc:  # macro StepperError / SteadyStateError
        print(f"hmm: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 5
    except (ValueError, TypeError) as exc:  # a value the configuration schema could not see
        print(f"hmm: error: invalid input: {exc}", file=sys.stderr)
        return 2
    except MemoryError:
        print("hmm: error: out of memory (reduce macro.cells, the run length or the micro budget)",
              file=sys.stderr)
        return 5
    except KeyboardInterrupt:
        print("hmm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
