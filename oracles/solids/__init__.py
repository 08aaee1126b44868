"""Micro models of solids: the periodic finite-element cell problem of a two-phase
linear-elastic microstructure (:class:`CellProblemStress`, microstructures
:class:`Laminate` and :class:`CircularInclusion`) and the Cauchy-Born rule for a
Lennard-Jones Bravais lattice (:class:`CauchyBornStress`). Closed forms they are
checked against live in :mod:`oracles.solids.reference`."""

from .cauchy_born import CauchyBornStress, lattice_vectors, relaxed_spacing
from .cell import CellProblemStress, cell_solution, clear_cell_cache
from .microstructure import CircularInclusion, Laminate

__all__ = ["CellProblemStress", "CauchyBornStress", "Laminate", "CircularInclusion", "cell_solution",
           "clear_cell_cache", "lattice_vectors", "relaxed_spacing"]
