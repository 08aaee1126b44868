"""Real engines as oracles: LAMMPS against our LJ MD, and an ASE calculator
checked by two routes through its own energy."""

from __future__ import annotations

import numpy as np

from .table import Column, Section, Text


def lammps_vs_ours(density: float = 0.5, temperature: float = 2.0, strain: float = 0.02, seed: int = 1):
    """(our LennardJonesMD estimate, LAMMPS estimate) of (stress, pressure) at one uniaxial strain."""
    from hmm import Budget
    from oracles.lammps_ import LammpsOracle, lj_fcc_setup
    from oracles.md import LennardJonesMD

    budget = Budget(equilibration_steps=2000, sampling_steps=10000)
    state = np.array([strain, temperature])
    ours = LennardJonesMD(density=density, observables=("stress", "pressure")).run(state, seed=seed, budget=budget)
    theirs = LammpsOracle(lj_fcc_setup(density=density)).run(state, seed=seed, budget=budget)
    return ours, theirs


def ase_copper_c11(h: float = 1e-3) -> tuple[float, float]:
    """EMT copper's C11 in GPa from the stress slope and from (1/V) d2E/deps2 (central differences, step h)."""
    from hmm import Budget
    from oracles.ase_ import ASEOracle

    oracle = ASEOracle("Cu", "fcc", calculator="emt")
    rows = [oracle.run(np.array([e]), seed=0, budget=Budget()).mean for e in (-h, 0.0, h)]
    atoms = oracle.atoms(0.0)
    v = atoms.get_volume() / len(atoms)
    slope = (rows[2][0] - rows[0][0]) / (2 * h)
    curvature = (rows[2][1] - 2 * rows[1][1] + rows[0][1]) / h**2 / v
    return slope * 160.2177, curvature * 160.2177


def section() -> Section:
    """Report section: LAMMPS against our MD at two state points, and EMT copper's C11 by two routes."""
    rows = []
    for density, temperature in ((0.5, 2.0), (0.8442, 0.5)):
        ours, theirs = lammps_vs_ours(density, temperature)
        z = (ours.mean - theirs.mean) / np.hypot(ours.stderr, theirs.stderr)
        for k, name in enumerate(("stress (-P_xx)", "pressure")):
            rows.append({"check": f"{name}, rho*={density}, T*={temperature}, strain 0.02, 256 atoms",
                         "reference": Text("LAMMPS {v:.4f} ({se:.4f})", v=theirs.mean[k], se=theirs.stderr[k]),
                         "measured": Text("LennardJonesMD {v:.4f} ({se:.4f})", v=ours.mean[k], se=ours.stderr[k]),
                         "agreement": Text("z = {z:+.2f}", z=z[k])})
    c11_stress, c11_energy = ase_copper_c11()
    rows.append({"check": "EMT copper C11 from the stress slope",
                 "reference": Text("(1/V) d2E/deps2 = {c:.2f} GPa", c=c11_energy),
                 "measured": Text("{c:.2f} GPa", c=c11_stress),
                 "agreement": Text("rel. {rel:.1e} (experiment 168 GPa, Simmons & Wang 1971)",
                                   rel=abs(c11_stress / c11_energy - 1))})
    return Section("Engine adapters (LammpsOracle, ASEOracle)",
                   (Column("check", "check"), Column("reference", "reference"), Column("measured", "measured"),
                    Column("agreement", "agreement")),
                   tuple(rows),
                   notes=("The fluid state (rho* = 0.5, T* = 2) is the tested one; the fcc solid at T* = 0.5 is "
                          "reported for information (slow phonon modes make its block errors the least reliable).",))
