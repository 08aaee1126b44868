"""ASE calculators as oracles: the stress-strain slope equals the second strain
derivative of the energy (two independent routes through the same calculator:
sigma_xx = (1/V) dE/d eps_xx, so d sigma/d eps = (1/V) d^2E/d eps^2 at eps = 0
for uniaxial strain of the reference cell)."""

from __future__ import annotations

import numpy as np
import pytest

from hmm import Budget, Coupler
from oracles import ase_  # noqa: E402  (ase is part of the `test` extra)


def test_emt_copper_stress_slope_equals_energy_curvature():
    oracle = ase_.ASEOracle("Cu", "fcc", calculator="emt")
    h = 1e-3
    with Coupler(oracle, "sync") as c:
        batch = c.evaluate(np.array([[-h], [0.0], [h]]), Budget())
    stress, energy = batch.mean[:, 0], batch.mean[:, 1]
    atoms = oracle.atoms(0.0)
    volume_per_atom = atoms.get_volume() / len(atoms)
    slope = (stress[2] - stress[0]) / (2 * h)
    curvature = (energy[2] - 2 * energy[1] + energy[0]) / h**2 / volume_per_atom
    # first derivative too: sigma(0) = (1/V) dE/d eps
    first = (energy[2] - energy[0]) / (2 * h) / volume_per_atom
    assert slope == pytest.approx(curvature, rel=1e-3)
    assert stress[1] == pytest.approx(first, rel=1e-3, abs=1e-6)
    # measured C11 = 161 GPa for EMT copper (experiment: 168 GPa, Simmons & Wang 1971)
    assert 140 < slope * 160.2177 < 190


def test_bad_input():
    with pytest.raises(ValueError, match="unknown calculator"):
        ase_.ASEOracle(calculator="dft")
    with pytest.raises(ValueError, match="strain must be > -1"):
        ase_.ASEOracle().run(np.array([-2.0]), seed=0, budget=Budget())
