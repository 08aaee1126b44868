"""Turn a ``[cluster]`` specification into a started Dask client, and close it.

:func:`open_cluster` is the one entry point: it takes the validated
:class:`hmm.config.ClusterConfig` (or nothing) and a command-line scheduler
override and returns a :class:`hmm._client.ResolvedClient` that owns what it
started (pass it to :class:`hmm.Coupler` as ``client``; closing the Coupler
closes it). Precedence: ``--scheduler`` on the command line, then
``[cluster]``, then ``[coupler] scheduler``, then the embedded cluster.

Batch jobs end when their walltime runs out, killing whatever runs in them.
:func:`worker_lifetime` therefore gives every jobqueue worker a lifetime
shorter than the walltime, so it hands its tasks and data back to the
scheduler and leaves on its own before the batch system kills it.
"""

from __future__ import annotations

import re
import shutil
from typing import TYPE_CHECKING, Any

from ._client import ResolvedClient, resolve_client, start_local_cluster
from .errors import ConfigError, SchedulerError

if TYPE_CHECKING:
    from .cluster_config import ClusterConfig, JobqueueConfig, LocalClusterConfig, TLSFiles

__all__ = ["open_cluster", "jobqueue_cluster", "local_cluster", "tls_security", "worker_lifetime",
           "parse_walltime", "parse_memory", "check_address", "LIFETIME_MARGIN_MIN_S",
           "LIFETIME_MARGIN_FRACTION"]

LIFETIME_MARGIN_MIN_S = 120.0
"""Smallest margin, in seconds, between a jobqueue worker's lifetime and its job's walltime."""

LIFETIME_MARGIN_FRACTION = 0.1
"""Margin as a fraction of the walltime, when that is larger than :data:`LIFETIME_MARGIN_MIN_S`."""

SUBMIT_COMMANDS = {"slurm": "sbatch", "pbs": "qsub"}

_WALLTIME = re.compile(r"^(\d+):([0-5]\d):([0-5]\d)$")
_ADDRESS = re.compile(r"^(tcp|tls)://(\[[0-9a-fA-F:]+\]|[^\s:/\[\]]+):(\d{1,5})$")


def parse_walltime(text: str) -> int:
    """Seconds of a batch walltime ``"HH:MM:SS"`` (hours may exceed 24).

    Raises
    ------
    ValueError
        If ``text`` is not ``HH:MM:SS`` with minutes and seconds below 60, or is zero.
    """
    match = _WALLTIME.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'must be "HH:MM:SS" (e.g. "01:30:00"), got {text!r}')
    hours, minutes, seconds = (int(g) for g in match.groups())
    total = 3600 * hours + 60 * minutes + seconds
    if total <= 0:
        raise ValueError(f"must be longer than zero, got {text!r}")
    return total


def parse_memory(text: str) -> int:
    """Bytes of a memory size such as ``"16GB"`` or ``"512 MiB"`` (:func:`dask.utils.parse_bytes`).

    Raises
    ------
    ValueError
        If ``text`` is not a size with a known unit, or is not positive.
    """
    from dask.utils import parse_bytes

    try:
        value = parse_bytes(text)
    except (ValueError, TypeError, KeyError):
        raise ValueError(f'must be a memory size such as "16GB" or "512MiB", got {text!r}') from None
    if value <= 0:
        raise ValueError(f"must be a positive memory size, got {text!r}")
    return int(value)


def check_address(address: str | None) -> None:
    """Check a scheduler address ``tcp://host:port`` or ``tls://host:port``.

    Raises
    ------
    ValueError
        Naming the expected form, for another protocol, no port, or a port above 65535.
    """
    if address is None:
        return
    match = _ADDRESS.match(address)
    if match is None or not 0 < int(match.group(3)) < 65536:
        raise ValueError(f'must be a scheduler address "tcp://host:port" or "tls://host:port", got {address!r}')


