"""Diffusion conservation law with a pluggable flux closure.

The law is

.. math::

    u_t = \\nabla\\cdot q + f(x, t), \\qquad q = \\mathcal{C}(x, \\nabla u),
    \\qquad u = g(x, t) \\text{ on } \\partial\\Omega,

discretised by cell-centred finite volumes on a :class:`~macro.Grid1D` or
:class:`~macro.Grid2D`. The closure ``C`` returns ``q`` in the convention
``q = A grad u`` (minus the physical diffusive flux), so a linear closure
with a positive-definite ``A`` gives the heat equation ``u_t = div(A grad u)``.
Units: ``u`` arbitrary, ``x`` length, ``t`` time, ``q`` u*length/time,
``f`` u/time.

The closure is queried once per evaluation at every face (boundary faces
included) with the face position and the *full* macro gradient there (see
:mod:`macro._operators` for the stencils). Only the normal component of the
returned flux enters the divergence

.. math::

    (du/dt)_i = \\sum_{\\text{axes } a} \\frac{q_n(i + \\tfrac12 e_a) - q_n(i - \\tfrac12 e_a)}{h_a} + f_i .

Closure noise (``stderr``) is propagated to ``rhs_stderr`` assuming
independent faces: ``sqrt(sum_faces (stderr_n / h)^2)``.

A state-dependent closure (``DiffusionLaw(state_dependent=True)``,
``q = C(x, u, grad u)``, e.g. ``q = D(u) grad u``) is also given ``u`` at the
face: the mean of the two values whose difference is the normal gradient
there (the two cells; the boundary cell and ``g``), so that ``q = k(u) grad
u`` is discretised as the difference of the Kirchhoff potential ``K(u)``
(``K' = k``) for ``k`` linear in ``u``.

Tangents ``dq/dG`` (and ``dq/du`` for a state-dependent closure) come from
``closure.tangent`` if the closure has it, otherwise from forward finite
differences in those columns, sent as ONE stacked closure call holding the
base points and one perturbed copy per column. For a noisy closure FD tangents are only approximations (the noise
is divided by the FD step), which is why the Newton solvers compare
residuals against the propagated closure noise rather than zero. Choose
``fd_step`` so that the perturbation ``fd_step * max(|G|, 1)`` is large
compared with ``stderr / |dq/dG|``; :meth:`DiffusionLaw.tangents` warns
(``RuntimeWarning``) when the noise exceeds 10% of the tangent scale.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, ClassVar, Mapping

import numpy as np
import scipy.sparse as sp

from ._operators import FaceOperators, build_operators, slip_pair
from ._validate import as_state, check_float
from ._tangents import closure_tangents
from .closure import as_closure, check_result
from .grid import Grid1D, Grid2D
from .law import FluxEvaluation
from .newton import noise_factor  # kept importable from here
from .profiles import make_profile

__all__ = ["DiffusionLaw", "FluxEvaluation", "noise_factor"]

Grid = Grid1D | Grid2D


def _check_grid(grid: Any, func: str) -> Grid:
    if not isinstance(grid, (Grid1D, Grid2D)):
        raise TypeError(f"{func}: `grid` must be a Grid1D or Grid2D, got {type(grid).__name__}")
    return grid


def _check_closure(closure: Any, func: str) -> Any:
    return as_closure(closure, func)


_result_arrays = check_result


class _class_or_instance:
    """Method descriptor: bound to the instance, or to ``None`` when called on the class."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.__doc__ = function.__doc__

    def __get__(self, obj: Any, owner: Any = None) -> Callable[..., Any]:
        return functools.partial(self.function, obj)


