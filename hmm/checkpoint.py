"""Checkpoints of a transient HMM run: write, read and compare them.

A checkpoint named ``PATH`` (a ``.nc`` name) is three kinds of file, none of
them a pickle:

``PATH``
    The results netCDF of the records so far (what :func:`hmm.results.records_dataset`
    assembles: the macro fields, the recorded closure answers, the per-record
    accounting, with ``run_token`` and ``completed_steps`` attributes). The
    last record holds the macro state and time the run resumes from.
``PATH.manifest.json``
    The manifest, written last: format, step, number of steps, time, the
    number of records the checkpoint holds, the run token (law, grid,
    oracle, budget, seed, stepper, times, initial state), the root seed, the
    files and their BLAKE2b digests, package versions and, from the command
    line, the run configuration as a normalised dict with its hash.
``PATH.cache-<step>.npz``
    The micro-estimate cache (:class:`hmm.cache.EstimateCache`) at that step:
    every answer with the seed that produced it, so that a resumed run
    answers what the first run had already computed exactly as the
    uninterrupted run would (from the cache, with the same accounting).

Every file is written to a temporary name, flushed to disk and renamed; the
manifest's rename is the commit. A crash at any point leaves the previous
manifest and the files it names: the records file may already hold more
records than that manifest, and a resume keeps only the manifest's
(records are only ever appended, so the first ones are unchanged).

The run keeps no other state between records: the solver restarts its
stepper at every record of a checkpointed run, seeds derive from the root
seed and the query (retries from the failed seed), and the Coupler's failure
surrogate uses only the batch at hand, so records, cache and root seed are
everything a resumed run needs to repeat the bits. A wrapped closure with a
state of its own (a :class:`hmm.ReuseClosure` surrogate) is not
checkpointed, and :meth:`hmm.HMMSolver.run` refuses the combination.

A path-backed micro cache (``Coupler(cache="file.npz")``, ``[coupler] cache =
"file.npz"``) is saved at every record, so it may hold answers the killed run
computed after its last checkpoint: the resumed run then reads them from
that file, with the same fields but fewer fresh runs in its accounting than
the uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .errors import CheckpointError

__all__ = ["Checkpoint", "check_resume", "read_manifest", "manifest_path", "parse_every", "differing_keys",
           "flatten", "config_hash", "MAY_DIFFER", "write_states", "read_states", "FORMAT", "STATES_FORMAT"]

FORMAT = "hmm-checkpoint/1"
"""Value of the manifest's ``format`` key."""

MANIFEST_SUFFIX = ".manifest.json"

MAY_DIFFER: tuple[str, ...] = ("output.path", "output.checkpoint", "run.checkpoint_every",
                               "coupler.scheduler", "coupler.workers", "coupler.batch_size",
                               "coupler.allowed_failures", "cluster")
"""Config keys (dotted; a section name covers its keys) that may differ between
the run that wrote a checkpoint and the run that resumes it: where results and
checkpoints go and where and how the micro runs are placed. None of them
changes a bit of the results (seeds derive from the queries, not from the
workers)."""

_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}


