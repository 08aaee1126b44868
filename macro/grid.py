"""Uniform cell-centred finite-volume grids in one and two dimensions.

Unknowns live at cell centres; fluxes live at faces. Conventions used by
every module of :mod:`macro`:

* Cell arrays have ``grid.shape`` = ``(nx,)`` or ``(nx, ny)`` with ``'ij'``
  indexing (the first axis is ``x``); flattened cell vectors use C order,
  so cell ``(i, j)`` has flat index ``i * ny + j``.
* Flattened face arrays: in 1D faces ``0 .. nx`` from left to right (face
  ``i`` at ``x = a + i h``). In 2D first all x-faces (normal along ``x``,
  array shape ``(nx + 1, ny)``, C order), then all y-faces (normal along
  ``y``, shape ``(nx, ny + 1)``, C order).

Lengths are in the (arbitrary, consistent) length unit of ``extent``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validate import check_extent, check_int

__all__ = ["Grid1D", "Grid2D"]


def _centres(n: int, a: float, b: float) -> np.ndarray:
    h = (b - a) / n
    return a + h * (np.arange(n) + 0.5)


def _faces(n: int, a: float, b: float) -> np.ndarray:
    return np.linspace(a, b, n + 1)


@dataclass(frozen=True)
class Grid1D:
    """Uniform 1D grid of ``cells`` cells on ``[a, b] = extent``.

    Parameters
    ----------
    cells : int
        Number of cells ``nx >= 1``.
    extent : tuple of float
        Domain ``(a, b)`` with ``a < b`` (length units).
    """

    cells: int
    extent: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cells", check_int(self.cells, "cells", "Grid1D()", minimum=1))
        object.__setattr__(self, "extent", check_extent(self.extent, "extent", "Grid1D()"))

    @property
    def dim(self) -> int:
        """Spatial dimension, 1."""
        return 1

    @property
    def dims(self) -> tuple[str, ...]:
        """Axis names, ``("x",)``."""
        return ("x",)

    @property
    def shape(self) -> tuple[int, ...]:
        """Cell-array shape ``(nx,)``."""
        return (self.cells,)

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return self.cells

    @property
    def n_faces(self) -> int:
        """Number of faces, ``nx + 1`` (boundary faces included)."""
        return self.cells + 1

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell width ``(h,)``."""
        a, b = self.extent
        return ((b - a) / self.cells,)

    @property
    def cell_volume(self) -> float:
        """Cell measure ``h`` (length)."""
        return self.spacing[0]

    @property
    def centres(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates per axis, ``(x_c,)``."""
        return (_centres(self.cells, *self.extent),)

    def coords(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinate arrays of shape ``shape``."""
        return self.centres

    @property
    def face_coords(self) -> tuple[np.ndarray, ...]:
        """Face positions per axis, ``(x_f,)`` with ``nx + 1`` entries."""
        return (_faces(self.cells, *self.extent),)

    def face_centres(self) -> np.ndarray:
        """Positions of all faces in flat face order, shape ``(n_faces, 1)``."""
        return self.face_coords[0][:, None]

    def face_axes(self) -> np.ndarray:
        """Normal axis of every face in flat face order (all 0 in 1D)."""
        return np.zeros(self.n_faces, dtype=np.intp)

    @property
    def face_dims(self) -> tuple[tuple[str, ...], ...]:
        """Dims of each face family's arrays: ``(("x_face",),)``."""
        return (("x_face",),)

    def split_faces(self, values: np.ndarray) -> list[np.ndarray]:
        """Flat face values -> one array per face family: ``[(nx + 1,)]``."""
        return [np.asarray(values)]


@dataclass(frozen=True)
class Grid2D:
    """Uniform 2D tensor grid of ``nx x ny`` cells on a rectangle.

    Parameters
    ----------
    cells : tuple of int
        ``(nx, ny)``, each ``>= 1``.
    extent : tuple of tuple of float
        ``((ax, bx), (ay, by))`` with ``ax < bx`` and ``ay < by``.
    """

    cells: tuple[int, int]
    extent: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 1.0), (0.0, 1.0))

    def __post_init__(self) -> None:
        try:
            nx, ny = self.cells
        except (TypeError, ValueError):
            raise TypeError(
                f"Grid2D(): `cells` must be a pair (nx, ny) of ints, got {self.cells!r}"
            ) from None
        cells = (
            check_int(nx, "cells", "Grid2D()", minimum=1),
            check_int(ny, "cells", "Grid2D()", minimum=1),
        )
        try:
            ex, ey = self.extent
        except (TypeError, ValueError):
            raise TypeError(
                "Grid2D(): `extent` must be ((ax, bx), (ay, by)), got " f"{self.extent!r}"
            ) from None
        extent = (check_extent(ex, "extent", "Grid2D()"), check_extent(ey, "extent", "Grid2D()"))
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "extent", extent)

    @property
    def dim(self) -> int:
        """Spatial dimension, 2."""
        return 2

    @property
    def dims(self) -> tuple[str, ...]:
        """Axis names, ``("x", "y")``."""
        return ("x", "y")

    @property
    def shape(self) -> tuple[int, ...]:
        """Cell-array shape ``(nx, ny)`` (``'ij'`` indexing)."""
        return tuple(self.cells)

    @property
    def n_cells(self) -> int:
        """Number of cells ``nx * ny``."""
        return self.cells[0] * self.cells[1]

    @property
    def n_x_faces(self) -> int:
        """Number of x-faces ``(nx + 1) * ny``."""
        return (self.cells[0] + 1) * self.cells[1]

    @property
    def n_y_faces(self) -> int:
        """Number of y-faces ``nx * (ny + 1)``."""
        return self.cells[0] * (self.cells[1] + 1)

    @property
    def n_faces(self) -> int:
        """Number of faces (x-faces then y-faces, boundary faces included)."""
        return self.n_x_faces + self.n_y_faces

    @property
    def spacing(self) -> tuple[float, ...]:
        """Cell widths ``(hx, hy)``."""
        return tuple((b - a) / n for n, (a, b) in zip(self.cells, self.extent))

    @property
    def cell_volume(self) -> float:
        """Cell area ``hx * hy``."""
        hx, hy = self.spacing
        return hx * hy

    @property
    def centres(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates per axis, ``(x_c, y_c)`` (1D arrays)."""
        return tuple(_centres(n, a, b) for n, (a, b) in zip(self.cells, self.extent))

    def coords(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinate arrays of shape ``(nx, ny)`` (meshgrid ``'ij'``)."""
        return tuple(np.meshgrid(*self.centres, indexing="ij"))

    @property
    def face_coords(self) -> tuple[np.ndarray, ...]:
        """Face positions per axis, ``(x_f, y_f)`` with ``nx + 1`` and ``ny + 1`` entries."""
        return tuple(_faces(n, a, b) for n, (a, b) in zip(self.cells, self.extent))

    def face_centres(self) -> np.ndarray:
        """Centres of all faces in flat face order, shape ``(n_faces, 2)``."""
        xc, yc = self.centres
        xf, yf = self.face_coords
        X1, Y1 = np.meshgrid(xf, yc, indexing="ij")  # x-faces
        X2, Y2 = np.meshgrid(xc, yf, indexing="ij")  # y-faces
        return np.column_stack(
            [np.concatenate([X1.ravel(), X2.ravel()]), np.concatenate([Y1.ravel(), Y2.ravel()])]
        )

    def face_axes(self) -> np.ndarray:
        """Normal axis of every face in flat face order (0 for x-faces, 1 for y-faces)."""
        return np.concatenate(
            [np.zeros(self.n_x_faces, dtype=np.intp), np.ones(self.n_y_faces, dtype=np.intp)]
        )

    @property
    def face_dims(self) -> tuple[tuple[str, ...], ...]:
        """Dims of each face family's arrays: ``(("x_face", "y"), ("x", "y_face"))``."""
        return (("x_face", "y"), ("x", "y_face"))

    def split_faces(self, values: np.ndarray) -> list[np.ndarray]:
        """Flat face values -> one array per face family, shaped like the faces:
        ``[(nx + 1, ny) x-faces, (nx, ny + 1) y-faces]``."""
        values = np.asarray(values)
        nx, ny = self.shape
        n_x = self.n_x_faces
        return [values[:n_x].reshape(nx + 1, ny), values[n_x:].reshape(nx, ny + 1)]
