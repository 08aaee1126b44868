"""Any ASE calculator as a zero-temperature stress oracle.

The oracle builds a bulk crystal with :func:`ase.build.bulk`, applies the
homogeneous deformation F = diag(1 + strain, 1, 1) to cell and atoms, and
asks the calculator for the stress (ASE's sign convention: positive =
tensile) and the energy. A Bravais lattice needs no internal relaxation.
Requires the extra ``ase`` (``pip install "hmm-ef[ase]"``). Units: stress
in eV/Angstrom^3 (1 eV/A^3 = 160.2177 GPa), energy in eV per atom.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from ._validate import check_int, check_state


def _emt():
    from ase.calculators.emt import EMT

    return EMT()


def _lj():
    from ase.calculators.lj import LennardJones

    return LennardJones()


CALCULATORS: dict[str, Any] = {"emt": _emt, "lj": _lj}


@dataclass(frozen=True)
class ASEStress:
    """Stress of a strained crystal from an ASE calculator (T = 0).

    Parameters
    ----------
    symbol, crystal : str
        Passed to ``ase.build.bulk`` (e.g. ``"Cu"``, ``"fcc"``).
    lattice_constant : float or None
        Unstrained lattice constant in Angstrom (``None``: ASE's reference value).
    cubic : bool
        Use the conventional cubic cell.
    repeat : int
        Replicate the cell ``repeat`` times along each axis.
    calculator : str or callable
        A name in :data:`CALCULATORS` (``"emt"``, ``"lj"``) or a picklable
        zero-argument factory returning a calculator.

    Inputs ``("strain",)``; outputs ``("stress", "energy")``: sigma_xx
    (tension positive) and the potential energy per atom. Deterministic.
    """

    symbol: str = "Cu"
    crystal: str = "fcc"
    lattice_constant: float | None = None
    cubic: bool = True
    repeat: int = 1
    calculator: Any = "emt"

    inputs = ("strain",)
    outputs = ("stress", "energy")
    units: ClassVar[Mapping[str, str]] = MappingProxyType({"strain": "1", "stress": "eV/Angstrom^3",
                                                           "energy": "eV"})
    default_budget: ClassVar[Budget] = Budget()
    supports: ClassVar[frozenset[str]] = frozenset()  # a static calculation
    deterministic = True

    def __post_init__(self) -> None:
        if isinstance(self.calculator, str) and self.calculator not in CALCULATORS:
            raise OracleSetupError(f"ASEStress: unknown calculator {self.calculator!r}; known: {sorted(CALCULATORS)}")
        if not isinstance(self.calculator, str) and not callable(self.calculator):
            raise TypeError("ASEStress: `calculator` must be a name or a zero-argument factory")
        check_int(self.repeat, "repeat", "ASEStress", minimum=1)

    def atoms(self, strain: float = 0.0):
        """The strained crystal with its calculator attached."""
        from ase.build import bulk

        atoms = bulk(self.symbol, self.crystal, a=self.lattice_constant, cubic=self.cubic)
        atoms = atoms.repeat(self.repeat)
        cell = np.array(atoms.get_cell())
        atoms.set_cell(cell @ np.diag([1.0 + strain, 1.0, 1.0]), scale_atoms=True)
        factory = CALCULATORS[self.calculator] if isinstance(self.calculator, str) else self.calculator
        atoms.calc = factory()
        return atoms

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        strain = float(check_state(state, self.inputs, f"{type(self).__name__}.run()")[0])
        if not strain > -1.0:
            raise OracleSetupError(f"ASEStress: strain must be > -1 (the cell would invert), got {strain}")
        atoms = self.atoms(strain)
        stress = float(atoms.get_stress(voigt=True)[0])
        energy = float(atoms.get_potential_energy()) / len(atoms)
        if not (math.isfinite(stress) and math.isfinite(energy)):
            raise OracleRunError(f"ASEStress: non-finite stress/energy at strain={strain}")
        return Estimate(np.array([stress, energy]), np.zeros(2), math.inf, time.perf_counter() - start)


ASEOracle = ASEStress  # the name before the redesign
