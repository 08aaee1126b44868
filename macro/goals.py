"""Goal functionals: quantities linear in a macro field, ``Q = sum_cells w_i u_i``.

A goal says its weights on a grid and its units; its value on a state is
``weights . u`` and, being linear, its standard error follows from the
state's covariance (``sqrt(w^T C w)``) or, without forming ``C``, from one
adjoint solve (:func:`macro.steady.goal_uncertainty`, and
:meth:`macro.tangent_linear.TangentLinear.goal_stderr` for transient runs).

Protocol (what ``hmm.HMMSolver(...).solve_steady(goals=...)`` and
``run(..., goals=...)`` use):

* ``field`` -- the field the goal reads (``None``: the law's only or first field);
* ``weights(grid) -> ndarray`` of ``grid.shape``: ``w`` per cell;
* ``units(grid, field_unit, length_unit) -> str``: the unit string of ``Q``.

:class:`FlowRate`, :class:`RegionMean` and :class:`PointValue` follow it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import check_float
from .grid import Grid1D, Grid2D

__all__ = ["Goal", "FlowRate", "RegionMean", "PointValue", "goal_vector"]


def _grid(grid: Any, func: str) -> Grid1D | Grid2D:
    if not isinstance(grid, (Grid1D, Grid2D)):
        raise TypeError(f"{func}: `grid` must be a Grid1D or Grid2D, got {type(grid).__name__}")
    return grid


def _field(field: Any, func: str) -> str | None:
    if field is not None and not isinstance(field, str):
        raise TypeError(f"{func}: `field` must be a field name (str) or None, got {type(field).__name__}")
    return field


class Goal:
    """Base class of the goal functionals (see the module docstring)."""

    field: str | None = None

    def weights(self, grid: Any) -> np.ndarray:
        """Weight of every cell, ``grid.shape``."""
        raise NotImplementedError

    def units(self, grid: Any, field_unit: str, length_unit: str) -> str:
        """Unit string of the goal's value."""
        return field_unit

    def value(self, grid: Any, u: Any) -> float:
        """``weights . u`` for the goal's field values ``u`` (``grid.shape`` or flat)."""
        w = self.weights(grid)
        return float(np.sum(w.ravel() * np.asarray(u, dtype=float).ravel()))


class FlowRate(Goal):
    """``Q = sum_i u_i |cell_i|``: the integral of the field over the domain.

    For a velocity ``u`` across a channel (1D, ``x`` the wall-normal
    coordinate) this is the volumetric flow rate per unit depth
    (length^2 / time for ``u`` in length / time); for a concentration it is
    the amount in the domain. Units: the field's times length^dim.
    """

    def __init__(self, field: str | None = None) -> None:
        self.field = _field(field, "FlowRate()")

    def __repr__(self) -> str:
        return f"FlowRate(field={self.field!r})"

    def weights(self, grid: Any) -> np.ndarray:
        grid = _grid(grid, "FlowRate.weights()")
        return np.full(grid.shape, float(grid.cell_volume))

    def units(self, grid: Any, field_unit: str, length_unit: str) -> str:
        dim = _grid(grid, "FlowRate.units()").dim
        if length_unit == "1":
            return field_unit
        length = length_unit if dim == 1 else f"{length_unit}^{dim}"
        return length if field_unit == "1" else f"{field_unit}*{length}"


