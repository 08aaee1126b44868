"""Mesh helpers for the solid laws (scikit-fem meshes with named boundaries).

:func:`rectangle` and :func:`box` build structured triangle / tetrahedron
meshes of a rectangle or box with the boundaries ``left``, ``right``,
``bottom``, ``top`` (and ``front``, ``back`` in 3D); :func:`refined` refines
any mesh uniformly; :func:`perturbed` moves the interior nodes at random, so
tests run on genuinely unstructured meshes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from skfem import MeshTet, MeshTri

__all__ = ["rectangle", "box", "refined", "perturbed"]


def _axis(n: int, length: float, name: str) -> np.ndarray:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"mesh: `{name}` must be an int >= 1, got {n!r}")
    if not length > 0:
        raise ValueError(f"mesh: the length along {name} must be > 0, got {length!r}")
    return np.linspace(0.0, float(length), int(n) + 1)


def rectangle(nx: int, ny: int, lx: float = 1.0, ly: float = 1.0) -> MeshTri:
    """``nx x ny`` squares of ``[0, lx] x [0, ly]``, each cut into two triangles."""
    return MeshTri.init_tensor(_axis(nx, lx, "nx"), _axis(ny, ly, "ny")).with_defaults()


def box(nx: int, ny: int, nz: int, lx: float = 1.0, ly: float = 1.0, lz: float = 1.0) -> MeshTet:
    """``nx x ny x nz`` hexahedra of ``[0, lx] x [0, ly] x [0, lz]``, each cut into tetrahedra."""
    return MeshTet.init_tensor(_axis(nx, lx, "nx"), _axis(ny, ly, "ny"), _axis(nz, lz, "nz")).with_defaults()


def refined(mesh: Any, times: int = 1) -> Any:
    """``mesh`` refined uniformly ``times`` times (named boundaries kept)."""
    return mesh.refined(int(times))


def perturbed(mesh: Any, amount: float = 0.2, *, seed: int = 0) -> Any:
    """A copy of ``mesh`` whose interior nodes moved by up to ``amount`` times the
    shortest edge in every direction (boundary nodes stay, so named boundaries
    and the domain are unchanged). ``amount < 0.35`` keeps every element valid."""
    rng = np.random.default_rng(seed)
    p = mesh.p.copy()
    edges = mesh.facets if mesh.dim() == 2 else mesh.edges
    h = np.linalg.norm(p[:, edges[0]] - p[:, edges[1]], axis=0).min()
    interior = np.setdiff1d(np.arange(p.shape[1]), mesh.boundary_nodes())
    p[:, interior] += amount * h * rng.uniform(-1, 1, size=(p.shape[0], interior.size))
    return type(mesh)(p, mesh.t, _boundaries=mesh._boundaries, _subdomains=mesh._subdomains)
