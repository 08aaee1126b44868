"""Dissipative particle dynamics (Groot-Warren) oracles and engines (DPD units)."""

from .oracle import (CHUNK, DEFAULT_EQUILIBRATION, DEFAULT_SAMPLING, INTEGRATORS, MAX_DENSITY,  # noqa: F401
                     MAX_PARTICLES, MAX_STRAIN_PER_STEP, DPD, DPDSystem, block_estimate, observables,
                     pooled_blocks, pressure_tensor, reference_forces)
