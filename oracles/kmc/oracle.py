r"""Rejection-free lattice kinetic Monte Carlo (BKL / n-fold way) of surface reactions.

Species 1..S (0 = empty) sit on the sites of a square lattice of
``n_rows x n_cols`` sites (lattice constant a = 1), periodic along the rows;
along the columns either periodic or closed by two **reservoir columns**
(column 0 and column ``n_cols - 1``) that act as a particle bath of fixed
coverages. A model is a list of processes, each a Markov transition with a
rate (time unit: 1 / the model's reference rate, e.g. one Monte Carlo sweep
for ZGB):

* single-site ``(a,) -> (a',)`` with ``rate`` per site holding a
  (adsorption ``0 -> A``, desorption ``A -> 0``);
* pair ``(a, b) -> (a', b')`` with ``rate`` per **ordered** nearest-neighbour
  pair (per direction: a site holding a has 4 directions), e.g. hopping
  ``(A, 0) -> (0, A)`` with rate k per direction, dissociative adsorption
  ``(0, 0) -> (B, B)``, reaction ``(A, B) -> (0, 0)``. A symmetric pair
  (a == b) is thus counted from both ends: 2 x rate per unordered pair.

Across a reservoir bond the neighbour holds species s with the reservoir's
probability theta_s (drawn afresh for every event: an annealed bath); the
interior site owns both orientations and only it changes. With hopping this
gives exchange rates k theta_s (in) and k theta_0 (out): the boundary column
relaxes to the reservoir coverage.

The time-step is exact: the waiting time is exponential with the total rate
R, -ln(u) / R. Hopping with rate k per direction gives the tracer diffusion
coefficient D = k a^2 of a dilute particle (MSD = 4 D t in 2D).

Mean-field limit (fast mixing): d theta/dt from the same process list,
single rates k theta_a, pair rates 4 k theta_a theta_b per site
(:func:`mean_field_rhs`).

The oracle :class:`KMCCoverages` (also offering ``lift``/``micro``/``restrict``
for :mod:`hmm.ef`); the models, the lattice engine and the mean field are in
the other modules of :mod:`oracles.kmc`.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleSetupError, resolve_budget

from .._moved import renamed_fields
from .._sampling import SampledOracle, Weighted, sample_replicas
from .._validate import check_int, check_positive
from .lattice import KMCSystem, compile_model, initialise, simulate
from .models import ZGB, Reservoirs, _checked_coverages, model_parameters

__all__ = ["KMCCoverages", "LatticeKMC"]


@renamed_fields(n_blocks="blocks")
@dataclass(frozen=True)
class KMCCoverages:
    """Lattice KMC oracle: coverages, fluxes and coverage rates of a surface model.

    Each state column named in ``inputs`` is either a float parameter of
    ``model`` (e.g. ``"y"`` of :class:`ZGB`: the oracle runs at that
    parameter) or ``"coverage_<species>"`` (the lattice is lifted to that
    coverage, at random; species not listed start empty). One replica:
    lift, discard ``equilibration`` events, then ``blocks`` blocks of
    ``sampling / blocks`` events.

    Outputs (time unit of the model, per lattice site):
    ``coverage_<species>`` time-averaged coverages; ``flux_<process>``
    events of each process per site per unit time (e.g. ``flux_CO2`` is the
    ZGB production rate); ``dcoverage_<species>_dt`` = (coverage at the end
    - at the start of sampling) / elapsed time, the coarse time derivative
    (exactly the net of the fluxes). A lattice that falls into an absorbing
    state (total rate 0, e.g. poisoned ZGB) holds it for ever: its blocks
    report the absorbing coverages and zero fluxes.

    Errors: each block is one sample, weighted by its duration (a time
    average); the block rule of :mod:`oracles._sampling` pools the
    ``blocks`` blocks of every replica (blocks must be longer than the
    correlation time), so replicas that disagree (one absorbed, one not)
    widen the stderr. Budget: ``equilibration_steps``/``sampling_steps`` count KMC events per
    replica; 0 means the defaults ``equilibration_sweeps``/``sampling_sweeps``
    times the number of sites (None: 100 and 100 sweeps at a fixed
    parameter, 0 and 0.1 sweep when lifting to coverages: a short burst at
    the lifted state, whose coarse derivative for a random lift is, in
    expectation, the mean-field right-hand side). ``max_wall_s`` and
    ``target_stderr`` are checked after every block (see
    :mod:`oracles._sampling`; ``max_wall_s`` is not bitwise reproducible).

    Parameters
    ----------
    model
        Surface model (:class:`ZGB`, :class:`BistableAB`, :class:`LatticeGas`,
        :class:`Langmuir` or a :class:`SurfaceModel`).
    inputs : tuple of str
        State columns (see above).
    shape : (int, int)
        Lattice rows x columns (columns include the two reservoir columns
        when ``boundary`` is given).
    boundary : Reservoirs or None
        Periodic (None) or reservoir columns.
    blocks : int
        Blocks per replica (>= 2); the old keyword ``n_blocks=`` is accepted.
    equilibration_sweeps, sampling_sweeps : float or None
        Default budgets in events per site (see above).
    """

    model: Any = ZGB()
    inputs: tuple[str, ...] = ("y",)
    shape: tuple[int, int] = (64, 64)
    boundary: Reservoirs | None = None
    blocks: int = 8
    equilibration_sweeps: float | None = None
    sampling_sweeps: float | None = None

    supports: ClassVar[frozenset[str]] = SampledOracle.supports

    def __post_init__(self) -> None:
        species = getattr(self.model, "species", None)
        if species is None or not hasattr(self.model, "processes"):
            raise TypeError("KMCCoverages: `model` must have `species` and `processes` (e.g. ZGB())")
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "shape", tuple(int(n) for n in self.shape))
        params = model_parameters(self.model)
        allowed = params + tuple(f"coverage_{sp}" for sp in species)
        for name in self.inputs:
            if name not in allowed:
                raise OracleSetupError(f"KMCCoverages: input {name!r} is neither a parameter of "
                                 f"{type(self.model).__name__} {params} nor a coverage {allowed[len(params):]}")
        if len(set(self.inputs)) != len(self.inputs):
            raise OracleSetupError(f"KMCCoverages: `inputs` has duplicates: {self.inputs}")
        if len(self.shape) != 2 or self.shape[0] < 2 or self.shape[1] < (5 if self.boundary else 2):
            raise OracleSetupError(f"KMCCoverages: `shape` must be (rows, cols) >= (2, {5 if self.boundary else 2}), "
                             f"got {self.shape}")
        if self.boundary is not None:
            compile_model(self.model, self.boundary)  # checks the reservoir coverages
        check_int(self.blocks, "blocks", "KMCCoverages", minimum=2)
        for name in ("equilibration_sweeps", "sampling_sweeps"):
            if getattr(self, name) is not None:
                check_positive(getattr(self, name), name, "KMCCoverages", allow_zero=True)

    # -- names -------------------------------------------------------------------------
    @property
    def coverage_inputs(self) -> tuple[str, ...]:
        return tuple(n for n in self.inputs if n.startswith("coverage_"))

    @property
    def parameter_inputs(self) -> tuple[str, ...]:
        return tuple(n for n in self.inputs if not n.startswith("coverage_"))

    @property
    def outputs(self) -> tuple[str, ...]:
        sp, procs = self.model.species, self.model.processes
        return (tuple(f"coverage_{s}" for s in sp) + tuple(f"flux_{p.name}" for p in procs)
                + tuple(f"dcoverage_{s}_dt" for s in sp))

    @property
    def units(self) -> dict[str, str]:
        """Unit of every input and output; ``t0`` is the model's time unit (one sweep for ZGB)."""
        declared = getattr(self.model, "units", {})
        out = {name: declared.get(name, "1/t0") for name in self.parameter_inputs}
        for s in self.model.species:
            out[f"coverage_{s}"], out[f"dcoverage_{s}_dt"] = "1", "1/t0"
        for p in self.model.processes:
            out[f"flux_{p.name}"] = "1/(site t0)"
        return out

    @property
    def n_sites(self) -> int:
        """Simulated (interior) sites of the lattice."""
        return self.shape[0] * (self.shape[1] - (2 if self.boundary else 0))

    @property
    def default_budget(self) -> Budget:
        """Events per replica that a zero budget field means: ``equilibration_sweeps`` and
        ``sampling_sweeps`` times the number of sites (None: 100 and 100 sweeps at a fixed
        parameter, 0 and 0.1 sweep when lifting to coverages)."""
        burst = bool(self.coverage_inputs)
        eq = self.equilibration_sweeps if self.equilibration_sweeps is not None else (0.0 if burst else 100.0)
        sa = self.sampling_sweeps if self.sampling_sweeps is not None else (0.1 if burst else 100.0)
        return Budget(int(round(eq * self.n_sites)), int(round(sa * self.n_sites)))

    def _split(self, state: Any) -> tuple[Any, tuple[float, ...]]:
        state = np.asarray(state, dtype=float).reshape(-1)
        if state.shape != (len(self.inputs),):
            raise OracleSetupError(f"KMCCoverages.run(): `state` must hold {len(self.inputs)} values {self.inputs}, "
                             f"got shape {state.shape}")
        values = dict(zip(self.inputs, state.tolist()))
        model = replace(self.model, **{n: values[n] for n in self.parameter_inputs}) \
            if self.parameter_inputs else self.model
        cov = tuple(values.get(f"coverage_{s}", 0.0) for s in self.model.species)
        return model, _checked_coverages(cov, f"KMCCoverages lift ({self.coverage_inputs})")

    # -- coarse time-stepper pieces (hmm.ef): coarse = coverage inputs, params = the rest
    def lift(self, coarse: Any, params: Any, rng: np.random.Generator) -> np.ndarray:
        """A random lattice at the coverages ``coarse`` (in ``coverage_inputs`` order)."""
        state = self._state_from(coarse, params)
        return initialise(self.shape, self._split(state)[1], rng, boundary=self.boundary)

    def micro(self, lattice: np.ndarray, params: Any, duration: float, rng: np.random.Generator) -> np.ndarray:
        """The lattice after a burst of physical time ``duration``."""
        model = self._split(self._state_from(np.zeros(len(self.coverage_inputs)), params))[0]
        return simulate(lattice, model, t_burst=float(duration), boundary=self.boundary,
                        seed=int(rng.integers(2**63))).lattice

    def restrict(self, lattice: np.ndarray) -> np.ndarray:
        """Coverages of the ``coverage_inputs`` species over the simulated sites."""
        inner = lattice[:, 1:-1] if self.boundary is not None else lattice
        species = [self.model.species.index(n[len("coverage_"):]) + 1 for n in self.coverage_inputs]
        return np.array([np.mean(inner == s) for s in species])

    def _state_from(self, coarse: Any, params: Any) -> np.ndarray:
        values = dict(zip(self.coverage_inputs, np.atleast_1d(coarse).tolist()))
        values.update(zip(self.parameter_inputs, np.atleast_1d(params).tolist()))
        return np.array([values[n] for n in self.inputs], dtype=float)

    # -- the oracle ----------------------------------------------------------------------
    def replica_blocks(self, model: Any, coverages: tuple[float, ...], rng: np.random.Generator,
                       n_equilibration: int, n_block: int, tally: dict[str, int]):
        """One replica: lift, equilibrate, then ``blocks`` blocks of ``n_block`` events, each
        yielded as one :class:`~oracles._sampling.Weighted` sample (block coverages, fluxes and
        coverage rate, weighted by the block's duration). A lattice that falls into an absorbing
        state returns ``blocks`` rows of that state (its long-time average)."""
        S, P = len(model.species), len(model.processes)
        sim = KMCSystem(initialise(self.shape, coverages, rng, boundary=self.boundary), model, self.boundary)
        seeds = rng.integers(2**63, size=self.blocks + 1)
        absorbed = np.tile(np.concatenate([sim.coverages, np.zeros(P + S)]), (self.blocks, 1))
        if sim.total_rate == 0:
            tally["absorbed"] += 1
            return absorbed
        if n_equilibration:
            run = sim.advance(n_events=n_equilibration, seed=int(seeds[0]))
            tally["events"] += sum(run.counts.values())
            if run.absorbed:
                tally["absorbed"] += 1
                return np.tile(np.concatenate([sim.coverages, np.zeros(P + S)]), (self.blocks, 1))
        for k in range(self.blocks):
            before = sim.coverages.copy()
            run = sim.advance(n_events=n_block, seed=int(seeds[k + 1]))
            counts = np.array(list(run.counts.values()), dtype=float)
            tally["events"] += int(counts.sum())
            if run.absorbed or run.time <= 0:
                tally["absorbed"] += 1
                return np.tile(np.concatenate([sim.coverages, np.zeros(P + S)]), (self.blocks, 1))
            tally["time"] += run.time
            row = np.concatenate([run.mean_coverages, counts / (self.n_sites * run.time),
                                  (sim.coverages - before) / run.time])
            yield Weighted(row[None, :], np.array([run.time]))

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One KMC estimate at ``state``: ``budget.replicas`` replicas of :meth:`replica_blocks`,
        reduced by :func:`oracles._sampling.sample_replicas` (time-weighted blocks)."""
        start = _time.perf_counter()
        name = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=name)
        model, cov = self._split(state)
        n_block = max(1, budget.sampling_steps // self.blocks)
        tally = {"events": 0, "absorbed": 0, "time": 0.0}
        sampled = sample_replicas(
            lambda rng: self.replica_blocks(model, cov, rng, budget.equilibration_steps, n_block, tally), budget,
            seed, blocks=self.blocks, start=start, name=name)
        return sampled.estimate({"events": tally["events"], "physical_time": tally["time"], "n_sites": self.n_sites,
                                 "absorbed_replicas": tally["absorbed"]})


LatticeKMC = KMCCoverages  # the name before the redesign
