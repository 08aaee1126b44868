"""The record of an adaptive steady run (:class:`hmm.AdaptiveSteadySolver`) as an xarray Dataset.

Per iteration: grid size, goal, the error estimate and its three parts, the
micro seconds and runs so far, the actions taken, and the modelling and
discretisation indicator densities sampled on fixed plot axes (so that
iterations on different grids line up). Per micro run: iteration, kind,
state, estimate, samples and cost. Per proposed action: iteration, kind,
position, samples, expected gain and cost.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

__all__ = ["AdaptiveLog"]


def _plot_axes(grid: Any, n1d: int = 256, n2d: int = 64) -> list[np.ndarray]:
    n = n1d if grid.dim == 1 else n2d
    ext = [grid.extent] if grid.dim == 1 else list(grid.extent)
    return [np.linspace(a, b, n + 1)[:-1] + (b - a) / (2 * n) for a, b in ext]


def _on_plot(grid: Any, cell_values: np.ndarray, axes: list[np.ndarray]) -> np.ndarray:
    """Piecewise-constant cell field sampled at the plot axes (density per unit length)."""
    ext = [grid.extent] if grid.dim == 1 else list(grid.extent)
    idx = [np.clip(((ax - a) / h).astype(int), 0, n - 1)
           for ax, (a, _), h, n in zip(axes, ext, grid.spacing, grid.shape)]
    field = np.asarray(cell_values).reshape(grid.shape) / grid.cell_volume
    return field[np.ix_(*idx)]


class AdaptiveLog:
    """Per-iteration records of an adaptive run, turned into a Dataset at the end.

    Parameters
    ----------
    grid
        The initial macro grid (its extent fixes the plot axes).
    reference : float, optional
        Exact goal value: the true error is then recorded.
    """

    keys = ("cells", "goal", "est_error", "est_modelling", "est_statistical", "est_discretisation",
            "true_error", "micro_seconds", "micro_runs", "n_fresh_run", "n_sample_more", "refined",
            "faces_reused", "eta_modelling", "eta_discretisation")

    def __init__(self, grid: Any, reference: float | None = None) -> None:
        self.plot_axes = _plot_axes(grid)
        self.reference = reference
        self.log: dict[str, list] = {k: [] for k in self.keys}

    def solution(self, ctx: Any, est: Any, micro_seconds: float, micro_runs: int) -> None:
        """Record the estimate ``est`` (:class:`adaptivity.GoalEstimate`) of the solution in ``ctx``."""
        grid = ctx.grid
        for key, val in (("cells", grid.n_cells), ("goal", est.goal), ("est_error", est.estimate),
                         ("est_modelling", est.modelling.estimate), ("est_statistical", est.statistical.estimate),
                         ("est_discretisation", est.discretisation.estimate),
                         ("true_error", np.nan if self.reference is None else est.goal - self.reference),
                         ("micro_seconds", micro_seconds), ("micro_runs", micro_runs),
                         ("faces_reused", grid.n_faces),
                         ("eta_modelling", _on_plot(ctx.fine.grid, np.abs(est.modelling.cells), self.plot_axes)),
                         ("eta_discretisation", _on_plot(grid, np.abs(est.discretisation.cells), self.plot_axes))):
            self.log[key].append(val)

    def acted(self, n_fresh_run: int, n_sample_more: int, refined: bool) -> None:
        """Record what the iteration did after its estimate."""
        self.log["n_fresh_run"].append(n_fresh_run)
        self.log["n_sample_more"].append(n_sample_more)
        self.log["refined"].append(refined)

    def dataset(self, observations: Any, asked: list, inputs: tuple[str, ...], grid: Any, u: np.ndarray,
                attrs: Mapping[str, Any]) -> Any:
        """The run as an :class:`xarray.Dataset` (``observations``/``asked`` of the
        :class:`adaptivity.GoalLearner`, closure input names, final grid and solution)."""
        import xarray as xr

        log, plot_axes = self.log, self.plot_axes
        n_it = len(log["cells"])
        pdims = ("iteration", "xi") if grid.dim == 1 else ("iteration", "xi", "yi")
        coords = {"iteration": np.arange(1, n_it + 1), "xi": plot_axes[0]}
        if grid.dim == 2:
            coords["yi"] = plot_axes[1]
        data = {k: ("iteration", np.asarray(log[k])) for k in log if not k.startswith("eta_")}
        data["eta_modelling"] = (pdims, np.asarray(log["eta_modelling"]),
                                 {"long_name": "modelling indicator density (goal units per volume)"})
        data["eta_discretisation"] = (pdims, np.asarray(log["eta_discretisation"]),
                                      {"long_name": "discretisation indicator density (goal units per volume)"})
        data["micro_seconds"] = ("iteration", np.asarray(log["micro_seconds"]), {"units": "s"})
        runs = observations
        st = np.array(runs["state"])
        data["run_iteration"] = ("run", np.asarray(runs["iteration"], dtype=np.int64))
        data["run_kind"] = ("run", np.asarray([str(k) for k in runs["kind"]]))
        for j, name in enumerate(inputs):
            data[f"run_{name}"] = ("run", st[:, j])
        data["run_mean"] = ("run", np.array(runs["mean"])[:, 0])
        data["run_stderr"] = ("run", np.array(runs["stderr"])[:, 0])
        data["run_samples"] = ("run", np.asarray(runs["samples"], dtype=np.int64))
        data["run_cost_s"] = ("run", np.asarray(runs["cost"], dtype=float), {"units": "s"})
        actions = {"iteration": [it for it, _ in asked], "kind": [a.kind for _, a in asked],
                   "position": [np.nan if a.state is None else float(a.state[0]) for _, a in asked],
                   "samples": [a.samples for _, a in asked], "gain": [a.gain for _, a in asked],
                   "cost": [a.cost_s for _, a in asked]}
        for k, v in actions.items():
            data[f"action_{k}"] = ("action", np.asarray(v) if k != "kind" else np.asarray(v, dtype=str))
        data["u"] = (tuple(f"cell_{d}" for d in grid.dims), np.asarray(u).reshape(grid.shape))
        for d, c in zip(grid.dims, grid.centres):
            coords[f"cell_{d}"] = c
        attrs = {k: (v if isinstance(v, (str, int, float)) else str(v)) for k, v in attrs.items()}
        return xr.Dataset(data, coords=coords, attrs=attrs)
