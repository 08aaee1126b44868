r"""Goal quantities: scalars computed from an HMM results Dataset.

A goal is any callable ``goal(ds) -> float``. The named goals here are the
linear functionals of :mod:`macro.goals` (``macro.FlowRate``,
``macro.RegionMean``, ``macro.PointValue``: one definition in the framework)
read off a results Dataset at its last record,

.. math::

    Q(u) = \sum_i w_i\, u_i ,

and say so through :meth:`LinearGoal.weights`, so the linear method can
carry the state covariance into the goal, :math:`\operatorname{Var} Q =
w^\mathsf{T} C\, w`. The grid is rebuilt from the Dataset's cell-centre
coordinates (uniform grids, at least two cells per axis):

* :func:`flow_rate` (``"flow_rate"``): :math:`\int_\Omega u\,dV`, the
  volumetric flow rate per unit depth of a channel velocity (units of the
  field times length\ :sup:`dim`);
* :func:`regional_mean`: the mean of the field over the cells whose centres
  lie in a box (units of the field);
* :func:`point_value`: the field at a point, (bi)linear between cell
  centres (units of the field).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

import numpy as np

GoalLike = Callable[[Any], float]


def last_record(ds: Any) -> Any:
    """The Dataset at its last record: ``ds.isel(time=-1)`` for a transient run, ``ds`` for a steady one."""
    return ds.isel(time=-1) if "time" in ds.dims else ds


def grid_of(ds: Any, field: str = "u") -> Any:
    """The uniform :class:`macro.Grid1D` / :class:`macro.Grid2D` whose cell centres are the
    coordinates of ``field`` in ``ds`` (ValueError for fewer than two cells on an axis)."""
    from macro import Grid1D, Grid2D

    dims = last_record(ds)[field].dims
    extents, cells = [], []
    for d in dims:
        c = np.asarray(ds[d].values, dtype=float)
        if c.size < 2:
            raise ValueError(f"goal: axis {d!r} needs at least two cells to know the cell width")
        h = float(c[1] - c[0])
        extents.append((float(c[0] - h / 2), float(c[-1] + h / 2)))
        cells.append(int(c.size))
    if len(dims) == 1:
        return Grid1D(cells[0], extents[0])
    return Grid2D(tuple(cells), tuple(extents))


class LinearGoal:
    """A :mod:`macro.goals` functional evaluated on a results Dataset at its last record.

    Parameters
    ----------
    goal : macro.goals.Goal
        ``macro.FlowRate()``, ``macro.RegionMean(box)``, ``macro.PointValue(x)``
        or any object with ``field``, ``weights(grid)`` and ``units(grid,
        field_unit, length_unit)``.
    name : str
        Name used in results (``goal`` attributes).
    """

    def __init__(self, goal: Any, name: str) -> None:
        self.goal = goal
        self.name = name
        self.field = getattr(goal, "field", None) or "u"

    def __repr__(self) -> str:
        return f"LinearGoal({self.goal!r})"

    def _field(self, ds: Any):
        if self.field not in ds:
            raise ValueError(f"{self.name}: the results have no field {self.field!r} "
                             f"(data variables: {sorted(ds.data_vars)})")
        return last_record(ds)[self.field]

    def weights(self, ds: Any) -> np.ndarray:
        """Weights ``w`` of the field's cells (the field's shape without ``time``)."""
        self._field(ds)
        return np.asarray(self.goal.weights(grid_of(ds, self.field)), dtype=float)

    def units(self, ds: Any) -> str:
        """Unit string of the goal value."""
        da = self._field(ds)
        length = str(ds[da.dims[0]].attrs.get("units", "1"))
        return str(self.goal.units(grid_of(ds, self.field), str(ds[self.field].attrs.get("units", "1")), length))

    def __call__(self, ds: Any) -> float:
        return float(np.sum(self.weights(ds) * self._field(ds).values))


def flow_rate(field: str = "u") -> LinearGoal:
    """The integral of ``field`` over the domain (a channel's flow rate per unit depth): ``macro.FlowRate``."""
    from macro.goals import FlowRate

    return LinearGoal(FlowRate(field), "flow_rate")


def regional_mean(lower: Sequence[float], upper: Sequence[float], field: str = "u") -> LinearGoal:
    """The mean of ``field`` over the cells whose centres lie in the box ``[lower, upper]``: ``macro.RegionMean``."""
    from macro.goals import RegionMean

    lower, upper = np.atleast_1d(np.asarray(lower, dtype=float)), np.atleast_1d(np.asarray(upper, dtype=float))
    if lower.shape != upper.shape:
        raise ValueError(f"regional_mean(): `lower` and `upper` need one entry per axis each, got "
                         f"{lower.tolist()} and {upper.tolist()}")
    return LinearGoal(RegionMean(np.column_stack([lower, upper]), field), "regional_mean")


def point_value(point: Sequence[float] | float, field: str = "u") -> LinearGoal:
    """``field`` at ``point``, (bi)linear between cell centres: ``macro.PointValue``."""
    from macro.goals import PointValue

    return LinearGoal(PointValue(point, field), "point_value")


GOALS: dict[str, Callable[..., LinearGoal]] = {
    "flow_rate": flow_rate, "integral": flow_rate, "regional_mean": regional_mean, "point_value": point_value}
"""Named goals: name -> factory (keyword arguments as in a config's ``uq.goal`` table)."""


def make_goal(spec: Any) -> GoalLike | None:
    """A goal from ``None``, a callable, a name of :data:`GOALS` or a table ``{kind = name, ...}``.

    Raises
    ------
    ValueError
        Unknown goal name (the message lists the names) or bad arguments.
    TypeError
        Anything else.
    """
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str):
        spec = {"kind": spec}
    if isinstance(spec, Mapping):
        args = dict(spec)
        kind = args.pop("kind", None)
        if kind not in GOALS:
            raise ValueError(f"goal: unknown goal {kind!r}; named goals are {sorted(GOALS)}")
        try:
            return GOALS[kind](**args)
        except TypeError as exc:
            raise ValueError(f"goal {kind!r}: {exc}") from None
    raise TypeError(f"goal must be None, a callable Dataset -> float, a name of {sorted(GOALS)} "
                    f"or a table with `kind`, got {type(spec).__name__}")


