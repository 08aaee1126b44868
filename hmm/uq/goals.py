r"""Goal quantities: scalars computed from an HMM results Dataset.

A goal is any callable ``goal(ds) -> float``. The helpers here are *linear
functionals* of one field of the macro state at the last record,

.. math::

    Q(u) = \sum_i w_i\, u_i ,

and say so through :meth:`LinearGoal.weights`, so the linear method can
carry the state covariance into the goal, :math:`\operatorname{Var} Q =
w^\mathsf{T} C\, w`. The weights are built from the Dataset's cell-centre
coordinates (uniform grids, at least two cells per axis):

* :class:`Integral` (``"flow_rate"``): :math:`\int_\Omega u\,dV`, the
  volumetric flow rate per unit depth of a channel velocity (units of the
  field times length\ :sup:`dim`);
* :class:`RegionalMean`: the mean of the field over the cells whose centres
  lie in a box (units of the field);
* :class:`PointValue`: the field in the cell containing a point (units of
  the field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

GoalLike = Callable[[Any], float]


def last_record(ds: Any) -> Any:
    """The Dataset at its last record: ``ds.isel(time=-1)`` for a transient run, ``ds`` for a steady one."""
    return ds.isel(time=-1) if "time" in ds.dims else ds


def _spacing(coord: np.ndarray, name: str) -> float:
    if coord.size < 2:
        raise ValueError(f"goal: axis {name!r} needs at least two cells to know the cell width")
    return float(coord[1] - coord[0])


@dataclass(frozen=True)
class LinearGoal:
    """Base of the linear goals: ``Q = sum(weights * field)`` at the last record.

    Parameters
    ----------
    field : str
        Field of the macro law (``"u"``).
    """

    field: str = "u"

    name = "linear_goal"

    def weights(self, ds: Any) -> np.ndarray:
        """Weights ``w`` of the field's cells (the field's shape without ``time``)."""
        raise NotImplementedError

    def units(self, ds: Any) -> str:
        """Unit string of the goal value."""
        return str(ds[self.field].attrs.get("units", "1"))

    def _field(self, ds: Any):
        if self.field not in ds:
            raise ValueError(f"{type(self).__name__}: the results have no field {self.field!r} "
                             f"(data variables: {sorted(ds.data_vars)})")
        return last_record(ds)[self.field]

    def __call__(self, ds: Any) -> float:
        values = self._field(ds).values
        return float(np.sum(self.weights(ds) * values))


@dataclass(frozen=True)
class Integral(LinearGoal):
    """``Q = integral of the field over the domain``: the cell sum times the cell volume.

    For a channel velocity ``u(y)`` this is the flow rate per unit depth
    (units of ``u`` times length).
    """

    name = "flow_rate"

    def weights(self, ds: Any) -> np.ndarray:
        da = self._field(ds)
        volume = math.prod(_spacing(np.asarray(ds[d].values), d) for d in da.dims)
        return np.full(da.shape, volume)

    def units(self, ds: Any) -> str:
        unit = str(ds[self.field].attrs.get("units", "1"))
        dims = self._field(ds).dims
        length = str(ds[dims[0]].attrs.get("units", "1"))
        if length == "1":
            return unit
        power = "" if len(dims) == 1 else f"^{len(dims)}"
        return f"{unit} {length}{power}" if unit != "1" else f"{length}{power}"


@dataclass(frozen=True)
class RegionalMean(LinearGoal):
    """Mean of the field over the cells whose centres lie in ``[lower, upper]`` (per axis).

    Parameters
    ----------
    lower, upper : sequence of float
        Corners of the box, one entry per axis (length units).
    """

    lower: Sequence[float] = ()
    upper: Sequence[float] = ()

    name = "regional_mean"

    def weights(self, ds: Any) -> np.ndarray:
        da = self._field(ds)
        if len(self.lower) != da.ndim or len(self.upper) != da.ndim:
            raise ValueError(f"RegionalMean: `lower` and `upper` need {da.ndim} entries (one per axis "
                             f"{da.dims}), got {list(self.lower)} and {list(self.upper)}")
        inside = np.ones(da.shape, dtype=bool)
        for k, d in enumerate(da.dims):
            c = np.asarray(ds[d].values)
            sel = (c >= self.lower[k]) & (c <= self.upper[k])
            inside &= sel.reshape([-1 if j == k else 1 for j in range(da.ndim)])
        if not inside.any():
            raise ValueError(f"RegionalMean: no cell centre lies in the box {list(self.lower)} .. "
                             f"{list(self.upper)}")
        return inside / inside.sum()


@dataclass(frozen=True)
class PointValue(LinearGoal):
    """The field in the cell nearest to ``point`` (one coordinate per axis, length units)."""

    point: Sequence[float] = ()

    name = "point_value"

    def weights(self, ds: Any) -> np.ndarray:
        da = self._field(ds)
        if len(self.point) != da.ndim:
            raise ValueError(f"PointValue: `point` needs {da.ndim} coordinates (axes {da.dims}), "
                             f"got {list(self.point)}")
        index = tuple(int(np.argmin(np.abs(np.asarray(ds[d].values) - p))) for d, p in zip(da.dims, self.point))
        w = np.zeros(da.shape)
        w[index] = 1.0
        return w


def flow_rate(field: str = "u") -> Integral:
    """The integral of ``field`` over the domain (a channel's flow rate per unit depth)."""
    return Integral(field)


def regional_mean(lower: Sequence[float], upper: Sequence[float], field: str = "u") -> RegionalMean:
    """The mean of ``field`` over the cells whose centres lie in the box ``[lower, upper]``."""
    return RegionalMean(field, tuple(float(v) for v in lower), tuple(float(v) for v in upper))


def point_value(point: Sequence[float] | float, field: str = "u") -> PointValue:
    """``field`` in the cell nearest to ``point``."""
    pt = (float(point),) if np.ndim(point) == 0 else tuple(float(v) for v in point)
    return PointValue(field, pt)


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
    """Standard error of a linear goal from the state covariance ``{field}_covariance`` of ``ds``
    (``sqrt(w^T C w)``), or from ``{field}_stderr`` for a single-cell weight; NaN when neither is there
    or the goal is not linear."""
    if not isinstance(goal, LinearGoal):
        return math.nan
    w = goal.weights(ds).ravel()
    cov_name = f"{goal.field}_covariance"
    if cov_name in ds:
        cov = np.asarray(last_record(ds)[cov_name].values)
        return float(math.sqrt(max(float(w @ cov @ w), 0.0)))
    se_name = f"{goal.field}_stderr"
    if np.count_nonzero(w) == 1 and se_name in ds:
        return float(np.abs(w).max() * np.asarray(last_record(ds)[se_name].values).ravel()[np.argmax(np.abs(w))])
    return math.nan
