"""Rejection-free lattice kinetic Monte Carlo of surface reactions."""

from .oracle import *  # noqa: F401,F403
from .oracle import __all__  # noqa: F401
