"""Run configurations (TOML) validated by a schema before anything starts.

Unknown keys and wrong types are rejected with :class:`hmm.ConfigError`
naming the dotted key (``macro.cells``). A validated :class:`RunConfig`
builds the oracle, grid, law, budget and coupler of an HMM run.

Example (``examples/layered_diffusion.toml``)::

    title = "layered diffusion"
    [oracle]
    kind = "cell_problem_flux"    # a key of oracles.ORACLES, or "package.module:ClassName"
    cells = 24                    # the oracle's own parameters
    coefficient = { kind = "layered_cosine", a0 = 2.0, amp = 1.5, axis = 0, macro_slope = 0.5 }
    [macro]
    cells = [20, 20]
    source = 1.0
    initial = { kind = "gaussian", amplitude = 1.0, center = [0.5, 0.5], width = 0.15 }
    [run]
    mode = "transient"
    t_end = 0.05
    dt = 0.0025
    stepper = "crank_nicolson"
    [output]
    path = "results/layered_diffusion.nc"
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .cluster_config import ClusterConfig, JobqueueConfig, LocalClusterConfig, TLSFiles  # noqa: F401 (re-exported)
from .errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


# -- oracle --------------------------------------------------------------------------------
# Tables with a `kind` key inside [oracle] are built by these factories of `oracles` (by field name).
COMPONENT_FACTORIES: dict[str, str] = {"coefficient": "make_coefficient"}


class OracleSection(BaseModel):
    """``[oracle]``: ``kind`` names the oracle (a key of :data:`oracles.ORACLES`, or
    ``"package.module:ClassName"`` for a user's own oracle); every other key is a
    field of that oracle's dataclass. A table with a ``kind`` key inside is built
    by the factory of that field (``coefficient = { kind = "layered_cosine", ... }``).
    An oracle field ``dim`` left out is taken from the macro grid."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)
    kind: str
    """A name of :data:`oracles.ORACLES` or ``"package.module:ClassName"``; every other key of the
    section is a parameter of that oracle."""

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def oracle_class(kind: str) -> type:
    """The oracle class a config's ``oracle.kind`` names (a ``ValueError`` lists the valid kinds)."""
    import oracles

    return oracles.get_oracle(kind)


def build_oracle(section: OracleSection, *, dim: int) -> Any:
    """Construct the oracle of an ``[oracle]`` section; errors name the dotted key."""
    import dataclasses

    import oracles

    try:
        cls = oracle_class(section.kind)
    except (ValueError, TypeError, ImportError) as exc:
        raise ConfigError(f"invalid run configuration: oracle.kind: {exc}") from None
    params = section.params
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        unknown = [k for k in params if k not in names]
        if unknown:
            raise ConfigError(f"invalid run configuration: oracle.{unknown[0]}: not a parameter of "
                              f"{cls.__name__} (its parameters: {', '.join(names)})")
        if "dim" in names and "dim" not in params:
            params["dim"] = dim
    for key, value in params.items():
        if isinstance(value, dict) and "kind" in value and key in COMPONENT_FACTORIES:
            try:
                params[key] = getattr(oracles, COMPONENT_FACTORIES[key])(value)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"invalid run configuration: oracle.{key}: {exc}") from None
    try:
        return cls(**params)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"invalid run configuration: oracle ({cls.__name__}): {exc}") from None


# -- macro, run, budget, coupler, output -----------------------------------------------------
Profile = Union[float, dict[str, Any]]


