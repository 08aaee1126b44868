"""A posteriori error indicators of a goal functional of an HMM solution.

Each indicator is a small class with one method, ``indicate(context) ->
Indication``: a total estimate of the goal error (goal units) and its
distribution over the macro cells (``cells``, summing to the estimate) and,
where it lives on faces, over the faces (``faces``). Kinds:

* :class:`StatisticalIndicator` -- micro noise through the goal sensitivity:
  ``sqrt(sum_f (s_f sigma_f)^2)`` when every face is an independent micro
  run, ``sqrt(sum_j (g_j sigma_j)^2)`` over the surrogate's observations
  (data weights ``g_j = dJ/dy_j``) when a surrogate answered; a standard
  deviation.
* :class:`ModellingIndicator` -- the surrogate's posterior covariance ``C``
  of the face fluxes: ``sqrt(s^T C s)`` (correlations included); a standard
  deviation of the error of answering queries from the surrogate.
* :class:`DiscretisationIndicator` -- dual-weighted residual of the macro
  solution prolongated to the twice finer grid, times the Richardson factor
  ``2^p / (2^p - 1)``: a signed estimate of ``J(u) - J(u_H)``.

:class:`CombinedIndicator` adds (``"sum"``) or takes the maximum
(``"max"``) of several. Indicators evaluate nothing: they read the arrays
of an :class:`IndicatorContext` (the runner, :func:`hmm.adaptive.make_context`,
linearises the macro law through a closure and builds it) and the
surrogate's posterior. :func:`goal_candidates` turns a context into the
candidates of :class:`adaptivity.BudgetGreedyAllocator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Sequence

import numpy as np

from .goal import adjoint, dual_to_flux_sensitivity
from .marking import Candidates

__all__ = ["IndicatorContext", "Indication", "StatisticalIndicator", "ModellingIndicator",
           "DiscretisationIndicator", "CombinedIndicator", "INDICATORS", "goal_candidates",
           "normal_flux_covariance", "refine_grid", "prolongation", "faces_to_cells"]


@dataclass(eq=False)
class IndicatorContext:
    """What indicators look at: the macro solution, its linearisation and its sensitivities.

    Only arrays and the surrogate's posterior: building a context (the
    closure evaluations of the law's Jacobian) is the runner's job
    (:func:`hmm.adaptive.make_context`); :meth:`build` assembles one from a
    Jacobian and an evaluation.

    Attributes
    ----------
    law, grid, goal
        Macro law (its operators: divergence, face axes), grid and goal functional.
    u : ndarray (n_cells,)
        Macro solution.
    evaluation : FluxEvaluation
        Closure answers at ``u`` (query points, normal flux and its stderr
        per face, ``du_dt``).
    jacobian : sparse (n_cells, n_cells)
        ``dF/du`` at ``u``.
    sensitivity : ndarray (n_faces,)
        ``s_f = dJ/dq_f``.
    closure
        Not used by the indicators (kept for positional compatibility).
    surrogate
        Optional :class:`adaptivity.GPClosureSurrogate` that answered the closure.
    t : float
        Time of the evaluation.
    dual : ndarray (n_cells,), optional
        Dual weights ``z`` with ``J_u^T z = psi``.
    fine : IndicatorContext, optional
        The context of the prolongated solution on the twice finer grid
        (:func:`refine_grid`), for :class:`DiscretisationIndicator`.
    """

    law: Any
    grid: Any
    goal: Any
    u: np.ndarray
    evaluation: Any
    jacobian: Any
    sensitivity: np.ndarray
    closure: Any = None
    surrogate: Any = None
    t: float = 0.0
    cache: dict = field(default_factory=dict)
    dual: np.ndarray | None = None
    fine: "IndicatorContext | None" = None

    @classmethod
    def build(cls, law: Any, grid: Any, goal: Any, u: np.ndarray, jacobian: Any, evaluation: Any, *,
              surrogate: Any = None, t: float = 0.0, fine: "IndicatorContext | None" = None) -> "IndicatorContext":
        """A context from the law's Jacobian and evaluation at ``u``: one adjoint
        solve gives the dual weights and the flux sensitivities."""
        u = np.asarray(u, dtype=float).ravel()
        z = adjoint(jacobian, goal.weights(grid))
        s = dual_to_flux_sensitivity(law, grid, z)
        return cls(law, grid, goal, u, evaluation, jacobian, s, None, surrogate, t, dual=z, fine=fine)


class Indication(NamedTuple):
    """One indicator's answer: ``estimate`` (goal units; a standard deviation for
    ``random`` kinds, a signed error for the others), per-cell ``cells`` and,
    where defined, per-face ``faces`` contributions, both summing to it."""

    kind: str
    estimate: float
    cells: np.ndarray
    faces: np.ndarray | None
    random: bool


def faces_to_cells(law: Any, grid: Any, face_values: np.ndarray) -> np.ndarray:
    """Split each face's value equally between its (one or two) cells."""
    inc = abs(law.operators(grid).divergence).tocsc()
    inc.data[:] = 1.0
    counts = np.asarray(inc.sum(axis=0)).ravel()
    return np.asarray(inc @ (np.asarray(face_values) / counts)).ravel()


