"""hmm.ef: the equation-free toolkit, generic over any coarse time-stepper.

* :class:`CoarseModel` / :class:`ToothModel` -- what a micro model provides
  (``lift``, ``micro``, ``restrict``);
* :class:`CoarseStepper` (on a :class:`hmm.Coupler` of a :class:`CoarseBurst`)
  / :func:`coarse_stepper` -- lift -> micro burst -> restrict, bursts as Dask
  futures, replica averaging, common random numbers;
* :func:`projective_integrate` -- projective forward Euler and projective
  Heun, with the fast-mode stability check :func:`check_stability`;
* :func:`coarse_fixed_point` -- coarse steady states by Newton-Krylov with
  coarse multipliers and eigenvalues;
* :func:`continuation` -- pseudo-arclength continuation through folds,
  stable and unstable branches;
* :class:`GapTooth` (on a :class:`hmm.Coupler` of a :class:`ToothBurst`) --
  gap-tooth scheme for 1D spatially extended problems (teeth as Dask
  futures); with :func:`projective_integrate` it gives patch dynamics.
"""

from .continuation import Branch, ContinuationError, continuation
from .gaptooth import GapTooth, ToothBurst
from .models import CoarseModel, ToothModel
from .fixed_point import CoarseFixedPoint, CoarseNewtonError, coarse_fixed_point, stability
from .projective import (ProjectiveResult, ProjectiveStabilityError, amplification, check_stability,
                         projective_integrate)
from .stepper import CoarseBurst, CoarseRecords, CoarseStepper, coarse_stepper

__all__ = ["CoarseModel", "ToothModel", "coarse_stepper", "CoarseStepper", "CoarseBurst", "CoarseRecords", "projective_integrate",
           "ProjectiveResult", "ProjectiveStabilityError", "amplification", "check_stability",
           "coarse_fixed_point", "CoarseFixedPoint", "CoarseNewtonError", "stability", "continuation",
           "Branch", "ContinuationError", "GapTooth", "ToothBurst"]