def worker_lifetime(walltime_s: float) -> tuple[int, int]:
    """Worker ``--lifetime`` and ``--lifetime-stagger`` (seconds) for a job's walltime.

    Rule: margin ``m = max(LIFETIME_MARGIN_MIN_S, LIFETIME_MARGIN_FRACTION * W)``,
    at most ``W / 2``; lifetime ``W - m``; stagger ``m / 2``. Dask draws each
    worker's lifetime uniformly from lifetime +/- stagger, so every worker
    retires between ``W - 1.5 m`` and ``W - 0.5 m``: at least ``m / 2`` (one
    minute, or 5 % of the walltime) before the batch system would kill it, and
    not all at the same moment. With adaptive scaling, new jobs replace them.

    Parameters
    ----------
    walltime_s : float
        Wall-time limit of one job, in seconds (> 0).

    Returns
    -------
    (lifetime_s, stagger_s) : tuple of int
        Whole seconds, rounded down.
    """
    if not walltime_s > 0:
        raise ValueError(f"worker_lifetime(): walltime_s must be > 0, got {walltime_s!r}")
    margin = min(max(LIFETIME_MARGIN_MIN_S, LIFETIME_MARGIN_FRACTION * walltime_s), walltime_s / 2)
    return int(walltime_s - margin), int(margin / 2)


def tls_security(tls: "TLSFiles"):
    """A :class:`distributed.security.Security` requiring encryption, one certificate for every role.

    The same CA, certificate and key serve this client and, when this process
    runs the scheduler (embedded or jobqueue), the scheduler and workers; each
    end checks the other's certificate against the CA.
    """
    from distributed.security import Security

    roles = {f"tls_{role}_{part}": getattr(tls, "cert" if part == "cert" else "key")
             for role in ("client", "scheduler", "worker") for part in ("cert", "key")}
    return Security(tls_ca_file=tls.ca_file, require_encryption=True, **roles)


def local_cluster(spec: "LocalClusterConfig", *, n_workers: int | None = None, security: Any = None):
    """Start the embedded cluster of ``[cluster.local]`` on 127.0.0.1.

    ``n_workers`` (``--workers``) overrides ``spec.n_workers``; ``spec.tls =
    "temporary"`` uses ``Security.temporary()`` unless ``security`` is given.
    """
    if security is None and spec.tls == "temporary":
        from distributed.security import Security

        security = Security.temporary()
    memory = spec.memory_limit
    return start_local_cluster(n_workers or spec.n_workers, threads_per_worker=spec.threads_per_worker,
                               memory_limit=memory, security=security)


def jobqueue_cluster(spec: "JobqueueConfig", *, security: Any = None, scheduler_host: str | None = None):
    """Construct the dask-jobqueue cluster of ``[cluster.jobqueue]``; no job is submitted.

    The scheduler starts in this process (dashboard off). Each job runs
    ``spec.processes`` single-threaded workers (default: one per core) whose
    ``--lifetime`` and ``--lifetime-stagger`` come from the walltime
    (:func:`worker_lifetime`). Call ``scale(jobs=...)`` or ``adapt(...)`` to
    submit jobs, and ``job_script()`` to read what would be submitted.

    Parameters
    ----------
    spec : JobqueueConfig
        The validated ``[cluster.jobqueue]`` table.
    security : distributed.security.Security, optional
        TLS for the scheduler and the workers (certificate files on a shared filesystem).
    scheduler_host : str, optional
        Address the scheduler binds to (default: ``spec.interface``, else every interface).
    """
    import dask_jobqueue

    cls = {"slurm": dask_jobqueue.SLURMCluster, "pbs": dask_jobqueue.PBSCluster}[spec.system]
    lifetime, stagger = worker_lifetime(parse_walltime(spec.walltime))
    # no dashboard; the plain HTTP routes (health, metrics) on a free port of 127.0.0.1 only
    scheduler_options: dict[str, Any] = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
    if scheduler_host is not None:
        scheduler_options["host"] = scheduler_host
    kwargs: dict[str, Any] = {"job_extra_directives": list(spec.job_extra_directives)}
    for key in ("queue", "account", "local_directory", "python", "interface"):
        if getattr(spec, key) is not None:
            kwargs[key] = getattr(spec, key)
    return cls(cores=spec.cores, memory=spec.memory, walltime=spec.walltime,
               processes=spec.processes or spec.cores, job_name="hmm-worker", security=security,
               worker_extra_args=["--lifetime", f"{lifetime}s", "--lifetime-stagger", f"{stagger}s"],
               scheduler_options=scheduler_options, silence_logs="error", **kwargs)


