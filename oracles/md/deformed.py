r"""Finite-temperature Lennard-Jones MD of a crystal under a full imposed F: a 2D
triangular lattice or a 3D fcc lattice.

The periodic reference cell (2D: a rectangle of ``cells = (nx, ny)``
triangular unit cells, two atoms each; 3D: ``(nx, ny, nz)`` cubic fcc cells,
four atoms each; nearest-neighbour distance ``a``) is deformed by the
deformation gradient F into a parallelogram / parallelepiped (a triclinic box); atoms
keep reference coordinates X, physical positions are r = F X, so a new F
remaps the positions affinely with the box. Langevin BAOAB at temperature T
(Leimkuhler & Matthews 2013) equilibrates and samples.

Stress (per reference area in 2D, epsilon/sigma^2; per reference volume in 3D,
epsilon/sigma^3): with
:math:`G_{iJ} = \partial U/\partial F_{iJ} = \sum_{pairs}\phi'(r)\,r_i X_J/r`,
:math:`K = \sum m v v` and :math:`V_0` the reference area (volume),

.. math::

    P = (G - K F^{-T}) / V_0, \qquad \sigma = J^{-1} P F^{T} = (G F^T - K) / V,

the first Piola-Kirchhoff stress and the virial Cauchy stress (tension
positive). Tangent by the stress-fluctuation formula of the canonical
ensemble (Squire, Holt & Hoover, Physica 42, 388, 1969; in F form from the
free energy :math:`\Psi(F) = -(k T / V_0)\ln Z(F)`):

.. math::

    A_{iJkL} = \frac{\partial\langle P_{iJ}\rangle}{\partial F_{kL}}
    = \frac{1}{V_0}\Big[\Big\langle\frac{\partial^2 U}{\partial F_{iJ}\partial F_{kL}}\Big\rangle
      - \frac{\operatorname{Cov}(G_{iJ}, G_{kL})}{k T}\Big]
      + \frac{N k T}{V_0} F^{-1}_{Jk} F^{-1}_{Li},

the Born term (the Cauchy-Born tangent at every sampled configuration, plus
the impulsive term of the truncated potential, estimated from the pairs in
the shell :math:`r_c - \delta < r < r_c`), the fluctuation term and the
kinetic term. Every term is a mean of per-sample values once the covariance
is centred at the pooled mean of G, so the block-averaged stderr of
:func:`oracles._sampling.block_stats` applies to A too (the delta method: the
centring contributes only at second order).

At T = 0 the affinely deformed perfect lattice is a static equilibrium (a
Bravais lattice has no internal relaxation) and P, A are those of Cauchy-Born
(:class:`oracles.solids.CauchyBornStress`) for the same lattice and
potential, with zero stderr.

``kinematics="small"``: inputs the Voigt strain (``eps_xx, eps_yy, gamma_xy`` in 2D;
F = I + eps, symmetric), outputs the Cauchy stress ``sigma_*`` and its derivative
``C_ab = d sigma_a / d eps_b`` (Voigt, engineering shear; the exact
derivative at F = I + eps, obtained linearly from P and A).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from .._sampling import block_stats, replica_rngs
from .._validate import check_choice, check_int, check_positive, check_state
from ..solids._voigt import (
    VOIGT_PAIRS,
    voigt_strain_tensor,
    deformation_names,
    piola_names,
    piola_tangent_names,
    stiffness_names,
    strain_names,
    stress_names,
)
from ..solids.cauchy_born import relaxed_spacing
from . import _kernels2d as K2
from . import _kernels3d as K3
from .engine import fcc_lattice

__all__ = ["DeformedLJStress", "triangular_lattice", "cauchy_from_piola"]


def triangular_lattice(cells: tuple[int, int], a: float) -> tuple[np.ndarray, np.ndarray]:
    """Triangular lattice of nearest-neighbour distance ``a`` in a rectangular periodic box of
    ``cells = (nx, ny)`` cells ``a x sqrt(3) a`` (two atoms each). Returns (X (n, 2), L (2,))."""
    nx, ny = cells
    h = math.sqrt(3.0) * a
    basis = np.array([[0.0, 0.0], [0.5 * a, 0.5 * h]])
    grid = np.stack(np.meshgrid(np.arange(nx) * a, np.arange(ny) * h, indexing="ij"), -1).reshape(-1, 1, 2)
    return np.ascontiguousarray((grid + basis[None]).reshape(-1, 2)), np.array([nx * a, ny * h])


def cauchy_from_piola(F: np.ndarray, P: np.ndarray, A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Cauchy stress and its derivative in F from P and A (leading axes are samples).

    :math:`\sigma = J^{-1} P F^T`; :math:`\partial\sigma_{ij}/\partial F_{kL}
    = -\sigma_{ij} F^{-1}_{Lk} + J^{-1}(A_{iMkL} F_{jM} + P_{iL}\delta_{jk})`.
    ``P`` (..., d, d), ``A`` (..., d, d, d, d); returns (sigma (..., d, d), D (..., d, d, d, d)).
    """
    J, Finv, d = np.linalg.det(F), np.linalg.inv(F), F.shape[0]
    sigma = np.einsum("...iM,jM->...ij", P, F) / J
    D = (-np.einsum("...ij,Lk->...ijkL", sigma, Finv)
         + (np.einsum("...iMkL,jM->...ijkL", A, F) + np.einsum("...iL,jk->...ijkL", P, np.eye(d))) / J)
    return sigma, D


