"""Quasi-static solid mechanics on scikit-fem meshes, driven by a constitutive closure.

* :mod:`macro.solids.kinematics` -- Voigt notation, closure column names,
  isotropic stiffness, the tangent checks and :class:`EllipticityError`.
* :mod:`macro.solids.law` -- :class:`SolidLaw` (2D plane strain or 3D, small
  or finite strain, Lagrange P1/P2, :class:`Dirichlet` and :class:`Traction`).
* :mod:`macro.solids.quasistatic` -- :func:`solve_quasistatic`: load stepping
  with Newton, one closure call for all quadrature points per iteration.
* :mod:`macro.solids.closures` -- :class:`LinearElasticClosure`,
  :class:`SaintVenantKirchhoffClosure` (exact analytic closures).
* :mod:`macro.solids.mesh` -- :func:`rectangle`, :func:`box`, :func:`refined`, :func:`perturbed`.

Like the rest of :mod:`macro`, nothing here imports an oracle or Dask:
``hmm.fe2`` builds the closure from a Coupler.
"""

from .closures import LinearElasticClosure, SaintVenantKirchhoffClosure
from .kinematics import (EllipticityError, check_piola_tangent, check_stiffness, deformation_names,
                         isotropic_stiffness, lame, piola_names, piola_tangent_names, position_names,
                         stiffness_names, strain_names, strain_to_voigt, stress_names, tensor_to_voigt,
                         voigt_to_tensor)
from .law import Dirichlet, SolidEvaluation, SolidLaw, Traction
from .mesh import box, perturbed, rectangle, refined
from .quasistatic import QuasiStaticResult, SolidNewtonError, load_factors, solve_quasistatic

__all__ = ["SolidLaw", "Dirichlet", "Traction", "SolidEvaluation", "solve_quasistatic", "QuasiStaticResult",
           "SolidNewtonError", "load_factors", "LinearElasticClosure", "SaintVenantKirchhoffClosure",
           "EllipticityError", "check_stiffness", "check_piola_tangent", "isotropic_stiffness", "lame",
           "strain_to_voigt", "voigt_to_tensor", "tensor_to_voigt", "position_names", "strain_names",
           "stress_names", "stiffness_names", "deformation_names", "piola_names", "piola_tangent_names",
           "rectangle", "box", "refined", "perturbed"]
