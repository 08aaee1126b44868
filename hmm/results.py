"""Labelled results: assembling macro snapshots into xarray and writing them safely.

:class:`Records` collects what the HMM driver saves at each record (the
state's fields, the closure answers as the law records them, the Coupler's
accounting since the previous record); :func:`records_dataset` is the one
assembler that turns them into an :class:`xarray.Dataset` for every law,
driven by the law's fields and the dims it names. A checkpoint is such a
dataset, and :meth:`Records.from_dataset` reads it back.
"""

from __future__ import annotations

from collections.abc import Callable

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .accounting import Accounting

ACCOUNTING_VARIABLES: dict[str, tuple[str, str | None, str]] = {
    "micro_runs": ("fresh_runs", None, "fresh micro runs since the previous record"),
    "micro_cost_s": ("micro_seconds", "s", "micro wall seconds spent since the previous record"),
    "micro_cached_answers": ("cached_answers", None, "queries answered without a run since the previous record"),
    "micro_failed_runs": ("failed_runs", None, "failed micro attempts since the previous record"),
    "micro_batches": ("batches", None, "Coupler batches since the previous record"),
    "micro_queries": ("queries", None, "queries asked of the Coupler since the previous record"),
    "micro_surrogate_answers": ("surrogate_answers", None,
                                "failed queries answered by the failure surrogate since the previous record"),
}
"""Dataset variable -> (Accounting field, units, long name) recorded at every save."""


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


def _umask() -> int:
    """The process's file-mode creation mask (read without changing it for long)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(target: str | os.PathLike, write: Callable[[str], None], *, suffix: str = ".tmp") -> Path:
    """Write a file atomically: ``write(tmp)`` fills a temporary file in the
    target's directory, which is flushed to disk (fsync), given the
    permissions of any file the user creates (``0o666`` less the umask, not
    the private ``0o600`` of a temporary file) and renamed over ``target``;
    the directory entry is fsynced too, so the rename survives a crash. A
    crash never leaves a half-written file under the target's name."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=suffix, dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return target
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return target


def write_netcdf(ds, path: str | os.PathLike) -> Path:
    """Write ``ds`` to ``path`` (``.nc``) atomically (:func:`atomic_write`)."""
    target = Path(path)
    if target.suffix not in (".nc", ".nc4", ".netcdf"):
        raise ValueError(f"results path must end in .nc, got {str(target)!r}")
    return atomic_write(target, ds.to_netcdf)


def face_coords(grid) -> dict[str, np.ndarray]:
    """Face coordinate arrays ``x_face`` (and ``y_face``) of a grid."""
    names = ("x_face", "y_face")
    return {names[k]: np.asarray(grid.face_coords[k]) for k in range(grid.dim)}


def split_faces(grid, values: np.ndarray) -> list[np.ndarray]:
    """Flat face values -> one array per face family (``grid.split_faces``)."""
    return grid.split_faces(values)


def flux_dims(grid) -> list[tuple[str, ...]]:
    """Dimensions of each face family's flux variable (``grid.face_dims``)."""
    return list(grid.face_dims)