@dataclass(frozen=True)
class DeformedLJStress:
    """Stress and tangent of an LJ crystal (2D triangular or 3D fcc) under a full F at temperature T.

    Parameters
    ----------
    cells : tuple of int or None
        ``(nx, ny)`` rectangular cells of the triangular lattice (``2 nx ny``
        atoms) or ``(nx, ny, nz)`` cubic cells of fcc (``4 nx ny nz`` atoms);
        ``None``: (8, 5), or (4, 4, 4) for fcc.
    temperature : float
        Langevin temperature (epsilon/k_B); 0 gives the static affine lattice.
    cutoff : float
        LJ cutoff r_c (sigma), shifted potential; it must lie between two
        neighbour shells of the lattice for the T = 0 Cauchy-Born identity.
    spacing : float or None
        Reference nearest-neighbour distance (sigma); ``None``: the relaxed
        spacing of Cauchy-Born at T = 0 (:func:`oracles.solids.cauchy_born.relaxed_spacing`).
    kinematics : {"finite", "small"}
        ``"finite"``: inputs ``F_*``, outputs ``P_*`` and ``A_a_b``;
        ``"small"``: inputs the Voigt strain, outputs ``sigma_*`` and ``C_ab``.
    lattice : {"triangular", "fcc"}
        2D triangular or 3D fcc (cubic axes along x, y, z).
    dt, friction : float
        Time step (sigma sqrt(m/epsilon)) and Langevin friction (1/time).
    sample_every, blocks : int
        Steps between samples; blocks per replica of the block-averaged stderr.
    shell : float
        Width delta (sigma) of the shell below r_c that estimates the
        impulsive cutoff term of the Born tangent.
    warm_equilibration_steps : int or None
        Equilibration steps of :meth:`advance` from a state that was already
        equilibrated (``None``: ``budget.equilibration_steps``).

    Notes
    -----
    Budget: ``equilibration_steps``, ``sampling_steps`` and ``replicas``
    (default 2000 / 10000 / 1). Stateful use (:meth:`initial_state`,
    :meth:`advance`, the :class:`hmm.contract.StatefulOracle` protocol): the
    state holds X, V, F (numpy arrays) and ``age`` (MD steps run so far);
    ``advance`` maps it to the new F, continues, and leaves its input untouched.
    Memory per state: 2 d n + d^2 + 1 numbers (about 2.6 kB at the default 80
    atoms in 2D, 12 kB at 256 atoms of fcc).
    """

    cells: tuple[int, ...] | None = None
    temperature: float = 0.05
    cutoff: float = 2.5
    spacing: float | None = None
    kinematics: str = "finite"
    dt: float = 0.005
    friction: float = 1.0
    sample_every: int = 10
    blocks: int = 10
    shell: float = 0.05
    warm_equilibration_steps: int | None = None
    lattice: str = "triangular"

    default_budget: ClassVar[Budget] = Budget(2000, 10000)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps", "replicas"})

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_choice(self.lattice, "lattice", owner, ("triangular", "fcc"))
        cells = tuple(self.cells) if self.cells is not None else ((8, 5) if self.lattice == "triangular" else (4, 4, 4))
        if len(cells) != self.dim:
            raise OracleSetupError(f"{owner}: `cells` must be {self.dim} cell counts for the {self.lattice} "
                                   f"lattice, got {self.cells!r}")
        for c in cells:
            check_int(c, "cells", owner, minimum=1)
        object.__setattr__(self, "cells", tuple(int(c) for c in cells))
        check_positive(self.temperature, "temperature", owner, allow_zero=True)
        for name in ("cutoff", "dt", "friction", "shell"):
            check_positive(getattr(self, name), name, owner)
        if self.spacing is not None:
            check_positive(self.spacing, "spacing", owner)
        check_choice(self.kinematics, "kinematics", owner, ("finite", "small"))
        check_int(self.sample_every, "sample_every", owner, minimum=1)
        check_int(self.blocks, "blocks", owner, minimum=2)
        if self.warm_equilibration_steps is not None:
            check_int(self.warm_equilibration_steps, "warm_equilibration_steps", owner, minimum=0)
        if self.cutoff >= 0.5 * float(self.box.min()):
            raise OracleSetupError(f"{owner}: `cutoff` {self.cutoff} must be below half the smallest box side "
                                   f"{0.5 * self.box.min():g}; use more `cells`")

    # -- declared data ---------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """2 for the triangular lattice, 3 for fcc."""
        return 2 if self.lattice == "triangular" else 3

    @property
    def inputs(self) -> tuple[str, ...]:
        return deformation_names(self.dim) if self.kinematics == "finite" else strain_names(self.dim)

    @property
    def outputs(self) -> tuple[str, ...]:
        if self.kinematics == "finite":
            return piola_names(self.dim) + piola_tangent_names(self.dim)
        return stress_names(self.dim) + stiffness_names(self.dim)

    @property
    def units(self) -> Mapping[str, str]:
        stress = "epsilon/sigma^2" if self.dim == 2 else "epsilon/sigma^3"
        return {**dict.fromkeys(self.inputs, "1"), **dict.fromkeys(self.outputs, stress)}

    @property
    def lattice_spacing(self) -> float:
        """Reference nearest-neighbour distance (sigma)."""
        return self.spacing if self.spacing is not None else relaxed_spacing(self.lattice, self.cutoff)

    def reference(self) -> tuple[np.ndarray, np.ndarray]:
        """The perfect reference lattice: (X (n, d), box sides L (d,))."""
        if self.dim == 2:
            return triangular_lattice(self.cells, self.lattice_spacing)
        return fcc_lattice(self.cells, math.sqrt(2.0) * self.lattice_spacing)

    @property
    def box(self) -> np.ndarray:
        """Reference box sides (sigma)."""
        return self.reference()[1]

    @property
    def n_atoms(self) -> int:
        return (2 if self.dim == 2 else 4) * int(np.prod(self.cells))

    # -- helpers -------------------------------------------------------------------------
    def deformation(self, state: Any, func: str) -> np.ndarray:
        """The validated F (d, d) of an input row (either kinematics)."""
        row = check_state(state, self.inputs, func)
        d = self.dim
        F = row.reshape(d, d) if self.kinematics == "finite" else np.eye(d) + voigt_strain_tensor(row)
        J = float(np.linalg.det(F))
        if not J > 0.0:
            raise OracleSetupError(f"{func}: det F must be > 0, got {J:g}")
        reach = self.cutoff * float(np.linalg.norm(np.linalg.inv(F), 2))
        if reach >= 0.5 * float(self.box.min()):
            raise OracleSetupError(f"{func}: cutoff ||F^-1|| = {reach:g} must be below half the smallest "
                                   f"reference box side {0.5 * self.box.min():g} (F too large for `cells`)")
        return F

    def _params(self) -> tuple[np.ndarray, ...]:
        rc = np.full((1, 1), self.cutoff)
        shift = np.full((1, 1), 4.0 * (self.cutoff**-12 - self.cutoff**-6))
        return np.zeros(self.n_atoms, np.int64), np.ones((1, 1)), np.ones((1, 1)), rc, shift

    def _outputs(self, F: np.ndarray, P: np.ndarray, A: np.ndarray) -> np.ndarray:
        """Output rows (k, n_outputs) from P (k, d, d), A (k, d, d, d, d)."""
        k, d = len(P), self.dim
        if self.kinematics == "finite":
            return np.concatenate([P.reshape(k, d * d), A.reshape(k, d**4)], axis=1)
        sigma, D = cauchy_from_piola(F, P, A)
        pairs = VOIGT_PAIRS[d]
        s = np.stack([sigma[:, i, j] for i, j in pairs], axis=1)
        C = np.stack([np.stack([D[:, i, j, m, n] if m == n else 0.5 * (D[:, i, j, m, n] + D[:, i, j, n, m])
                                for m, n in pairs], axis=1) for i, j in pairs], axis=1)
        return np.concatenate([s, C.reshape(k, len(pairs) ** 2)], axis=1)

    # -- kernels ------------------------------------------------------------------------------
    def _forces(self, X, F, L, force, obs, born, delta) -> None:
        if self.dim == 2:
            types, eps, sig, rc, shift = self._params()
            K2.forces(X, F, L, types, eps, sig, rc, shift, force, obs, born, delta)
        else:
            K3.forces(X, F, L, self.cutoff, 4.0 * (self.cutoff**-12 - self.cutoff**-6), force, obs, born, delta)

    def _baoab(self, X, V, force, F, Finv, L, n_steps, every, rows, borns) -> bool:
        kT = self.temperature
        if self.dim == 2:
            types, eps, sig, rc, shift = self._params()
            return K2.baoab(X, V, force, F, Finv, L, types, eps, sig, rc, shift, 1.0, self.dt, n_steps,
                            self.friction, kT, every, rows, borns, self.shell)
        return K3.baoab(X, V, force, F, Finv, L, self.cutoff, 4.0 * (self.cutoff**-12 - self.cutoff**-6), self.dt,
                        n_steps, self.friction, kT, every, rows, borns, self.shell)

    def _kinetic(self, rows: np.ndarray) -> np.ndarray:
        """Kinetic tensors (k, d, d) from sample rows."""
        if self.dim == 2:
            xx, yy, xy = rows[:, 5], rows[:, 6], rows[:, 7]
            return np.stack([xx, xy, xy, yy], axis=1).reshape(-1, 2, 2)
        xx, yy, zz, xy, xz, yz = (rows[:, 10 + k] for k in range(6))
        return np.stack([xx, xy, xz, xy, yy, yz, xz, yz, zz], axis=1).reshape(-1, 3, 3)

    # -- stateless ------------------------------------------------------------------------
    def initial_state(self, macro_input: np.ndarray, *, seed: int) -> dict[str, Any]:
        """The perfect lattice at the F of ``macro_input`` with Maxwell-Boltzmann velocities
        at ``temperature`` (zero net momentum); not yet equilibrated (``age`` 0)."""
        F = self.deformation(macro_input, f"{type(self).__name__}.initial_state()")
        X, _ = self.reference()
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        V = rng.standard_normal(X.shape) * math.sqrt(self.temperature)
        V -= V.mean(axis=0)
        return {"X": X, "V": V, "F": F, "age": np.array(0, dtype=np.int64)}

    def static(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P (d, d), A (d, d, d, d)) of the affinely deformed perfect lattice (T = 0)."""
        X, L = self.reference()
        d = self.dim
        obs, born = np.zeros(K2.N_OBS if d == 2 else K3.N_OBS), np.zeros(d**4)
        self._forces(X, np.ascontiguousarray(F, dtype=float), L, np.empty_like(X), obs, born, 0.0)
        V0 = float(np.prod(L))
        return obs[1:1 + d * d].reshape(d, d) / V0, born.reshape(d, d, d, d) / V0

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One run from the perfect lattice at ``state`` (see the module doc)."""
        start = time.perf_counter()
        budget = resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        F = self.deformation(state, f"{type(self).__name__}.run()")
        if self.temperature == 0.0:
            P, A = self.static(F)
            mean = self._outputs(F, P[None], A[None])[0]
            return Estimate(mean, np.zeros_like(mean), math.inf, time.perf_counter() - start,
                            {"n_atoms": self.n_atoms, "static": True})
        est, _ = self._sample(self.initial_state(state, seed=seed), F, seed, budget, budget.equilibration_steps, start)
        return est

    # -- stateful ----------------------------------------------------------------------------
    def advance(self, state: Mapping[str, Any], macro_input: np.ndarray, *, seed: int,
                budget: Budget) -> tuple[Estimate, dict[str, Any]]:
        """Continue ``state`` under the F of ``macro_input`` (positions remapped affinely with the
        box, velocities kept): equilibrate (``warm_equilibration_steps`` once the state is
        equilibrated), sample, and return the estimate and the end state of replica 0."""
        start = time.perf_counter()
        func = f"{type(self).__name__}.advance()"
        budget = resolve_budget(self, budget, func=func)
        F = self.deformation(macro_input, func)
        X, V = np.asarray(state["X"], dtype=float), np.asarray(state["V"], dtype=float)
        if X.shape != (self.n_atoms, self.dim) or V.shape != X.shape:
            raise OracleSetupError(f"{func}: state X and V must have shape ({self.n_atoms}, {self.dim}), got "
                                   f"{X.shape} and {V.shape}")
        warm = int(state.get("age", 0)) > 0 and self.warm_equilibration_steps is not None
        n_eq = self.warm_equilibration_steps if warm else budget.equilibration_steps
        if self.temperature == 0.0:
            P, A = self.static(F)
            mean = self._outputs(F, P[None], A[None])[0]
            return (Estimate(mean, np.zeros_like(mean), math.inf, time.perf_counter() - start,
                             {"n_atoms": self.n_atoms, "static": True, "micro_steps": 0}), {**state, "F": F})
        return self._sample(dict(state), F, seed, budget, n_eq, start)

    # -- sampling ----------------------------------------------------------------------------
    def _sample(self, state: dict[str, Any], F: np.ndarray, seed: int, budget: Budget, n_eq: int,
                start: float) -> tuple[Estimate, dict[str, Any]]:
        name = type(self).__name__
        n_samp = budget.sampling_steps // self.sample_every
        if n_samp < self.blocks:
            raise OracleSetupError(f"{name}: budget.sampling_steps = {budget.sampling_steps} gives {n_samp} "
                                   f"samples at sample_every = {self.sample_every}, fewer than blocks = {self.blocks}")
        L, d = self.box, self.dim
        d2 = d * d
        F = np.ascontiguousarray(F, dtype=float)
        Finv = np.linalg.inv(F)
        kT, n, V0 = self.temperature, self.n_atoms, float(np.prod(L))
        raw, end = [], None
        for r, rng in enumerate(replica_rngs(seed, budget.replicas)):
            X = np.ascontiguousarray(state["X"], dtype=float).copy()
            V = np.ascontiguousarray(state["V"], dtype=float).copy()
            force = np.empty_like(X)
            self._forces(X, F, L, force, np.empty(0), np.empty(0), 0.0)
            rows, borns = np.zeros((n_samp, K2.N_OBS if d == 2 else K3.N_OBS)), np.zeros((n_samp, d2 * d2))
            K2.seed_rng(int(rng.integers(2**31)))
            ok = self._baoab(X, V, force, F, Finv, L, n_eq, n_eq + 1, rows[:0], borns[:0])
            ok = ok and self._baoab(X, V, force, F, Finv, L, n_samp * self.sample_every, self.sample_every, rows,
                                    borns)
            if not ok:
                raise OracleRunError(f"{name}: the run at F = {F.ravel().tolist()}, T = {kT} became non-finite; "
                                     f"dt = {self.dt} is likely too large")
            raw.append((rows, borns))
            if r == 0:
                age = int(state.get("age", 0)) + n_eq + n_samp * self.sample_every
                end = {**state, "X": X, "V": V, "F": F, "age": np.array(age, dtype=np.int64)}
        c = np.concatenate([rows[:, 1:1 + d2] for rows, _ in raw]).mean(axis=0)
        kin = n * kT / V0 * np.einsum("Jk,Li->iJkL", Finv, Finv)
        shape_A = (-1,) + (d,) * 4
        series = []
        for rows, borns in raw:
            G = rows[:, 1:1 + d2]
            P = (G.reshape(-1, d, d) - np.einsum("sik,Jk->siJ", self._kinetic(rows), Finv)) / V0
            q = G - c
            A = ((borns - np.einsum("sa,sb->sab", q, q).reshape(-1, d2 * d2) / kT) / V0).reshape(shape_A) + kin
            series.append(np.concatenate([P.reshape(-1, d2), A.reshape(-1, d2 * d2), q], axis=1))
        stats = block_stats(series, self.blocks)
        na = d2 + d2 * d2
        qbar = stats.mean[na:]
        P_mean = stats.mean[:d2].reshape(1, d, d)
        A_mean = (stats.mean[d2:na] + np.outer(qbar, qbar).ravel() / (kT * V0)).reshape((1,) + (d,) * 4)
        mean = self._outputs(F, P_mean, A_mean)[0]
        # outputs are linear in (P, A) per sample: push every sample through the same map for the stderr
        lin = [self._outputs(F, x[:, :d2].reshape(-1, d, d), x[:, d2:na].reshape(shape_A)) for x in series]
        err = block_stats(lin, self.blocks)
        if not np.isfinite(mean).all():
            raise OracleRunError(f"{name}: non-finite estimate at F = {F.ravel().tolist()}")
        prov = {"n_atoms": n, "blocks": err.blocks, "dof": err.dof, "replicas": budget.replicas,
                "equilibration_steps": n_eq, "tangent": "stress-fluctuation",
                "micro_steps": budget.replicas * (n_eq + n_samp * self.sample_every)}
        return Estimate(mean, err.stderr, err.n_eff, time.perf_counter() - start, prov), end
