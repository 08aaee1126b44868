"""Private: what :meth:`hmm.HMMSolver.run` records of the closure noise and of its goals.

One :class:`RunUncertainty` per run holds the :class:`macro.TangentLinear`
propagator (when the stepper has a tangent-linear model and the state is
small enough), the per-record standard errors, covariances and goal values,
and adds them to the run's dataset: ``{field}_stderr`` (the field's dims and
units), optionally ``{field}_covariance`` / ``state_covariance`` (dims
``time, state, state_t``), and ``goal_<name>`` / ``goal_<name>_stderr``
(dim ``time``, the goal's units). Checkpoints carry the last covariance
(``tangent_covariance``) and the Jacobian count in their extra ``.npz``
(:meth:`RunUncertainty.restart_arrays`, named by the manifest), so that a
resumed run continues the propagation bit for bit.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np

from .errors import CheckpointError

RESTART_VARIABLE = "tangent_covariance"


def check_goals(goals: Any, grid: Any, fields: tuple[str, ...], func: str) -> dict[str, np.ndarray]:
    """Goal name -> weights on the flat state (TypeError/ValueError naming ``func``)."""
    from macro.goals import goal_vector

    if goals is None:
        return {}
    if not isinstance(goals, Mapping):
        raise TypeError(f"{func}: `goals` must be a mapping name -> goal (e.g. {{'flow_rate': macro.FlowRate()}}), "
                        f"got {type(goals).__name__}")
    out = {}
    for name, goal in goals.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"{func}: goal names must be identifiers (they name dataset variables), got {name!r}")
        out[name] = goal_vector(goal, grid, fields, func)
    return out


def goal_units(goals: Mapping[str, Any], grid: Any, fields: tuple[str, ...], units: Mapping[str, str]) -> dict:
    """Goal name -> unit string."""
    return {name: str(goal.units(grid, units.get(getattr(goal, "field", None) or fields[0], "1"),
                                 units.get("x", "1"))) for name, goal in goals.items()}


def steady_goals(ds: Any, solver: Any, res: Any, u: np.ndarray, goals: Mapping[str, Any],
                 weights: Mapping[str, np.ndarray], *, stderr: bool) -> None:
    """Add ``goal_<name>`` (and, with ``stderr``, ``goal_<name>_stderr`` by the adjoint) to a steady dataset."""
    from macro.steady import goal_uncertainty

    units = goal_units(goals, solver.grid, solver.fields, solver.units)
    errs = goal_uncertainty(solver.law, solver.grid, res, np.array(list(weights.values()))) if stderr else None
    flat = np.asarray(u, dtype=float).ravel()
    for k, (name, w) in enumerate(weights.items()):
        ds[f"goal_{name}"] = ((), float(w @ flat), {"units": units[name], "long_name": f"goal {name}: {goals[name]!r}"})
        if errs is not None:
            ds[f"goal_{name}_stderr"] = ((), float(errs[k]), {
                "units": units[name], "long_name": f"standard error of goal {name} (adjoint J^T lambda = w)"})


class RunUncertainty:
    """Tangent-linear bookkeeping of one transient run (see the module docstring)."""

    def __init__(self, solver: Any, *, stderr: bool, covariance: bool, goals: Mapping[str, Any] | None,
                 options: Mapping[str, Any] | None) -> None:
        from macro.tangent_linear import TangentLinear

        func = "HMMSolver.run()"
        self.fields, self.grid = solver.fields, solver.grid
        self.weights = check_goals(goals, solver.grid, solver.fields, func)
        self.goals = dict(goals or {})
        self.goal_units = goal_units(self.goals, solver.grid, solver.fields, solver.units)
        self.covariance_wanted = bool(covariance)
        options = dict(options or {})
        unknown = sorted(set(options) - {"max_state", "jacobian_refresh"})
        if unknown:
            raise ValueError(f"{func}: unknown `stderr_options` {unknown}; valid: ['jacobian_refresh', 'max_state']")
        self.tl = None
        self.jacobians_before = 0  # Jacobians of the propagation before a resume (from the checkpoint)
        self.method = "off"
        stepper = solver.stepper_class
        if stderr or covariance or self.weights:
            if solver.law.form != "semi_discrete" or not stepper.tangent_linear:
                self.method = (f"none: stepper {stepper.name!r} has no tangent-linear model, so the closure "
                               "noise is not propagated into the fields")
                if covariance:
                    raise ValueError(f"{func}: `covariance=True` needs a stepper with a tangent-linear model "
                                     f"(explicit_euler, heun, implicit_euler, crank_nicolson), not {stepper.name!r}")
            else:
                try:
                    self.tl = TangentLinear(solver.law, solver.grid, **options)
                except ValueError as exc:
                    if covariance:
                        raise ValueError(f"{func}: `covariance=True`: {exc}") from None
                    self.method = f"none: {exc}"
                    warnings.warn(f"{func}: closure noise not propagated (no {self.fields[0]}_stderr): {exc}",
                                  RuntimeWarning, stacklevel=3)
                else:
                    self.method = ("tangent_linear: the held modified-Newton matrix" if stepper.implicit else
                                   "tangent_linear: law.jacobian every "
                                   f"{self.tl.jacobian_refresh or solver.stepper_options.get('cfl_refresh', 10)} steps")
        self.stderr_wanted = bool(stderr) and self.tl is not None
        self.stderr: list[np.ndarray] = []
        self.cov: list[np.ndarray] = []
        self.goal_values: dict[str, list[float]] = {g: [] for g in self.weights}
        self.goal_stderr: dict[str, list[float]] = {g: [] for g in self.weights}

    def attach(self, stepper: Any) -> None:
        """Make a (new) stepper record its tangent steps."""
        if self.tl is not None:
            stepper.tangent_tape = []

    def advance(self, stepper: Any) -> None:
        if self.tl is not None:
            self.tl.advance(stepper)

    def restart(self) -> None:
        """A checkpoint record: the stepper restarts, so does the propagation's memory (as on resume)."""
        if self.tl is not None:
            self.tl.restart()

    def record(self, state: np.ndarray) -> None:
        flat = np.asarray(state, dtype=float).ravel()
        c = self.tl.covariance if self.tl is not None else None
        if self.tl is not None:
            self.stderr.append(self.tl.stderr.copy())
            if self.covariance_wanted:
                self.cov.append(c.copy())
        for name, w in self.weights.items():
            self.goal_values[name].append(float(w @ flat))
            if self.tl is not None:
                self.goal_stderr[name].append(float(np.sqrt(max(float(w @ c @ w), 0.0))))

    # -- checkpoints ------------------------------------------------------------------
    def resume(self, checkpoint: Any, records: Any, solver: Any) -> None:
        """Restore the earlier records' uncertainty and the propagation's restart data from a
        :class:`hmm.checkpoint.Checkpoint` (records truncated to those its manifest names)."""
        import xarray as xr

        source = checkpoint.resume_from
        n_rec = len(records.step)
        ds = xr.load_dataset(source).isel(time=slice(0, n_rec))
        if self.tl is not None:
            extra = checkpoint.load_extra() or {}
            if RESTART_VARIABLE not in extra:
                raise CheckpointError(f"checkpoint {str(source)!r} holds no closure-noise propagation "
                                      f"({RESTART_VARIABLE!r}): it was written with stderr=False; resume with "
                                      "stderr=False, covariance=False and no goals, or start a new run")
            self.tl.set_covariance(extra[RESTART_VARIABLE])
            self.tl.restart()
            self.jacobians_before = int(extra.get("stderr_jacobians", 0))
            per_field = [ds[f"{f}_stderr"].values for f in self.fields]
            self.stderr = [solver._state(np.stack([p[k] for p in per_field])) for k in range(n_rec)]
            if self.covariance_wanted:
                name = self._covariance_name()
                if name not in ds:
                    raise CheckpointError(f"checkpoint {str(source)!r} holds no {name!r}: it was written "
                                          "with covariance=False")
                self.cov = [np.array(c) for c in ds[name].values]
            for g in self.weights:
                if f"goal_{g}_stderr" not in ds:
                    raise CheckpointError(f"checkpoint {str(source)!r} holds no goal {g!r}")
                self.goal_stderr[g] = [float(v) for v in ds[f"goal_{g}_stderr"].values]
        for g in self.weights:
            if f"goal_{g}" not in ds:
                raise CheckpointError(f"checkpoint {str(source)!r} holds no goal {g!r}")
            self.goal_values[g] = [float(v) for v in ds[f"goal_{g}"].values]

    def restart_arrays(self) -> dict[str, np.ndarray]:
        """What a checkpoint must hold beyond the records to continue the propagation bit for bit."""
        if self.tl is None:
            return {}
        return {RESTART_VARIABLE: self.tl.covariance.copy(),
                "stderr_jacobians": np.array(self.jacobians_before + int(self.tl.n_jacobians))}

    def _covariance_name(self) -> str:
        return f"{self.fields[0]}_covariance" if len(self.fields) == 1 else "state_covariance"

    # -- dataset ----------------------------------------------------------------------
    def add_to(self, ds: Any, solver: Any, *, checkpoint: bool = False) -> Any:
        """Add the recorded uncertainty to the run's dataset (and the restart data for a checkpoint)."""
        ds.attrs["stderr_method"] = self.method
        if self.tl is not None:
            ds.attrs["stderr_jacobians"] = self.jacobians_before + int(self.tl.n_jacobians)
        if self.stderr_wanted or (checkpoint and self.tl is not None):
            values = np.stack([solver._field_values(s) for s in self.stderr], axis=1)  # (fields, time, ...)
            for name, v in zip(self.fields, values):
                ds[f"{name}_stderr"] = (ds[name].dims, v, {
                    "units": ds[name].attrs.get("units", "1"),
                    "long_name": f"standard error of {name}, closure noise propagated by the tangent-linear "
                                 "model of every step"})
        if self.cov:
            unit = ds[self.fields[0]].attrs.get("units", "1")
            ds[self._covariance_name()] = (("time", "state", "state_t"), np.asarray(self.cov), {
                "units": f"({unit})^2" if len(self.fields) == 1 else "field units squared",
                "long_name": f"covariance of the flat state (fields {self.fields}, cells in C order), "
                             "closure noise propagated by the tangent-linear model"})
        for g in self.weights:
            unit = self.goal_units[g]
            ds[f"goal_{g}"] = (("time",), np.asarray(self.goal_values[g]),
                               {"units": unit, "long_name": f"goal {g}: {self.goals[g]!r}"})
            if self.tl is not None:
                ds[f"goal_{g}_stderr"] = (("time",), np.asarray(self.goal_stderr[g]), {
                    "units": unit, "long_name": f"standard error of goal {g} (sqrt(w^T C w))"})
        return ds
