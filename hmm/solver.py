"""The HMM driver: a macro conservation law whose closure is answered by micro runs.

At every stage of every macro step the law gathers the macro state at its
flux points (position and current gradient), the closure lifts them to
oracle queries, the Coupler sends them out as one batch of Dask futures, and
the restricted estimates (flux mean and stderr) enter the finite-volume
update. Nothing is precomputed offline: a nonlinear or time-dependent micro
model is queried exactly the same way.
"""

from __future__ import annotations

import hashlib
import math
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from .budget import Budget
from .closure import CouplerClosure
from .coupler import Coupler
from .errors import CheckpointError
from .provenance import package_version
from .results import face_coords, flux_dims, netcdf_attrs, split_faces, write_netcdf


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


class HMMSolver:
    """Heterogeneous multiscale solver for a macro law with a micro closure.

    Parameters
    ----------
    law
        Macro conservation law (e.g. :class:`macro.DiffusionLaw`): provides
        ``closure_inputs(grid)``, ``closure_outputs(grid)``, ``evaluate`` and
        works with the steppers of :data:`macro.STEPPERS`.
    grid
        Macro finite-volume grid (:class:`macro.Grid1D` / :class:`macro.Grid2D`).
    coupler : Coupler
        Executes the micro queries.
    budget : Budget, optional
        Budget of each micro run.
    stepper : str or Stepper subclass
        Time-stepper by name. Diffusion-type laws: ``"explicit_euler"``,
        ``"heun"`` (CFL sub-cycled), ``"implicit_euler"`` (default),
        ``"crank_nicolson"`` (modified Newton with closure tangents).
        Multi-field hyperbolic laws (``law.fields``, e.g.
        :class:`macro.ElasticWaveLaw`): ``"nessyahu_tadmor"`` (default).
    stepper_options : dict, optional
        Keyword arguments of the stepper (``cfl``, ``newton_tol``, ...).
    fixed_inputs : mapping, optional
        Oracle inputs the law does not provide (e.g. ``{"temperature": 1.0}``).
    units : mapping, optional
        Unit strings for ``u``, ``x``, ``time`` and ``flux`` (default ``"1"``).
    rename : mapping, optional
        Law input/output name -> oracle name where they differ (see
        :class:`hmm.closure.CouplerClosure`).
    closure_wrapper : callable, optional
        ``closure_wrapper(coupler_closure) -> closure``: the closure the macro
        law calls instead of the plain :class:`hmm.closure.CouplerClosure`,
        e.g. ``lambda cc: hmm.ReuseClosure(cc, tol=1e-3)`` (surrogate reuse)
        or ``lambda cc: macro.TabulatedClosure(cc, ...)`` (lattice reuse).
        Micro seconds and fresh runs are still counted at the coupler
        closure. A wrapper may keep state (a surrogate) that a checkpoint
        does not hold, so ``run(checkpoint=...)`` is refused with one.
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
        self.fields = tuple(law.fields) if law.form == "flux" else ()
        self.law, self.grid, self.coupler = law, grid, coupler
        self.budget = budget or Budget()
        if not isinstance(self.budget, Budget):
            raise TypeError(f"HMMSolver(): `budget` must be a hmm.Budget, got {type(budget).__name__}")
        self.stepper_class = get_stepper(stepper or DEFAULT_STEPPERS.get(law.form, "implicit_euler"))
        self.stepper_class.check_law(law, "HMMSolver()")
        self.stepper_options = dict(stepper_options or {})
        self.units = {"u": "1", "x": "1", "time": "1", "flux": "1", **dict(units or {})}
        self.coupler_closure = CouplerClosure(coupler, law.closure_inputs(grid), law.closure_outputs(grid),
                                              self.budget, fixed_inputs=fixed_inputs, rename=rename)
        if closure_wrapper is not None and not callable(closure_wrapper):
            raise TypeError(f"HMMSolver(): `closure_wrapper` must be callable, got {type(closure_wrapper).__name__}")
        self.closure_wrapper = closure_wrapper
        self.closure = closure_wrapper(self.coupler_closure) if closure_wrapper else self.coupler_closure

    # -- helpers ----------------------------------------------------------------------
    @property
    def _micro_log(self) -> Any:
        """Micro seconds / fresh runs counter of the coupler closure (every wrapper asks it)."""
        return self.coupler_closure.log

    def initial_state(self, u0: Any = None) -> np.ndarray:
        """``u0`` as an array of ``grid.shape``: None (zeros), a number, a profile
        ``f(*coords, t=0)`` or an array."""
        from macro import make_profile

        if u0 is None:
            return np.zeros(self.grid.shape)
        if isinstance(u0, np.ndarray):
            if u0.shape != tuple(self.grid.shape):
                raise ValueError(f"HMMSolver: `u0` must have shape {tuple(self.grid.shape)}, got {u0.shape}")
            return np.array(u0, dtype=float)
        profile = make_profile(u0, name="u0")
        return np.broadcast_to(np.asarray(profile(*self.grid.coords(), t=0.0), dtype=float),
                               self.grid.shape).copy()

    def _run_token(self, **settings: Any) -> str:
        text = "|".join([repr(self.law), repr(self.grid), self.coupler.token, str(self.coupler.seed),
                         self.budget.token(), self.stepper_class.__name__,
                         repr(sorted(self.stepper_options.items())),
                         repr(sorted(settings.items()))])
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    def _attrs(self, **extra: Any) -> dict[str, Any]:
        prov = self.coupler.provenance(self.budget)
        return netcdf_attrs({
            "title": "HMM run", "law": repr(self.law), "grid": repr(self.grid),
            "stepper": self.stepper_class.name or self.stepper_class.__name__,
            "cluster": self.coupler.describe(), **prov,
            "package_version": package_version(), **extra})

    def _dataset(self, times, us, fluxes, stderrs, costs, runs, attrs):
        import xarray as xr

        grid = self.grid
        has_time = times is not None
        lead = ("time",) if has_time else ()
        coords: dict[str, Any] = {d: (d, c, {"units": self.units["x"]})
                                  for d, c in zip(grid.dims, grid.centres)}
        coords.update({k: (k, v, {"units": self.units["x"]}) for k, v in face_coords(grid).items()})
        if has_time:
            coords["time"] = ("time", np.asarray(times), {"units": self.units["time"]})
        data: dict[str, Any] = {"u": (lead + tuple(grid.dims), np.asarray(us),
                                      {"units": self.units["u"], "long_name": "macro field"})}
        names = self.law.closure_outputs(grid)
        for k, (name, dims) in enumerate(zip(names, flux_dims(grid))):
            fu = self.units["flux"]
            data[name] = (lead + dims, np.asarray([split_faces(grid, f)[k] for f in fluxes]
                                                  if has_time else split_faces(grid, fluxes)[k]),
                          {"units": fu, "long_name": f"normal component of {name} at faces (micro estimate)"})
            data[f"{name}_stderr"] = (lead + dims, np.asarray([split_faces(grid, s)[k] for s in stderrs]
                                                              if has_time else split_faces(grid, stderrs)[k]),
                                      {"units": fu, "long_name": f"standard error of {name}"})
        data["micro_cost_s"] = (lead, np.asarray(costs), {"units": "s", "long_name": "micro wall seconds spent since the previous record"})
        data["micro_runs"] = (lead, np.asarray(runs, dtype=np.int64), {"long_name": "fresh micro runs since the previous record"})
        return xr.Dataset(data, coords=coords, attrs=attrs)

    # -- steady -----------------------------------------------------------------------
    def solve_steady(self, u0: Any = None, **options: Any):
        """Solve ``div q + f = 0`` by Newton with closure tangents; return a Dataset
        with dims ``x`` [, ``y``] (no time)."""
        from macro import solve_steady

        start = time.perf_counter()
        log0 = (self._micro_log.micro_seconds, self._micro_log.fresh_runs)
        res = solve_steady(self.law, self.grid, self.closure, self.initial_state(u0).ravel(), **options)
        ev = res.evaluation
        attrs = self._attrs(mode="steady", newton_iterations=res.iterations,
                            residual=float(res.residual), wall_s=time.perf_counter() - start,
                            micro_seconds=self._micro_log.micro_seconds - log0[0],
                            micro_runs=self._micro_log.fresh_runs - log0[1])
        return self._dataset(None, res.u.reshape(self.grid.shape), ev.normal_flux,
                             ev.normal_flux_stderr, self._micro_log.micro_seconds - log0[0],
                             self._micro_log.fresh_runs - log0[1], attrs)

    # -- transient --------------------------------------------------------------------
    def run(self, t_end: float, *, dt: float, u0: Any = None, t0: float = 0.0,
            save_every: int | None = None, checkpoint: str | Path | None = None,
            progress: bool = False):
        """Advance from ``t0`` to ``t_end`` with steps ``dt``; return an xarray Dataset.

        Parameters
        ----------
        t_end, dt, t0 : float
            Final time, macro step (the last step is shortened to end at
            ``t_end``) and initial time, in ``units["time"]``.
        u0 : None, number, profile, callable or array
            Initial field (see :meth:`initial_state`).
        save_every : int, optional
            Steps between records (default: about 20 records).
        checkpoint : path, optional
            netCDF file rewritten atomically at every record. If it exists and
            belongs to the same run (same law, grid, oracle, budget, seed,
            stepper and times), the run resumes from its last record and
            gives the same bits as an uninterrupted run.
        progress : bool
            Show a progress bar (tqdm, on stderr).

        Notes
        -----
        With a checkpoint the stepper is started afresh at every record (an
        implicit stepper recomputes its Jacobian there), so that a resumed run
        repeats exactly what the uninterrupted run did: both give the same
        bits. Without a checkpoint the stepper keeps its state (e.g. a reused
        Jacobian) for the whole run, so the two differ within the Newton
        tolerance. For implicit steppers the recorded
        flux is the closure at the recorded state; explicit steppers evaluate
        it there once more (free with a cache: their next step asks the same).
        """
        from tqdm.auto import tqdm

        if checkpoint and self.closure is not self.coupler_closure:
            raise NotImplementedError("HMMSolver.run(): checkpoints are not supported with a wrapped closure "
                                      "(`closure_wrapper`): its state (e.g. a surrogate) is not checkpointed, "
                                      "so a resumed run would not repeat the bits")
        if self.fields:
            return self._run_fields(t_end, dt, u0, t0, save_every, progress, checkpoint)
        t_end, dt, t0, n_steps = _check_times(t_end, dt, t0)
        if save_every is None:
            save_every = max(1, n_steps // 20)
        if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
            raise ValueError(f"HMMSolver.run(): `save_every` must be an int >= 1, got {save_every!r}")
        token = self._run_token(t0=t0, t_end=t_end, dt=dt, save_every=save_every,
                                u0=hashlib.blake2b(self.initial_state(u0).tobytes(), digest_size=8).hexdigest())
        start = time.perf_counter()
        records = self._resume(checkpoint, token) if checkpoint else None
        if records is None:
            u = self.initial_state(u0).ravel()
            log0 = (self._micro_log.micro_seconds, self._micro_log.fresh_runs)
            ev = self.law.evaluate(self.grid, u, t0, self.closure)
            records = {"step": [0], "time": [t0], "u": [u.reshape(self.grid.shape)],
                       "flux": [ev.normal_flux], "stderr": [ev.normal_flux_stderr],
                       "cost": [self._micro_log.micro_seconds - log0[0]],
                       "runs": [self._micro_log.fresh_runs - log0[1]]}
        step = records["step"][-1]
        u = np.asarray(records["u"][-1], dtype=float).ravel()
        mark = (self._micro_log.micro_seconds, self._micro_log.fresh_runs)
        stepper = None
        bar = tqdm(total=n_steps, initial=step, disable=not progress, desc="HMM", unit="step")
        try:
            while step < n_steps:
                if stepper is None:
                    stepper = self.stepper_class(self.law, self.grid, self.closure, **self.stepper_options)
                t = t0 + step * dt
                h = min(dt, t_end - t) if step == n_steps - 1 else dt
                result = stepper.step(u, t, h)
                u, step = result.u, step + 1
                bar.update(1)
                bar.set_postfix(t=f"{result.t:.4g}", micro_s=f"{self._micro_log.micro_seconds:.3g}")
                if step % save_every == 0 or step == n_steps:
                    t_now = t_end if step == n_steps else t0 + step * dt
                    ev = result.evaluation if stepper.implicit else self.law.evaluate(
                        self.grid, u, t_now, self.closure)
                    records["step"].append(step)
                    records["time"].append(t_now)
                    records["u"].append(u.reshape(self.grid.shape).copy())
                    records["flux"].append(ev.normal_flux)
                    records["stderr"].append(ev.normal_flux_stderr)
                    records["cost"].append(self._micro_log.micro_seconds - mark[0])
                    records["runs"].append(self._micro_log.fresh_runs - mark[1])
                    mark = (self._micro_log.micro_seconds, self._micro_log.fresh_runs)
                    if checkpoint:
                        stepper = None  # restart the stepper where a resumed run restarts it
                        write_netcdf(self._records_dataset(records, token, n_steps, start), checkpoint)
                        self.coupler.save_cache()
        finally:
            bar.close()
        return self._records_dataset(records, token, n_steps, start)

    # -- multi-field (hyperbolic) laws -------------------------------------------------
    def initial_fields(self, u0: Any = None) -> np.ndarray:
        """Initial fields (n_fields, n_cells): None (zeros), an array, or a mapping
        field name -> number, profile spec or callable (missing fields are zero)."""
        from macro import make_profile

        n = self.grid.n_cells
        if u0 is None:
            return np.zeros((len(self.fields), n))
        if isinstance(u0, np.ndarray):
            if u0.shape != (len(self.fields), n):
                raise ValueError(f"HMMSolver: `u0` must have shape {(len(self.fields), n)}, got {u0.shape}")
            return np.array(u0, dtype=float)
        if not isinstance(u0, Mapping):
            raise TypeError(f"HMMSolver: `u0` for fields {self.fields} must be a mapping or an array")
        unknown = sorted(set(u0) - set(self.fields))
        if unknown:
            raise ValueError(f"HMMSolver: `u0` has unknown fields {unknown}; the law's fields are {self.fields}")
        coords = self.grid.coords()
        return np.stack([np.broadcast_to(np.asarray(make_profile(u0[f], name=f)(*coords, t=0.0), float),
                                         self.grid.shape).reshape(n) if f in u0 else np.zeros(n)
                         for f in self.fields])

    def _run_fields(self, t_end, dt, u0, t0, save_every, progress, checkpoint=None):
        from tqdm.auto import tqdm

        t_end, dt, t0, n_steps = _check_times(t_end, dt, t0)
        save_every = save_every or max(1, n_steps // 20)
        if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 1:
            raise ValueError(f"HMMSolver.run(): `save_every` must be an int >= 1, got {save_every!r}")
        start = time.perf_counter()
        U0 = self.initial_fields(u0)
        token = self._run_token(t0=t0, t_end=t_end, dt=dt, save_every=save_every,
                                u0=hashlib.blake2b(U0.tobytes(), digest_size=8).hexdigest())
        log = self._micro_log
        records = self._resume_fields(checkpoint, token) if checkpoint else None
        mark = (log.micro_seconds, log.fresh_runs)

        def record(rec, step, t, U):
            nonlocal mark
            sigma, se = self.law.closure_values(U, self.closure)  # (n_cells, n_outputs) each
            for key, val in (("step", step), ("time", t), ("U", U.copy()), ("sigma", sigma), ("se", se),
                             ("cost", log.micro_seconds - mark[0]), ("runs", log.fresh_runs - mark[1])):
                rec[key].append(val)
            mark = (log.micro_seconds, log.fresh_runs)

        if records is None:
            records = {k: [] for k in ("step", "time", "U", "sigma", "se", "cost", "runs")}
            record(records, 0, t0, U0)
        step, U = int(records["step"][-1]), np.array(records["U"][-1], dtype=float)
        stepper = None
        with tqdm(total=n_steps, initial=step, disable=not progress, desc="HMM", unit="step") as bar:
            while step < n_steps:
                if stepper is None:
                    stepper = self.stepper_class(self.law, self.grid, self.closure, **self.stepper_options)
                t = t0 + step * dt
                h = min(dt, t_end - t) if step == n_steps - 1 else dt
                U, step = stepper.step(U, t, h).U, step + 1
                bar.update(1)
                if step % save_every == 0 or step == n_steps:
                    record(records, step, t_end if step == n_steps else t0 + step * dt, U)
                    if checkpoint:
                        stepper = None  # restart the stepper where a resumed run restarts it
                        write_netcdf(self._fields_dataset(records, token, n_steps, start), checkpoint)
                        self.coupler.save_cache()
        return self._fields_dataset(records, token, n_steps, start)

    def _fields_dataset(self, records, token, n_steps, start):
        import xarray as xr

        grid = self.grid
        states, stresses, errors = records["U"], records["sigma"], records["se"]
        data = {f: (("time", "x"), np.array([s[i] for s in states]), {"units": self.units.get(f, "1")})
                for i, f in enumerate(self.fields)}
        for k, name in enumerate(self.law.closure_outputs(grid)):
            data[name] = (("time", "x"), np.array([s[:, k] for s in stresses]),
                          {"units": self.units.get(name, "1"),
                           "long_name": f"{name} at the cell states (micro estimate)"})
            data[f"{name}_stderr"] = (("time", "x"), np.array([e[:, k] for e in errors]),
                                      {"units": self.units.get(name, "1")})
        data["micro_cost_s"] = ("time", np.array(records["cost"], dtype=float), {"units": "s"})
        data["micro_runs"] = ("time", np.array(records["runs"], dtype=np.int64))
        data["step"] = ("time", np.array(records["step"], dtype=np.int64), {"long_name": "macro step index"})
        attrs = self._attrs(mode="transient", n_steps=n_steps, run_token=token,
                            completed_steps=int(records["step"][-1]), wall_s=time.perf_counter() - start,
                            micro_seconds=float(np.sum(records["cost"])), micro_runs=int(np.sum(records["runs"])))
        coords = {"time": ("time", np.array(records["time"], dtype=float), {"units": self.units["time"]}),
                  "x": ("x", grid.centres[0], {"units": self.units["x"]})}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def _resume_fields(self, checkpoint, token):
        ds = self._load_checkpoint(checkpoint, token)
        if ds is None:
            return None
        outputs = self.law.closure_outputs(self.grid)
        n = ds.sizes["time"]
        return {"step": [int(v) for v in ds["step"].values], "time": [float(v) for v in ds["time"].values],
                "U": [np.stack([ds[f].values[i] for f in self.fields]) for i in range(n)],
                "sigma": [np.column_stack([ds[o].values[i] for o in outputs]) for i in range(n)],
                "se": [np.column_stack([ds[f"{o}_stderr"].values[i] for o in outputs]) for i in range(n)],
                "cost": [float(v) for v in ds["micro_cost_s"].values],
                "runs": [int(v) for v in ds["micro_runs"].values]}

    def _records_dataset(self, records, token, n_steps, start):
        attrs = self._attrs(mode="transient", run_token=token, n_steps=n_steps,
                            completed_steps=int(records["step"][-1]),
                            wall_s=time.perf_counter() - start,
                            micro_seconds=float(np.sum(records["cost"])),
                            micro_runs=int(np.sum(records["runs"])))
        ds = self._dataset(records["time"], records["u"], records["flux"], records["stderr"],
                           records["cost"], records["runs"], attrs)
        ds["step"] = ("time", np.asarray(records["step"], dtype=np.int64), {"long_name": "macro step index"})
        return ds

    def _load_checkpoint(self, checkpoint, token):
        """The checkpoint Dataset, None if the file does not exist; CheckpointError if
        it cannot be read or belongs to another run."""
        import xarray as xr

        path = Path(checkpoint)
        if not path.exists():
            return None
        try:
            ds = xr.load_dataset(path)
        except Exception as exc:  # noqa: BLE001
            raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {exc}") from exc
        if ds.attrs.get("run_token") != token:
            raise CheckpointError(
                f"checkpoint {str(path)!r} belongs to a different run (law, grid, oracle, budget, "
                "seed, stepper or times differ); delete it or choose another path")
        return ds

    def _resume(self, checkpoint, token):
        ds = self._load_checkpoint(checkpoint, token)
        if ds is None:
            return None
        names = self.law.closure_outputs(self.grid)
        flat = lambda var, i: np.concatenate([ds[f"{n}{var}"].values[i].ravel() for n in names])  # noqa: E731
        n = ds.sizes["time"]
        return {"step": [int(s) for s in ds["step"].values], "time": [float(t) for t in ds["time"].values],
                "u": [ds["u"].values[i] for i in range(n)],
                "flux": [flat("", i) for i in range(n)], "stderr": [flat("_stderr", i) for i in range(n)],
                "cost": [float(c) for c in ds["micro_cost_s"].values],
                "runs": [int(r) for r in ds["micro_runs"].values]}