@dataclass
class Records:
    """Snapshots of a run, one entry per record.

    Attributes
    ----------
    step, time : list
        Macro step index and time of each record.
    fields : dict
        Field name -> list of arrays of the grid's shape.
    outputs : dict
        Result name -> (dims, list of means, list of stderrs), the closure
        answers as the law records them, under the oracle's names.
    accounting : list of Accounting
        The Coupler's work since the previous record.
    """

    field_names: tuple[str, ...]
    step: list[int] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    fields: dict[str, list[np.ndarray]] = field(default_factory=dict)
    outputs: dict[str, tuple[tuple[str, ...], list[np.ndarray], list[np.ndarray]]] = field(default_factory=dict)
    accounting: list[Accounting] = field(default_factory=list)

    def add(self, step: int, t: float, field_values: np.ndarray, recorded: Mapping[str, tuple],
            work: Accounting) -> None:
        """Append one record: ``field_values`` (n_fields, *grid.shape), ``recorded``
        result name -> (dims, mean, stderr), ``work`` the accounting difference."""
        self.step.append(int(step))
        self.time.append(float(t))
        for name, values in zip(self.field_names, field_values):
            self.fields.setdefault(name, []).append(np.array(values))
        for name, (dims, mean, stderr) in recorded.items():
            entry = self.outputs.setdefault(name, (tuple(dims), [], []))
            entry[1].append(np.asarray(mean))
            entry[2].append(np.asarray(stderr))
        self.accounting.append(work)

    @property
    def total(self) -> Accounting:
        """The Coupler's work over all records."""
        total = Accounting()
        for work in self.accounting:
            total = total + work
        return total

    def last_state(self) -> np.ndarray:
        """The fields of the last record, (n_fields, *grid.shape)."""
        return np.stack([self.fields[name][-1] for name in self.field_names])

    @classmethod
    def from_dataset(cls, ds, field_names: tuple[str, ...], output_names: tuple[str, ...]) -> "Records":
        """Records read back from a dataset written by :func:`records_dataset`."""
        rec = cls(tuple(field_names))
        n = ds.sizes["time"]
        rec.step = [int(s) for s in ds["step"].values]
        rec.time = [float(t) for t in ds["time"].values]
        rec.fields = {f: [ds[f].values[i] for i in range(n)] for f in field_names}
        rec.outputs = {o: (tuple(ds[o].dims[1:]), [ds[o].values[i] for i in range(n)],
                           [ds[f"{o}_stderr"].values[i] for i in range(n)]) for o in output_names}
        # checkpoints written before a counter existed read it as zero
        columns = {name: (ds[name].values if name in ds else np.zeros(n)) for name in ACCOUNTING_VARIABLES}
        rec.accounting = [Accounting(**{acc: _count(acc, columns[var][i])
                                        for var, (acc, _, _) in ACCOUNTING_VARIABLES.items()})
                          for i in range(n)]
        return rec


def _count(name: str, value: Any) -> int | float:
    return float(value) if name == "micro_seconds" else int(value)


def records_dataset(records: Records, grid: Any, units: Mapping[str, str], attrs: Mapping[str, Any],
                    long_names: Mapping[str, str] | None = None, *, with_time: bool = True):
    """The one results assembler: a Dataset of the records' fields, closure
    answers (``name`` and ``name_stderr``) and per-record accounting.

    Dims: ``time`` (unless ``with_time`` is False: one record, no time
    axis), the grid's dims and the face dims the law names (``x_face``,
    ``y_face``), each with its coordinate. ``units`` maps field, output,
    ``x`` and ``time`` names to unit strings ("1" when absent).
    """
    import xarray as xr

    lead: tuple[str, ...] = ("time",) if with_time else ()
    long_names = dict(long_names or {})

    def stack(values: list[np.ndarray]) -> np.ndarray:
        return np.asarray(values) if with_time else np.asarray(values[-1])

    coords: dict[str, Any] = {d: (d, c, {"units": units.get("x", "1")}) for d, c in zip(grid.dims, grid.centres)}
    used = {d for dims, _, _ in records.outputs.values() for d in dims}
    coords.update({k: (k, v, {"units": units.get("x", "1")}) for k, v in face_coords(grid).items() if k in used})
    if with_time:
        coords["time"] = ("time", np.asarray(records.time, dtype=float), {"units": units.get("time", "1")})
    data: dict[str, Any] = {}
    for name in records.field_names:
        data[name] = (lead + tuple(grid.dims), stack(records.fields[name]),
                      {"units": units.get(name, "1"), "long_name": long_names.get(name, "macro field")})
    for name, (dims, means, errs) in records.outputs.items():
        unit = units.get(name, "1")
        data[name] = (lead + dims, stack(means),
                      {"units": unit, "long_name": long_names.get(name, f"{name} (micro estimate)")})
        data[f"{name}_stderr"] = (lead + dims, stack(errs), {"units": unit, "long_name": f"standard error of {name}"})
    for var, (acc, unit, long_name) in ACCOUNTING_VARIABLES.items():
        values = [getattr(work, acc) for work in records.accounting]
        column = np.asarray(values, dtype=float if acc == "micro_seconds" else np.int64)
        meta = {"long_name": long_name, **({"units": unit} if unit else {})}
        data[var] = (lead, column if with_time else column[-1], meta)
    if with_time:
        data["step"] = ("time", np.asarray(records.step, dtype=np.int64), {"long_name": "macro step index"})
    return xr.Dataset(data, coords=coords, attrs=dict(attrs))
