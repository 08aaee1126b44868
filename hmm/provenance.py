"""Stable identities of oracles and queries: hashes, seeds and versions.

The Coupler keys its cache and derives per-query seeds from these, so they
must be identical in every process and on every machine: no ``hash()`` (it is
salted per process), no ``id()``, only canonical bytes through BLAKE2b.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from importlib import metadata
from typing import Any

import numpy as np

PACKAGE = "hmm-ef"


def package_version() -> str:
    """Installed version of this distribution (``"unknown"`` when run from a source tree)."""
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "unknown"


def _canonical(obj: Any) -> Any:
    """A JSON-serialisable, order-stable description of ``obj``."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {"__class__": f"{type(obj).__module__}.{type(obj).__qualname__}",
                **{f.name: _canonical(getattr(obj, f.name)) for f in dataclasses.fields(obj)}}
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, float):
        return float(obj).hex()  # exact, and distinguishes -0.0
    if isinstance(obj, np.generic):
        return _canonical(obj.item())
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": obj.dtype.str, "shape": list(obj.shape),
                "data": hashlib.blake2b(np.ascontiguousarray(obj).tobytes(), digest_size=16).hexdigest()}
    if isinstance(obj, (list, tuple)):
        return [_canonical(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if hasattr(obj, "token") and callable(obj.token):
        return {"__token__": obj.token()}
    if callable(obj) and hasattr(obj, "__qualname__"):
        return {"__callable__": f"{getattr(obj, '__module__', '?')}.{obj.__qualname__}"}
    raise TypeError(
        f"cannot derive a stable identity for {type(obj).__name__}; oracles must be "
        "dataclasses of numbers, strings, arrays, tuples and other dataclasses, "
        "or define token() -> str")


def oracle_token(oracle: Any) -> str:
    """Hex digest identifying an oracle's class and configuration.

    Two oracles with equal fields have equal tokens in any process; changing
    any field (``dataclasses.replace``) changes the token.
    """
    text = json.dumps(_canonical(oracle), sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def oracle_name(oracle: Any) -> str:
    """Short human-readable name of an oracle (its class name)."""
    return type(oracle).__name__


def query_words(state: np.ndarray, replica: int = 0) -> tuple[int, ...]:
    """The spawn key of one query: 32-bit words of a BLAKE2b digest of the
    state's float64 bytes, plus the replica index.

    ``-0.0`` and ``0.0`` are mapped to the same key so that a query's seed
    does not depend on how a zero was computed.
    """
    row = np.ascontiguousarray(state, dtype=np.float64) + 0.0  # -0.0 + 0.0 == +0.0
    digest = hashlib.blake2b(row.tobytes(), digest_size=16).digest()
    words = np.frombuffer(digest, dtype="<u4")
    return (*(int(w) for w in words), int(replica))


def query_seed(root_seed: int, state: np.ndarray, replica: int = 0) -> int:
    """Per-query seed from ``SeedSequence(root_seed, spawn_key=query_words(state))``.

    The result is a non-negative int below 2**63, independent of the order in
    which queries are evaluated, the number of workers, retries and restarts.
    """
    seq = np.random.SeedSequence(root_seed, spawn_key=query_words(state, replica))
    return int(seq.generate_state(1, np.uint64)[0] >> np.uint64(1))