class RegionMean(Goal):
    """Mean of the field over the cells whose centres lie in ``box`` (bounds included).

    Parameters
    ----------
    box : (a, b) for a Grid1D, ((ax, bx), (ay, by)) for a Grid2D
        The region (length units).
    field : str, optional
    """

    def __init__(self, box: Any, field: str | None = None) -> None:
        func = "RegionMean()"
        arr = np.asarray(box, dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)) or np.any(arr[:, 0] > arr[:, 1]):
            raise ValueError(f"{func}: `box` must be (a, b) or ((ax, bx), (ay, by)) with a <= b, got {box!r}")
        self.box = arr
        self.field = _field(field, func)

    def __repr__(self) -> str:
        return f"RegionMean(box={self.box.tolist()!r}, field={self.field!r})"

    def weights(self, grid: Any) -> np.ndarray:
        func = "RegionMean.weights()"
        grid = _grid(grid, func)
        if len(self.box) != grid.dim:
            raise ValueError(f"{func}: `box` has {len(self.box)} axes, the grid {grid.dim}")
        inside = np.ones(grid.shape, dtype=bool)
        for c, (a, b) in zip(grid.coords(), self.box):
            inside &= (c >= a) & (c <= b)
        count = int(inside.sum())
        if count == 0:
            raise ValueError(f"{func}: no cell centre of {grid!r} lies in the box {self.box.tolist()}")
        return inside / count


class PointValue(Goal):
    """The field at a point, (bi)linear interpolation between the cell centres.

    Between the outermost centre and the boundary the nearest centre's value
    is taken (constant extrapolation).

    Parameters
    ----------
    x : float (Grid1D) or (x, y) (Grid2D)
        The point (length units), inside the domain.
    field : str, optional
    """

    def __init__(self, x: Any, field: str | None = None) -> None:
        func = "PointValue()"
        point = np.atleast_1d(np.asarray(x, dtype=float))
        if point.ndim != 1 or not np.all(np.isfinite(point)):
            raise ValueError(f"{func}: `x` must be a finite number or (x, y), got {x!r}")
        self.x = tuple(check_float(float(v), "x", func) for v in point)
        self.field = _field(field, func)

    def __repr__(self) -> str:
        return f"PointValue(x={self.x!r}, field={self.field!r})"

    def weights(self, grid: Any) -> np.ndarray:
        func = "PointValue.weights()"
        grid = _grid(grid, func)
        if len(self.x) != grid.dim:
            raise ValueError(f"{func}: `x` has {len(self.x)} coordinates, the grid {grid.dim}")
        extents = (grid.extent,) if grid.dim == 1 else grid.extent
        factors = []
        for p, centres, (a, b) in zip(self.x, grid.centres, extents):
            if not a <= p <= b:
                raise ValueError(f"{func}: the point {self.x} lies outside the domain {tuple(extents)}")
            w = np.zeros(len(centres))
            q = float(np.clip(p, centres[0], centres[-1]))
            i = min(int(np.searchsorted(centres, q, side="right")) - 1, len(centres) - 1)
            if i == len(centres) - 1:
                w[i] = 1.0
            else:
                s = (q - centres[i]) / (centres[i + 1] - centres[i])
                w[i], w[i + 1] = 1.0 - s, s
            factors.append(w)
        return factors[0] if grid.dim == 1 else np.outer(factors[0], factors[1])


def goal_vector(goal: Any, grid: Any, fields: tuple[str, ...], func: str = "goal_vector()") -> np.ndarray:
    """The goal's weights on the flat state of a law with ``fields`` (fields, then cells in C order)."""
    for attr in ("weights", "units"):
        if not callable(getattr(goal, attr, None)):
            raise TypeError(f"{func}: a goal must have methods weights(grid) and units(grid, field_unit, "
                            f"length_unit) (e.g. macro.FlowRate()); {type(goal).__name__} lacks {attr}")
    field = getattr(goal, "field", None) or fields[0]
    if field not in fields:
        raise ValueError(f"{func}: goal {goal!r} reads field {field!r}; the law's fields are {fields}")
    w = np.asarray(goal.weights(grid), dtype=float)
    if w.size != grid.n_cells:
        raise ValueError(f"{func}: goal {goal!r} returned {w.size} weights for {grid.n_cells} cells")
    out = np.zeros((len(fields), grid.n_cells))
    out[fields.index(field)] = w.ravel()
    return out.ravel()
