r"""The 1D chain engine: :class:`ChainSystem`, a periodic nearest-neighbour chain advanced
by velocity Verlet (NVE) or Langevin BAOAB, and the bond energy it integrates.

Reduced LJ units (sigma, epsilon, m, k_B = 1). Atom i sits at the unwrapped
position x_i; bond i joins atoms i and i + 1 and the last bond closes
through the period L (``length``). Bond energy

.. math:: \phi(r) = \tfrac{k}{2}(r - a_0)^2 \ (\text{harmonic}) \quad\text{or}\quad
          4\varepsilon\,(r^{-12} - r^{-6}) \ (\text{LJ}).

A sample row is ``[U, sum_i m v_i^2, sum_bonds r phi'(r)]``: the potential
energy, twice the kinetic energy and the bond virial, so the 1D virial
tension is (W - sum m v^2) / L.
"""

from __future__ import annotations

import numpy as np

from hmm.contract import OracleSetupError

from .._validate import check_choice, check_positive
from . import _kernels as K

BONDS = ("harmonic", "lj")


def bond_energy(r, bond: str, spring: float, a0: float):
    """Bond energy phi(r) (epsilon): k/2 (r - a0)^2 or 4 (r^-12 - r^-6)."""
    r = np.asarray(r, dtype=float)
    if bond == "harmonic":
        return 0.5 * spring * (r - a0) ** 2
    inv6 = r**-6.0
    return 4.0 * inv6 * (inv6 - 1.0)


class ChainSystem:
    """A mutable periodic 1D chain with its forces: the engine behind the chain oracles.

    Parameters
    ----------
    positions, velocities : array (n,)
        Unwrapped positions (sigma) in bond order and velocities
        (sigma / tau); copied into float64 arrays.
    length : float
        Period L of the chain (sigma): the last bond is x_0 + L - x_{n-1}.
    bond : {"harmonic", "lj"}
        Bond potential (see the module doc).
    spring : float
        k of the harmonic bond (epsilon / sigma^2).
    a0 : float
        Rest length of the harmonic bond (sigma; unused by the LJ bond).
    mass : float
        Atom mass m.
    dt : float
        Time step (tau).
    eps : float
        LJ well depth (epsilon).

    Notes
    -----
    The Langevin noise comes from numba's per-thread generator:
    :meth:`seed_noise` seeds it, and later :meth:`run` calls continue that
    stream (bit for bit the same as one long run) as long as nothing else
    reseeds it in between.
    """

    def __init__(self, positions, velocities, length: float, *, bond: str = "harmonic", spring: float = 1.0,
                 a0: float = 1.0, mass: float = 1.0, dt: float = 0.01, eps: float = 1.0) -> None:
        x = np.array(positions, dtype=np.float64).reshape(-1)
        v = np.array(velocities, dtype=np.float64).reshape(-1)
        if x.shape != v.shape or x.size < 2:
            raise OracleSetupError(f"ChainSystem: `positions` and `velocities` must be (n,) arrays with n >= 2, got "
                             f"{np.shape(positions)} and {np.shape(velocities)}")
        check_choice(bond, "bond", "ChainSystem", BONDS)
        for name, value in (("length", length), ("spring", spring), ("a0", a0), ("mass", mass), ("dt", dt),
                            ("eps", eps)):
            check_positive(value, name, "ChainSystem")
        self.x, self.v, self.f = x, v, np.zeros_like(x)
        self.length = float(length)
        self.bond, self.harmonic = bond, bond == "harmonic"
        self.spring, self.a0, self.mass, self.dt, self.eps = float(spring), float(a0), float(mass), float(dt), float(eps)
        self.steps = 0
        self.forces()

    @classmethod
    def uniform(cls, n_atoms: int, spacing: float, **kwargs) -> "ChainSystem":
        """``n_atoms`` atoms at rest, ``spacing`` apart (period ``n_atoms * spacing``)."""
        return cls(np.arange(n_atoms) * spacing, np.zeros(n_atoms), n_atoms * spacing, **kwargs)

    @property
    def n_atoms(self) -> int:
        return self.x.size

    @property
    def kinetic_energy(self) -> float:
        """sum m v^2 / 2 (epsilon)."""
        return 0.5 * self.mass * float(np.dot(self.v, self.v))

    def bond_lengths(self) -> np.ndarray:
        """Lengths of the n bonds (sigma), the last one through the period."""
        return np.diff(np.append(self.x, self.x[0] + self.length))

    def forces(self) -> tuple[float, float]:
        """Recompute the forces at the current positions; return (U, sum_bonds r phi'(r))."""
        u, w = K.chain_forces(self.x, self.f, self.length, self.harmonic, self.spring, self.a0, self.eps)
        return float(u), float(w)

    def set_positions(self, positions, length: float | None = None) -> None:
        """Move the atoms (and optionally change the period), keeping the velocities; forces follow."""
        x = np.asarray(positions, dtype=np.float64).reshape(-1)
        if x.shape != self.x.shape:
            raise OracleSetupError(f"ChainSystem.set_positions(): `positions` must have shape {self.x.shape}, got {x.shape}")
        self.x[:] = x
        if length is not None:
            self.length = float(length)
        self.forces()

    def seed_noise(self, seed: int) -> None:
        """Seed the Langevin noise stream (numba's per-thread generator)."""
        K.seed_numba_rng(int(seed))

    def run(self, n_steps: int, *, friction: float = 0.0, temperature: float = 0.0,
            sample_every: int = 0) -> np.ndarray:
        """Advance ``n_steps`` steps: velocity Verlet, or Langevin BAOAB at ``temperature``
        (epsilon / k_B) with ``friction`` (1 / tau) when friction > 0. Returns the sample rows
        (``n_steps // sample_every``, 3) taken every ``sample_every`` steps (0: none).

        Raises
        ------
        FloatingPointError
            If the energies became non-finite (time step too large).
        """
        every = int(sample_every) if sample_every else int(n_steps) + 1
        samples = np.zeros((int(n_steps) // every if sample_every else 0, 3))
        status = K.chain_steps(self.x, self.v, self.f, self.length, self.mass, self.dt, int(n_steps), self.harmonic,
                               self.spring, self.a0, self.eps, float(friction), float(temperature), every, samples)
        self.steps += int(n_steps)
        if status != K.OK:
            raise FloatingPointError(f"chain energies not finite within {n_steps} steps (dt={self.dt})")
        return samples


__all__ = ["ChainSystem", "bond_energy", "BONDS"]
