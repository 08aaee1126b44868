"""Lennard-Jones molecular dynamics oracles and engines (reduced LJ units)."""

from .stress import *  # noqa: F401,F403
from .stress import __all__ as _stress_all
from .thermal import CHAIN_OBSERVABLES, NVEChain, bond_energy

__all__ = [*_stress_all, "NVEChain", "CHAIN_OBSERVABLES", "bond_energy"]