class MacroConfig(_Strict):
    law: Literal["diffusion"] = "diffusion"
    """The macro law: ``c u_t = div q + f`` (:class:`macro.DiffusionLaw`)."""
    cells: Union[Annotated[int, Field(ge=1)], list[Annotated[int, Field(ge=1)]]]
    """Macro cells per axis, ``[n]`` (1D) or ``[nx, ny]`` (2D); at most 4e6 in all."""
    extent: list[list[float]] | None = None
    """``[[lo, hi]]`` per axis (default the unit interval/square)."""
    source: Profile = 0.0
    """Source ``f``: a number or a profile table ``{ kind = ..., ... }`` (:data:`macro.PROFILES`)."""
    boundary: Profile = 0.0
    """Dirichlet data ``g`` (number or profile)."""
    initial: Profile = 0.0
    """Initial state of a transient run (number or profile)."""
    capacity: Annotated[float, Field(gt=0)] = 1.0
    """``c`` in ``c u_t = div q + f`` (a density, a heat capacity)."""
    fd_step: Annotated[float, Field(gt=0)] = 1e-4
    """Relative step of finite-difference closure tangents."""
    rename: dict[str, str] = {}
    """Law name -> oracle name, e.g. ``{ grad_x = "shear_rate", flux = "shear_stress" }``."""
    slip_length: Union[Annotated[float, Field(ge=0)], list[Annotated[float, Field(ge=0)]]] = 0.0
    """Navier slip length(s) >= 0, one number or ``[low, high]`` (1D only): ``u - g = l du/dn``."""

    @field_validator("cells")
    @classmethod
    def _dims(cls, v):
        cells = [v] if isinstance(v, int) else list(v)
        if len(cells) not in (1, 2):
            raise ValueError(f"must have 1 or 2 entries (1D or 2D), got {len(cells)}")
        if math.prod(cells) > MAX_CELLS:
            raise ValueError(f"{' x '.join(map(str, cells))} = {math.prod(cells):.3g} cells; at most "
                             f"{MAX_CELLS:.0e} are allowed (the Newton Jacobian and records of a larger "
                             "grid outgrow a workstation's memory)")
        return cells

    @field_validator("source", "boundary", "initial")
    @classmethod
    def _profile(cls, v):
        from macro import make_profile

        make_profile(v)  # raises ValueError/TypeError naming what is wrong
        return v

    @model_validator(mode="after")
    def _extent(self):
        if self.extent is not None:
            if len(self.extent) != len(self.cells) or any(len(e) != 2 for e in self.extent):
                raise ValueError(f"extent must be {len(self.cells)} pairs [lo, hi], got {self.extent}")
            if any(not (math.isfinite(a) and math.isfinite(b) and a < b) for a, b in self.extent):
                raise ValueError(f"extent pairs must be finite with lo < hi, got {self.extent}")
        return self

    @model_validator(mode="after")
    def _slip(self):
        if isinstance(self.slip_length, list) and len(self.slip_length) != 2:
            raise ValueError(f"slip_length must be one length or a pair [low, high], got {self.slip_length}")
        if len(self.cells) != 1 and self.slip_length not in (0.0, [0.0, 0.0]):
            raise ValueError("slip_length is supported on 1D grids only")
        return self

    @property
    def dim(self) -> int:
        return len(self.cells)


MAX_STEPS = 10_000_000
"""Most macro time steps a configured run may take (``run.t_end / run.dt``)."""

MAX_CELLS = 4_000_000
"""Most macro cells of a configured grid (a 2000 x 2000 grid): beyond it the sparse
Newton Jacobian, the face arrays and the records outgrow a workstation's memory."""


class RunSection(_Strict):
    mode: Literal["transient", "steady"] = "transient"
    """``"transient"`` (time stepping to ``t_end``) or ``"steady"`` (Newton for ``div q + f = 0``)."""
    t_end: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """End time of a transient run (finite; at most 1e7 steps of ``dt``)."""
    dt: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """Macro time step of a transient run."""
    stepper: str = "implicit_euler"
    """A name of :data:`macro.STEPPERS`."""
    save_every: Annotated[int, Field(ge=1)] | None = None
    """Record every this many steps (default: about 20 records)."""
    checkpoint_every: Union[Annotated[int, Field(ge=1)], str] | None = None
    """Checkpoint interval of a run with a checkpoint (``--checkpoint`` or ``output.checkpoint``):
    unset: every record; ``N``: the first record ``N`` or more steps after the previous
    checkpoint; a duration ``"30s"``, ``"5min"``, ``"2h"``: the first record that much wall time
    after it. Checkpoints are taken at records only, and the final record always."""

    @field_validator("checkpoint_every")
    @classmethod
    def _checkpoint_every(cls, v):
        from .checkpoint import parse_every

        parse_every(v, key=None)
        return v

    @field_validator("stepper")
    @classmethod
    def _stepper(cls, v):
        from macro import STEPPERS

        if v not in STEPPERS:
            raise ValueError(f"unknown stepper {v!r}; valid names are {sorted(STEPPERS)}")
        return v

    @model_validator(mode="after")
    def _times(self):
        if self.mode == "transient" and (self.t_end is None or self.dt is None):
            raise ValueError("a transient run needs run.t_end and run.dt")
        if self.mode == "transient" and self.t_end / self.dt > MAX_STEPS:
            raise ValueError(f"run.t_end / run.dt = {self.t_end:g} / {self.dt:g} time steps; at most "
                             f"{MAX_STEPS:.0e} are allowed (raise run.dt or lower run.t_end)")
        return self


