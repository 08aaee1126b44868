"""A cache of micro estimates keyed by (oracle, budget, root seed, replica, state).

Reruns, repeated macro states and checkpoint restarts then cost nothing. The
cache can be saved to an ``.npz`` file of plain arrays (loaded with
``allow_pickle=False``: nothing is ever unpickled from disk).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np


class CachedEstimate(NamedTuple):
    mean: np.ndarray
    stderr: np.ndarray
    n_eff: float
    cost_s: float
    seed: int


def cache_key(oracle_token: str, budget_token: str, root_seed: int, replica: int,
              state: np.ndarray) -> bytes:
    """16-byte key of one query (``-0.0`` and ``0.0`` give the same key)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{oracle_token}|{budget_token}|{root_seed}|{replica}|".encode())
    h.update((np.ascontiguousarray(state, dtype=np.float64) + 0.0).tobytes())
    return h.digest()


class EstimateCache:
    """In-memory estimate cache, optionally backed by an ``.npz`` file.

    Parameters
    ----------
    path : str or Path, optional
        File to load from (if it exists) and to :meth:`save` to. Only a path
        you name is ever read.
    """

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._store: dict[bytes, CachedEstimate] = {}
        self.hits = 0
        self.misses = 0
        if self.path is not None and self.path.exists():
            self._load(self.path)

    def __len__(self) -> int:
        return len(self._store)

    def __contains__(self, key: bytes) -> bool:
        return key in self._store

    def get(self, key: bytes) -> CachedEstimate | None:
        value = self._store.get(key)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def put(self, key: bytes, value: CachedEstimate) -> None:
        self._store[key] = value

    def items(self) -> list[tuple[bytes, CachedEstimate]]:
        """Every (key, estimate) held, in insertion order."""
        return list(self._store.items())

    def clear(self) -> None:
        self._store.clear()

    def save(self, path: str | os.PathLike | None = None) -> Path:
        """Write the cache atomically (temporary file, then rename)."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("EstimateCache.save(): no path given and the cache has none")
        if target.suffix != ".npz":
            raise ValueError(f"EstimateCache.save(): path must end in .npz, got {str(target)!r}")
        keys = list(self._store)
        values = [self._store[k] for k in keys]
        n_out = {v.mean.shape for v in values}
        width = max((s[0] for s in n_out), default=0)
        mean = np.full((len(keys), width), np.nan)
        stderr = np.full((len(keys), width), np.nan)
        n_outputs = np.array([v.mean.shape[0] for v in values], dtype=np.int64)
        for i, v in enumerate(values):
            mean[i, :v.mean.shape[0]] = v.mean
            stderr[i, :v.stderr.shape[0]] = v.stderr
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp.npz")
        np.savez(tmp, keys=np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), 16),
                 mean=mean, stderr=stderr, n_outputs=n_outputs,
                 n_eff=np.array([v.n_eff for v in values]),
                 cost_s=np.array([v.cost_s for v in values]),
                 seed=np.array([v.seed for v in values], dtype=np.uint64))
        os.replace(tmp, target)
        return target

    def _load(self, path: Path) -> None:
        with np.load(path, allow_pickle=False) as data:
            keys = data["keys"]
            for i in range(keys.shape[0]):
                k = int(data["n_outputs"][i])
                self._store[keys[i].tobytes()] = CachedEstimate(
                    data["mean"][i, :k].copy(), data["stderr"][i, :k].copy(),
                    float(data["n_eff"][i]), float(data["cost_s"][i]), int(data["seed"][i]))
