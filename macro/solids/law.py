r"""The quasi-static solid law on a scikit-fem mesh: closure points at every
quadrature point, internal force and consistent tangent from the closure answers.

Equilibrium in the reference configuration :math:`\Omega`, without body force,

.. math::

    \int_\Omega \sigma(\varepsilon(u)) : \varepsilon(v)\,dX
      = \lambda \int_{\Gamma_N} \bar t \cdot v\,dS \quad\text{(small strain)},\qquad
    \int_\Omega P(F(u)) : \nabla v\,dX = \lambda \int_{\Gamma_N} \bar t \cdot v\,dS
    \quad\text{(finite strain)},

for every admissible ``v``, with :math:`u = \lambda\,\bar u` on
:math:`\Gamma_D` and load factor :math:`\lambda`. The constitutive answer
(stress and tangent) comes from a closure queried once for *all* quadrature
points of the mesh (one batch per Newton iteration); the Newton matrix is
assembled from the returned tangents (:math:`\int \varepsilon(v) : C :
\varepsilon(\delta u)` or :math:`\int \nabla v : A : \nabla\delta u`), which is
the consistent tangent whenever the closure's tangent is the derivative of its
stress. Lagrange elements of order 1 or 2 on triangles (plane strain) or
tetrahedra; lengths in the mesh's units, stresses in the closure's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp
from skfem import (Basis, BilinearForm, ElementTetP1, ElementTetP2, ElementTriP1, ElementTriP2, ElementVector,
                   FacetBasis, LinearForm, MeshTet, MeshTri)
from skfem.helpers import grad

from ..closure import ClosureResult
from .kinematics import (VOIGT_PAIRS, check_piola_tangent, check_stiffness, deformation_names, piola_names,
                         piola_tangent_names, position_names, stiffness_names, strain_names, stress_names)

__all__ = ["Dirichlet", "Traction", "SolidLaw", "SolidEvaluation"]

_ELEMENTS = {(2, 1): ElementTriP1, (2, 2): ElementTriP2, (3, 1): ElementTetP1, (3, 2): ElementTetP2}


@dataclass(frozen=True)
class Dirichlet:
    """Prescribed displacement on part of the boundary, scaled by the load factor.

    Parameters
    ----------
    boundary : str, callable or array of int
        A boundary name of the mesh (``mesh.boundaries``, e.g. ``"left"``), a
        predicate ``f(x) -> bool`` on facet midpoints ``x`` ``(dim, n)``, or facet indices.
    value : float, sequence or callable
        Displacement at load factor 1 (mesh length units): a number for every
        constrained component, one value per component, or ``g(x) -> (dim, n)``
        at dof locations ``x`` ``(dim, n)``.
    components : sequence of int, optional
        The constrained displacement components (default all).
    """

    boundary: Any
    value: Any = 0.0
    components: Sequence[int] | None = None


@dataclass(frozen=True)
class Traction:
    """Nominal traction (force per reference area or length, closure stress units)
    on part of the boundary at load factor 1: a vector ``(dim,)`` or ``t(x) -> (dim, ...)``
    at the facet quadrature points ``x`` ``(dim, ...)``. ``boundary`` as for :class:`Dirichlet`."""

    boundary: Any
    value: Any


@dataclass(frozen=True, eq=False)
class SolidEvaluation:
    """One closure call of the law and what the law made of it.

    Attributes
    ----------
    points : ndarray (n_points, n_in)
        The closure query (positions then strain or ``F``).
    result : ClosureResult
        The closure's answer (stress then tangent columns).
    internal : ndarray (n_dofs,)
        Internal force vector (including reactions at Dirichlet dofs).
    stiffness : scipy.sparse.csr_matrix
        The tangent matrix assembled from the closure tangents (assembled on
        first access: an accepted iterate never pays for it).
    """

    points: np.ndarray
    result: ClosureResult
    internal: np.ndarray
    _assemble: Callable[[], sp.spmatrix]

    @cached_property
    def stiffness(self) -> sp.csr_matrix:
        return self._assemble().tocsr()


def _voigt_of(g: np.ndarray, dim: int) -> list[np.ndarray]:
    return [g[i, i] if i == j else g[i, j] + g[j, i] for i, j in VOIGT_PAIRS[dim]]


@BilinearForm
def _small_tangent(u, v, w):
    C = np.asarray(w["C"])
    dim = grad(u).shape[0]
    eu, ev = _voigt_of(grad(u), dim), _voigt_of(grad(v), dim)
    return sum(C[a, b] * eu[b] * ev[a] for a in range(len(eu)) for b in range(len(eu)))


@LinearForm
def _small_internal(v, w):
    s = np.asarray(w["s"])
    dim = grad(v).shape[0]
    ev = _voigt_of(grad(v), dim)
    return sum(s[a] * ev[a] for a in range(len(ev)))


@BilinearForm
def _finite_tangent(u, v, w):
    A = np.asarray(w["A"])
    gu, gv = grad(u), grad(v)
    d = gu.shape[0]
    fu = [gu[i, j] for i in range(d) for j in range(d)]
    fv = [gv[i, j] for i in range(d) for j in range(d)]
    return sum(A[a, b] * fu[b] * fv[a] for a in range(d * d) for b in range(d * d))


@LinearForm
def _finite_internal(v, w):
    P = np.asarray(w["P"])
    gv = grad(v)
    d = gv.shape[0]
    return sum(P[i * d + j] * gv[i, j] for i in range(d) for j in range(d))


class SolidLaw:
    """Quasi-static small- or finite-strain solid on a triangle or tetrahedron mesh.

    Parameters
    ----------
    mesh : skfem.MeshTri or skfem.MeshTet
        Reference configuration (any unstructured mesh; named boundaries from
        ``mesh.with_defaults()`` or ``mesh.with_boundaries``).
    kinematics : {"small", "finite"}
        Small strain (closure: Voigt strain -> Cauchy stress and ``C``) or finite
        strain (closure: ``F`` -> first Piola-Kirchhoff ``P`` and ``dP/dF``).
    order : int
        Lagrange order 1 or 2.
    intorder : int, optional
        Quadrature order (default ``2 (order - 1)``, at least 1: exact for a
        piecewise-constant tangent).
    dirichlet, traction : sequence
        :class:`Dirichlet` and :class:`Traction` conditions.
    check_tangent : bool
        Check every returned tangent for symmetry and positive definiteness
        (small strain) or strong ellipticity (finite strain), see
        :func:`macro.solids.check_stiffness`; raises :class:`EllipticityError`.
    tangent_rtol : float
        Relative tolerance of those checks.

    Notes
    -----
    Closure inputs: ``x, y[, z]`` (quadrature point in the reference
    configuration) then ``eps_xx, eps_yy, gamma_xy`` (3D: six Voigt strains)
    or ``F_xx, F_xy, F_yx, F_yy`` (3D: nine); outputs: the stress names then
    the tangent names of :mod:`macro.solids.kinematics`. Rows are element-major:
    row ``e * n_qp + q`` is quadrature point ``q`` of element ``e``.
    """

    def __init__(self, mesh: Any, *, kinematics: str = "small", order: int = 1, intorder: int | None = None,
                 dirichlet: Sequence[Dirichlet] = (), traction: Sequence[Traction] = (),
                 check_tangent: bool = True, tangent_rtol: float = 1e-6) -> None:
        if not isinstance(mesh, (MeshTri, MeshTet)):
            raise TypeError(f"SolidLaw: `mesh` must be a skfem MeshTri or MeshTet, got {type(mesh).__name__}")
        if kinematics not in ("small", "finite"):
            raise ValueError(f"SolidLaw: `kinematics` must be 'small' or 'finite', got {kinematics!r}")
        if order not in (1, 2):
            raise ValueError(f"SolidLaw: `order` must be 1 or 2, got {order!r}")
        self.mesh, self.kinematics, self.order = mesh, kinematics, order
        self.dim = mesh.dim()
        self.intorder = max(1, 2 * (order - 1)) if intorder is None else int(intorder)
        self.element = ElementVector(_ELEMENTS[(self.dim, order)]())
        self.basis = Basis(mesh, self.element, intorder=self.intorder)
        self.check_tangent, self.tangent_rtol = bool(check_tangent), float(tangent_rtol)
        self.n_qp = self.basis.X.shape[1]
        self.n_points = self.basis.nelems * self.n_qp
        self.positions = np.asarray(self.basis.global_coordinates()).reshape(self.dim, -1).T.copy()
        self._component = self._dof_components()
        self.dirichlet = tuple(dirichlet)
        self.traction = tuple(traction)
        for bc in self.dirichlet:
            if not isinstance(bc, Dirichlet):
                raise TypeError(f"SolidLaw: `dirichlet` entries must be Dirichlet, got {type(bc).__name__}")
        for bc in self.traction:
            if not isinstance(bc, Traction):
                raise TypeError(f"SolidLaw: `traction` entries must be Traction, got {type(bc).__name__}")
        self.dirichlet_dofs, self._dirichlet_unit = self._collect_dirichlet()
        self.free_dofs = np.setdiff1d(np.arange(self.n_dofs), self.dirichlet_dofs)
        self._traction_unit = self._collect_traction()

    # -- layout -------------------------------------------------------------------------------------
    @property
    def n_dofs(self) -> int:
        """Number of displacement unknowns."""
        return int(self.basis.N)

    @property
    def kinematic_names(self) -> tuple[str, ...]:
        """The strain (small) or deformation-gradient (finite) closure columns."""
        return strain_names(self.dim) if self.kinematics == "small" else deformation_names(self.dim)

    def closure_inputs(self) -> tuple[str, ...]:
        """Closure input columns: position, then strain or ``F``."""
        return position_names(self.dim) + self.kinematic_names

    def closure_outputs(self) -> tuple[str, ...]:
        """Closure output columns: stress, then tangent."""
        if self.kinematics == "small":
            return stress_names(self.dim) + stiffness_names(self.dim)
        return piola_names(self.dim) + piola_tangent_names(self.dim)

    @property
    def n_stress(self) -> int:
        """Number of stress columns at the start of the closure answer."""
        return len(VOIGT_PAIRS[self.dim]) if self.kinematics == "small" else self.dim**2

    def _dof_components(self) -> np.ndarray:
        comp = np.full(self.basis.N, -1)
        for name in ("nodal_dofs", "facet_dofs", "edge_dofs", "interior_dofs"):
            dofs = getattr(self.basis, name, None)
            if dofs is None or dofs.size == 0:
                continue
            k = dofs.shape[0] // self.dim  # rows: component-major blocks of per-entity dofs
            for c in range(self.dim):
                comp[dofs[c * k:(c + 1) * k] if k > 1 else dofs[c]] = c
        if (comp < 0).any():
            raise RuntimeError("SolidLaw: could not attribute every dof to a displacement component")
        return comp

    def _facets(self, boundary: Any, what: str) -> np.ndarray:
        mesh = self.mesh
        if isinstance(boundary, str):
            if not mesh.boundaries or boundary not in mesh.boundaries:
                raise ValueError(f"SolidLaw: {what} boundary {boundary!r} is not a boundary of the mesh "
                                 f"(named: {sorted(mesh.boundaries or {})}; use mesh.with_defaults())")
            return np.asarray(mesh.boundaries[boundary])
        if callable(boundary):
            return np.asarray(mesh.facets_satisfying(boundary, boundaries_only=True))
        facets = np.asarray(boundary, dtype=int).ravel()
        if facets.size and (facets.min() < 0 or facets.max() >= mesh.facets.shape[1]):
            raise ValueError(f"SolidLaw: {what} facet indices out of range [0, {mesh.facets.shape[1]})")
        return facets

    def _collect_dirichlet(self) -> tuple[np.ndarray, np.ndarray]:
        values: dict[int, float] = {}
        locs = self.basis.doflocs
        for bc in self.dirichlet:
            facets = self._facets(bc.boundary, "Dirichlet")
            dofs = self.basis.get_dofs(facets).all()
            comps = tuple(range(self.dim)) if bc.components is None else tuple(int(c) for c in bc.components)
            if any(c < 0 or c >= self.dim for c in comps):
                raise ValueError(f"SolidLaw: Dirichlet components must be in [0, {self.dim}), got {comps}")
            dofs = dofs[np.isin(self._component[dofs], comps)]
            if callable(bc.value):
                g = np.asarray(bc.value(locs[:, dofs]), dtype=float)
                if g.shape != (self.dim, dofs.size):
                    raise ValueError(f"SolidLaw: Dirichlet value g(x) must return shape ({self.dim}, n), "
                                     f"got {g.shape}")
                vals = g[self._component[dofs], np.arange(dofs.size)]
            else:
                v = np.asarray(bc.value, dtype=float)
                full = np.zeros(self.dim)
                if v.ndim == 0:
                    full[:] = v
                elif v.shape == (len(comps),):
                    full[list(comps)] = v
                else:
                    raise ValueError(f"SolidLaw: Dirichlet value must be a number or {len(comps)} values, "
                                     f"got shape {v.shape}")
                vals = full[self._component[dofs]]
            values.update(zip(dofs.tolist(), vals.tolist()))
        dofs = np.array(sorted(values), dtype=int)
        return dofs, np.array([values[d] for d in dofs.tolist()], dtype=float)

    def _collect_traction(self) -> np.ndarray:
        f = np.zeros(self.n_dofs)
        for bc in self.traction:
            facets = self._facets(bc.boundary, "Traction")
            fb = FacetBasis(self.mesh, self.element, facets=facets, intorder=max(2 * self.order, 1))
            value = bc.value

            @LinearForm
            def load(v, w, value=value):
                t = value(w.x) if callable(value) else np.asarray(value, dtype=float).reshape(
                    (-1,) + (1,) * (w.x.ndim - 1))
                return sum(t[i] * v[i] for i in range(self.dim))

            f += load.assemble(fb)
        return f

    # -- boundary data --------------------------------------------------------------------------------
    def dirichlet_values(self, load: float) -> np.ndarray:
        """Prescribed displacements at ``self.dirichlet_dofs`` for load factor ``load``."""
        return load * self._dirichlet_unit

    def external_force(self, load: float) -> np.ndarray:
        """Nodal force vector of the tractions at load factor ``load``."""
        return load * self._traction_unit

    # -- closure ----------------------------------------------------------------------------------------
    def kinematic_field(self, u: np.ndarray) -> np.ndarray:
        """Strain (Voigt, engineering shears) or ``F`` (row-major) at every quadrature point,
        shape ``(n_points, n_kinematic)``."""
        g = self.basis.interpolate(np.asarray(u, dtype=float)).grad  # (d, d, nel, nqp)
        d = self.dim
        if self.kinematics == "small":
            cols = _voigt_of(g, d)
        else:
            cols = [g[i, j] + (1.0 if i == j else 0.0) for i in range(d) for j in range(d)]
        return np.stack([c.ravel() for c in cols], axis=1)

    def closure_points(self, u: np.ndarray) -> np.ndarray:
        """The closure query at displacement ``u``: every quadrature point, element-major."""
        return np.concatenate([self.positions, self.kinematic_field(u)], axis=1)

    def _check(self, mean: np.ndarray) -> None:
        ns = self.n_stress
        T = mean[:, ns:].reshape(-1, ns if self.kinematics == "small" else self.dim**2, ns)
        if self.kinematics == "small":
            check_stiffness(T, self.positions, rtol=self.tangent_rtol)
        else:
            check_piola_tangent(T, self.positions, rtol=self.tangent_rtol)

    def evaluate(self, u: np.ndarray, closure: Callable[..., Any]) -> SolidEvaluation:
        """One closure call for all quadrature points at ``u``; internal force and tangent matrix.

        Raises
        ------
        ValueError
            The closure's answer has the wrong shape.
        EllipticityError
            A tangent is not symmetric or not elliptic (``check_tangent``).
        """
        points = self.closure_points(u)
        result = closure(points, seed_rows=None)
        mean = np.asarray(result.mean, dtype=float)
        n_out = len(self.closure_outputs())
        if mean.shape != (self.n_points, n_out):
            raise ValueError(f"SolidLaw.evaluate(): the closure returned shape {mean.shape}, expected "
                             f"({self.n_points}, {n_out}) for outputs {self.closure_outputs()[:3]}...")
        if not np.isfinite(mean).all():
            raise ValueError("SolidLaw.evaluate(): the closure returned non-finite stresses or tangents")
        if self.check_tangent:
            self._check(mean)
        ns, nel, nq = self.n_stress, self.basis.nelems, self.n_qp
        stress = mean[:, :ns].T.reshape(ns, nel, nq)
        tangent = mean[:, ns:].T.reshape(ns, ns, nel, nq)
        if self.kinematics == "small":
            internal = _small_internal.assemble(self.basis, s=stress)
            return SolidEvaluation(points, result, internal, lambda: _small_tangent.assemble(self.basis, C=tangent))
        internal = _finite_internal.assemble(self.basis, P=stress)
        return SolidEvaluation(points, result, internal, lambda: _finite_tangent.assemble(self.basis, A=tangent))

    def displacement_at(self, u: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Displacement ``(dim, n)`` of the field ``u`` at reference points ``x`` ``(dim, n)``."""
        x = np.asarray(x, dtype=float)
        return (self.basis.probes(x) @ np.asarray(u, dtype=float)).reshape(self.dim, x.shape[1])

    def nodal_displacement(self, u: np.ndarray) -> np.ndarray:
        """Displacement ``(dim, n_nodes)`` at the mesh nodes ``mesh.p``."""
        return np.asarray(u, dtype=float)[self.basis.nodal_dofs]

    def interpolate_field(self, function: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """The dof vector of the displacement field ``function(x) -> (dim, n)`` (nodal
        interpolation at the dof locations; exact for polynomials of the element order)."""
        locs = self.basis.doflocs
        values = np.asarray(function(locs), dtype=float)
        if values.shape != (self.dim, self.n_dofs):
            raise ValueError(f"SolidLaw.interpolate_field(): function must return shape ({self.dim}, n)")
        return values[self._component, np.arange(self.n_dofs)]
