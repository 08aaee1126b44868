"""Rejection-free (BKL) lattice kinetic Monte Carlo of surface reactions.

Old names (aliases): ``LatticeKMC`` = :class:`KMCCoverages` (whose ``blocks``
was ``n_blocks``, still accepted), ``KMCSimulation`` = :class:`KMCSystem`.

Time in the model's unit (one Monte Carlo sweep for ZGB); coverages are
fractions of sites; fluxes are events per site per unit time.

=====================  =====================================================
module                 contents
=====================  =====================================================
:mod:`.oracle`         :class:`KMCCoverages`, the oracle (coverages, fluxes,
                       coarse time derivatives; lift/micro/restrict)
:mod:`.models`         :class:`Process`, :class:`SurfaceModel`,
                       :class:`Langmuir`, :class:`LatticeGas`, :class:`ZGB`,
                       :class:`BistableAB`, :class:`Reservoirs`,
                       :func:`mean_field_rhs`
:mod:`.lattice`        :class:`KMCSystem` (the engine), :func:`initialise`,
                       :func:`simulate`, :func:`compile_model`
:mod:`.meanfield`      :class:`MeanFieldFlow`, the A + B2 closed form and folds
:mod:`.tooth`          :class:`KMCTooth` for the gap-tooth scheme
:mod:`._kernels`       numba kernels and the slow reference (private)
=====================  =====================================================
"""

from .lattice import KMCRun, KMCSimulation, KMCSystem, Tables, compile_model, initialise, simulate
from .meanfield import MeanFieldFlow, bistable_folds, bistable_steady_curve, lattice_gas_profile
from .models import (
                     MAX_SPECIES,
                     ZGB,
                     BistableAB,
                     Langmuir,
                     LatticeGas,
                     Process,
                     Reservoirs,
                     SurfaceModel,
                     mean_field_rhs,
                     model_parameters,
)
from .oracle import KMCCoverages, LatticeKMC
from .tooth import KMCTooth, ToothState, lift_columns, strip_profile

__all__ = ["KMCCoverages", "KMCSystem", "LatticeKMC", "KMCSimulation", "KMCRun", "Tables", "ZGB", "BistableAB", "LatticeGas", "Langmuir",
           "SurfaceModel", "Process", "Reservoirs", "compile_model", "initialise", "simulate", "mean_field_rhs",
           "model_parameters", "MAX_SPECIES", "MeanFieldFlow", "bistable_folds", "bistable_steady_curve",
           "lattice_gas_profile", "KMCTooth", "ToothState", "lift_columns", "strip_profile"]