class DiffusionLaw:
    """``c u_t = div q + f`` with Dirichlet data ``g`` and a pluggable flux closure.

    **Sign convention**: the law is ``c u_t = div q + f``, so for ordinary
    diffusion the closure returns ``q = +D grad u`` with ``D > 0`` (``q`` is
    minus the physical diffusive flux ``j = -D grad u`` of Fick's or
    Fourier's law; for channel flow it is the shear stress ``tau = eta
    du/dy``). A closure whose flux decreases with the gradient at every
    evaluated face (``dq_n/dG_n < 0`` everywhere, e.g. Fick's law written as
    ``q = -D grad u``) is refused with a ``ValueError`` naming this
    convention, before Newton or an explicit step diverges.

    With ``q`` a diffusive flux this is the heat/diffusion equation; with ``u``
    a velocity, ``q`` a shear stress ``tau(du/dy)``, ``f`` a body force and
    ``c`` the mass density it is the momentum equation of unidirectional
    channel flow, ``rho u_t = d tau / dy + f``.

    Parameters
    ----------
    source : float, dict, profile or callable
        Source ``f(*coords, t)`` (u / time); see :func:`macro.make_profile`.
    boundary : float, dict, profile or callable
        Dirichlet value ``g(*coords, t)`` on the whole boundary (u).
    fd_step : float, keyword-only
        Relative finite-difference step for tangents when the closure has no
        ``tangent``: component ``k`` is perturbed by
        ``fd_step * max(max_faces |G_k|, 1)``.
    capacity : float, keyword-only
        ``c > 0`` multiplying ``u_t`` (heat capacity, mass density); default 1.
    slip_length : float or (float, float), keyword-only
        Navier slip length ``l >= 0`` (length) of the boundary, or of the low
        and high ends separately (Grid1D only): ``u - g = l du/dn`` there (n
        the inward normal), so ``g`` is reached a distance ``l`` beyond the
        boundary. Default 0 (Dirichlet ``u = g``). For channel flow, ``g`` is
        the wall velocity and ``l`` the (apparent) slip length of the fluid
        at the wall, e.g. measured by a near-wall micro model
        (:class:`oracles.DPDWallSlip`).

    units : mapping, optional, keyword-only
        Unit strings of ``u`` (and ``x``, ``time``) where known, carried into
        results (an ``hmm.HMMSolver(units=...)`` entry overrides them).
    state_dependent : bool, keyword-only
        The closure depends on the state as well as its gradient,
        ``q = C(x, u, grad u)`` (e.g. ``q = D(u) grad u``): the query gets a
        column ``u`` (the face value, see :meth:`face_values`) before the
        gradient, and the Jacobian includes ``dq/du`` (from
        ``closure.tangent``, which then returns ``(n, dim, 1 + dim)``, or by
        finite differences), so Newton converges quadratically.

    Notes
    -----
    A :class:`macro.ConservationLaw` of form ``"semi_discrete"`` with the one
    field ``u``. All methods take the grid explicitly; operators are cached
    per grid.
    """

    form: ClassVar[str] = "semi_discrete"
    fields: tuple[str, ...] = ("u",)

    def __init__(self, source: Any = 0.0, boundary: Any = 0.0, *, fd_step: float = 1e-4,
                 capacity: float = 1.0, slip_length: float | tuple[float, float] = 0.0,
                 units: Mapping[str, str] | None = None, state_dependent: bool = False) -> None:
        self.source = make_profile(source, name="source")
        self.boundary = make_profile(boundary, name="boundary")
        self.fd_step = check_float(fd_step, "fd_step", "DiffusionLaw()", positive=True)
        self.capacity = check_float(capacity, "capacity", "DiffusionLaw()", positive=True)
        self.slip_length: tuple[float, float] = slip_pair(slip_length)
        self.units: dict[str, str] = dict(units or {})
        if not isinstance(state_dependent, bool):
            raise TypeError(f"DiffusionLaw(): `state_dependent` must be a bool, got {type(state_dependent).__name__}")
        self.state_dependent = state_dependent
        self._ops: dict[Grid, FaceOperators] = {}

    def __repr__(self) -> str:
        cap = "" if self.capacity == 1.0 else f", capacity={self.capacity!r}"
        slip = "" if not any(self.slip_length) else f", slip_length={self.slip_length!r}"
        units = f", units={self.units!r}" if self.units else ""
        state = ", state_dependent=True" if self.state_dependent else ""
        return (f"DiffusionLaw(source={self.source!r}, boundary={self.boundary!r}, fd_step={self.fd_step}"
                f"{cap}{slip}{units}{state})")

    # -- names and operators -------------------------------------------------
    @_class_or_instance
    def closure_inputs(self: "DiffusionLaw | None", grid: Grid) -> tuple[str, ...]:
        """Closure query columns: positions, ``u`` (state-dependent closures
        only), then gradient components. Also callable on the class (the
        state-independent columns)."""
        grid = _check_grid(grid, "closure_inputs()")
        state = ("u",) if self is not None and self.state_dependent else ()
        return tuple(grid.dims) + state + tuple(f"grad_{d}" for d in grid.dims)

    def tangent_columns(self, grid: Grid) -> tuple[str, ...]:
        """The query columns the law differentiates the closure by (the last ones)."""
        return self.closure_inputs(grid)[grid.dim:]

    @staticmethod
    def closure_outputs(grid: Grid) -> tuple[str, ...]:
        """Closure output columns: ``("flux",)`` in 1D, ``("flux_x", "flux_y")`` in 2D."""
        grid = _check_grid(grid, "closure_outputs()")
        return ("flux",) if grid.dim == 1 else tuple(f"flux_{d}" for d in grid.dims)

    def operators(self, grid: Grid) -> FaceOperators:
        """Cached sparse operators of ``grid`` (see :mod:`macro._operators`)."""
        ops = self._ops.get(grid)
        if ops is None:
            ops = self._ops[grid] = build_operators(_check_grid(grid, "operators()"), self.slip_length)
        return ops

    def _profile(self, profile: Callable[..., Any], coords: tuple[np.ndarray, ...], t: float, name: str) -> np.ndarray:
        shape = np.broadcast_shapes(*(np.shape(c) for c in coords))
        values = np.asarray(profile(*coords, t=t), dtype=float)
        try:
            return np.broadcast_to(values, shape)
        except ValueError:
            raise ValueError(f"DiffusionLaw: `{name}` returned shape {values.shape}, expected {shape}") from None

    def source_values(self, grid: Grid, t: float = 0.0) -> np.ndarray:
        """Source ``f`` at the cell centres, flat (n_cells,)."""
        grid = _check_grid(grid, "source_values()")
        return self._profile(self.source, grid.coords(), t, "source").reshape(grid.n_cells)

    def boundary_values(self, grid: Grid, t: float = 0.0) -> np.ndarray:
        """Dirichlet data ``g`` at the boundary sample points of the face operator."""
        samples = self.operators(grid).samples
        return self._profile(self.boundary, tuple(samples.T), t, "boundary").reshape(len(samples))

    def face_gradient_operator(self, grid: Grid, t: float = 0.0) -> tuple[sp.csr_matrix, np.ndarray]:
        """Affine map ``G = Gmat @ u + gvec`` to the full gradient at every face.

        Returns
        -------
        Gmat : scipy.sparse.csr_matrix, shape (n_faces * dim, n_cells)
            Row ``f * dim + k`` is gradient component ``k`` at face ``f``
            (cached per grid).
        gvec : ndarray, shape (n_faces * dim,)
            Contribution of the boundary data ``g(., t)``.
        """
        ops = self.operators(grid)
        return ops.gradient, ops.boundary @ self.boundary_values(grid, t)

    def face_gradients(self, grid: Grid, u: Any, t: float = 0.0) -> np.ndarray:
        """Full gradient at every face, shape (n_faces, dim)."""
        u = as_state(u, grid.n_cells, grid.shape, "face_gradients()")
        gmat, gvec = self.face_gradient_operator(grid, t)
        return (gmat @ u + gvec).reshape(grid.n_faces, grid.dim)

    def face_values(self, grid: Grid, u: Any, t: float = 0.0) -> np.ndarray:
        """``u`` at every face, (n_faces,): the mean of the two values its normal
        gradient differences (the two cells; the boundary cell and ``g``)."""
        u = as_state(u, grid.n_cells, grid.shape, "face_values()")
        ops = self.operators(grid)
        return ops.value @ u + ops.value_boundary @ self.boundary_values(grid, t)

    def flux_points(self, grid: Grid, u: Any, t: float = 0.0) -> np.ndarray:
        """Closure query at all faces (columns :meth:`closure_inputs`): positions,
        ``u`` at the face for a state-dependent closure, then the gradient."""
        grid = _check_grid(grid, "flux_points()")
        u = as_state(u, grid.n_cells, grid.shape, "flux_points()")
        state = [self.face_values(grid, u, t)[:, None]] if self.state_dependent else []
        return np.hstack([self.operators(grid).face_points, *state, self.face_gradients(grid, u, t)])

    def closure_points(self, grid: Grid, u: Any, t: float = 0.0) -> np.ndarray:
        """The closure query (the protocol's name for :meth:`flux_points`)."""
        return self.flux_points(grid, u, t)

    def forcing_scale(self, grid: Grid, t: float = 0.0) -> float:
        """``max |f|`` at the cells (the steady Newton tolerance is relative to it)."""
        return float(np.abs(self.source_values(grid, t)).max())

    def record(self, grid: Grid, evaluation: FluxEvaluation) -> dict[str, tuple]:
        """The normal flux at the faces as stored in results: output name ->
        (dims, mean, stderr), one face family per output (``flux`` on
        ``x_face`` in 1D; ``flux_x`` on the x-faces and ``flux_y`` on the
        y-faces in 2D)."""
        names = self.closure_outputs(grid)
        means, errs = grid.split_faces(evaluation.normal_flux), grid.split_faces(evaluation.normal_flux_stderr)
        return {n: (dims, m, e) for n, dims, m, e in zip(names, grid.face_dims, means, errs)}

    # -- evaluation ----------------------------------------------------------
    def _evaluation(self, grid: Grid, points, mean, stderr, cost, t: float) -> FluxEvaluation:
        ops = self.operators(grid)
        rows = np.arange(grid.n_faces)
        qn = mean[rows, ops.face_axes]
        sn = stderr[rows, ops.face_axes]
        du_dt = (ops.divergence @ qn + self.source_values(grid, t)) / self.capacity
        rhs_stderr = np.sqrt(ops.divergence_sq @ sn**2) / self.capacity
        return FluxEvaluation(points=points, mean=mean, stderr=stderr, cost_s=cost, t=float(t), du_dt=du_dt,
                              rhs_stderr=rhs_stderr, normal_flux=qn, normal_flux_stderr=sn)

    def evaluate(self, grid: Grid, u: Any, t: float, closure: Callable[[np.ndarray], Any], *,
                 seed_points: np.ndarray | None = None) -> FluxEvaluation:
        """Evaluate ``du/dt = div q + f`` with exactly one closure call.

        ``seed_points`` (n_faces, n_in): rows the closure's random numbers derive
        from instead of the query points (common random numbers; ignored by
        closures without noise). Implicit steppers pass the
        flux points of the step's start, so Newton iterates see one noise
        realisation per step.
        """
        grid = _check_grid(grid, "evaluate()")
        u = as_state(u, grid.n_cells, grid.shape, "evaluate()")
        closure = _check_closure(closure, "evaluate()")
        t = check_float(t, "t", "evaluate()")
        points = self.flux_points(grid, u, t)
        result = closure(points, seed_rows=seed_points)
        mean, stderr, cost = _result_arrays(result, grid.n_faces, grid.dim, "evaluate()")
        return self._evaluation(grid, points, mean, stderr, cost, t)

    def tangents(self, grid: Grid, u: Any, t: float, closure: Callable[[np.ndarray], Any], *,
                 seed_points: np.ndarray | None = None) -> tuple[np.ndarray, FluxEvaluation]:
        """Flux tangents at every face and the evaluation at ``u``.

        Uses ``closure.tangent`` when present (one closure call plus one
        tangent call), else forward differences in ONE stacked closure call of
        ``(1 + k) * n_faces`` points: the base points, then for each
        differentiated column ``c`` a copy with ``c`` shifted by
        ``fd_step * max(max_faces |c|, 1)`` (copies share their base point's
        random numbers).

        Returns
        -------
        tangent : ndarray, shape (n_faces, dim, k)
            ``tangent[f, i, j] = dq_i / dc_j`` at face ``f`` over the ``k``
            differentiated columns (:meth:`tangent_columns`): the gradient
            components, preceded by ``u`` for a state-dependent closure.
        evaluation : FluxEvaluation
        """
        grid = _check_grid(grid, "tangents()")
        u = as_state(u, grid.n_cells, grid.shape, "tangents()")
        closure = _check_closure(closure, "tangents()")
        t = check_float(t, "t", "tangents()")
        points = self.flux_points(grid, u, t)
        tangent, mean, stderr, cost = closure_tangents(closure, points, grid.dim, len(self.tangent_columns(grid)),
                                                       self.fd_step, seed_points, "tangents()")
        self._check_sign(grid, tangent)
        return tangent, self._evaluation(grid, points, mean, stderr, cost, t)

    def _check_sign(self, grid: Grid, tangent: np.ndarray) -> None:
        """Refuse a closure with ``dq_n/dG_n < 0`` at every face (the wrong sign convention)."""
        axes = self.operators(grid).face_axes
        first_grad = tangent.shape[2] - grid.dim  # the gradient columns come last
        slope = tangent[np.arange(grid.n_faces), axes, first_grad + axes]
        if np.all(slope < 0):
            raise ValueError(
                f"DiffusionLaw.tangents(): the closure's flux decreases with the gradient at every face "
                f"(dq_n/dG_n < 0 at all {grid.n_faces} faces, largest {float(slope.max()):.3g}); the law is "
                f"u_t = div q + f, so diffusion needs the convention q = +D grad u with D > 0. A closure "
                f"returning Fick's flux q = -D grad u has the opposite sign: negate it")

    def jacobian(self, grid: Grid, u: Any, t: float, closure: Callable[[np.ndarray], Any], *,
                 seed_points: np.ndarray | None = None) -> tuple[sp.csr_matrix, FluxEvaluation]:
        """Sparse Jacobian ``d(du_dt)/du`` and the evaluation at ``u``.

        ``d(du_dt)/du = Div @ (T @ Gmat + diag(dq_n/du) @ V) / c``: ``T``
        (n_faces, n_faces * dim) holds the normal-flux rows of the gradient
        tangents, ``T[f, f * dim + k] = dq_n / dG_k``; the second term, with
        ``V`` the face-value operator, is there only for a state-dependent
        closure. One closure call (see :meth:`tangents`); the base
        evaluation comes with it.
        """
        tangent, evaluation = self.tangents(grid, u, t, closure, seed_points=seed_points)
        ops = self.operators(grid)
        n, dim = grid.n_faces, grid.dim
        normal_rows = tangent[np.arange(n), ops.face_axes, :]  # (n_faces, k)
        rows = np.repeat(np.arange(n), dim)
        cols = np.arange(n * dim)
        tmat = sp.csr_matrix((normal_rows[:, -dim:].ravel(), (rows, cols)), shape=(n, n * dim))
        face_jac = tmat @ ops.gradient
        if self.state_dependent:
            face_jac = face_jac + sp.diags(normal_rows[:, 0]) @ ops.value
        jac = (ops.divergence @ face_jac).tocsr() / self.capacity
        return jac, evaluation

    def answer_jacobian(self, grid: Grid, u: Any, t: float, evaluation: FluxEvaluation) -> sp.csr_matrix:
        """``d(du_dt) / d(answers)``, shape (n_cells, n_faces * dim), answers flat in row-major
        ``evaluation.mean`` order: ``Div[:, f] / c`` for the normal component of face ``f``, zero for
        the tangential ones (the law is affine in its answers, so this is exact and state-independent)."""
        ops = self.operators(grid)
        n, dim = grid.n_faces, grid.dim
        select = sp.csr_matrix((np.ones(n), (np.arange(n), np.arange(n) * dim + ops.face_axes)), shape=(n, n * dim))
        return (ops.divergence @ select).tocsr() / self.capacity

    def max_diffusivity(self, grid: Grid, u: Any, t: float, closure: Callable[[np.ndarray], Any]) -> float:
        """Bound on the effective diffusivity for the explicit CFL condition.

        ``D = max_faces sum_k |dq_n / dG_k|`` (Gershgorin-style; length^2 / time).
        """
        tangent, _ = self.tangents(grid, u, t, closure)
        ops = self.operators(grid)
        normal_rows = tangent[np.arange(grid.n_faces), ops.face_axes, -grid.dim:]
        return float(np.abs(normal_rows).sum(axis=1).max()) / self.capacity

    def max_rate(self, grid: Grid, u: Any, t: float, closure: Any) -> float:
        """Explicit stability rate ``sum_k 2 D / h_k^2`` (1 / time; forward Euler
        is stable for ``dt <= 1 / rate``), ``D`` from :meth:`max_diffusivity`."""
        diffusivity = self.max_diffusivity(grid, u, t, closure)
        return sum(2.0 * diffusivity / h**2 for h in grid.spacing)