def _check_tls_scheme(address: str, tls: Any) -> None:
    if tls is not None and not address.startswith("tls://"):
        raise ConfigError(f"invalid run configuration: cluster.tls asks for TLS but the scheduler address "
                          f"{address!r} is plain; use a tls:// address")
    if tls is None and address.startswith("tls://"):
        raise ConfigError(f"invalid run configuration: the scheduler address {address!r} needs "
                          "cluster.tls = { ca_file = ..., cert = ..., key = ... }")


def open_cluster(cluster: "ClusterConfig | None" = None, *, scheduler: str | None = None,
                 n_workers: int | None = None, default_workers: int | None = None,
                 timeout_s: float = 10.0) -> ResolvedClient:
    """Start (or reach) the cluster a run configuration names.

    Parameters
    ----------
    cluster : ClusterConfig, optional
        The ``[cluster]`` section (validated). ``None``: the embedded cluster.
    scheduler : str, optional
        ``--scheduler`` (or ``[coupler] scheduler``): ``"sync"`` or an address;
        it wins over ``cluster``, whose ``tls`` certificates it still uses.
    n_workers : int, optional
        ``--workers``: worker processes of the embedded cluster only (overrides
        ``cluster.local.n_workers``).
    default_workers : int, optional
        ``[coupler] workers``: worker processes of the embedded cluster when
        neither ``n_workers`` nor ``cluster.local.n_workers`` is given; ignored
        for any other cluster.
    timeout_s : float
        Seconds to wait for a scheduler address.

    Returns
    -------
    ResolvedClient
        Owns the client and any cluster it started; ``close()`` stops them.

    Raises
    ------
    ConfigError
        A TLS config with a plain address, a ``tls://`` address without
        certificates, or ``n_workers`` for a cluster that is not embedded.
    SchedulerError
        The address cannot be reached within ``timeout_s``, or the batch
        system's submit command is not on ``PATH``.
    """
    tls = cluster.tls if cluster is not None else None
    security = tls_security(tls) if tls is not None else None
    embedded = scheduler is None and (cluster is None or cluster.local is not None)
    if n_workers is not None and not embedded:
        raise ConfigError("--workers sizes the embedded cluster; it does not apply to "
                          f"{scheduler or ('cluster.address' if cluster.address else '[cluster.jobqueue]')!r}")
    if scheduler == "sync":
        return ResolvedClient(None)
    if scheduler is not None or (cluster is not None and cluster.address is not None):
        address = scheduler if scheduler is not None else cluster.address
        _check_tls_scheme(address, tls)
        return resolve_client(address, security=security, timeout_s=timeout_s)
    if cluster is None:
        return resolve_client(None, n_workers=n_workers or default_workers)
    from distributed import Client

    if cluster.local is not None:
        started = local_cluster(cluster.local, n_workers=n_workers, security=security)
        kind = "embedded LocalCluster"
    else:
        spec = cluster.jobqueue
        command = SUBMIT_COMMANDS[spec.system]
        if shutil.which(command) is None:
            raise SchedulerError(f"[cluster.jobqueue] system = {spec.system!r} submits jobs with {command!r}, "
                                 "which is not on PATH; run hmm on a login node of the batch system")
        started = jobqueue_cluster(spec, security=security)
        kind = type(started).__name__
        try:
            if spec.jobs is not None:
                started.scale(jobs=spec.jobs)
            else:
                started.adapt(minimum_jobs=spec.adapt_minimum or 0, maximum_jobs=spec.adapt_maximum)
        except BaseException:
            started.close()
            raise
    try:
        client = Client(started, set_as_default=False)
    except BaseException:
        started.close()
        raise
    return ResolvedClient(client, started, owns_client=True, kind=kind)
