"""Equation-free micro models: the lift / micro / restrict pieces of :mod:`hmm.ef`.

Dimensionless units. :class:`FastSlowSDE` is a fast/slow SDE with a known
averaged equation (coarse time-stepper, projective integration, coarse
bifurcations); :class:`DiffusionTooth` a fine-grid reaction-diffusion tooth
with exactly known macro behaviour (gap-tooth, patch dynamics).
"""

from .fast_slow import FastSlowSDE
from .tooth_diffusion import DiffusionTooth

__all__ = ["FastSlowSDE", "DiffusionTooth"]