def _share(weights: np.ndarray, total: float) -> np.ndarray:
    """Contributions ``w_i`` (variances) rescaled to sum to the std ``total``."""
    v = float(np.sum(weights))
    return weights * (total / v) if v > 0 else np.zeros_like(weights)


class StatisticalIndicator:
    """Micro noise through the goal sensitivity (a standard deviation, goal units).

    Without a surrogate the face fluxes are independent micro runs (as with
    :class:`hmm.closure.CouplerClosure`): ``sqrt(sum_f (s_f stderr_f)^2)``.
    With one, the fluxes are its posterior mean, linear in the observations
    ``y_j`` with data weights ``g_j = dJ/dy_j``
    (:meth:`~adaptivity.GPClosureSurrogate.data_weights`), so the micro noise
    reaches the goal as ``sqrt(sum_j (g_j stderr_j)^2)``; face ``f`` gets
    ``s_f (W diag(stderr^2) g)_f`` (``W`` the data map), which sums to the variance.
    """

    kind = "statistical"

    def indicate(self, ctx: IndicatorContext) -> Indication:
        if ctx.surrogate is not None:
            return self._through_surrogate(ctx)
        var_f = (ctx.sensitivity * ctx.evaluation.normal_flux_stderr) ** 2
        est = float(np.sqrt(var_f.sum()))
        faces = _share(var_f, est)
        return Indication(self.kind, est, faces_to_cells(ctx.law, ctx.grid, faces), faces, True)

    def _through_surrogate(self, ctx: IndicatorContext) -> Indication:
        sur, s = ctx.surrogate, ctx.sensitivity
        axes = ctx.law.operators(ctx.grid).face_axes
        points = ctx.evaluation.points
        var, share = 0.0, np.zeros(len(axes))
        for a in np.unique(axes):
            fidx = np.flatnonzero(axes == a)
            g = sur.data_weights(points[fidx], int(a), s[fidx])
            var += float(np.sum((g * sur.S[:, a]) ** 2))
            share[fidx] = s[fidx] * sur.data_map(points[fidx], int(a), g * sur.S[:, a] ** 2)
        est = float(np.sqrt(var))
        faces = _share(share, est)
        return Indication(self.kind, est, faces_to_cells(ctx.law, ctx.grid, faces), faces, True)


def _axis_blocks(ctx: IndicatorContext, extra: np.ndarray | None = None):
    """Per face axis ``a``: (a, face indices, query states = those faces' points
    then the ``extra`` rows, surrogate posterior covariance of output ``a`` there)."""
    points = ctx.evaluation.points
    extra = np.empty((0, points.shape[1])) if extra is None else extra
    axes = ctx.law.operators(ctx.grid).face_axes
    for a in np.unique(axes):
        idx = np.flatnonzero(axes == a)
        states = np.vstack([points[idx], extra])
        _, c = ctx.surrogate.predict(states, output=int(a), return_cov=True)
        yield int(a), idx, states, c


def normal_flux_covariance(ctx: IndicatorContext) -> np.ndarray:
    """Surrogate posterior covariance (n_faces, n_faces) of the normal fluxes."""
    if "flux_cov" in ctx.cache:
        return ctx.cache["flux_cov"]
    n = len(ctx.evaluation.points)
    cov = np.zeros((n, n))
    for _, idx, _, c in _axis_blocks(ctx):
        cov[np.ix_(idx, idx)] = c
    ctx.cache["flux_cov"] = cov
    return cov


def goal_candidates(ctx: IndicatorContext) -> Candidates:
    """Candidate micro work for the allocator: a ``fresh_run`` at every face of
    ``ctx`` and a ``sample_more`` at every distinct state the surrogate knows,
    with their joint posterior covariance (block diagonal over the face axes:
    one GP per output), ``Cov(J, q_c)`` and ``Var(J)`` from the surrogate."""
    from scipy.linalg import block_diag

    known = np.unique(ctx.surrogate.X, axis=0)
    s = ctx.sensitivity
    states, kinds, covs, vs, goal_var = [], [], [], [], 0.0
    for _, fidx, allp, c in _axis_blocks(ctx, known):
        nf = len(fidx)
        v = c[:, :nf] @ s[fidx]
        goal_var += float(s[fidx] @ v[:nf])
        states.append(allp)
        kinds += ["fresh_run"] * nf + ["sample_more"] * len(known)
        covs.append(c)
        vs.append(v)
    return Candidates(np.vstack(states), kinds, block_diag(*covs), np.concatenate(vs), max(goal_var, 0.0))


