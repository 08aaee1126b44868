r"""The conservation-law protocol every macro law follows.

A law couples a macro state to a closure. It says

* its **state layout**: ``fields`` (names of the unknowns, one value per
  cell each), so the state is a flat ``(n_cells,)`` array for one field and
  ``(n_fields, n_cells)`` for several (:func:`state_shape`,
  :func:`check_state`), with the grid's dims and the units the law knows
  (``units``);
* the **closure inputs** it needs at its evaluation points
  (``closure_inputs(grid)`` names the columns of ``closure_points(grid, U,
  t)``) and the outputs it uses (``closure_outputs(grid)``);
* what it **does with the answers**: ``evaluate(grid, U, t, closure, *,
  seed_points=None) -> Evaluation``, exactly one closure call, and
  ``record(grid, evaluation)``, the answers as they are stored in results
  (name -> dims, mean, stderr);
* its right-hand side and tangent, in one of two **forms**:

  ``form = "semi_discrete"`` (:class:`SemiDiscreteLaw`)
      method of lines, ``dU/dt = R(U, t)``: ``evaluate`` fills
      ``Evaluation.du_dt`` and ``rhs_stderr``; ``jacobian`` gives the sparse
      ``dR/dU`` (closure tangents included), ``max_rate`` the explicit
      stability rate, ``forcing_scale`` the size of the data Newton's
      tolerance is relative to. Steppers: ``explicit_euler``, ``heun``,
      ``implicit_euler``, ``crank_nicolson``; also :func:`macro.solve_steady`.
      Example: :class:`macro.DiffusionLaw`.
  ``form = "flux"`` (:class:`FluxFormLaw`)
      conservation form ``U_t + F(U)_X = 0`` with the closure at the cell
      states: ``evaluate`` fills ``Evaluation.flux`` (``F`` per cell), and
      ``max_speed(U, closure)`` bounds the characteristic speeds. Stepper:
      ``nessyahu_tadmor``. Examples: :class:`macro.ElasticWaveLaw`,
      :class:`macro.ThermoElasticWaveLaw`.

Steppers (:mod:`macro.steppers`) and ``hmm.HMMSolver`` use nothing else,
so a user-written class with these members works with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping, Protocol, runtime_checkable

import numpy as np

from ._validate import as_state

__all__ = ["ConservationLaw", "SemiDiscreteLaw", "FluxFormLaw", "Evaluation", "FluxEvaluation", "LAW_FORMS",
           "state_shape", "check_state"]


LAW_FORMS: dict[str, str] = {
    "semi_discrete": "a DiffusionLaw or another semi-discrete law dU/dt = R(U, t)",
    "flux": "a multi-field law in flux form U_t + F(U)_X = 0 (e.g. ElasticWaveLaw)",
}
"""The law forms and what they mean (used in error messages)."""


@dataclass(frozen=True, eq=False)
class Evaluation:
    """One closure call of a law at a state, and what the law made of the answers.

    Attributes
    ----------
    points : ndarray (n_points, n_in)
        The closure query (columns ``law.closure_inputs(grid)``).
    mean, stderr : ndarray (n_points, n_out)
        The closure answers and their standard errors.
    cost_s : ndarray (n_points,)
        Micro wall seconds per point (s).
    t : float
        Time of the evaluation.
    du_dt : ndarray or None
        Semi-discrete laws: the right-hand side ``R(U, t)``, state shape.
    rhs_stderr : ndarray or None
        Semi-discrete laws: closure noise propagated into ``du_dt``.
    flux : ndarray or None
        Flux-form laws: ``F(U)`` per cell, shape ``(n_fields, n_cells)``.
    """

    points: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    cost_s: np.ndarray
    t: float
    du_dt: np.ndarray | None = None
    rhs_stderr: np.ndarray | None = None
    flux: np.ndarray | None = None


@dataclass(frozen=True, eq=False)
class FluxEvaluation(Evaluation):
    """One evaluation of the diffusion law's semi-discrete right-hand side.

    The :class:`Evaluation` of :class:`macro.DiffusionLaw`, with the normal
    flux component at each face.

    Attributes
    ----------
    du_dt : ndarray (n_cells,)
        ``(div q + f) / c`` per cell (u / time).
    rhs_stderr : ndarray (n_cells,)
        Closure noise propagated into ``du_dt`` (independent faces).
    normal_flux : ndarray (n_faces,)
        Normal flux component ``q_n`` at each face (flat face order).
    normal_flux_stderr : ndarray (n_faces,)
        Standard error of ``normal_flux``.
    points : ndarray (n_faces, n_in)
        The closure query (positions, then gradient components).
    mean, stderr : ndarray (n_faces, dim)
        The closure's full answers at the faces.
    cost_s : ndarray (n_faces,)
        Micro wall seconds spent per face (for a finite-difference Jacobian,
        the base point plus its perturbed copies).
    t : float
        Time of the evaluation.
    """

    normal_flux: np.ndarray | None = None
    normal_flux_stderr: np.ndarray | None = None


Recorded = tuple[tuple[str, ...], np.ndarray, np.ndarray]
"""How a law stores one closure output in results: (dims, mean, stderr)."""


@runtime_checkable
class ConservationLaw(Protocol):
    """What every macro law provides (see the module docstring)."""

    form: ClassVar[str]
    fields: tuple[str, ...]
    units: Mapping[str, str]

    def closure_inputs(self, grid: Any) -> tuple[str, ...]:
        """Names of the query columns."""

    def closure_outputs(self, grid: Any) -> tuple[str, ...]:
        """Names of the closure outputs the law uses."""

    def closure_points(self, grid: Any, U: np.ndarray, t: float) -> np.ndarray:
        """The closure query at state ``U``, shape (n_points, n_in)."""

    def evaluate(self, grid: Any, U: Any, t: float, closure: Any, *,
                 seed_points: np.ndarray | None = None) -> Evaluation:
        """One closure call at ``U`` and what the law makes of it."""

    def record(self, grid: Any, evaluation: Evaluation) -> dict[str, Recorded]:
        """The closure answers of ``evaluation`` as stored in results: name -> (dims, mean, stderr)."""


@runtime_checkable
class SemiDiscreteLaw(ConservationLaw, Protocol):
    """A law ``dU/dt = R(U, t)`` in method-of-lines form (``form = "semi_discrete"``)."""

    def jacobian(self, grid: Any, U: Any, t: float, closure: Any, *,
                 seed_points: np.ndarray | None = None) -> tuple[Any, Evaluation]:
        """Sparse ``dR/dU`` (state size squared) and the evaluation at ``U``."""

    def max_rate(self, grid: Any, U: Any, t: float, closure: Any) -> float:
        """Rate ``r`` (1 / time) such that forward Euler is stable for ``dt <= 1 / r``."""

    def forcing_scale(self, grid: Any, t: float) -> float:
        """Size of the data (e.g. ``max |f|``) the steady Newton tolerance is relative to."""


@runtime_checkable
class FluxFormLaw(ConservationLaw, Protocol):
    """A law ``U_t + F(U)_X = 0`` with the closure at cell states (``form = "flux"``)."""

    def max_speed(self, U: np.ndarray, closure: Any) -> float:
        """Largest characteristic speed over the cells (length / time)."""


FORM_PROTOCOLS: dict[str, type] = {"semi_discrete": SemiDiscreteLaw, "flux": FluxFormLaw}


def state_shape(law: Any, grid: Any) -> tuple[int, ...]:
    """Shape of ``law``'s state on ``grid``: ``(n_cells,)`` for one field, else ``(n_fields, n_cells)``."""
    n = len(law.fields)
    return (grid.n_cells,) if n == 1 else (n, grid.n_cells)


def check_state(law: Any, grid: Any, U: Any, func: str, name: str | None = None) -> np.ndarray:
    """``U`` as a float array of :func:`state_shape` (a new array for several fields).

    A one-field state may also come in the grid's shape (flattened in C
    order). Raises ValueError naming ``func``, the argument (``name``,
    default the field name or ``U``) and the expected shape.
    """
    if len(law.fields) == 1:
        return as_state(U, grid.n_cells, grid.shape, func, name or law.fields[0])
    arr = np.array(U, dtype=float)
    shape = state_shape(law, grid)
    if arr.shape != shape:
        raise ValueError(f"{func}: `{name or 'U'}` must have shape {shape} (fields {law.fields} x cells), "
                         f"got {arr.shape}")
    return arr
