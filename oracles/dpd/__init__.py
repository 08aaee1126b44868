"""Dissipative particle dynamics (Groot-Warren): oracles, engines, walled channels (DPD units).

Old name (alias): ``DPD`` = :class:`DPDShearStress`. Presets: :data:`DPD_PRESETS`,
``DPDShearStress.polymer_solution()``.

DPD units throughout: length rc, energy kT, bead mass 1, time rc sqrt(m / kT);
stress kT / rc^3, shear rate 1 / time.

=====================  =====================================================
module                 contents
=====================  =====================================================
:mod:`.oracle`         :class:`DPDShearStress`, the Lees-Edwards shear-stress
                       oracle (also the fluid of the walled models)
:mod:`.engine`         :class:`DPDSystem` (the periodic engine),
                       :func:`observables`, :func:`pressure_tensor`
:mod:`.forces`         :func:`reference_forces`, slow NumPy forces (tests)
:mod:`.channel`        :class:`WalledChannel` / :class:`ChannelSystem` (direct
                       DPD between frozen-bead walls)
:mod:`.profiles`       binned profiles: steady and start-up, parabola fits
:mod:`.slip`           :class:`DPDWallSlip`, the near-wall slip-length oracle
:mod:`.reference`      kinetic-theory viscosity, Poiseuille and Navier-slip
                       profiles (the one home of these formulas)
:mod:`._kernels`,      numba kernels (private)
:mod:`._wall_kernels`
=====================  =====================================================
"""

from .._sampling import block_estimate, pooled_blocks
from .channel import ChannelSystem, WalledChannel
from .engine import DPDSystem, observables, pressure_tensor
from .forces import reference_forces
from .oracle import (
                     CHUNK,
                     DEFAULT_EQUILIBRATION,
                     DEFAULT_SAMPLING,
                     DPD,
                     DPD_PRESETS,
                     INTEGRATORS,
                     MAX_DENSITY,
                     MAX_PARTICLES,
                     MAX_STRAIN_PER_STEP,
                     DPDShearStress,
)
from .profiles import fit_parabola, parabola, sample_chunks, startup_profiles, steady_profile
from .reference import (
                     kinetic_theory_diffusion,
                     kinetic_theory_viscosity,
                     navier_poiseuille,
                     navier_wall_velocities,
                     parabola_slip_length,
                     poiseuille,
                     slip_plane_offset,
)
from .slip import DPDWallSlip

__all__ = ["DPDShearStress", "DPD", "DPDWallSlip", "DPDSystem", "ChannelSystem", "WalledChannel", "observables", "pressure_tensor",
           "reference_forces", "block_estimate", "pooled_blocks", "steady_profile", "startup_profiles", "sample_chunks",
           "fit_parabola", "parabola", "DPD_PRESETS", "kinetic_theory_diffusion", "kinetic_theory_viscosity",
           "poiseuille", "navier_poiseuille", "slip_plane_offset", "parabola_slip_length", "navier_wall_velocities", "INTEGRATORS", "MAX_DENSITY", "MAX_PARTICLES", "MAX_STRAIN_PER_STEP",
           "CHUNK", "DEFAULT_EQUILIBRATION", "DEFAULT_SAMPLING"]
