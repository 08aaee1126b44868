"""Labelled results: assembling macro snapshots into xarray and writing them safely."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np


def netcdf_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes netCDF can store: numbers and strings (``None``/bools/dicts as text)."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, bool) or value is None:
            out[key] = str(value)
        elif isinstance(value, (int, float, str, np.integer, np.floating)):
            out[key] = value
        else:
            out[key] = repr(value)
    return out


def write_netcdf(ds, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` atomically: a temporary file in the same
    directory, renamed over the target only once it is complete, so a crash
    never leaves a half-written results file."""
    target = Path(path)
    if target.suffix not in (".nc", ".nc4", ".netcdf"):
        raise ValueError(f"results path must end in .nc, got {str(target)!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        ds.to_netcdf(tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def face_coords(grid) -> dict[str, np.ndarray]:
    """Face coordinate arrays ``x_face`` (and ``y_face``) of a grid."""
    names = ("x_face", "y_face")
    return {names[k]: np.asarray(grid.face_coords[k]) for k in range(grid.dim)}


def split_faces(grid, values: np.ndarray) -> list[np.ndarray]:
    """Flat face values -> one array per face family, shaped like the faces.

    1D: [(nx+1,)]; 2D: [(nx+1, ny) x-faces, (nx, ny+1) y-faces] (the face
    order of :mod:`macro.grid`).
    """
    values = np.asarray(values)
    if grid.dim == 1:
        return [values]
    nx, ny = grid.shape
    n_x = (nx + 1) * ny
    return [values[:n_x].reshape(nx + 1, ny), values[n_x:].reshape(nx, ny + 1)]


def flux_dims(grid) -> list[tuple[str, ...]]:
    """Dimensions of each face family's flux variable."""
    if grid.dim == 1:
        return [("x_face",)]
    return [("x_face", "y"), ("x", "y_face")]
