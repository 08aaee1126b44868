r"""Quasi-static load stepping with Newton for :class:`macro.solids.SolidLaw`.

At each load factor :math:`\lambda_n` the Dirichlet values are set to
:math:`\lambda_n \bar u` and Newton solves :math:`r(u) = f_{int}(u) -
\lambda_n f_{ext} = 0` on the free dofs with the tangent matrix assembled from
the closure's tangents. Every iteration is *one* closure call for all
quadrature points. An iterate is accepted when

.. math::

    \|r_{free}\|_2 \le \mathrm{tol}\,\max(\|f_{int}\|_2, \|\lambda_n f_{ext}\|_2) + 64\,\epsilon_{mach}\,s,

where the scale ``s`` is the same maximum (reactions included), so the test is
relative to the forces of the problem; a zero problem is accepted at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse.linalg as spla

from ..closure import as_closure
from .law import SolidEvaluation, SolidLaw

__all__ = ["QuasiStaticResult", "SolidNewtonError", "solve_quasistatic", "load_factors"]


class SolidNewtonError(RuntimeError):
    """Raised by :func:`solve_quasistatic` when Newton does not reach the tolerance
    within ``max_iterations`` at a load step (the message names the step, its load
    factor and the last residual); smaller load steps may help."""


@dataclass(eq=False)
class QuasiStaticResult:
    """Outcome of :func:`solve_quasistatic`.

    Attributes
    ----------
    u : ndarray (n_dofs,)
        Displacement at the last load factor (mesh length units).
    loads : ndarray (n_steps,)
        Load factors of the steps.
    displacements : list of ndarray
        Displacement after every step.
    iterations : list of int
        Newton updates per step (closure calls per step = updates + 1).
    residuals : list of list of float
        Relative free residual of every iterate of every step.
    evaluation : SolidEvaluation
        The accepted evaluation of the last step (closure points, answers, forces).
    closure_calls : int
        Closure calls in all (one batch of all quadrature points each).
    micro_cost_s : float
        Sum of the closure's ``cost_s`` (micro seconds actually spent).
    """

    u: np.ndarray
    loads: np.ndarray
    displacements: list[np.ndarray] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    residuals: list[list[float]] = field(default_factory=list)
    evaluation: SolidEvaluation | None = None
    closure_calls: int = 0
    micro_cost_s: float = 0.0
    n_stress: int = 0

    @property
    def stress(self) -> np.ndarray:
        """Stress at every quadrature point of the last step ``(n_points, n_stress)``
        (Voigt Cauchy stress, or ``P`` row-major)."""
        return self.evaluation.result.mean[:, :self.n_stress]


def load_factors(steps: int | Sequence[float]) -> np.ndarray:
    """``steps`` equal increments up to 1, or the given increasing factors."""
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool):
        if steps < 1:
            raise ValueError(f"solve_quasistatic(): `steps` must be >= 1, got {steps}")
        return np.arange(1, steps + 1) / steps
    loads = np.asarray(steps, dtype=float).ravel()
    if loads.size == 0 or not np.isfinite(loads).all():
        raise ValueError("solve_quasistatic(): `steps` must be a count or finite load factors")
    return loads


def solve_quasistatic(law: SolidLaw, closure: Callable[..., Any], steps: int | Sequence[float] = 1, *,
                      tol: float = 1e-10, max_iterations: int = 25, u0: np.ndarray | None = None,
                      callback: Callable[[int, float, SolidEvaluation], None] | None = None) -> QuasiStaticResult:
    """Quasi-static load stepping with Newton and the closure's consistent tangent.

    Parameters
    ----------
    law : SolidLaw
    closure : callable
        ``closure(points, *, seed_rows=None) -> ClosureResult`` with the law's
        column layout (:meth:`SolidLaw.closure_inputs`, :meth:`SolidLaw.closure_outputs`).
    steps : int or sequence of float
        Number of equal load increments to load factor 1, or the load factors.
    tol : float
        Relative residual tolerance (see the module docstring).
    max_iterations : int
        Newton updates allowed per step.
    u0 : ndarray, optional
        Initial displacement (default zero).
    callback : callable, optional
        ``callback(step, load, evaluation)`` after each accepted step.

    Raises
    ------
    ValueError
        The law has no Dirichlet condition (rigid motions free).
    SolidNewtonError
        Newton did not converge at a step.
    EllipticityError
        A closure tangent lost symmetry or ellipticity (from the law's check).
    """
    if not isinstance(law, SolidLaw):
        raise TypeError(f"solve_quasistatic(): `law` must be a SolidLaw, got {type(law).__name__}")
    if law.dirichlet_dofs.size == 0:
        raise ValueError("solve_quasistatic(): the law has no Dirichlet condition, so rigid motions are not "
                         "constrained; give SolidLaw(dirichlet=[...])")
    closure = as_closure(closure)
    loads = load_factors(steps)
    u = np.zeros(law.n_dofs) if u0 is None else np.array(u0, dtype=float)
    if u.shape != (law.n_dofs,):
        raise ValueError(f"solve_quasistatic(): `u0` must have shape ({law.n_dofs},), got {u.shape}")
    out = QuasiStaticResult(u, loads, n_stress=law.n_stress)
    D, I = law.dirichlet_dofs, law.free_dofs
    eps = np.finfo(float).eps
    for step, load in enumerate(loads):
        u[D] = law.dirichlet_values(load)
        f_ext = law.external_force(load)
        history: list[float] = []
        for it in range(max_iterations + 1):
            ev = law.evaluate(u, closure)
            out.closure_calls += 1
            out.micro_cost_s += float(np.sum(ev.result.cost_s))
            r = ev.internal - f_ext
            scale = max(np.linalg.norm(ev.internal), np.linalg.norm(f_ext))
            res = float(np.linalg.norm(r[I]))
            history.append(res / scale if scale > 0 else 0.0)
            if res <= tol * scale + 64 * eps * scale:
                break
            if it == max_iterations:
                raise SolidNewtonError(
                    f"solve_quasistatic(): Newton did not converge at load step {step} (load factor {load:g}) "
                    f"in {max_iterations} iterations: relative residual {history[-1]:.3g} > tol={tol:g}")
            K = ev.stiffness
            try:
                du = spla.splu(K[I][:, I].tocsc(), permc_spec="MMD_AT_PLUS_A").solve(-r[I])
            except RuntimeError:  # SuperLU: "Factor is exactly singular"
                du = np.full(I.size, np.nan)
            if not np.isfinite(du).all():
                raise SolidNewtonError(f"solve_quasistatic(): singular tangent at load step {step} "
                                       f"(load factor {load:g}); are rigid motions constrained?")
            u[I] += du
        out.iterations.append(it)
        out.residuals.append(history)
        out.displacements.append(u.copy())
        out.evaluation = ev
        if callback is not None:
            callback(step, float(load), ev)
    out.u = u
    return out
