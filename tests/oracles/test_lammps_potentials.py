"""The LAMMPS adapter with the user's own potential files (oracles.lammps_.LammpsDeformedStress).

The test writes a small valid EAM setfl file itself (analytic embedding, density and
pair functions tabulated finely), runs a strained fcc lattice through LAMMPS
(``pair_style eam/alloy``) and checks the LAMMPS stress against the derivative of the
same EAM energy evaluated directly (a lattice sum of the analytic functions) by central
finite differences. Missing or unreadable potential files are refused before any run.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from hmm.contract import Budget, OracleSetupError
from oracles.lammps_ import LammpsDeformedStress, LammpsStress, lammps_box, potential_files
from oracles.solids.cauchy_born import lattice_vectors

A_FCC = 3.615  # cubic lattice constant (Angstrom)
RC = 5.0  # between the third (4.43) and fourth (5.11) neighbour shells
NKTV2P = 1.6021765e6  # LAMMPS' eV/Angstrom^3 -> bar of `units metal`
NR, DR, NRHO, DRHO = 5001, RC / 5000, 5001, 0.002


def taper(r):
    return np.where(r < RC, (1.0 - r / RC) ** 4, 0.0)


def density(r):
    return np.exp(-3.0 * (r / 2.556 - 1.0)) * taper(r)


def pair(r):
    x = np.exp(-1.5 * (r - 2.556))
    return 0.5 * (x * x - 2.0 * x) * taper(r)


def embed(rho):
    return 1.0 - np.sqrt(1.0 + rho)


def write_setfl(path):
    r = np.arange(NR) * DR
    rho = np.arange(NRHO) * DRHO

    def block(values):
        v = np.asarray(values)
        return "\n".join(" ".join(f"{x:.16e}" for x in v[i:i + 5]) for i in range(0, len(v), 5))

    with open(path, "w") as fh:
        fh.write("analytic test EAM (tapered Morse pair, exponential density, 1 - sqrt(1 + rho) embedding)\n"
                 "written by test_lammps_potentials.py\n\n")
        fh.write("1 Cu\n")
        fh.write(f"{NRHO} {DRHO!r} {NR} {DR!r} {RC!r}\n")
        fh.write(f"29 63.546 {A_FCC} fcc\n")
        fh.write(block(embed(rho)) + "\n" + block(density(r)) + "\n")
        fh.write(block(r * pair(r)) + "\n")


def setup(path, cells=3):
    return f"""
        units metal
        atom_style atomic
        boundary p p p
        lattice fcc {A_FCC}
        region box block 0 {cells} 0 {cells} 0 {cells}
        create_box 1 box
        create_atoms 1 box
        mass 1 63.546
        pair_style eam/alloy
        pair_coeff * * {path} Cu
        neighbor 1.0 bin
    """


def direct_piola(F, h=1e-5):
    """P (bar) of the perfect lattice from the analytic EAM energy per atom, by central differences."""
    R = lattice_vectors("fcc", A_FCC / math.sqrt(2.0), 1.5 * RC)

    def energy(G):
        r = np.linalg.norm(R @ G.T, axis=1)
        return float(embed(density(r).sum()) + 0.5 * pair(r).sum())

    P = np.empty((3, 3))
    for i in range(3):
        for J in range(3):
            up, dn = F.copy(), F.copy()
            up[i, J] += h
            dn[i, J] -= h
            P[i, J] = (energy(up) - energy(dn)) / (2 * h)
    return P / (A_FCC**3 / 4) * NKTV2P


@pytest.fixture(scope="module")
def eam_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("eam") / "Cu_test.eam.alloy"
    write_setfl(path)
    return str(path)


F1 = np.array([[1.01, 0.005, -0.003], [0.002, 0.995, 0.004], [-0.001, 0.003, 1.007]])


def test_lammps_eam_stress_equals_the_direct_energy_derivative(eam_file):
    oracle = LammpsDeformedStress(setup(eam_file))
    assert potential_files(oracle.setup) == (eam_file,)
    for F in (np.eye(3), F1):
        est = oracle.run(F.ravel(), seed=0, budget=Budget())
        P = direct_piola(F)
        scale = np.abs(P).max()
        # tolerance: central differences with h = 1e-5 (error ~ h^2 |E'''| / 6 ~ 1e-10 relative) and
        # LAMMPS' cubic interpolation of tables with 5000 intervals (~ dr^4 |f''''| ~ 1e-11); 1e-8 of the
        # stress scale bounds both (measured: 1.7e-10)
        np.testing.assert_allclose(est.mean[:9], P.ravel(), rtol=0, atol=1e-8 * scale)
        assert est.provenance["static"] and not est.stderr.any()
        # the Cauchy stress J^-1 P F^T is symmetric and equals the sigma_* outputs
        sigma = P @ F.T / np.linalg.det(F)
        np.testing.assert_allclose(est.mean[9:], [sigma[0, 0], sigma[1, 1], sigma[2, 2], sigma[1, 2],
                                                  sigma[0, 2], sigma[0, 1]], rtol=0, atol=1e-8 * scale)
    assert scale > 1e3  # the strained lattice carries a stress of kbar order: the check is not of zeros


def test_rotated_deformation_gives_the_rotated_piola_stress(eam_file):
    oracle = LammpsDeformedStress(setup(eam_file))
    c, s = math.cos(0.3), math.sin(0.3)
    Rz = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    U = np.array([[1.01, 0.004, 0.0], [0.004, 0.99, 0.002], [0.0, 0.002, 1.005]])
    P_U = oracle.run(U.ravel(), seed=0, budget=Budget()).mean[:9].reshape(3, 3)
    P_RU = oracle.run((Rz @ U).ravel(), seed=0, budget=Budget()).mean[:9].reshape(3, 3)
    # frame indifference P(RU) = R P(U): to LAMMPS' round-off of its box and stress
    np.testing.assert_allclose(P_RU, Rz @ P_U, rtol=0, atol=1e-8 * np.abs(P_U).max())
    T, Q = lammps_box(np.diag([1.0, 2.0, 3.0]), Rz @ U)
    assert np.allclose(np.tril(T, -1), 0) and (np.diag(T) > 0).all() and np.isclose(np.linalg.det(Q), 1.0)


def test_thermal_run_is_seeded_and_has_a_stderr(eam_file):
    hot = LammpsDeformedStress(setup(eam_file, cells=2), temperature=300.0, dt=0.002, friction=10.0,
                               sample_every=5, blocks=5)
    a = hot.run(F1.ravel(), seed=4, budget=Budget(100, 250))
    b = hot.run(F1.ravel(), seed=4, budget=Budget(100, 250))
    assert np.isfinite(a.mean).all() and (a.stderr > 0).all()
    assert np.array_equal(a.mean, b.mean)  # LAMMPS seeds derive from the query seed


def test_missing_or_unreadable_potential_files_are_refused_before_any_run(eam_file, tmp_path):
    missing = str(tmp_path / "nowhere.eam.alloy")
    with pytest.raises(OracleSetupError, match="nowhere.eam.alloy"):
        LammpsDeformedStress(setup(missing))
    with pytest.raises(OracleSetupError, match="nowhere.eam.alloy"):
        LammpsStress(setup(missing))
    with pytest.raises(OracleSetupError, match="extra.table"):
        LammpsDeformedStress(setup(eam_file), files=(str(tmp_path / "extra.table"),))
    with pytest.raises(OracleSetupError, match="does not exist"):  # a directory is not a potential file
        LammpsDeformedStress(setup(str(tmp_path) + "/"))
    # a file that disappears after the oracle was made is refused by run(), not by LAMMPS
    gone = tmp_path / "gone.eam.alloy"
    write_setfl(gone)
    oracle = LammpsDeformedStress(setup(str(gone)))
    gone.unlink()
    with pytest.raises(OracleSetupError, match="LammpsDeformedStress.run\\(\\): potential file .*gone.eam.alloy"):
        oracle.run(np.eye(3).ravel(), seed=0, budget=Budget())
    if os.geteuid() != 0:  # root reads any file: the permission case only means something for a user
        locked = tmp_path / "locked.eam.alloy"
        write_setfl(locked)
        locked.chmod(0)
        with pytest.raises(OracleSetupError, match="locked.eam.alloy.*not readable"):
            LammpsDeformedStress(setup(str(locked)))