class BudgetConfig(_Strict):
    equilibration_steps: Annotated[int, Field(ge=0)] = 0
    """Micro steps discarded before sampling (0: the oracle's ``default_budget``)."""
    sampling_steps: Annotated[int, Field(ge=0)] = 0
    """Micro steps averaged (0: the oracle's ``default_budget``)."""
    target_stderr: Annotated[float, Field(gt=0)] | None = None
    """Stop sampling once every output's stderr is below this (oracles that support it)."""
    max_wall_s: Annotated[float, Field(gt=0)] | None = None
    """Wall-time cap of one micro run, in seconds (oracles that support it)."""
    replicas: Annotated[int, Field(ge=1)] = 1
    """Independent replicas an oracle averages."""


class CouplerConfig(_Strict):
    scheduler: str | None = None
    """Unset: an embedded LocalCluster on 127.0.0.1; ``"sync"``: in process; or a scheduler address
    (``--scheduler`` overrides it; not together with ``[cluster]``, which replaces it)."""
    workers: Annotated[int, Field(ge=1)] | None = None
    """Worker processes of the embedded cluster (default: one per core)."""
    seed: Annotated[int, Field(ge=0)] = 0
    """Root seed of every micro run."""
    batch_size: Annotated[int, Field(ge=1)] | None = None
    """Queries per Dask task (unset: sized automatically)."""
    retries: Annotated[int, Field(ge=0)] = 2
    """Extra attempts of a failed stochastic micro run, each with a fresh recorded seed."""
    cache: Union[bool, str] = True
    """``true``: in memory; a path: an ``.npz`` cache file; ``false``: none."""
    # -- fault tolerance --
    allowed_failures: Annotated[int, Field(ge=0)] | None = None
    """Worker deaths a task may live through before Dask gives up on it (Dask's
    ``distributed.scheduler.allowed-failures``, set for the embedded cluster's scheduler; an
    external scheduler keeps its own). Unset: Dask's default (3)."""
    on_failure: Literal["raise", "surrogate"] = "raise"
    """A micro query that failed on every attempt (retries with fresh recorded seeds): ``"raise"``
    stops the run with an oracle error naming state, seed and worker (exit code 4);
    ``"surrogate"`` answers it by the nearest successful query of the same batch (Coupler call),
    its stderr inflated by the difference to the second nearest answer, counted in the results
    (``micro_surrogate_answers`` per record, ``accounting_surrogate_answers`` in all), while at
    most ``max_failed_fraction`` of the queries so far were so answered."""
    max_failed_fraction: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = 0.0
    """With ``on_failure = "surrogate"``: largest fraction of the queries so far that may be
    answered by the surrogate (e.g. 0.05), counted from the start of the run; the failure that
    exceeds it stops the run as with ``"raise"``."""
    task_timeout_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """Wall-time cap of one micro run, in seconds: a run still going then counts as a failed run
    (retried with a fresh seed, then handled by ``on_failure``). Each run is waited for in a
    helper thread of its worker; Python cannot stop a thread, so an abandoned run keeps its CPU
    until it returns (oracles that can stop themselves honour ``budget.max_wall_s``). With a
    cap, queries run one by one (not through an oracle's ``run_batch``). Unset: no cap."""


class OutputConfig(_Strict):
    path: str = "results/hmm_run.nc"
    """Results file (netCDF, ``.nc``; ``--out`` overrides it)."""
    checkpoint: str | None = None
    """Checkpoint of a transient run (``.nc``; ``--checkpoint`` overrides it): the records so far,
    with ``PATH.manifest.json`` (step, run token, this configuration) and ``PATH.cache-<step>.npz``
    (the micro-estimate cache) beside it, written atomically every ``run.checkpoint_every``.
    ``hmm run CONFIG --resume PATH`` continues it bit for bit; an existing checkpoint is never
    overwritten without ``--resume``."""

    @field_validator("path", "checkpoint")
    @classmethod
    def _nc(cls, v):
        if v is not None and not v.endswith(".nc"):
            raise ValueError(f"must end in .nc, got {v!r}")
        return v


# -- uq ----------------------------------------------------------------------------------------
UQ_DEFAULT_N = {"ensemble": 16, "sobol": 64, "qmc": 64}
"""``uq.n`` when it is left out, by ``uq.method``."""