class ModellingIndicator:
    """Surrogate uncertainty through the goal sensitivity: ``sqrt(s^T C s)``.

    ``C`` is the GP posterior covariance of the normal face fluxes (it holds
    both the interpolation uncertainty and the noise of the micro runs the
    surrogate was trained on). Face ``f`` contributes ``s_f (C s)_f``
    (rescaled to sum to the estimate). A standard deviation (goal units).
    """

    kind = "modelling"

    def indicate(self, ctx: IndicatorContext) -> Indication:
        if ctx.surrogate is None:
            z = np.zeros(ctx.grid.n_faces)
            return Indication(self.kind, 0.0, np.zeros(ctx.grid.n_cells), z, True)
        cov = normal_flux_covariance(ctx)
        s = ctx.sensitivity
        share = s * (cov @ s)
        est = float(np.sqrt(max(share.sum(), 0.0)))
        faces = _share(share, est)
        return Indication(self.kind, est, faces_to_cells(ctx.law, ctx.grid, faces), faces, True)


def refine_grid(grid: Any) -> Any:
    """The grid with every cell split in two along each axis (same extent)."""
    from macro import Grid1D, Grid2D

    if grid.dim == 1:
        return Grid1D(2 * grid.cells, grid.extent)
    return Grid2D((2 * grid.cells[0], 2 * grid.cells[1]), grid.extent)


def prolongation(grid: Any, u: np.ndarray) -> np.ndarray:
    """Mean-preserving piecewise-linear prolongation of cell values to
    :func:`refine_grid` (children ``u_i +- slope h / 4`` per axis)."""
    arr = np.asarray(u, dtype=float).reshape(grid.shape)
    out = arr
    for axis, h in enumerate(grid.spacing):
        slope = np.gradient(arr, h, axis=axis) if grid.shape[axis] > 1 else np.zeros_like(arr)
        lo, hi = out - slope * h / 4, out + slope * h / 4
        out = np.stack([lo, hi], axis=axis + 1).reshape(
            tuple(2 * n if k <= axis else n for k, n in enumerate(grid.shape)))
        arr = np.repeat(arr, 2, axis=axis)
    return out.ravel()


def _children_to_parents(grid: Any, fine_values: np.ndarray) -> np.ndarray:
    v = np.asarray(fine_values).reshape(tuple(2 * n for n in grid.shape))
    if grid.dim == 1:
        return v.reshape(grid.cells, 2).sum(axis=1)
    nx, ny = grid.shape
    return v.reshape(nx, 2, ny, 2).sum(axis=(1, 3)).ravel()


class DiscretisationIndicator:
    """Dual-weighted residual on the twice finer grid, Richardson-scaled.

    With ``P`` the mean-preserving prolongation, ``r = F_h/2(P u_H)`` the fine
    residual and ``J_h/2^T z = psi_h/2`` the fine adjoint (both read from
    ``ctx.fine``),
    ``J(u_h/2) - J(u_H) ~ -z . r``; for a scheme of order ``p`` the error of
    ``u_H`` is ``2^p / (2^p - 1)`` times that. Cell ``i`` of the coarse grid
    gets the sum over its children. Signed (goal units).

    Parameters
    ----------
    order : float
        Convergence order ``p`` of the goal on uniform grids (2 for the
        cell-centred finite volumes of :mod:`macro`).
    """

    kind = "discretisation"

    def __init__(self, order: float = 2.0) -> None:
        self.order = float(order)

    def indicate(self, ctx: IndicatorContext) -> Indication:
        fine = ctx.fine
        if fine is None or fine.dual is None:
            raise ValueError("DiscretisationIndicator.indicate(): the context needs `fine`, the context of the "
                             "prolongated solution on the twice finer grid (hmm.adaptive.make_context(..., "
                             "fine=True))")
        factor = 2**self.order / (2**self.order - 1)
        cells = _children_to_parents(ctx.grid, -factor * fine.dual * fine.evaluation.du_dt)
        return Indication(self.kind, float(cells.sum()), cells, None, False)


class CombinedIndicator:
    """Several indicators as one: estimates and cell fields added (``"sum"``) or
    their maximum taken (``"max"``); signed estimates enter by magnitude."""

    kind = "combined"

    def __init__(self, parts: Sequence[Any], how: str = "sum") -> None:
        if how not in ("sum", "max"):
            raise ValueError(f"CombinedIndicator: `how` must be 'sum' or 'max', got {how!r}")
        if not parts:
            raise ValueError("CombinedIndicator: `parts` must not be empty")
        self.parts, self.how = list(parts), how

    def indicate(self, ctx: IndicatorContext) -> Indication:
        got = [p.indicate(ctx) for p in self.parts]
        ests = np.array([abs(g.estimate) for g in got])
        cells = np.array([np.abs(g.cells) for g in got])
        if self.how == "sum":
            return Indication(self.kind, float(ests.sum()), cells.sum(axis=0), None, False)
        return Indication(self.kind, float(ests.max()), cells.max(axis=0), None, False)


INDICATORS: dict[str, type] = {
    "statistical": StatisticalIndicator,
    "modelling": ModellingIndicator,
    "discretisation": DiscretisationIndicator,
}
