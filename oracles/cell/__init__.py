"""Periodic cell problems of homogenisation: the deterministic and the noisy flux oracle
and the oscillatory coefficients a(x, y) they solve for.

Old names (aliases): ``CellProblemOracle`` = :class:`CellProblemFlux`,
``NoisyCellProblem`` = :class:`NoisyCellProblemFlux`.

Units: the flux has the units of the coefficient times the macro gradient;
positions are macro lengths, the fast variable y is dimensionless.
"""

from .coefficients import (
                           COEFFICIENTS,
                           ConstantCoefficient,
                           InclusionCosine,
                           LayeredCosine,
                           TwoPhaseLaminate,
                           make_coefficient,
)
from .noisy import NoisyCellProblem, NoisyCellProblemFlux
from .problem import CellProblemFlux, CellProblemOracle, clear_factorisations

__all__ = ["CellProblemFlux", "NoisyCellProblemFlux", "CellProblemOracle", "NoisyCellProblem", "COEFFICIENTS", "ConstantCoefficient", "InclusionCosine",
           "LayeredCosine", "TwoPhaseLaminate", "make_coefficient", "clear_factorisations"]
