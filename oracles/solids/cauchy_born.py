r"""Cauchy-Born stress of a Bravais lattice with a Lennard-Jones pair potential (T = 0).

Under the Cauchy-Born rule every lattice vector :math:`R` of the reference
lattice deforms affinely, :math:`r = F R`. The energy per reference volume
:math:`\Omega_0` (area in 2D) of a Bravais lattice with a pair potential
:math:`\phi` is the lattice sum over the neighbours of one atom,

.. math::

    W(F) = \frac{1}{2\Omega_0}\sum_R \phi(|FR|),\qquad
    P_{iJ} = \frac{\partial W}{\partial F_{iJ}} = \frac{1}{2\Omega_0}\sum_R
        \frac{\phi'(r)}{r}\, r_i R_J,

.. math::

    A_{iJkL} = \frac{\partial P_{iJ}}{\partial F_{kL}} = \frac{1}{2\Omega_0}\sum_R
        \Big[\Big(\frac{\phi''}{r^2} - \frac{\phi'}{r^3}\Big) r_i R_J r_k R_L
        + \frac{\phi'}{r}\,\delta_{ik} R_J R_L\Big]

(Born & Huang 1954; Wallace 1972; Tadmor & Miller 2011, ch. 11). The
neighbour list is fixed in the reference lattice (every :math:`R` with
:math:`|R| \le r_c`), so :math:`W` is smooth in :math:`F`; a constant energy
shift of the truncated potential would change neither :math:`P` nor
:math:`A` and is not applied. At :math:`F = I` and zero stress the
fourth-order sum is fully symmetric, which gives the Cauchy relation
:math:`C_{12} = C_{44}` of central pair potentials.

Lattices: ``"triangular"`` (2D, nearest-neighbour distance ``spacing``,
:math:`\Omega_0 = \sqrt3 a^2/2`) and ``"fcc"`` (3D, cubic axes, cubic lattice
constant :math:`\sqrt2` ``spacing``, :math:`\Omega_0 = a_c^3/4`). LJ units:
lengths in :math:`\sigma`, energies in :math:`\epsilon`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, EstimateArrays, OracleSetupError, resolve_budget

from .._validate import check_choice, check_positive, check_state, check_states
from ._voigt import deformation_names, piola_names, piola_tangent_names

__all__ = ["CauchyBornStress", "lattice_vectors", "relaxed_spacing"]

_DIM = {"triangular": 2, "fcc": 3}


def _unit_cell(lattice: str) -> tuple[np.ndarray, float]:
    """Primitive vectors (rows) for nearest-neighbour distance 1, and the volume per atom."""
    if lattice == "triangular":
        basis = np.array([[1.0, 0.0], [0.5, math.sqrt(3.0) / 2]])
    else:
        h = 1.0 / math.sqrt(2.0)  # cubic constant sqrt(2) for nearest-neighbour distance 1
        basis = np.array([[0.0, h, h], [h, 0.0, h], [h, h, 0.0]])
    return basis, abs(float(np.linalg.det(basis)))


@lru_cache(maxsize=32)
def _shell_vectors(lattice: str, reach: float) -> np.ndarray:
    """All lattice vectors ``0 < |R| <= reach`` of the unit-spacing lattice (rows)."""
    basis, _ = _unit_cell(lattice)
    dim = basis.shape[0]
    n = int(math.ceil(reach / min(np.linalg.svd(basis, compute_uv=False)))) + 1
    grid = np.stack(np.meshgrid(*[np.arange(-n, n + 1)] * dim, indexing="ij"), axis=-1).reshape(-1, dim)
    R = grid @ basis
    r = np.linalg.norm(R, axis=1)
    keep = (r > 0.5) & (r <= reach * (1 + 1e-12))
    return R[keep]


def lattice_vectors(lattice: str, spacing: float, cutoff: float) -> np.ndarray:
    """Neighbour vectors ``(m, dim)`` of one atom within ``cutoff`` (lattice at ``spacing``)."""
    return spacing * _shell_vectors(lattice, cutoff / spacing)


def _lj(r: np.ndarray, epsilon: float, sigma: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s6 = (sigma / r) ** 6
    return 4 * epsilon * (s6 * s6 - s6), 4 * epsilon * (6 * s6 - 12 * s6 * s6) / r, \
        4 * epsilon * (156 * s6 * s6 - 42 * s6) / r**2


def relaxed_spacing(lattice: str, cutoff: float, epsilon: float = 1.0, sigma: float = 1.0) -> float:
    r"""Nearest-neighbour distance at which the Cauchy-Born stress vanishes:
    :math:`\sum_R \phi'(|R|)\,|R| = 0` over the shells inside ``cutoff`` (in :math:`\sigma`).
    The shell set is fixed from the zero-force distance :math:`2^{1/6}\sigma` and checked
    against the root (a cutoff between shells is required)."""
    a = 2.0 ** (1 / 6) * sigma
    for _ in range(4):
        rho = np.linalg.norm(_shell_vectors(lattice, cutoff / a), axis=1)

        def g(s: float, rho: np.ndarray = rho) -> float:
            return float(np.sum(_lj(s * rho, epsilon, sigma)[1] * rho))

        lo, hi = 0.8 * sigma, 1.3 * sigma
        for _ in range(200):  # bisection: g > 0 (attraction wins) above the root
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if g(mid) > 0 else (mid, hi)
        root = 0.5 * (lo + hi)
        for _ in range(3):  # Newton polish to round-off
            _, d1, d2 = _lj(root * rho, epsilon, sigma)
            root -= float(np.sum(d1 * rho)) / float(np.sum(d2 * rho * rho))
        if np.array_equal(_shell_vectors(lattice, cutoff / root), _shell_vectors(lattice, cutoff / a)):
            return root
        a = root
    raise OracleSetupError(f"relaxed_spacing(): the cutoff {cutoff} lies on a neighbour shell of the relaxed "
                           f"{lattice} lattice; move it between shells")


@dataclass(frozen=True)
class CauchyBornStress:
    """First Piola-Kirchhoff stress, tangent and energy density of a Cauchy-Born LJ lattice.

    Parameters
    ----------
    lattice : {"triangular", "fcc"}
        2D triangular or 3D fcc Bravais lattice (cubic axes along x, y, z).
    cutoff : float
        Pair cutoff (sigma); pairs within it in the reference lattice interact.
    spacing : float or None
        Reference nearest-neighbour distance (sigma); ``None``: the relaxed
        (stress-free) spacing of :func:`relaxed_spacing`.
    epsilon, sigma : float
        LJ parameters.

    Inputs ``F_xx, F_xy, ...`` (row-major); outputs ``P_*`` (row-major), ``A_a_b``
    (dP_a/dF_b) and ``energy_density`` W. Stress units epsilon/sigma^2 in 2D
    (per reference area), epsilon/sigma^3 in 3D. Deterministic.
    """

    lattice: str = "triangular"
    cutoff: float = 2.5
    spacing: float | None = None
    epsilon: float = 1.0
    sigma: float = 1.0

    deterministic = True
    default_budget: ClassVar[Budget] = Budget()
    supports: ClassVar[frozenset[str]] = frozenset()

    def __post_init__(self) -> None:
        owner = type(self).__name__
        check_choice(self.lattice, "lattice", owner, tuple(_DIM))
        check_positive(self.cutoff, "cutoff", owner)
        check_positive(self.epsilon, "epsilon", owner)
        check_positive(self.sigma, "sigma", owner)
        if self.spacing is not None:
            check_positive(self.spacing, "spacing", owner)
        if self.cutoff < (self.spacing or 2 ** (1 / 6) * self.sigma):
            raise OracleSetupError(f"{owner}: `cutoff` {self.cutoff} excludes even the nearest neighbours")

    @property
    def dim(self) -> int:
        """2 for the triangular lattice, 3 for fcc."""
        return _DIM[self.lattice]

    @property
    def inputs(self) -> tuple[str, ...]:
        return deformation_names(self.dim)

    @property
    def outputs(self) -> tuple[str, ...]:
        return piola_names(self.dim) + piola_tangent_names(self.dim) + ("energy_density",)

    @property
    def units(self) -> Mapping[str, str]:
        stress = "epsilon/sigma^2" if self.dim == 2 else "epsilon/sigma^3"
        return {**dict.fromkeys(self.inputs, "1"), **dict.fromkeys(self.outputs, stress)}

    @property
    def reference_spacing(self) -> float:
        """The nearest-neighbour distance of the reference lattice (sigma)."""
        return self.spacing if self.spacing is not None else _relaxed(self.lattice, self.cutoff, self.epsilon,
                                                                       self.sigma)

    def neighbours(self) -> tuple[np.ndarray, float]:
        """Reference neighbour vectors ``(m, dim)`` and the volume per atom."""
        a = self.reference_spacing
        _, omega = _unit_cell(self.lattice)
        return lattice_vectors(self.lattice, a, self.cutoff), omega * a**self.dim

    def response(self, F: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """``(W, P, A)`` at one deformation gradient ``F`` ``(dim, dim)``; ``A`` as ``(d, d, d, d)``."""
        R, omega = self.neighbours()
        r_vec = R @ np.asarray(F, dtype=float).T  # r = F R
        r = np.linalg.norm(r_vec, axis=1)
        if r.min() < 0.3 * self.sigma:
            raise OracleSetupError(f"{type(self).__name__}: F brings neighbours closer than 0.3 sigma "
                                   f"(det F = {np.linalg.det(F):.3g}); not a physical deformation")
        phi, d1, d2 = _lj(r, self.epsilon, self.sigma)
        c = 0.5 / omega
        W = c * float(phi.sum())
        P = c * np.einsum("m,mi,mJ->iJ", d1 / r, r_vec, R)
        a4 = (d2 / r**2 - d1 / r**3)
        A = c * (np.einsum("m,mi,mJ,mk,mL->iJkL", a4, r_vec, R, r_vec, R)
                 + np.einsum("ik,m,mJ,mL->iJkL", np.eye(self.dim), d1 / r, R, R))
        return W, P, A

    def _answer(self, state: np.ndarray) -> np.ndarray:
        d = self.dim
        W, P, A = self.response(state.reshape(d, d))
        return np.concatenate([P.ravel(), A.reshape(d * d, d * d).ravel(), [W]])

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run()")
        state = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        mean = self._answer(state)
        return Estimate(mean, np.zeros(mean.size), n_eff=math.inf, cost_s=time.perf_counter() - start,
                        provenance={"neighbours": len(self.neighbours()[0])})

    def run_batch(self, states: np.ndarray, *, seeds: np.ndarray, budget: Budget) -> EstimateArrays:
        """All rows at once (the bits of :meth:`run` row by row)."""
        start = time.perf_counter()
        resolve_budget(self, budget, func=f"{type(self).__name__}.run_batch()")
        states = check_states(states, self.inputs, f"{type(self).__name__}.run_batch()")
        k = len(states)
        mean = np.stack([self._answer(s) for s in states]) if k else np.empty((0, len(self.outputs)))
        cost = (time.perf_counter() - start) / max(k, 1)
        return EstimateArrays(mean, np.zeros_like(mean), np.full(k, math.inf), np.full(k, cost))


@lru_cache(maxsize=32)
def _relaxed(lattice: str, cutoff: float, epsilon: float, sigma: float) -> float:
    return relaxed_spacing(lattice, cutoff, epsilon, sigma)
