"""The ``[cluster]`` section of a run configuration: where the micro runs go.

Exactly one of ``address`` (an existing scheduler), ``[cluster.local]`` (the
embedded cluster on 127.0.0.1 with its sizes) or ``[cluster.jobqueue]`` (workers
as SLURM/PBS batch jobs), with optional TLS certificates. Everything is checked
before anything starts; :func:`hmm.cluster.open_cluster` starts what it names.
Re-exported by :mod:`hmm.config`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["ClusterConfig", "LocalClusterConfig", "JobqueueConfig", "TLSFiles"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class TLSFiles(_Strict):
    """``[cluster] tls = { ca_file = ..., cert = ..., key = ... }``: mutual TLS through
    :class:`distributed.security.Security` (encryption required, both ends checked against the CA)."""

    ca_file: str
    """PEM file of the certificate authority that signed the scheduler's and workers' certificates."""
    cert: str
    """PEM certificate of this client, signed by ``ca_file``."""
    key: str
    """PEM private key of ``cert``."""

    @field_validator("ca_file", "cert", "key")
    @classmethod
    def _exists(cls, v):
        if not Path(v).is_file():
            raise ValueError(f"no such file {v!r}")
        return v


class LocalClusterConfig(_Strict):
    """``[cluster.local]``: the embedded cluster on this machine, bound to 127.0.0.1 only."""

    n_workers: Annotated[int, Field(ge=1)] | None = None
    """Worker processes (default: one per core; ``--workers`` overrides it)."""
    threads_per_worker: Annotated[int, Field(ge=1)] = 1
    """Threads of each worker process (micro runs holding the GIL want 1)."""
    memory_limit: Union[Annotated[int, Field(ge=0)], str] | None = None
    """Memory of each worker before Dask pauses and restarts it: bytes, ``"4GB"``, ``"auto"``
    (the machine's memory shared out, the default) or 0 (no limit)."""
    tls: Literal["temporary"] | None = None
    """``"temporary"``: TLS between the processes with a throw-away certificate
    (``Security.temporary()``)."""

    @field_validator("memory_limit")
    @classmethod
    def _bytes(cls, v):
        if isinstance(v, str) and v != "auto":
            from .cluster import parse_memory

            parse_memory(v)
        return v


class JobqueueConfig(_Strict):
    """``[cluster.jobqueue]``: workers started as batch jobs (dask-jobqueue, SLURM or PBS); the
    scheduler runs in the ``hmm run`` process. Each job's workers retire before its walltime ends
    (``--lifetime``/``--lifetime-stagger``, :func:`hmm.cluster.worker_lifetime`)."""

    system: Literal["slurm", "pbs"]
    """The batch system."""
    cores: Annotated[int, Field(ge=1)]
    """Cores per job."""
    memory: str
    """Memory per job, e.g. ``"16GB"``."""
    walltime: str
    """Wall-time limit of each job, ``"HH:MM:SS"`` (hours may exceed 24)."""
    queue: str | None = None
    """Partition (SLURM) or queue (PBS)."""
    account: str | None = None
    """Account charged for the jobs."""
    processes: Annotated[int, Field(ge=1)] | None = None
    """Worker processes per job (default ``cores``: single-threaded workers, as on the laptop)."""
    jobs: Annotated[int, Field(ge=1)] | None = None
    """A fixed number of jobs (instead of ``adapt_minimum``/``adapt_maximum``)."""
    adapt_minimum: Annotated[int, Field(ge=0)] | None = None
    """Fewest jobs kept while adapting to the queued work (default 0)."""
    adapt_maximum: Annotated[int, Field(ge=1)] | None = None
    """Most jobs submitted while adapting to the queued work."""
    job_extra_directives: list[str] = []
    """Extra scheduler directives, e.g. ``["--qos=short"]`` (written after ``#SBATCH``/``#PBS``)."""
    local_directory: str | None = None
    """Node-local scratch directory of the workers (``$TMPDIR``, ``/scratch``)."""
    python: str | None = None
    """Python executable of the workers (default: this one; it must see the same packages)."""
    interface: str | None = None
    """Network interface of the scheduler and workers, e.g. ``"ib0"`` (default: the host's address)."""

    @field_validator("walltime")
    @classmethod
    def _walltime(cls, v):
        from .cluster import parse_walltime

        parse_walltime(v)
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v):
        from .cluster import parse_memory

        parse_memory(v)
        return v

    @model_validator(mode="after")
    def _sizing(self):
        adapt = self.adapt_minimum is not None or self.adapt_maximum is not None
        if self.jobs is not None and adapt:
            raise ValueError("set either jobs (a fixed number) or adapt_minimum/adapt_maximum, not both")
        if self.jobs is None and self.adapt_maximum is None:
            raise ValueError("set jobs (a fixed number of jobs) or adapt_maximum (the most jobs)")
        if adapt and (self.adapt_minimum or 0) > self.adapt_maximum:
            raise ValueError(f"adapt_minimum = {self.adapt_minimum} exceeds adapt_maximum = {self.adapt_maximum}")
        if self.processes is not None and self.processes > self.cores:
            raise ValueError(f"processes = {self.processes} exceeds cores = {self.cores} (each needs a core)")
        try:
            import dask_jobqueue  # noqa: F401
        except ImportError:
            raise ValueError("needs dask-jobqueue, which is not installed "
                             "(pip install 'hmm-ef[cluster]' or pip install dask-jobqueue)") from None
        return self


class ClusterConfig(_Strict):
    """``[cluster]``: exactly one of ``address``, ``[cluster.local]`` or ``[cluster.jobqueue]``.
    Without the section: the embedded cluster (or ``[coupler] scheduler``). ``--scheduler`` on the
    command line overrides the section."""

    address: str | None = None
    """An existing Dask scheduler, ``"tcp://host:8786"`` or ``"tls://host:8786"``."""
    local: LocalClusterConfig | None = None
    """The embedded cluster on this machine, with its sizes."""
    jobqueue: JobqueueConfig | None = None
    """Workers as SLURM/PBS batch jobs."""
    tls: TLSFiles | None = None
    """Certificates for a ``tls://`` scheduler (``address``, ``--scheduler``, the jobqueue scheduler
    or the embedded cluster); a config with it refuses a plain ``tcp://`` address."""

    @field_validator("address")
    @classmethod
    def _address(cls, v):
        from .cluster import check_address

        check_address(v)
        return v

    @model_validator(mode="after")
    def _one(self):
        chosen = [name for name, value in (("cluster.address", self.address), ("[cluster.local]", self.local),
                                           ("[cluster.jobqueue]", self.jobqueue)) if value is not None]
        if len(chosen) != 1:
            raise ValueError("set exactly one of cluster.address, [cluster.local] or [cluster.jobqueue]; "
                             f"got {' and '.join(chosen) if chosen else 'none'}")
        if self.address is not None:
            if self.tls is not None and not self.address.startswith("tls://"):
                raise ValueError(f"cluster.tls asks for TLS but cluster.address = {self.address!r} is plain; "
                                 "use a tls:// address")
            if self.tls is None and self.address.startswith("tls://"):
                raise ValueError(f"cluster.address = {self.address!r} needs cluster.tls = "
                                 "{ ca_file = ..., cert = ..., key = ... }")
        if self.local is not None and self.local.tls is not None and self.tls is not None:
            raise ValueError('set cluster.local.tls = "temporary" or cluster.tls (certificate files), not both')
        return self
