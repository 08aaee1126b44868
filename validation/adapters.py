"""Real engines as oracles: LAMMPS against our LJ MD, and an ASE calculator
checked by two routes through its own energy."""

from __future__ import annotations

import numpy as np


def lammps_vs_ours(density: float = 0.5, temperature: float = 2.0, strain: float = 0.02, seed: int = 1):
    from hmm import Budget
    from oracles.lammps_ import LammpsOracle, lj_fcc_setup
    from oracles.md import LennardJonesMD

    budget = Budget(equilibration_steps=2000, sampling_steps=10000)
    state = np.array([strain, temperature])
    ours = LennardJonesMD(density=density, observables=("stress", "pressure")).run(state, seed=seed, budget=budget)
    theirs = LammpsOracle(lj_fcc_setup(density=density)).run(state, seed=seed, budget=budget)
    return ours, theirs


def ase_copper_c11(h: float = 1e-3):
    from hmm import Budget
    from oracles.ase_ import ASEOracle

    oracle = ASEOracle("Cu", "fcc", calculator="emt")
    rows = [oracle.run(np.array([e]), seed=0, budget=Budget()).mean for e in (-h, 0.0, h)]
    atoms = oracle.atoms(0.0)
    v = atoms.get_volume() / len(atoms)
    slope = (rows[2][0] - rows[0][0]) / (2 * h)
    curvature = (rows[2][1] - 2 * rows[1][1] + rows[0][1]) / h**2 / v
    return slope * 160.2177, curvature * 160.2177


def report() -> list[str]:
    lines = ["## Engine adapters (LammpsOracle, ASEOracle)", "",
             "| check | reference | measured | agreement |", "|---|---|---|---|"]
    for density, temperature in ((0.5, 2.0), (0.8442, 0.5)):
        ours, theirs = lammps_vs_ours(density, temperature)
        z = (ours.mean - theirs.mean) / np.hypot(ours.stderr, theirs.stderr)
        for k, name in enumerate(("stress (-P_xx)", "pressure")):
            lines.append(f"| {name}, rho*={density}, T*={temperature}, strain 0.02, 256 atoms | LAMMPS "
                         f"{theirs.mean[k]:.4f} ({theirs.stderr[k]:.4f}) | LennardJonesMD {ours.mean[k]:.4f} "
                         f"({ours.stderr[k]:.4f}) | z = {z[k]:+.2f} |")
    c11_stress, c11_energy = ase_copper_c11()
    lines.append(f"| EMT copper C11 from the stress slope | (1/V) d2E/deps2 = {c11_energy:.2f} GPa | "
                 f"{c11_stress:.2f} GPa | rel. {abs(c11_stress / c11_energy - 1):.1e} (experiment 168 GPa, "
                 "Simmons & Wang 1971) |")
    lines += ["", "The fluid state (rho* = 0.5, T* = 2) is the tested one; the fcc solid at T* = 0.5 is "
              "reported for information (slow phonon modes make its block errors the least reliable)."]
    return lines
