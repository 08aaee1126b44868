"""The HMM driver: a macro conservation law whose closure is answered by micro runs.

At every stage of every macro step the law gathers the macro state at its
evaluation points (e.g. position and current gradient at the faces, or the
cell states), the closure lifts them to oracle queries, the Coupler sends
them out as one batch of Dask futures, and the restricted estimates (mean
and stderr) enter the update. Nothing is precomputed offline: a nonlinear or
time-dependent micro model is queried exactly the same way.

One loop serves every :class:`macro.ConservationLaw`: the law says its fields
and what it records, the stepper comes from :data:`macro.STEPPERS`, the
results are assembled by :func:`hmm.results.records_dataset`, and the micro
work is read from the Coupler's one ledger (:attr:`hmm.Coupler.accounting`)
at every record.
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .accounting import Accounting
from .budget import Budget
from .checkpoint import Checkpoint
from .closure import CouplerClosure
from .contract import oracle_units
from .coupler import Coupler
from .provenance import package_version
from .results import Records, netcdf_attrs, records_dataset

DEFAULT_STEPPERS = {"semi_discrete": "implicit_euler", "flux": "nessyahu_tadmor"}
"""Stepper used when ``HMMSolver(stepper=None)``, by law form."""


def _check_times(t_end: float, dt: float, t0: float) -> tuple[float, float, float, int]:
    """Validated (t_end, dt, t0, number of steps; the last may be shortened)."""
    t_end, dt, t0 = float(t_end), float(dt), float(t0)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"HMMSolver.run(): `dt` must be a positive number, got {dt}")
    if not (math.isfinite(t_end) and t_end > t0):
        raise ValueError(f"HMMSolver.run(): `t_end` must be a number > t0={t0}, got {t_end}")
    return t_end, dt, t0, max(1, math.ceil((t_end - t0) / dt - 1e-9))


def _check_save_every(save_every: Any, n_steps: int) -> int:
    """Steps between records: ``None`` gives about 20 records; else an int >= 1."""
    if save_every is None:
        return max(1, n_steps // 20)
    if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
        raise ValueError(f"HMMSolver.run(): `save_every` must be an int >= 1, got {save_every!r}")
    return save_every


class HMMSolver:
    """Heterogeneous multiscale solver for a macro law with a micro closure.

    Parameters
    ----------
    law : macro.ConservationLaw
        Macro law, e.g. :class:`macro.DiffusionLaw` (form ``"semi_discrete"``)
        or :class:`macro.ElasticWaveLaw` (form ``"flux"``).
    grid
        Macro finite-volume grid (:class:`macro.Grid1D` / :class:`macro.Grid2D`).
    coupler : Coupler
        Executes the micro queries; its accounting is recorded.
    budget : Budget, optional
        Budget of each micro run.
    stepper : str or Stepper subclass
        Time-stepper from :data:`macro.STEPPERS` for the law's form.
        Semi-discrete laws: ``"explicit_euler"``, ``"heun"`` (CFL
        sub-cycled), ``"implicit_euler"`` (default), ``"crank_nicolson"``
        (modified Newton with closure tangents). Flux-form laws:
        ``"nessyahu_tadmor"`` (default).
    stepper_options : dict, optional
        Keyword arguments of the stepper (``cfl``, ``newton_tol``, ...).
    fixed_inputs : mapping, optional
        Oracle inputs the law does not provide (e.g. ``{"temperature": 1.0}``).
    units : mapping, optional
        Unit strings by name, overriding the defaults: ``x``, ``time``, the
        law's fields (``u``, ``strain``, ...) and any result name. The
        closure answers take the oracle's declared units
        (:func:`hmm.contract.oracle_units`) unless given here, under the
        result name, the law's name or (for every closure answer, as
        before) ``"flux"``.
    rename : mapping, optional
        Law input/output name -> oracle name where they differ (see
        :class:`hmm.closure.CouplerClosure`). Results name the closure
        answers by the oracle's names: with ``{"flux": "shear_stress"}`` the
        dataset holds ``shear_stress`` and ``shear_stress_stderr``.
    closure_wrapper : callable, optional
        ``closure_wrapper(coupler_closure) -> closure``: the closure the macro
        law calls instead of the plain :class:`hmm.closure.CouplerClosure`,
        e.g. ``lambda cc: hmm.ReuseClosure(cc, tol=1e-3)`` (surrogate reuse),
        ``lambda cc: macro.TabulatedClosure(cc, ...)`` (lattice reuse) or
        ``lambda cc: macro.QuantisedClosure(cc, ...)`` (rounded queries).
        Micro seconds and fresh runs are counted by the Coupler either way.
        A wrapper may keep state (a surrogate) that a checkpoint does not
        hold, so ``run(checkpoint=...)`` is refused with one.
    """

    def __init__(self, law: Any, grid: Any, coupler: Coupler, *, budget: Budget | None = None,
                 stepper: Any = None, stepper_options: Mapping[str, Any] | None = None,
                 fixed_inputs: Mapping[str, float] | None = None,
                 units: Mapping[str, str] | None = None,
                 rename: Mapping[str, str] | None = None,
                 closure_wrapper: Callable[[CouplerClosure], Any] | None = None) -> None:
        from macro import ConservationLaw, get_stepper

        if not isinstance(coupler, Coupler):
            raise TypeError(f"HMMSolver(): `coupler` must be a hmm.Coupler, got {type(coupler).__name__}")
        if not isinstance(law, ConservationLaw):
            raise TypeError(f"HMMSolver(): `law` must follow macro.ConservationLaw, got {type(law).__name__}")
        self.law, self.grid, self.coupler = law, grid, coupler
        self.fields = tuple(law.fields)
        self.budget = budget or Budget()
        if not isinstance(self.budget, Budget):
            raise TypeError(f"HMMSolver(): `budget` must be a hmm.Budget, got {type(budget).__name__}")
        self.stepper_class = get_stepper(stepper or DEFAULT_STEPPERS.get(law.form, "implicit_euler"))
        self.stepper_class.check_law(law, "HMMSolver()")
        self.stepper_options = dict(stepper_options or {})
        self.coupler_closure = CouplerClosure(coupler, law.closure_inputs(grid), law.closure_outputs(grid),
                                              self.budget, fixed_inputs=fixed_inputs, rename=rename)
        self.names = dict(zip(self.coupler_closure.law_outputs, self.coupler_closure.outputs))
        """Law output name -> result name (the oracle's name)."""
        self.units = self._units(dict(units or {}))
        if closure_wrapper is not None and not callable(closure_wrapper):
            raise TypeError(f"HMMSolver(): `closure_wrapper` must be callable, got {type(closure_wrapper).__name__}")
        self.closure_wrapper = closure_wrapper
        self.closure = closure_wrapper(self.coupler_closure) if closure_wrapper else self.coupler_closure

    def _units(self, given: dict[str, str]) -> dict[str, str]:
        """Unit of every name in the results: defaults "1" < the oracle's
        (closure answers, and the positions it takes as inputs) < the law's <
        ``given``."""
        oracle = oracle_units(self.coupler.oracle)
        # a coordinate the oracle takes as an input (a position "x", "y") carries the oracle's unit
        coords = {c: oracle[c] for c in ("x", "y") if c in self.coupler.inputs and oracle.get(c, "1") != "1"}
        units = {"x": "1", "time": "1", **coords, **{f: "1" for f in self.fields}, **dict(self.law.units)}
        for law_name, name in self.names.items():
            units[name] = given.get(name, given.get(law_name, given.get("flux", oracle.get(name, "1"))))
        units.update({k: v for k, v in given.items() if k not in self.names})
        return units

    # -- state -------------------------------------------------------------------------
    def initial_state(self, u0: Any = None) -> np.ndarray:
        """The initial fields: ``grid.shape`` for a one-field law, else
        ``(n_fields, n_cells)``.

        ``u0`` is None (zeros), an array of that shape, a mapping field name
        -> number, profile spec or callable ``f(*coords, t=0)`` (missing
        fields are zero), or, for a one-field law, one such value directly.
        """
        from macro import make_profile

        grid, n = self.grid, self.grid.n_cells
        single = len(self.fields) == 1
        shape = tuple(grid.shape) if single else (len(self.fields), n)
        if u0 is None:
            return np.zeros(shape)
        if isinstance(u0, np.ndarray):
            if u0.shape != shape:
                raise ValueError(f"HMMSolver: `u0` must have shape {shape}, got {u0.shape}")
            return np.array(u0, dtype=float)
        per_field = isinstance(u0, Mapping) and (not single or set(u0) <= set(self.fields))
        if not per_field:
            if not single:
                raise TypeError(f"HMMSolver: `u0` for fields {self.fields} must be a mapping or an array")
            u0 = {self.fields[0]: u0}
        unknown = sorted(set(u0) - set(self.fields))
        if unknown:
            raise ValueError(f"HMMSolver: `u0` has unknown fields {unknown}; the law's fields are {self.fields}")
        coords = grid.coords()
        values = [np.broadcast_to(np.asarray(make_profile(u0[f], name="u0" if single else f)(*coords, t=0.0),
                                             dtype=float), grid.shape).copy() if f in u0 else np.zeros(grid.shape)
                  for f in self.fields]
        return values[0] if single else np.stack([v.reshape(n) for v in values])

    def initial_fields(self, u0: Any = None) -> np.ndarray:
        """Alias of :meth:`initial_state`."""
        return self.initial_state(u0)

    def _state(self, fields_array: np.ndarray) -> np.ndarray:
        """Field arrays (``initial_state`` or a record's fields) -> the law's state (what the steppers take)."""
        from macro.law import state_shape

        return np.asarray(fields_array, dtype=float).reshape(state_shape(self.law, self.grid))

    def _field_values(self, state: np.ndarray) -> np.ndarray:
        """The law's state -> (n_fields, *grid.shape)."""
        return np.reshape(state, (len(self.fields),) + tuple(self.grid.shape))

    def _record(self, records: Records, step: int, t: float, state: np.ndarray, evaluation: Any,
                work: Accounting) -> None:
        recorded = {self.names.get(k, k): v for k, v in self.law.record(self.grid, evaluation).items()}
        records.add(step, t, self._field_values(state), recorded, work)

    # -- provenance and results ------------------------------------------------------------
    def _run_token(self, **settings: Any) -> str:
        text = "|".join([repr(self.law), repr(self.grid), self.coupler.token, str(self.coupler.seed),
                         self.budget.token(), self.stepper_class.__name__,
                         repr(sorted(self.stepper_options.items())),
                         repr(sorted(settings.items()))])
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def _attrs(self, records: Records, **extra: Any) -> dict[str, Any]:
        prov = self.coupler.provenance(self.budget)
        total = records.total
        return netcdf_attrs({
            "title": "HMM run", "law": repr(self.law), "grid": repr(self.grid),
            "stepper": self.stepper_class.name or self.stepper_class.__name__,
            "cluster": self.coupler.describe(), **prov,
            "package_version": package_version(), **extra,
            "micro_seconds": float(total.micro_seconds), "micro_runs": int(total.fresh_runs),
            **total.to_attrs("accounting_")})

    def _long_names(self) -> dict[str, str]:
        return {name: f"{name} (law quantity {law_name!r}; micro estimate)"
                for law_name, name in self.names.items() if name != law_name}

    def _dataset(self, records: Records, *, with_time: bool = True, **attrs: Any):
        return records_dataset(records, self.grid, self.units, self._attrs(records, **attrs),
                               self._long_names(), with_time=with_time)

    # -- steady -----------------------------------------------------------------------
    def solve_steady(self, u0: Any = None, *, stderr: bool = True, covariance: bool = False,
                     final_correction: bool = False, **options: Any):
        """Solve ``R(u) = 0`` (``div q + f = 0``) by Newton with closure tangents
        (:func:`macro.solve_steady`); return a Dataset with dims ``x`` [, ``y``]
        (no time).

        Parameters
        ----------
        u0 : optional
            Initial guess (see :meth:`initial_state`); zeros by default.
        stderr : bool
            Add ``<field>_stderr`` for every field: the closure's standard
            errors at the steady state propagated linearly through the last
            Newton Jacobian (closure tangents, no secant),
            ``Cov(u) = J^{-1} B diag(sigma^2) B^T J^{-T}`` with
            ``B = dR/d(answers)`` (:func:`macro.steady.steady_uncertainty`;
            answers taken independent). No micro runs; one law evaluation per
            noisy answer and one factorisation of ``J``.
        covariance : bool
            Also add the covariance of the flat state (dims ``state``,
            ``state_t``; fields, then cells in C order): ``u_covariance`` for
            a one-field law ``u``, else ``state_covariance``.
        final_correction : bool
            Replace the accepted iterate by one more Newton step from its own
            evaluation, ``u - J^{-1} R(u)``
            (:func:`macro.steady.newton_correction`): Newton stops at its
            tolerance (or, for a closure noisy between iterations, at the
            noise floor), and the residual left still says where the measured
            answers balance. Free (no closure call); the
            accepted iterate is kept as ``<field>_accepted``, and the recorded
            closure answers are those at the accepted iterate.
        **options
            Passed to :func:`macro.solve_steady` (``tol``, ``max_iter``, ...).
        """
        from macro import solve_steady
        from macro.steady import newton_correction, steady_uncertainty

        start = time.perf_counter()
        mark = self.coupler.accounting
        res = solve_steady(self.law, self.grid, self.closure, self._state(self.initial_state(u0)), **options)
        records = Records(self.fields)
        u = newton_correction(res) if final_correction else res.u
        self._record(records, res.iterations, 0.0, u, res.evaluation, self.coupler.accounting - mark)
        ds = self._dataset(records, with_time=False, mode="steady", newton_iterations=res.iterations,
                           residual=float(res.residual), final_correction=int(bool(final_correction)),
                           wall_s=time.perf_counter() - start)
        if final_correction:
            for name, values in zip(self.fields, self._field_values(res.u)):
                ds[f"{name}_accepted"] = (ds[name].dims, values, {
                    "units": ds[name].attrs.get("units", "1"),
                    "long_name": f"the Newton iterate of {name} the solver accepted (before the final correction)"})
        if stderr or covariance:
            unc = steady_uncertainty(self.law, self.grid, res, covariance=covariance)
            for name, values in zip(self.fields, self._field_values(unc.stderr)):
                ds[f"{name}_stderr"] = (ds[name].dims, values, {
                    "units": ds[name].attrs.get("units", "1"),
                    "long_name": f"standard error of {name}, closure noise propagated through the Newton Jacobian"})
            if covariance:
                single = len(self.fields) == 1
                unit = ds[self.fields[0]].attrs.get("units", "1")
                ds[f"{self.fields[0]}_covariance" if single else "state_covariance"] = (
                    ("state", "state_t"), unc.covariance,
                    {"units": f"({unit})^2" if single else "field units squared",
                     "long_name": f"covariance of the flat state (fields {self.fields}, cells in C order), "
                                  "closure noise propagated through the Newton Jacobian"})
        return ds

    # -- transient --------------------------------------------------------------------
    def run(self, t_end: float, *, dt: float, u0: Any = None, t0: float = 0.0,
            save_every: int | None = None, checkpoint: "str | Path | Checkpoint | None" = None,
            progress: bool = False):
        """Advance from ``t0`` to ``t_end`` with steps ``dt``; return an xarray Dataset.

        Parameters
        ----------
        t_end, dt, t0 : float
            Final time, macro step (the last step is shortened to end at
            ``t_end``) and initial time, in ``units["time"]``.
        u0 : None, number, profile, callable, mapping or array
            Initial fields (see :meth:`initial_state`).
        save_every : int, optional
            Steps between records (default: about 20 records; ``0`` is an
            error).
        checkpoint : path or hmm.checkpoint.Checkpoint, optional
            Checkpoint written atomically at records (a path: at every
            record; a :class:`hmm.checkpoint.Checkpoint` sets the interval
            and the configuration its manifest holds): the records netCDF at
            the path, a JSON manifest and the micro-estimate cache beside it.
            If it exists and belongs to the same run (same law, grid, oracle,
            budget, seed, stepper, times and initial state), the run resumes
            from its last checkpointed record and gives the same bits as an
            uninterrupted run; :attr:`resumed_from_step` then says where.
        progress : bool
            Show a progress bar (tqdm, on stderr).

        Notes
        -----
        Each record holds the fields, the closure answers as the law records
        them (named by the oracle) and the Coupler's accounting since the
        previous record (``micro_runs``, ``micro_cost_s``, ...). With a
        checkpoint the stepper is started afresh at every record (an
        implicit stepper recomputes its Jacobian there), so that a resumed
        run repeats exactly what the uninterrupted run did: both give the
        same bits. Without a checkpoint the stepper keeps its state (e.g. a
        reused Jacobian) for the whole run, so the two differ within the
        Newton tolerance. For implicit steppers the recorded answers are the
        closure at the recorded state; explicit steppers evaluate it there
        once more (free with a cache: their next step asks the same).
        """
        from tqdm.auto import tqdm

        if checkpoint and self.closure is not self.coupler_closure:
            raise NotImplementedError("HMMSolver.run(): checkpoints are not supported with a wrapped closure "
                                      "(`closure_wrapper`): its state (e.g. a surrogate) is not checkpointed, "
                                      "so a resumed run would not repeat the bits")
        t_end, dt, t0, n_steps = _check_times(t_end, dt, t0)
        save_every = _check_save_every(save_every, n_steps)
        checkpoint = Checkpoint.of(checkpoint, func="HMMSolver.run()")
        initial = self.initial_state(u0)
        token = self._run_token(t0=t0, t_end=t_end, dt=dt, save_every=save_every,
                                u0=hashlib.blake2b(initial.tobytes(), digest_size=8).hexdigest())
        start = time.perf_counter()
        records = self._resume(checkpoint, token) if checkpoint else None
        self.resumed_from_step = None if records is None else int(records.step[-1])
        if records is None:
            records, mark = Records(self.fields), self.coupler.accounting
            state = self._state(initial)
            evaluation = self.law.evaluate(self.grid, state, t0, self.closure)
            self._record(records, 0, t0, state, evaluation, self.coupler.accounting - mark)
        step = records.step[-1]
        state = self._state(records.last_state())
        mark = self.coupler.accounting
        stepper = None
        if checkpoint:
            checkpoint.start(step)

        def dataset():
            return self._dataset(records, mode="transient", run_token=token, n_steps=n_steps,
                                 completed_steps=int(records.step[-1]), wall_s=time.perf_counter() - start)

        with tqdm(total=n_steps, initial=step, disable=not progress, desc="HMM", unit="step") as bar:
            while step < n_steps:
                if stepper is None:
                    stepper = self.stepper_class(self.law, self.grid, self.closure, **self.stepper_options)
                t = t0 + step * dt
                h = min(dt, t_end - t) if step == n_steps - 1 else dt
                result = stepper.step(state, t, h)
                state, step = result.u, step + 1
                bar.update(1)
                bar.set_postfix(t=f"{result.t:.4g}", micro_s=f"{self.coupler.accounting.micro_seconds:.3g}")
                if step % save_every == 0 or step == n_steps:
                    t_now = t_end if step == n_steps else t0 + step * dt
                    evaluation = (result.evaluation if stepper.implicit
                                  else self.law.evaluate(self.grid, state, t_now, self.closure))
                    now = self.coupler.accounting
                    self._record(records, step, t_now, state, evaluation, now - mark)
                    mark = now
                    if checkpoint:
                        stepper = None  # restart the stepper where a resumed run restarts it
                        if checkpoint.due(step, final=step == n_steps):
                            checkpoint.write(dataset(), step=step, n_steps=n_steps, time_now=t_now,
                                             run_token=token, root_seed=self.coupler.seed,
                                             cache=self.coupler.cache)
                        self.coupler.save_cache()
        return dataset()

    # -- checkpoints ------------------------------------------------------------------
    resumed_from_step: int | None = None
    """Step of the checkpoint the last :meth:`run` resumed from (None: it started afresh)."""

    def _resume(self, checkpoint: Checkpoint, token: str) -> Records | None:
        """The records of a checkpoint (the Coupler's cache filled from it), None
        if there is none; CheckpointError if it cannot be read or belongs to
        another run."""
        records = checkpoint.load(token, self.fields, tuple(self.names.values()), cache=self.coupler.cache)
        if records is not None:
            self.coupler.carry_over(records.total)  # the failed-fraction bound counts from the run's start
        return records