class UQConfig(_Strict):
    """``[uq]``: the uncertainty study run instead of a single run (:mod:`hmm.uq`)."""

    method: Literal["linear", "ensemble", "sobol", "qmc"] = "linear"
    """``"linear"``: one run with the micro noise propagated by linearisation; ``"ensemble"``: ``n``
    runs with independent micro seeds; ``"sobol"``: Sobol' indices of ``goal`` over
    ``[uq.parameters]`` (Saltelli design, ``n (d + 2)`` runs, SALib); ``"qmc"``: a quasi-Monte Carlo
    design of ``n`` points over ``[uq.parameters]`` (variance split only)."""
    n: Annotated[int, Field(ge=1)] | None = None
    """Ensemble members (>= 2), Saltelli base sample (a power of two >= 8) or design points (>= 2);
    default 16 (ensemble) or 64."""
    seed: Annotated[int, Field(ge=0)] = 0
    """Seed of the members' micro seeds (``SeedSequence(seed).spawn``) and of the design."""
    goal: Union[str, dict[str, Any], None] = None
    """A named goal (``"flow_rate"``) or a table ``{ kind = "point_value", point = [0.5] }`` /
    ``{ kind = "regional_mean", lower = [..], upper = [..] }``; required by sobol and qmc."""
    confidence: Annotated[float, Field(gt=0, lt=1)] = 0.95
    """Level of the two-sided confidence bounds (``u_lower``/``u_upper``) and of the Sobol' intervals."""
    n_aleatoric: Annotated[int, Field(ge=1)] = 1
    """Runs per design point of sobol/qmc (1: the goal's linear stderr gives the aleatoric part)."""
    design: Literal["sobol", "halton", "lhs", "random"] = "sobol"
    """The design of ``method = "qmc"`` (scrambled and seeded)."""
    num_resamples: Annotated[int, Field(ge=10)] = 200
    """Bootstrap resamples of the Sobol' intervals."""
    parameters: dict[str, dict[str, Any]] = {}
    """Uncertain oracle fields, each a scipy.stats distribution table: ``epsilon = { dist = "norm",
    loc = 1.0, scale = 0.05 }``, ``{ dist = "uniform", low = 0.9, high = 1.1 }``, ``{ dist =
    "lognorm", s = 0.1, scale = 1.0 }``."""

    surrogate: dict[str, Any] | None = None
    """Semi-intrusive sobol/qmc of a steady run: one micro surrogate over (macro state, parameters)
    serves every design point, ``{ tol = 1e-3, linear_in_gradient = true }`` (fields of
    :class:`hmm.uq.SharedSurrogateOptions`: ``tol``, ``linear_in_gradient``, ``max_rounds``,
    ``refit_every``, ``warmup``); unset: every design point runs its own micro model."""

    @field_validator("surrogate")
    @classmethod
    def _surrogate(cls, v):
        from .uq.shared import shared_options

        shared_options(v)  # ValueError naming the bad setting
        return v

    @field_validator("goal")
    @classmethod
    def _goal(cls, v):
        from .uq.goals import make_goal

        make_goal(v)  # ValueError naming the goal
        return v

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, v):
        from .uq.parameters import make_distribution

        for name, spec in v.items():
            make_distribution(spec, f"uq.parameters.{name}")
        return v

    @model_validator(mode="after")
    def _study(self):
        from .uq.sobol import MIN_BASE_SAMPLES

        epistemic = self.method in ("sobol", "qmc")
        if epistemic and not self.parameters:
            raise ValueError(f"uq.method = {self.method!r} needs [uq.parameters]")
        if not epistemic and self.parameters:
            raise ValueError(f"[uq.parameters] are used by uq.method 'sobol' or 'qmc', not {self.method!r}")
        if epistemic and self.goal is None:
            raise ValueError(f"uq.method = {self.method!r} needs uq.goal")
        if self.surrogate is not None and (not epistemic or self.n_aleatoric != 1):
            raise ValueError("uq.surrogate needs uq.method 'sobol' or 'qmc' with uq.n_aleatoric = 1")
        n = self.n_points
        if self.method in ("ensemble", "qmc") and n < 2:
            raise ValueError(f"uq.n must be >= 2 for uq.method = {self.method!r}, got {n}")
        if self.method == "sobol" and (n < MIN_BASE_SAMPLES or n & (n - 1)):
            raise ValueError(f"uq.n (the Saltelli base sample) must be a power of two >= {MIN_BASE_SAMPLES}, "
                             f"got {n}")
        return self

    @property
    def n_points(self) -> int:
        """``n``, or its default for the method."""
        return self.n if self.n is not None else UQ_DEFAULT_N.get(self.method, 1)


