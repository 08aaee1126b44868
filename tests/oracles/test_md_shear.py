"""Simple shear (triclinic cell) in the LJ MD engine: kernels against an all-images
reference, energy conservation, C44 from the T = 0 shear stress, a fluid's zero
static shear stress.

Sources: Born & Huang (1954) for C44 of the static fcc lattice (lattice sums in
oracles.md.reference); a fluid cannot carry a static shear stress, so <sigma_xy> = 0
at any fixed shear of the periodic cell (Allen & Tildesley, 2nd ed., sec. 2.7).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hmm import Budget
from oracles.md import LennardJonesMD, LJSystem, fcc_lattice
from oracles.md import reference as R


def sheared_reference(X, box, gamma, cutoff, shift=True):
    """All-images NumPy sum in the triclinic cell with edges (Lx,0,0), (gamma Ly, Ly, 0), (0,0,Lz)."""
    r = X.copy()
    r[:, 0] += gamma * X[:, 1]
    edges = np.array([[box[0], 0, 0], [gamma * box[1], box[1], 0], [0, 0, box[2]]])
    n = len(r)
    forces, u, w = np.zeros_like(r), 0.0, np.zeros((3, 3))
    phi_c = 4 * (cutoff**-12 - cutoff**-6) if shift else 0.0
    iu = np.triu_indices(n, 1)
    for k in itertools.product((-1, 0, 1), repeat=3):
        d = r[:, None, :] - r[None, :, :] + np.asarray(k) @ edges
        r2 = (d**2).sum(-1)
        mask = np.zeros((n, n), bool)
        mask[iu] = r2[iu] < cutoff**2
        r2s = np.where(mask, r2, 1.0)
        inv6 = r2s**-3
        u += np.where(mask, 4 * inv6 * (inv6 - 1) - phi_c, 0.0).sum()
        fij = np.where(mask, 24 * inv6 * (2 * inv6 - 1) / r2s, 0.0)[..., None] * d
        forces += fij.sum(1) - fij.sum(0)
        w += np.einsum("ija,ijb->ab", fij, d)
    return forces, u, w[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]


@pytest.mark.parametrize("cells, gamma", [((3, 3, 3), 0.015), ((5, 5, 4), -0.6)])  # all-pairs and cell paths
def test_sheared_forces_energy_virial_match_all_images_reference(cells, gamma):
    pos, box = fcc_lattice(cells, 1.9)
    pos = pos + 0.08 * np.random.default_rng(0).standard_normal(pos.shape)
    system = LJSystem(pos, 0.5 * np.random.default_rng(1).standard_normal(pos.shape), box, shear=gamma)
    for _ in range(2):  # also after moving, re-sorting and rebuilding in reference coordinates
        row = system.static()
        f, u, w = sheared_reference(system.pos, system.box, gamma, 2.5)
        scale = np.abs(f).max()
        assert np.abs(system.force - f).max() < 1e-11 * scale
        assert row[0] == pytest.approx(u, rel=1e-12)
        assert np.allclose(row[7:], w, rtol=1e-11, atol=1e-11 * np.abs(w).max())
        system.run(200, sample_every=0)
    assert system.rebuilds > 0


def test_sheared_nve_conserves_energy():
    oracle = LennardJonesMD(cells=4, density=0.8442, deformation="shear")
    system = oracle.system(0.0, 1.0, 2, shear=0.25)
    system.run(1000, friction=1.0, temperature=1.0, sample_every=0)
    rows = system.run(3000, sample_every=10)
    e = (rows[:, 0] + 0.5 * rows[:, 1:4].sum(1)) / system.n_atoms
    t = np.arange(len(e)) * 10 * oracle.dt
    slope = np.polyfit(t, e, 1)[0]
    assert abs(slope) < 1e-4 and np.std(e) < 1e-3  # same bounds as the orthorhombic NVE test


def test_zero_temperature_shear_stress_gives_c44_and_is_odd():
    lattice = R.lattice_sum_constants(2.5)
    oracle = LennardJonesMD(cells=4, density=4 / lattice["a0"] ** 3, shift=False, deformation="shear",
                            observables=("stress_xy", "pressure"))
    assert oracle.inputs == ("shear_strain", "temperature")
    h = 1e-5
    plus, minus = (oracle.run(np.array([g, 0.0]), seed=0, budget=Budget()) for g in (h, -h))
    assert (plus.mean[0] - minus.mean[0]) / (2 * h) == pytest.approx(lattice["C44"], rel=1e-6)
    assert plus.mean[0] == pytest.approx(-minus.mean[0], rel=1e-9)
    assert plus.mean[1] == pytest.approx(minus.mean[1], rel=1e-12)  # pressure is even in gamma


def test_sheared_fluid_carries_no_static_shear_stress():
    oracle = LennardJonesMD(cells=4, density=0.5, deformation="shear", observables=("stress_xy", "pressure"))
    budget = Budget(600, 3000)
    sheared = oracle.run(np.array([0.4, 2.0]), seed=1, budget=budget)
    plain = oracle.run(np.array([0.0, 2.0]), seed=2, budget=budget)
    assert abs(sheared.mean[0]) < 4 * sheared.stderr[0]
    assert abs(sheared.mean[1] - plain.mean[1]) < 4 * math.hypot(sheared.stderr[1], plain.stderr[1])


def test_shear_state_is_checked():
    oracle = LennardJonesMD(cells=4, density=0.8442, deformation="shear")
    with pytest.raises(ValueError, match="`shear_strain` must be in"):
        oracle.run(np.array([1.5, 1.0]), seed=0, budget=Budget(10, 400))
    with pytest.raises(ValueError, match=r"\|\|F\^-1\|\|"):
        oracle.run(np.array([0.9, 1.0]), seed=0, budget=Budget(10, 400))
    with pytest.raises(ValueError, match="`deformation`"):
        LennardJonesMD(deformation="torsion")