def parse_every(value: Any, *, key: str | None = "run.checkpoint_every") -> tuple[int | None, float | None]:
    """``(steps, seconds)`` of a checkpoint interval: ``None`` (every record),
    an int ``N >= 1`` (steps) or a string such as ``"30s"``, ``"5min"``,
    ``"2h"`` (wall seconds). ValueError naming ``key`` otherwise."""
    where = f"{key}: " if key else ""
    if value is None:
        return None, None
    if isinstance(value, bool):
        raise ValueError(f"{where}must be an int >= 1 (steps) or a duration such as '30s', got {value!r}")
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"{where}a number of steps must be >= 1, got {value}")
        return value, None
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|sec|min|h)\s*", value)
        if match:
            seconds = float(match.group(1)) * _UNITS[match.group(2)]
            if math.isfinite(seconds) and seconds > 0:
                return None, seconds
    raise ValueError(f"{where}must be an int >= 1 (steps) or a positive duration such as '30s', "
                     f"'5min' or '2h', got {value!r}")


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dict -> ``{"macro.cells": [...], ...}`` (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def config_hash(config: Mapping[str, Any]) -> str:
    """BLAKE2b hex digest of a normalised config dict (keys sorted)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def differing_keys(saved: Mapping[str, Any], current: Mapping[str, Any],
                   may_differ: tuple[str, ...] = MAY_DIFFER) -> list[str]:
    """Dotted keys whose values differ between two normalised configs, less
    those in ``may_differ`` (a key or any key under a section named there)."""
    a, b = flatten(saved), flatten(current)

    def allowed(key: str) -> bool:
        return any(key == k or key.startswith(k + ".") for k in may_differ)

    return sorted(k for k in set(a) | set(b) if not allowed(k) and a.get(k, "<unset>") != b.get(k, "<unset>"))


def _digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _write_json(data: Mapping[str, Any], target: Path) -> None:
    """Write JSON atomically (:func:`hmm.results.atomic_write`)."""
    from .results import atomic_write

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True, default=str)

    atomic_write(target, write)


def manifest_path(path: str | os.PathLike) -> Path:
    """The manifest file of the checkpoint ``path``."""
    path = Path(path)
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _read_json_manifest(mpath: Path, fmt: str, what: str) -> dict[str, Any] | None:
    """The JSON manifest at ``mpath`` if it exists and has format ``fmt`` (None if absent);
    CheckpointError naming ``what`` otherwise."""
    if not mpath.exists():
        return None
    try:
        data = json.loads(mpath.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot read {what} {str(mpath)!r}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise CheckpointError(f"{str(mpath)!r} is not an hmm {what} (expected format {fmt!r})")
    return data


def read_manifest(path: str | os.PathLike) -> dict[str, Any] | None:
    """The manifest of checkpoint ``path`` (None if it has none); CheckpointError
    if it cannot be read or is not a checkpoint manifest."""
    return _read_json_manifest(manifest_path(path), FORMAT, "checkpoint manifest")


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("hmm-ef", "numpy", "xarray", "netCDF4", "dask", "distributed"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


class Checkpoint:
    """Where and how often a transient run checkpoints, and what it is resumed from.

    Parameters
    ----------
    path : str or Path
        Checkpoint name (``.nc``): the records file; the manifest and cache
        files sit beside it (see the module docstring).
    every : None, int or str
        ``None``: a checkpoint at every record; an int ``N``: at the first
        record ``N`` or more steps after the previous checkpoint; a duration
        (``"30s"``, ``"5min"``): at the first record that much wall time after
        it. Checkpoints are only ever taken at records (a record holds the
        state), and the final record is always checkpointed.
    config : mapping, optional
        The run configuration as a normalised dict (JSON types), stored in the
        manifest with its hash so that a resume can name the keys that differ.
    resume_from : str or Path, optional
        Checkpoint to resume from when it is not ``path`` (the command line's
        ``--resume`` with another ``--checkpoint``).
    """

    def __init__(self, path: str | os.PathLike, *, every: Any = None,
                 config: Mapping[str, Any] | None = None,
                 resume_from: str | os.PathLike | None = None) -> None:
        self.path = Path(path)
        if self.path.suffix != ".nc":
            raise ValueError(f"Checkpoint(): `path` must end in .nc, got {str(self.path)!r}")
        self.every = every
        self.every_steps, self.every_seconds = parse_every(every, key="Checkpoint(): `every`")
        self.config = None if config is None else dict(config)
        self.resume_from = Path(resume_from) if resume_from is not None else self.path
        self._last_step: int | None = None
        self._last_time = time.monotonic()

    def __repr__(self) -> str:
        return f"Checkpoint({str(self.path)!r}, every={self.every!r})"

    @classmethod
    def of(cls, checkpoint: Any, *, func: str = "Checkpoint.of()") -> "Checkpoint | None":
        """A path (a checkpoint at every record) or a Checkpoint as a Checkpoint; None for none."""
        if checkpoint is None or checkpoint is False or checkpoint == "":
            return None
        if isinstance(checkpoint, cls):
            return checkpoint
        if isinstance(checkpoint, (str, os.PathLike)):
            return cls(checkpoint)
        raise TypeError(f"{func}: `checkpoint` must be a path or a hmm.checkpoint.Checkpoint, "
                        f"got {type(checkpoint).__name__}")

    # -- when -----------------------------------------------------------------------------
    def start(self, step: int) -> None:
        """Start the interval clock at ``step`` (the run's first or resumed step)."""
        self._last_step, self._last_time = int(step), time.monotonic()

    def due(self, step: int, final: bool = False) -> bool:
        """Whether the record at ``step`` is checkpointed."""
        if final or (self.every_steps is None and self.every_seconds is None):
            return True
        if self.every_steps is not None:
            return step - (self._last_step or 0) >= self.every_steps
        return time.monotonic() - self._last_time >= self.every_seconds

    # -- write ----------------------------------------------------------------------------
    def cache_path(self, step: int) -> Path:
        return self.path.with_name(f"{self.path.name}.cache-{int(step)}.npz")

    def extra_path(self, step: int) -> Path:
        return self.path.with_name(f"{self.path.name}.extra-{int(step)}.npz")

    def write(self, dataset: Any, *, step: int, n_steps: int, time_now: float, run_token: str,
              root_seed: int, cache: Any = None, extra: Mapping[str, Any] | None = None) -> Path:
        """Write the checkpoint of ``step``: cache, extra arrays, records, then the manifest (the commit).

        ``extra`` holds the solver's restart data that is not per record (e.g.
        the last covariance of the closure-noise propagation), as plain
        arrays in an ``.npz`` named by the manifest (read without pickle)."""
        from .results import write_netcdf

        self.path.parent.mkdir(parents=True, exist_ok=True)
        files: dict[str, dict[str, str]] = {}
        cache_file = extra_file = None
        if cache is not None:
            cache_file = self.cache_path(step)
            cache.save(cache_file)
            _fsync(cache_file)
            files["cache"] = {"name": cache_file.name, "blake2b": _digest(cache_file)}
        if extra:
            from .results import atomic_write

            extra_file = self.extra_path(step)

            def write_extra(tmp: str) -> None:
                with open(tmp, "wb") as fh:
                    np.savez(fh, **{k: np.asarray(v) for k, v in extra.items()})

            atomic_write(extra_file, write_extra, suffix=".tmp.npz")
            files["extra"] = {"name": extra_file.name, "blake2b": _digest(extra_file)}
        write_netcdf(dataset, self.path)
        files["records"] = {"name": self.path.name}
        manifest = {
            "format": FORMAT, "step": int(step), "n_steps": int(n_steps), "time": float(time_now),
            "time_hex": float(time_now).hex(), "records": int(dataset.sizes["time"]),
            "run_token": run_token, "root_seed": int(root_seed), "files": files,
            "versions": _versions(), "written_unix": time.time(),
            "config": self.config, "config_hash": None if self.config is None else config_hash(self.config),
        }
        _write_json(manifest, manifest_path(self.path))
        self.start(step)
        # the previous generation's cache is no longer named by the manifest
        for old in self.path.parent.glob(f"{self.path.name}.cache-*.npz"):
            if cache_file is None or old.name != cache_file.name:
                old.unlink(missing_ok=True)
        for old in self.path.parent.glob(f"{self.path.name}.extra-*.npz"):
            if extra_file is None or old.name != extra_file.name:
                old.unlink(missing_ok=True)
        return self.path

    def load_extra(self) -> dict[str, np.ndarray] | None:
        """The extra arrays of the checkpoint resumed from (None if it has none).
        CheckpointError if the file is missing or does not match the manifest."""
        manifest = self.manifest()
        entry = None if manifest is None else manifest.get("files", {}).get("extra")
        if entry is None:
            return None
        path = self.resume_from.with_name(entry["name"])
        if not path.exists() or _digest(path) != entry["blake2b"]:
            raise CheckpointError(f"checkpoint {str(self.resume_from)!r}: file {path.name} is missing or does "
                                  "not match the manifest's digest")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    # -- read -----------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any] | None:
        """The manifest of the checkpoint resumed from (None if there is none)."""
        return read_manifest(self.resume_from)

    def load(self, run_token: str, field_names: tuple[str, ...], output_names: tuple[str, ...],
             cache: Any = None):
        """The records to resume from (None if there is no checkpoint), the
        cache filled from the checkpoint's. CheckpointError if the checkpoint
        belongs to another run or its files are damaged."""
        import xarray as xr

        from .cache import EstimateCache
        from .results import Records

        source = self.resume_from
        manifest = self.manifest()
        if manifest is None and not source.exists():
            return None
        if not source.exists():
            raise CheckpointError(f"checkpoint {str(source)!r}: its records file is missing "
                                  f"(only {manifest_path(source).name} exists)")
        try:
            ds = xr.load_dataset(source)
        except Exception as exc:  # noqa: BLE001 - any unreadable file is reported as such
            raise CheckpointError(f"cannot read checkpoint {str(source)!r}: {exc}") from None
        token = manifest["run_token"] if manifest is not None else ds.attrs.get("run_token")
        if token != run_token or ds.attrs.get("run_token") != run_token:
            raise CheckpointError(
                f"checkpoint {str(source)!r} belongs to a different run (law, grid, oracle, budget, "
                "seed, stepper or times differ); delete it or choose another path")
        if manifest is not None:
            n = int(manifest["records"])
            if ds.sizes["time"] < n:
                raise CheckpointError(f"checkpoint {str(source)!r} holds {ds.sizes['time']} records, "
                                      f"its manifest names {n}: the files are damaged")
            ds = ds.isel(time=slice(0, n))  # a crash after the records' rename left newer ones
            entry = manifest.get("files", {}).get("cache")
            if entry is not None and cache is not None:
                cpath = source.with_name(entry["name"])
                if not cpath.exists() or _digest(cpath) != entry["blake2b"]:
                    raise CheckpointError(f"checkpoint {str(source)!r}: cache file {cpath.name} is missing "
                                          "or does not match the manifest's digest")
                loaded = EstimateCache(cpath)
                for key, value in loaded.items():
                    cache.put(key, value)
        return Records.from_dataset(ds, field_names, output_names)


def check_resume(path: str | os.PathLike, config: Mapping[str, Any]) -> dict[str, Any]:
    """The manifest of checkpoint ``path`` after checking that it was written
    by a run of ``config`` (a normalised config dict). CheckpointError if it
    is missing, has no manifest, or its config differs in keys that change
    the results (named, dotted, with both values)."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest is None:
        if path.exists():
            raise CheckpointError(f"{str(path)!r} has no manifest ({manifest_path(path).name}): it is not a "
                                  "checkpoint written by `hmm run --checkpoint`")
        raise CheckpointError(f"no checkpoint at {str(path)!r} (nothing to resume; run without --resume, "
                              "or with --checkpoint PATH to write one)")
    saved = manifest.get("config")
    if saved is None:
        raise CheckpointError(f"checkpoint {str(path)!r} holds no run configuration (written through the "
                              "Python API); resume it with HMMSolver.run(checkpoint=...)")
    keys = differing_keys(saved, config)
    if keys:
        a, b = flatten(saved), flatten(config)
        shown = "; ".join(f"{k}: checkpoint {a.get(k, '<unset>')!r}, config {b.get(k, '<unset>')!r}"
                          for k in keys)
        raise CheckpointError(f"checkpoint {str(path)!r} was written by a different run configuration; "
                              f"differing keys: {shown}")
    return manifest


# -- micro states (hmm.stateful) ------------------------------------------------------------------

STATES_FORMAT = "hmm-states/1"


def write_states(path: str | os.PathLike, states: list[Mapping[str, Any]], *, step: int, run_token: str,
                 macro: Mapping[str, Any] | None = None) -> Path:
    """Checkpoint committed micro states: an ``.npz`` at ``path`` and its JSON manifest.

    Key ``k`` of every point's state is one array ``state/k`` stacked over the
    points (``state/k/<point>`` per point where the shapes differ), ``macro``
    arrays (e.g. the displacement) as ``macro/<name>``. The npz is written to a
    temporary file, fsynced and renamed, then the manifest (``step``,
    ``run_token``, point count, keys, the npz digest, versions): its rename is
    the commit. No pickle anywhere. Returns the manifest path.

    Raises
    ------
    ValueError
        The points' states do not share their keys.
    """
    from .results import atomic_write

    target = Path(path)
    keys = sorted(states[0]) if states else []
    arrays: dict[str, Any] = {}
    layout: dict[str, Any] = {}
    for key in keys:
        values = []
        for p, state in enumerate(states):
            if sorted(state) != keys:
                raise ValueError(f"write_states(): point {p} has state keys {sorted(state)}, point 0 has {keys}")
            values.append(np.asarray(state[key]))
        if all(v.shape == values[0].shape and v.dtype == values[0].dtype for v in values):
            arrays[f"state/{key}"] = np.stack(values)
            layout[key] = {"shape": list(values[0].shape), "dtype": values[0].dtype.str}
        else:
            arrays.update({f"state/{key}/{p}": v for p, v in enumerate(values)})
            layout[key] = "per point"
    for name, value in (macro or {}).items():
        arrays[f"macro/{name}"] = np.asarray(value)
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    atomic_write(target, write, suffix=".tmp.npz")
    manifest = {"format": STATES_FORMAT, "step": int(step), "run_token": run_token, "n_points": len(states),
                "keys": layout, "macro": sorted(macro or {}), "digest": _digest(target), "versions": _versions()}
    _write_json(manifest, manifest_path(target))
    return manifest_path(target)


def read_states(path: str | os.PathLike, *, run_token: str) -> tuple[int, list[dict[str, Any]],
                                                                     dict[str, Any]] | None:
    """The micro-state checkpoint at ``path``: ``(step, states, macro arrays)``, or ``None``
    when there is no manifest yet.

    Raises
    ------
    CheckpointError
        The manifest belongs to another run (``run_token``), is of another format, or
        the npz does not match its digest.
    """
    import numpy as np

    manifest = _read_json_manifest(manifest_path(path), STATES_FORMAT, "micro-state checkpoint manifest")
    if manifest is None:
        return None
    if manifest.get("run_token") != run_token:
        raise CheckpointError(f"{path}: the micro-state checkpoint belongs to another run "
                              f"(run_token {manifest.get('run_token')!r}, this run {run_token!r})")
    if _digest(Path(path)) != manifest["digest"]:
        raise CheckpointError(f"{path}: the states file does not match its manifest digest")
    n = int(manifest["n_points"])
    with np.load(path, allow_pickle=False) as data:
        states: list[dict[str, Any]] = [{} for _ in range(n)]
        for key, layout in manifest["keys"].items():
            for p in range(n):
                states[p][key] = (data[f"state/{key}"][p] if layout != "per point"
                                  else data[f"state/{key}/{p}"])
        macro = {name: data[f"macro/{name}"] for name in manifest["macro"]}
    return int(manifest["step"]), states, macro
