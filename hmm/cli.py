"""Command line: ``hmm run CONFIG.toml`` and ``hmm info``.

Exit codes: 0 success, 2 invalid configuration, arguments or input, 3
unreachable scheduler, 4 a micro run failed (OracleError), 5 macro solver
failure or out of memory, 130 interrupted. No error ends in a traceback.

``hmm run CONFIG --checkpoint PATH`` checkpoints a transient run
(:mod:`hmm.checkpoint`); ``hmm run CONFIG --resume PATH`` continues it, and
refuses (exit 2) a checkpoint written by another configuration, naming the
differing keys. A lost scheduler ends with exit code 3 and leaves the last
checkpoint intact.
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

    from .cluster import open_cluster
    from .config import load_config
    from .coupler import Coupler
    from .results import write_netcdf
    from .solver import HMMSolver

    cfg = load_config(args.config)
    out = args.out or cfg.output.path
    if not str(out).endswith(".nc"):
        from .errors import ConfigError

        raise ConfigError(f"--out must end in .nc, got {out!r}")
    checkpoint = _checkpoint_of(args, cfg)
    _quiet_dask_tracebacks()
    oracle, grid, law, budget = cfg.build_oracle(), cfg.build_grid(), cfg.build_law(), cfg.build_budget()
    scheduler = args.scheduler if args.scheduler is not None else cfg.coupler.scheduler
    start = time.perf_counter()
    # --scheduler > [cluster] > [coupler] scheduler > embedded (hmm.cluster.open_cluster); a cluster
    # started here gets [coupler] allowed_failures for its scheduler (an existing one keeps its own)
    with _allowed_failures(cfg), \
            open_cluster(cfg.cluster, scheduler=scheduler, n_workers=args.workers,
                         default_workers=cfg.coupler.workers, timeout_s=args.timeout) as client, \
            Coupler(oracle, client, seed=cfg.coupler.seed, cache=cfg.coupler.cache or None,
                    batch_size=cfg.coupler.batch_size, retries=cfg.coupler.retries,
                    timeout_s=args.timeout, **_fault_options(cfg)) as coupler:
        solver = HMMSolver(law, grid, coupler, budget=budget, stepper=cfg.run.stepper,
                           rename=cfg.macro.rename or None)
        if cfg.uq is not None:
            if checkpoint is not None:
                from .errors import ConfigError

                raise ConfigError("--checkpoint/--resume: a [uq] study is not checkpointed")
            return _run_uq(cfg, args, solver, coupler, out, start)
        if cfg.run.mode == "steady":
            ds = solver.solve_steady()
        else:
            ds = solver.run(cfg.run.t_end, dt=cfg.run.dt, u0=cfg.macro.initial,
                            save_every=cfg.run.save_every, checkpoint=checkpoint,
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
    if cfg.run.mode == "transient" and solver.resumed_from_step is not None:
        when += (f", resumed from step {solver.resumed_from_step} of {int(ds.attrs['n_steps'])} "
                 f"(checkpoint {checkpoint.resume_from})")
    failed = int(ds.attrs.get("accounting_surrogate_answers", 0))
    if failed:
        when += f"; {failed} failed queries answered by the surrogate"
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


def _checkpoint_of(args: argparse.Namespace, cfg):
    """The run's :class:`hmm.checkpoint.Checkpoint` (None without one): ``--checkpoint``
    overrides ``output.checkpoint``; ``--resume PATH`` checks that the checkpoint was
    written by this configuration (CheckpointError naming the differing keys) and
    continues it, writing further checkpoints to ``--checkpoint`` if given, else to PATH.
    An existing checkpoint is never overwritten without ``--resume``."""
    from .checkpoint import Checkpoint, check_resume, manifest_path
    from .errors import ConfigError

    path = args.checkpoint or args.resume or cfg.output.checkpoint
    if path is None:
        return None
    if not str(path).endswith(".nc"):
        raise ConfigError(f"--checkpoint must end in .nc, got {str(path)!r}")
    if cfg.run.mode != "transient":
        raise ConfigError("--checkpoint/--resume/output.checkpoint: checkpoints are for transient runs "
                          f"(run.mode = 'transient'), this configuration has run.mode = {cfg.run.mode!r}")
    config = cfg.model_dump(mode="json")
    if args.resume:
        check_resume(args.resume, config)
    elif manifest_path(path).exists() or _exists(path):
        raise ConfigError(f"checkpoint {str(path)!r} already exists; continue it with --resume {path}, "
                          "or delete it (and its .manifest.json and .cache-*.npz) to start afresh")
    return Checkpoint(path, every=cfg.run.checkpoint_every, config=config, resume_from=args.resume)


def _exists(path) -> bool:
    from pathlib import Path

    return Path(path).exists()


class _NoTracebacks:
    """A logging filter: Dask's own error logs keep their message, lose their traceback
    (the command line never shows one; the error that ends the run is reported by :func:`main`)."""

    def filter(self, record) -> bool:
        record.exc_info, record.exc_text, record.stack_info = None, None, None
        return bool(str(record.msg).strip())


def _quiet_dask_tracebacks() -> None:
    import logging

    import distributed  # noqa: F401 - configures its logging handlers first

    for name in ("distributed", ""):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, _NoTracebacks) for f in handler.filters):
                handler.addFilter(_NoTracebacks())


def _allowed_failures(cfg):
    """``distributed.scheduler.allowed-failures`` for a scheduler started by this run."""
    import contextlib

    import dask

    if cfg.coupler.allowed_failures is None:
        return contextlib.nullcontext()
    return dask.config.set({"distributed.scheduler.allowed-failures": cfg.coupler.allowed_failures})


def _fault_options(cfg) -> dict:
    """The ``[coupler]`` failure-policy keys as :class:`hmm.Coupler` keyword arguments."""
    c = cfg.coupler
    return {"allowed_failures": c.allowed_failures, "on_failure": c.on_failure,
            "max_failed_fraction": c.max_failed_fraction, "task_timeout_s": c.task_timeout_s}


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
                     help="Dask scheduler address (tcp://host:port, tls://host:port), or 'sync'; overrides "
                          "[cluster] and [coupler] scheduler; default: embedded LocalCluster")
    run.add_argument("--out", default=None, help="results file (.nc); default: output.path of the config")
    run.add_argument("--workers", type=_positive_int, default=None,
                     help="worker processes of the embedded cluster (>= 1)")
    run.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    run.add_argument("--checkpoint", default=None, metavar="PATH",
                     help="write checkpoints to PATH (.nc, with PATH.manifest.json and PATH.cache-*.npz) "
                          "every run.checkpoint_every; overrides output.checkpoint")
    run.add_argument("--resume", default=None, metavar="PATH",
                     help="continue the run from the checkpoint PATH (refused if it was written by a "
                          "different configuration)")
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
