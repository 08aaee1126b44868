"""Lennard-Jones molecular dynamics: oracles, engines and analysis (reduced LJ units).

Old names (aliases): ``LennardJonesMD`` = :class:`LJStress`, ``LJChain`` =
:class:`ChainStress`, ``NVEChain`` = :class:`NVEChainStress`; ``LJStress``
takes ``unit_cells`` (the old ``cells=`` is accepted).

Reduced units throughout: length sigma, energy epsilon, mass m, time
sigma sqrt(m / epsilon), temperature epsilon / k_B, 3D stress epsilon / sigma^3,
1D stress (chain tension) epsilon / sigma.

=====================  =====================================================
module                 contents
=====================  =====================================================
:mod:`.stress`         :class:`LJStress`, the 3D LJ stress oracle
:mod:`.deformed`       :class:`DeformedLJStress`, a 2D LJ crystal under a
                       full F (stress-fluctuation tangent, stateful)
:mod:`.history`        :class:`LJGlassStress`, a 2D binary LJ glass under
                       athermal quasi-static F (plastic history, stateful)
:mod:`.chain`          :class:`ChainModel` (chain parameters) and
                       :class:`ChainStress`, the canonical 1D chain oracle
:mod:`.thermal`        :class:`NVEChainStress`, the microcanonical chain oracle
:mod:`.engine`         :class:`LJSystem` (3D engine), :func:`fcc_lattice`,
                       :func:`trajectory`, :func:`reference_forces`
:mod:`.chain_engine`   :class:`ChainSystem` (1D chain engine), :func:`bond_energy`
:mod:`.chain_wave`     direct MD of a whole chain carrying a wave (the
                       reference of HMM elastodynamics), :func:`coarse_grain`
:mod:`.common`         state checks, tail corrections, block averages,
                       mean squared displacement, Einstein diffusion
:mod:`._kernels`       numba kernels (private)
:mod:`._kernels2d`     numba kernels of the 2D RVEs (private)
=====================  =====================================================
"""

from .chain import ChainModel, ChainStress, LJChain
from .chain_engine import ChainSystem
from .chain_wave import coarse_grain, direct_wave, thermal_wave_ensemble
from .common import (
                     DEFAULT_EQUILIBRATION_STEPS,
                     DEFAULT_SAMPLING_STEPS,
                     OBSERVABLES,
                     block_average,
                     diffusion_coefficient,
                     mean_squared_displacement,
                     parse_state,
                     tail_corrections,
)
from .deformed import DeformedLJStress, triangular_lattice
from .engine import LJSystem, fcc_lattice, reference_forces, trajectory
from .history import LJGlassStress
from .stress import LJ_UNITS, LennardJonesMD, LJStress
from .thermal import CHAIN_OBSERVABLES, NVEChain, NVEChainStress, bond_energy

__all__ = ["LJStress", "ChainStress", "NVEChainStress", "ChainModel", "LJSystem", "ChainSystem",
           "LennardJonesMD", "LJChain", "NVEChain", "LJ_UNITS", "coarse_grain", "direct_wave",
           "thermal_wave_ensemble", "fcc_lattice", "trajectory", "reference_forces",
           "block_average", "mean_squared_displacement", "diffusion_coefficient", "tail_corrections",
           "parse_state", "OBSERVABLES", "CHAIN_OBSERVABLES", "bond_energy", "DEFAULT_EQUILIBRATION_STEPS",
           "DEFAULT_SAMPLING_STEPS", "DeformedLJStress", "LJGlassStress", "triangular_lattice"]