def check_uq_parameters(cfg: "RunConfig") -> None:
    """Every ``[uq.parameters]`` name must be a parameter of the configured oracle: a field of its
    dataclass, or a dotted field of a nested one (``coefficient.a0``); ConfigError naming the key."""
    if cfg.uq is None:
        return
    if cfg.output.checkpoint is not None:
        raise ConfigError("invalid run configuration: output.checkpoint: a [uq] study is not checkpointed "
                          "(remove output.checkpoint or the [uq] section)")
    if cfg.uq.surrogate is not None and cfg.run.mode != "steady":
        raise ConfigError("invalid run configuration: uq.surrogate: a shared micro surrogate needs run.mode = "
                          f"'steady', got {cfg.run.mode!r}")
    if not cfg.uq.parameters:
        return
    from .uq.parameters import parameter_names

    oracle = cfg.build_oracle()
    names = parameter_names(oracle)
    for key in cfg.uq.parameters:
        if key not in names:
            raise ConfigError(f"invalid run configuration: uq.parameters.{key}: not a parameter of "
                              f"{type(oracle).__name__} (its parameters: {', '.join(names)})")


class RunConfig(_Strict):
    title: str = "hmm run"
    """Name of the run (printed in the summary, stored in the results)."""
    oracle: OracleSection
    """The micro model."""
    macro: MacroConfig
    """The macro law and grid."""
    run: RunSection
    """How the macro problem is solved."""
    budget: BudgetConfig = BudgetConfig()
    """Budget of every micro run (:class:`hmm.Budget`)."""
    coupler: CouplerConfig = CouplerConfig()
    """Where and how micro runs go (:class:`hmm.Coupler`)."""
    output: OutputConfig = OutputConfig()
    """Files written."""
    cluster: ClusterConfig | None = None
    """Where the micro runs go: an existing scheduler, the embedded cluster with its sizes, or
    SLURM/PBS jobs (:mod:`hmm.cluster`). Unset: ``[coupler] scheduler``, else the embedded cluster."""
    uq: UQConfig | None = None
    """An uncertainty study (``[uq]``) instead of a single run; unset: a single run."""

    @model_validator(mode="after")
    def _one_cluster(self):
        if self.cluster is not None:
            old = [f"coupler.{k}" for k in ("scheduler", "workers") if getattr(self.coupler, k) is not None]
            if old:
                raise ValueError(f"{' and '.join(old)} and [cluster] both say where the micro runs go; "
                                 "keep [cluster] (cluster.address, cluster.local.n_workers)")
        return self

    # -- builders ---------------------------------------------------------------------------
    def build_oracle(self):
        """The oracle of ``[oracle]`` (constructed by :func:`parse_config` once already, so
        a bad parameter is refused before anything runs)."""
        return build_oracle(self.oracle, dim=self.macro.dim)

    def build_grid(self):
        from macro import Grid1D, Grid2D

        m = self.macro
        if m.dim == 1:
            return Grid1D(m.cells[0], tuple(m.extent[0]) if m.extent else (0.0, 1.0))
        extent = tuple(tuple(e) for e in m.extent) if m.extent else ((0.0, 1.0), (0.0, 1.0))
        return Grid2D(tuple(m.cells), extent)

    def build_law(self):
        from macro import DiffusionLaw

        return DiffusionLaw(source=self.macro.source, boundary=self.macro.boundary,
                            capacity=self.macro.capacity, fd_step=self.macro.fd_step,
                            slip_length=self.macro.slip_length)

    def build_budget(self):
        from .budget import Budget

        return Budget(**self.budget.model_dump())


def _format(err: ValidationError, source: str) -> str:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith(("function-", "tagged-union")))
        got = e.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {loc or '<root>'}: {e['msg']}{shown}")
    return f"invalid run configuration {source}:\n" + "\n".join(lines)


def parse_config(data: dict[str, Any], source: str = "<dict>") -> RunConfig:
    """Validate a config dict; raise :class:`ConfigError` naming every bad key."""
    try:
        cfg = RunConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, source)) from None
    try:
        cfg.build_oracle()  # every oracle parameter checked before anything starts
        check_uq_parameters(cfg)
    except ConfigError as err:
        raise ConfigError(str(err).replace("invalid run configuration:",
                                           f"invalid run configuration {source}:", 1)) from None
    return cfg


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run configuration."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read run configuration {str(path)!r}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"run configuration {str(path)!r} is not a text file (expected UTF-8 TOML)") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"run configuration {str(path)!r} is not valid TOML: {exc}") from None
    return parse_config(data, repr(str(path)))
