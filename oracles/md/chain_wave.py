r"""Direct MD of a whole Lennard-Jones chain carrying an elastic wave: the micro reference
for HMM elastodynamics with chain closures.

Reduced LJ units (m = epsilon = sigma = k_B = 1). The chain has N atoms of
reference spacing a0 (the potential minimum 2^(1/6) by default) and period
L = N a0 in the reference configuration. A macro strain field eps0(X) maps
the reference positions to x = X + D(X), D(X) = int_0^X eps0, and the chain
is integrated by velocity Verlet (:class:`~oracles.md.ChainSystem`).
Coarse-graining onto ``cells`` macro cells of N / cells consecutive atoms
(a bond belongs to the cell of its left atom) gives the cell strain,
momentum-averaged velocity, total energy per mass and the temperature about
the cell's mean velocity (:func:`coarse_grain`).

At T > 0 (:func:`thermal_wave_ensemble`) each replica is thermalised by
Langevin BAOAB at T0 at zero strain, mapped by the macro deformation
(velocities kept) and run NVE; the fields at the end time are averaged over a
short window and over replicas, and the expected initial energy per mass of
each cell (the pooled thermal bonds stretched by each bond's strain, plus the
kinetic energy) is returned as the macro initial condition.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .._sampling import replica_rngs
from .chain_engine import ChainSystem, bond_energy

A0_LJ = 2.0 ** (1 / 6)  # LJ bond length at the potential minimum (sigma)


def coarse_grain(system: ChainSystem, cells: int, a0: float | None = None):
    """(strain, velocity, energy per mass, temperature) per cell of ``system``, each (cells,).

    ``a0`` is the reference spacing of the strain (default the system's a0
    for harmonic bonds, 2^(1/6) for LJ bonds); ``n_atoms`` must be a multiple
    of ``cells``.
    """
    a0 = (system.a0 if system.harmonic else A0_LJ) if a0 is None else a0
    n = system.n_atoms
    if n % cells:
        raise ValueError(f"coarse_grain(): {n} atoms do not split into {cells} equal cells")
    per = n // cells
    ends = np.append(system.x, system.x[0] + system.length)
    strain = np.diff(ends[::per]) / (per * a0) - 1.0
    vc = system.v.reshape(cells, per)
    velocity = vc.mean(axis=1)
    bonds = bond_energy(np.diff(ends), system.bond, system.spring, a0).reshape(cells, per).sum(axis=1)
    energy = (0.5 * system.mass * (vc**2).sum(axis=1) + bonds) / (per * system.mass)
    temperature = system.mass * ((vc - velocity[:, None]) ** 2).sum(axis=1) / (per - 1)
    return strain, velocity, energy, temperature


def displacement(strain0: Callable, length: float, n_table: int = 1 << 16):
    """(D, total stretch): D(X) = int_0^X eps0 for any X (periodic extension, a fine trapezoid
    table over one period ``length``) and D(length)."""
    grid = np.linspace(0.0, length, n_table + 1)
    table = np.concatenate([[0.0], np.cumsum(0.5 * (strain0(grid[1:]) + strain0(grid[:-1])) * np.diff(grid))])

    def D(X):
        k = np.floor(X / length)
        return k * table[-1] + np.interp(X - k * length, grid, table)

    return D, float(table[-1])


def strained_chain(n_atoms: int, strain0: Callable, *, a0: float = A0_LJ, dt: float = 0.005) -> ChainSystem:
    """The LJ chain at rest with bond i stretched by eps0 at its midpoint (i + 1/2) a0."""
    X = np.arange(n_atoms) * a0
    eps = strain0(X + 0.5 * a0)  # bond strains
    bonds = a0 * (1 + eps)
    x = np.concatenate([[0.0], np.cumsum(bonds)[:-1]])
    return ChainSystem(x, np.zeros(n_atoms), float(np.sum(bonds)), bond="lj", a0=a0, dt=dt)


def direct_wave(n_atoms: int, strain0: Callable, t_end: float, cells: int, *, a0: float = A0_LJ,
                dt: float = 0.005) -> tuple[np.ndarray, np.ndarray]:
    """T = 0: NVE velocity Verlet of the whole chain from rest in the strain field ``strain0``
    for ``t_end``; returns the cell strain and velocity at the end."""
    chain = strained_chain(n_atoms, strain0, a0=a0, dt=dt)
    chain.run(int(round(t_end / dt)))
    return coarse_grain(chain, cells, a0)[:2]


def thermal_wave_ensemble(n_atoms: int, strain0: Callable, temperature: float, t_end: float, cells: int, *,
                          replicas: int, seed: int = 0, dt: float = 0.005, equilibration: int = 4000,
                          window: float = 2.0, snapshots: int = 21) -> dict[str, np.ndarray]:
    """Ensemble of direct NVE runs of the whole LJ chain from thermal, then strain-mapped, states.

    Returns the replica- and window-averaged (``snapshots`` snapshots over
    ``window`` around ``t_end``) cell fields ``strain``, ``velocity``,
    ``energy``, ``temperature``, the standard errors ``strain_se``,
    ``velocity_se`` over replicas, and ``energy0``, the expected initial
    energy per mass per cell (the macro initial condition).
    """
    length0 = n_atoms * A0_LJ
    D, stretch = displacement(strain0, length0)
    per = n_atoms // cells
    stride = max(1, int(round(window / (snapshots - 1) / dt)))
    n_first = int(round(t_end / dt)) - stride * (snapshots // 2)
    finals, pooled_r, pooled_k = [], [], []
    for rng in replica_rngs(seed, replicas):
        chain = ChainSystem(np.arange(n_atoms) * A0_LJ, rng.standard_normal(n_atoms) * math.sqrt(temperature),
                            length0, bond="lj", a0=A0_LJ, dt=dt)
        chain.seed_noise(int(rng.integers(2**31)))
        chain.run(equilibration, friction=1.0, temperature=temperature)
        chain.v -= chain.v.mean()
        pooled_r.append(chain.bond_lengths())
        pooled_k.append(0.5 * float(np.mean(chain.v**2)))
        chain.set_positions(chain.x + D(chain.x), length0 + stretch)  # the macro deformation, velocities kept
        acc = np.zeros((4, cells))
        chain.run(n_first)
        for _ in range(snapshots):
            acc += np.array(coarse_grain(chain, cells, A0_LJ))
            chain.run(stride)
        finals.append(acc / snapshots)
    finals = np.array(finals)  # (replicas, 4, cells)
    r_pool = np.concatenate(pooled_r)[:: max(1, replicas * n_atoms // 200_000)]
    eps_bond = strain0((np.arange(n_atoms) + 0.5) * A0_LJ)
    levels = np.linspace(eps_bond.min(), eps_bond.max(), 101)
    g = np.array([bond_energy(r_pool * (1 + e), "lj", 1.0, A0_LJ).mean() for e in levels])
    energy0 = np.interp(eps_bond, levels, g).reshape(cells, per).mean(axis=1) + float(np.mean(pooled_k))
    se = finals.std(axis=0, ddof=1) / math.sqrt(replicas) if replicas > 1 else np.zeros_like(finals[0])
    return {"strain": finals[:, 0].mean(0), "velocity": finals[:, 1].mean(0), "energy": finals[:, 2].mean(0),
            "temperature": finals[:, 3].mean(0), "strain_se": se[0], "velocity_se": se[1], "energy0": energy0}


__all__ = ["coarse_grain", "displacement", "strained_chain", "direct_wave", "thermal_wave_ensemble", "A0_LJ"]
