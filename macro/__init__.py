"""Macro solvers: finite-volume grids, conservation laws, time-steppers, Newton.

Overview
--------
* :mod:`macro.law` -- the :class:`ConservationLaw` protocol every law follows
  (state layout, closure inputs and what the law does with the answers,
  right-hand side and tangent in ``"semi_discrete"`` or ``"flux"`` form) and
  its :class:`Evaluation`.
* :mod:`macro.grid` -- uniform cell-centred grids :class:`Grid1D`,
  :class:`Grid2D` (cell and face orderings are documented there).
* :mod:`macro.profiles` -- analytic initial/source/boundary profiles and the
  config registry :data:`PROFILES` / :func:`make_profile`.
* :mod:`macro.closure` -- the closure protocol :class:`Closure`
  (``closure(points, *, seed_rows=None) -> ClosureResult`` with ``mean``,
  ``stderr``, ``cost_s`` and a ``fresh`` mask), :func:`as_closure` and
  :class:`CountingClosure`.
* :mod:`macro.closures` -- analytic closures (:class:`CoefficientFlux`
  resolves ``eps``; :class:`LinearFlux` is the homogenised reference).
* :mod:`macro.diffusion` -- :class:`DiffusionLaw` ``u_t = div q + f`` with
  Dirichlet data; one closure call per evaluation, FD or exact tangents,
  noise propagation.
* :mod:`macro.steppers` -- one :class:`Stepper` base, one :class:`StepResult`
  and one registry :data:`STEPPERS`: explicit Euler and Heun with CFL
  sub-cycling, implicit Euler and Crank-Nicolson with modified Newton (for
  semi-discrete laws), the Nessyahu-Tadmor central scheme (for flux-form laws).
* :mod:`macro.newton` -- the noise-aware Newton acceptance rule.
* :mod:`macro.steady` -- :func:`solve_steady`, Newton for ``div q + f = 0``.
* :mod:`macro.linsolve` -- :func:`solve_linear` (sparse LU or AMG-Krylov).
* :mod:`macro.elastodynamics` -- :class:`ElasticWaveLaw` (1D Lagrangian
  elastodynamics, stress closure).
* :mod:`macro.thermoelastic` -- :class:`ThermoElasticWaveLaw` (strain,
  momentum and energy; closure (strain, internal energy) -> stress, T).
* :mod:`macro.tabulated` -- :class:`TabulatedClosure` (closure answers
  reused by bilinear interpolation on a lattice filled on demand).
* :mod:`macro.quantised` -- :class:`QuantisedClosure` (queries rounded to a
  lattice, so nearby queries share one answer).
* :mod:`macro.solids` -- quasi-static solids on scikit-fem meshes
  (:class:`SolidLaw`, :func:`solve_quasistatic`, small and finite strain,
  one closure call for all quadrature points per Newton iteration).

``macro`` never imports an oracle or Dask: it only calls a closure.

Example
-------
>>> import numpy as np
>>> from macro import Grid1D, DiffusionLaw, LinearFlux, solve_steady
>>> grid = Grid1D(32)
>>> law = DiffusionLaw(source=1.0, boundary=0.0)
>>> res = solve_steady(law, grid, LinearFlux(1.0))
>>> bool(abs(res.u.max() - 0.125) < 1e-3)  # u = x (1 - x) / 2
True
"""

from .elastodynamics import (FIELD_STEPPERS, ElasticWaveLaw, FieldStepResult, NessyahuTadmor,
                             get_field_stepper)
from .thermoelastic import ThermoElasticWaveLaw
from .tabulated import TabulatedClosure
from .quantised import QuantisedClosure
from .closure import Closure, ClosureResult, CountingClosure, as_closure
from .closures import CoefficientFlux, LinearFlux
from .diffusion import DiffusionLaw, FluxEvaluation
from .grid import Grid1D, Grid2D
from .linsolve import LinearSolveError, solve_linear
from .profiles import PROFILES, make_profile
from .steady import (SteadyResult, SteadyStateError, SteadyUncertainty, newton_correction, solve_steady,
                     steady_uncertainty)
from .steppers import STEPPERS, Stepper, StepperError, StepResult, get_stepper
from .law import ConservationLaw, Evaluation, FluxFormLaw, SemiDiscreteLaw

__all__ = [
    "Grid1D", "Grid2D", "DiffusionLaw", "FluxEvaluation", "STEPPERS", "get_stepper", "Stepper",
    "StepResult", "StepperError", "solve_steady", "SteadyResult", "SteadyStateError", "SteadyUncertainty",
    "steady_uncertainty", "newton_correction",
    "ClosureResult", "CoefficientFlux", "LinearFlux", "CountingClosure", "PROFILES",
    "make_profile", "solve_linear", "LinearSolveError", "ElasticWaveLaw", "NessyahuTadmor",
    "FieldStepResult", "FIELD_STEPPERS", "get_field_stepper", "ThermoElasticWaveLaw",
    "TabulatedClosure", "QuantisedClosure", "Closure", "as_closure", "ConservationLaw",
    "SemiDiscreteLaw", "FluxFormLaw", "Evaluation",
]

# Quasi-static solids (macro.solids, scikit-fem): imported on first use so that
# `import macro` does not pay for scikit-fem.
_SOLIDS = ("SolidLaw", "Dirichlet", "Traction", "solve_quasistatic", "QuasiStaticResult", "SolidNewtonError",
           "LinearElasticClosure", "SaintVenantKirchhoffClosure", "EllipticityError")


def __getattr__(name: str):
    if name in _SOLIDS:
        from . import solids

        return getattr(solids, name)
    raise AttributeError(f"module 'macro' has no attribute {name!r}")


__all__ += list(_SOLIDS)