def goal_name(goal: Any) -> str:
    """A short name for the goal (its ``name``, the function's name, or ``"goal"``)."""
    return str(getattr(goal, "name", None) or getattr(goal, "__name__", None) or "goal")


def goal_units(goal: Any, ds: Any) -> str:
    """The goal's unit string, ``"1"`` when the goal does not say."""
    units = getattr(goal, "units", None)
    return str(units(ds)) if callable(units) else "1"


def linear_goal_stderr(goal: Any, ds: Any) -> float:
    """Standard error of a linear goal: the solver's adjoint value ``goal_uq_stderr`` when the run
    carries it, else from the state covariance ``{field}_covariance`` of ``ds`` (``sqrt(w^T C w)``), or
    from ``{field}_stderr`` for a single-cell weight; NaN when none is there or the goal is not linear."""
    if not isinstance(goal, LinearGoal):
        return math.nan
    if "goal_uq_stderr" in ds:  # the solver's adjoint (hmm.uq._members.run_member hands the goal over)
        return float(last_record(ds)["goal_uq_stderr"].values)
    w = goal.weights(ds).ravel()
    cov_name = f"{goal.field}_covariance"
    if cov_name in ds:
        cov = np.asarray(last_record(ds)[cov_name].values)
        return float(math.sqrt(max(float(w @ cov @ w), 0.0)))
    se_name = f"{goal.field}_stderr"
    if np.count_nonzero(w) == 1 and se_name in ds:
        return float(np.abs(w).max() * np.asarray(last_record(ds)[se_name].values).ravel()[np.argmax(np.abs(w))])
    return math.nan
