r"""A history-carrying RVE: a 2D binary Lennard-Jones glass under athermal quasi-static F.

The glass is a 2D Kob-Andersen-like mixture (Kob & Andersen, PRE 51, 4626,
1995; the 65:35 composition of the 2D variant, Brüning et al., J. Phys.:
Condens. Matter 21, 035117, 2009): types A, B with
:math:`\varepsilon_{AA}=1, \varepsilon_{AB}=1.5, \varepsilon_{BB}=0.5`,
:math:`\sigma_{AA}=1, \sigma_{AB}=0.8, \sigma_{BB}=0.88`, cut and shifted at
:math:`2.5\,\sigma_{ab}`, number density ``density`` in a periodic square
reference cell. A sample is made by melting a jittered square lattice at
``melt_temperature`` (Langevin BAOAB, ``melt_steps``) and quenching it by
energy minimisation (FIRE): an instantaneous quench, a poorly annealed glass
that yields gradually with many plastic events.

Athermal quasi-static deformation (AQS; Maloney & Lemaître, PRE 74, 016118,
2006): a new F maps the reference coordinates affinely with the periodic
cell, and the energy is minimised at that F. The configuration after
minimisation is the state: it carries the plastic history, so under a strain
cycle the stress-strain loop encloses a dissipated energy per cycle
:math:`\oint P : dF > 0`. :meth:`run` (stateless) minimises from the pristine
quenched sample at every query, so its stress is a single-valued function of
F and a cycle encloses no area.

Outputs: the first Piola-Kirchhoff stress :math:`P = G / V_0` with
:math:`G = \partial U/\partial F` at the minimum (no kinetic part at T = 0)
and the potential energy per reference area, LJ units (epsilon/sigma^2).
With ``tangent=True`` also :math:`A = \partial P/\partial F` (``A_a_b``) of the
relaxed (non-affine) response, by central differences of the relaxed stress
with step ``fd_step``, each perturbed configuration relaxed from the state
(the perturbations are not kept). On the relaxed branch at a fixed state the
response is hyperelastic, so A has major symmetry; the difference estimate is
returned symmetrised, (A + A^T) / 2, its antisymmetric part being the
estimate's error (reported as ``tangent_asymmetry`` in the provenance, relative
to max |A|). Near a plastic instability a perturbation
can trigger an event and the difference then measures it, not the elastic
branch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from .._validate import check_int, check_positive, check_real, check_state
from ..solids._voigt import deformation_names, piola_names, piola_tangent_names
from . import _kernels2d as K2

__all__ = ["LJGlassStress", "KA2D"]

KA2D: Mapping[str, np.ndarray] = {
    "epsilon": np.array([[1.0, 1.5], [1.5, 0.5]]),
    "sigma": np.array([[1.0, 0.8], [0.8, 0.88]]),
}
"""Pair parameters of the 2D Kob-Andersen mixture (rows/columns: types A, B)."""


@dataclass(frozen=True)
class LJGlassStress:
    """Stress of a 2D binary LJ glass RVE under athermal quasi-static deformation.

    Parameters
    ----------
    n_atoms : int
        Atoms in the periodic cell.
    fraction_b : float
        Number fraction of the small type B.
    density : float
        Number density (sigma^-2) of the reference cell.
    melt_temperature, melt_steps, dt : float, int, float
        The liquid the glass is quenched from: Langevin BAOAB at
        ``melt_temperature`` (epsilon/k_B) for ``melt_steps`` steps of ``dt``.
    ftol : float
        Minimisation stops when the largest force component is below it
        (epsilon/sigma).
    max_iter : int
        FIRE iterations allowed per minimisation.
    tangent : bool
        Also return the relaxed tangent ``A_a_b`` (8 more minimisations per query).
    fd_step : float
        Step of the central differences of the tangent.

    Notes
    -----
    Budget: ``replicas`` independent glass samples (default 1). With one
    sample the stderr is 0 (AQS is deterministic given the sample); with
    R >= 2 the mean and stderr are over the samples (std / sqrt(R)) and the
    state holds every sample. Stateful use (the :class:`hmm.contract.StatefulOracle`
    protocol): :meth:`initial_state` makes the quenched samples (one unless
    ``replicas`` is given), :meth:`advance` deforms them to a new F and
    relaxes; the state holds ``X`` (R, n, 2), ``types`` (R, n) and ``F``
    (about 2.4 kB per sample at 100 atoms). ``micro_steps`` in the provenance
    counts FIRE iterations.
    """

    n_atoms: int = 100
    fraction_b: float = 0.35
    density: float = 1.2
    melt_temperature: float = 2.0
    melt_steps: int = 2000
    dt: float = 0.002
    ftol: float = 1e-6
    max_iter: int = 100_000
    tangent: bool = False
    fd_step: float = 1e-4

    inputs: ClassVar[tuple[str, ...]] = deformation_names(2)
    default_budget: ClassVar[Budget] = Budget()
    supports: ClassVar[frozenset[str]] = frozenset({"replicas"})

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_int(self.n_atoms, "n_atoms", owner, minimum=4)
        check_real(self.fraction_b, "fraction_b", owner, minimum=0.0, maximum=1.0)
        for name in ("density", "dt", "ftol"):
            check_positive(getattr(self, name), name, owner)
        check_positive(self.melt_temperature, "melt_temperature", owner, allow_zero=True)
        check_int(self.melt_steps, "melt_steps", owner, minimum=0)
        check_int(self.max_iter, "max_iter", owner, minimum=1)
        if not isinstance(self.tangent, bool):
            raise TypeError(f"{owner}: `tangent` must be a bool, got {self.tangent!r}")
        check_positive(self.fd_step, "fd_step", owner)
        if 2.5 * KA2D["sigma"].max() >= 0.5 * self.box_length:
            raise OracleSetupError(f"{owner}: the box side {self.box_length:g} must exceed twice the largest "
                                   f"cutoff {2.5 * KA2D['sigma'].max():g}; raise `n_atoms`")

    @property
    def outputs(self) -> tuple[str, ...]:
        return piola_names(2) + ("energy_density",) + (piola_tangent_names(2) if self.tangent else ())

    @property
    def units(self) -> Mapping[str, str]:
        return {**dict.fromkeys(self.inputs, "1"), **dict.fromkeys(self.outputs, "epsilon/sigma^2")}

    @property
    def box_length(self) -> float:
        """Side of the square reference cell (sigma)."""
        return math.sqrt(self.n_atoms / self.density)

    def _params(self) -> tuple[np.ndarray, ...]:
        eps, sig = KA2D["epsilon"], KA2D["sigma"]
        rc = 2.5 * sig
        shift = 4.0 * eps * ((sig / rc) ** 12 - (sig / rc) ** 6)
        return eps.copy(), sig.copy(), rc, shift

    def deformation(self, macro_input: Any, func: str) -> np.ndarray:
        """The validated F (2, 2) of an input row."""
        F = check_state(macro_input, self.inputs, func).reshape(2, 2)
        J = float(np.linalg.det(F))
        if not J > 0.0:
            raise OracleSetupError(f"{func}: det F must be > 0, got {J:g}")
        reach = 2.5 * KA2D["sigma"].max() * float(np.linalg.norm(np.linalg.inv(F), 2))
        if reach >= 0.5 * self.box_length:
            raise OracleSetupError(f"{func}: cutoff ||F^-1|| = {reach:g} must be below half the reference box "
                                   f"side {0.5 * self.box_length:g} (F too large for `n_atoms`)")
        return np.ascontiguousarray(F)

    # -- samples ------------------------------------------------------------------------------
    def quenched(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """One quenched glass sample at F = I: (X (n, 2), types (n,)), a deterministic function
        of ``seed`` (kept in a small per-process cache; copies are returned)."""
        X, types = _quenched(self, int(seed))
        return X.copy(), types.copy()

    def _quench(self, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        n, L = self.n_atoms, self.box_length
        side = int(math.ceil(math.sqrt(n)))
        grid = np.stack(np.meshgrid(np.arange(side), np.arange(side), indexing="ij"), -1).reshape(-1, 2)[:n]
        X = np.ascontiguousarray((grid + 0.5 + 0.05 * rng.standard_normal((n, 2))) * (L / side))
        types = np.zeros(n, np.int64)
        types[rng.permutation(n)[: int(round(self.fraction_b * n))]] = 1
        eps, sig, rc, shift = self._params()
        box, F = np.array([L, L]), np.eye(2)
        if self.melt_steps and self.melt_temperature > 0:
            V = rng.standard_normal((n, 2)) * math.sqrt(self.melt_temperature)
            force = np.empty_like(X)
            K2.forces(X, F, box, types, eps, sig, rc, shift, force, np.empty(0), np.empty(0), 0.0)
            K2.seed_rng(int(rng.integers(2**31)))
            ok = K2.baoab(X, V, force, F, F, box, types, eps, sig, rc, shift, 1.0, self.dt, self.melt_steps, 1.0,
                          self.melt_temperature, self.melt_steps + 1, np.zeros((0, K2.N_OBS)), np.zeros((0, 0)),
                          0.0)
            if not ok:
                raise OracleRunError(f"{type(self).__name__}: the melt became non-finite; lower `dt` = {self.dt}")
        self._relax(X, types, F, "quenched()")
        X.setflags(write=False)
        types.setflags(write=False)
        return X, types

    def _relax(self, X: np.ndarray, types: np.ndarray, F: np.ndarray, func: str) -> int:
        eps, sig, rc, shift = self._params()
        L = self.box_length
        it = K2.fire(X, F, np.linalg.inv(F), np.array([L, L]), types, eps, sig, rc, shift, self.ftol,
                     self.max_iter, 0.005, 0.05)
        if it < 0:
            raise OracleRunError(f"{type(self).__name__}.{func}: FIRE did not reach ftol = {self.ftol} in "
                                 f"max_iter = {self.max_iter} iterations")
        X -= L * np.floor(X / L)
        return it

    def _stress(self, X: np.ndarray, types: np.ndarray, F: np.ndarray) -> np.ndarray:
        eps, sig, rc, shift = self._params()
        L = self.box_length
        obs = np.zeros(K2.N_OBS)
        K2.forces(X, F, np.array([L, L]), types, eps, sig, rc, shift, np.empty_like(X), obs, np.empty(0), 0.0)
        return np.concatenate([obs[1:5], obs[:1]]) / (L * L)

    def _estimate(self, rows: np.ndarray, start: float, iters: list[int]) -> Estimate:
        R = len(rows)
        stderr = rows.std(axis=0, ddof=1) / math.sqrt(R) if R > 1 else np.zeros(rows.shape[1])
        return Estimate(rows.mean(axis=0), stderr, float(R), time.perf_counter() - start,
                        {"n_atoms": self.n_atoms, "replicas": R, "fire_iterations": iters,
                         "micro_steps": int(sum(iters))})

    # -- stateless ------------------------------------------------------------------------------
    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """Stress at F from the pristine quenched samples of ``seed`` (no history)."""
        start = time.perf_counter()
        func = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=func)
        F = self.deformation(state, func)
        est, _ = self.advance(self.initial_state(state, seed=seed, replicas=budget.replicas), F.ravel(), seed=seed,
                              budget=budget)
        return Estimate(est.mean, est.stderr, est.n_eff, time.perf_counter() - start, est.provenance)

    # -- stateful -------------------------------------------------------------------------------
    def initial_state(self, macro_input: np.ndarray, *, seed: int, replicas: int = 1) -> dict[str, Any]:
        """``replicas`` quenched samples at F = I (seeded from ``seed``); ``macro_input`` is only
        validated (the first :meth:`advance` deforms the samples to it)."""
        self.deformation(macro_input, f"{type(self).__name__}.initial_state()")
        check_int(replicas, "replicas", f"{type(self).__name__}.initial_state()", minimum=1)
        samples = [self.quenched(int(s.generate_state(1)[0])) for s in np.random.SeedSequence(seed).spawn(replicas)]
        return {"X": np.stack([x for x, _ in samples]), "types": np.stack([t for _, t in samples]),
                "F": np.eye(2)}

    def advance(self, state: Mapping[str, Any], macro_input: np.ndarray, *, seed: int,
                budget: Budget) -> tuple[Estimate, dict[str, Any]]:
        """Deform every sample of ``state`` affinely to the F of ``macro_input``, relax (AQS) and
        return the stress and the relaxed state (``seed`` is unused: AQS is deterministic)."""
        start = time.perf_counter()
        func = f"{type(self).__name__}.advance()"
        resolve_budget(self, budget, func=func)
        F = self.deformation(macro_input, func)
        X_all, types = np.array(state["X"], dtype=float), np.asarray(state["types"], dtype=np.int64)
        if X_all.ndim != 3 or X_all.shape[1:] != (self.n_atoms, 2) or types.shape != X_all.shape[:2]:
            raise OracleSetupError(f"{func}: state X must have shape (R, {self.n_atoms}, 2) and types (R, "
                                   f"{self.n_atoms}), got {X_all.shape} and {types.shape}")
        rows, iters, asym = [], [], []
        for X, t in zip(X_all, types):
            X = np.ascontiguousarray(X)
            t = np.ascontiguousarray(t)
            iters.append(self._relax(X, t, F, "advance()"))
            row = self._stress(X, t, F)
            if self.tangent:
                A = np.empty((4, 4))
                for b in range(4):
                    sides = []
                    for sign in (1.0, -1.0):
                        Fb = F.copy()
                        Fb.flat[b] += sign * self.fd_step
                        Xb = X.copy()
                        iters.append(self._relax(Xb, t, Fb, "advance()"))
                        sides.append(self._stress(Xb, t, Fb)[:4])
                    A[:, b] = (sides[0] - sides[1]) / (2 * self.fd_step)
                asym.append(float(np.abs(A - A.T).max() / np.abs(A).max()))
                row = np.concatenate([row, (0.5 * (A + A.T)).ravel()])
            rows.append(row)
            X_all[len(rows) - 1] = X
        est = self._estimate(np.array(rows), start, iters)
        if asym:
            est.provenance["tangent_asymmetry"] = max(asym)
        return est, {"X": X_all, "types": types, "F": F}


@lru_cache(maxsize=64)
def _quenched(oracle: LJGlassStress, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return oracle._quench(seed)
