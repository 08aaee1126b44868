r"""A cheap stateful micro model of a solid: a Langevin configuration that relaxes
to the stress of the imposed strain (:class:`RelaxingStress`).

The micro "configuration" is a matrix :math:`x` of ``modes`` independent
Ornstein-Uhlenbeck coordinates per Voigt stress component. Under a small
strain :math:`\varepsilon` each coordinate relaxes to the linear-elastic stress
:math:`s^*(\varepsilon) = C\varepsilon` with relaxation time :math:`\tau`
(micro steps) and fluctuates with variance ``kT`` (stress units squared),
advanced by the exact one-step update

.. math::

    x_{t+1} - s^* = a\,(x_t - s^*) + \sqrt{kT\,(1 - a^2)}\,\xi_t,\qquad a = e^{-1/\tau}.

A slow structural coordinate :math:`z` (a hydrostatic pre-stress of an
unrelaxed configuration, ``prestress`` in a cold state) decays as
:math:`z_{t+1} = b\,z_t`, :math:`b = e^{-1/\tau_{slow}}`, whatever the strain,
and adds to the normal stresses. The measured stress is the time average of the mode mean over the sampling
steps; its standard error is the batch-means estimate (10 blocks). The tangent
is :math:`C` (exact). A cold state (:meth:`RelaxingStress.initial_state`: all
coordinates zero, no fluctuation, like a lattice at rest) pays
``equilibration_steps`` before sampling. A warm state, already equilibrated at
the strain it was last advanced under, only has to forget the change of
:math:`s^*` (its mean relaxes as :math:`\Delta s\,a^k`) and what is left of
:math:`z`, so it is advanced :math:`k = \max(\lceil \tau \ln(\max|\Delta s| /
\mathrm{bias\_tol}) \rceil, \lceil \tau_{slow} \ln(|z| / \mathrm{bias\_tol}) \rceil)`
steps (capped at ``equilibration_steps``), after which the deterministic bias of
every coordinate is below ``bias_tol``. The default cold budget (2000 steps)
covers :math:`\tau_{slow} \ln(\mathrm{prestress} / \mathrm{bias\_tol})`. This is the saving that keeping states
on the workers buys.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.signal import lfilter

from hmm.contract import Budget, Estimate, OracleSetupError, resolve_budget

from ._voigt import VOIGT_PAIRS, isotropic_voigt, stiffness_names, strain_names, stress_names

__all__ = ["RelaxingStress"]

BLOCKS = 10  # batch-means blocks of the stress estimate


@dataclass(frozen=True)
class RelaxingStress:
    """Toy stateful oracle: Ornstein-Uhlenbeck stress coordinates relaxing to ``C eps``.

    Parameters
    ----------
    E, nu : float
        Young's modulus (stress units) and Poisson ratio of the isotropic
        plane-strain (2D) or 3D stiffness ``C``.
    dim : int
        2 or 3.
    modes : int
        Coordinates per stress component (the size of the micro configuration).
    kT : float
        Stationary variance of one coordinate (stress units squared).
    tau : float
        Relaxation time of the stress coordinates in micro steps.
    tau_slow : float
        Relaxation time of the structural coordinate in micro steps.
    prestress : float
        Structural pre-stress of a cold state (stress units).
    bias_tol : float
        Bound of the deterministic relaxation bias a warm advance leaves (stress units).

    Notes
    -----
    State keys: ``x`` ``(modes, nv)`` (the configuration), ``strain`` ``(nv,)``
    (the strain it was last advanced under), ``z`` (the structural coordinate),
    ``equilibrated`` (bool) and ``steps`` (micro steps taken so far, int64).
    """

    E: float = 100.0
    nu: float = 0.3
    dim: int = 2
    modes: int = 32
    kT: float = 1e-6
    tau: float = 2.0
    tau_slow: float = 200.0
    prestress: float = 1e-2
    bias_tol: float = 1e-6

    units: ClassVar[Mapping[str, str]] = {}
    default_budget: ClassVar[Budget] = Budget(equilibration_steps=2000, sampling_steps=400)
    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps"})
    deterministic: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.dim not in (2, 3):
            raise OracleSetupError(f"RelaxingStress: `dim` must be 2 or 3, got {self.dim!r}")
        for name in ("E", "kT", "tau", "tau_slow", "prestress", "bias_tol"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise OracleSetupError(f"RelaxingStress: `{name}` must be a positive finite number, got {value!r}")
        if not (isinstance(self.modes, int) and self.modes >= 1):
            raise OracleSetupError(f"RelaxingStress: `modes` must be an int >= 1, got {self.modes!r}")
        if not -1.0 < self.nu < 0.5:
            raise OracleSetupError(f"RelaxingStress: `nu` must be in (-1, 0.5), got {self.nu!r}")

    @property
    def inputs(self) -> tuple[str, ...]:
        return strain_names(self.dim)

    @property
    def outputs(self) -> tuple[str, ...]:
        return stress_names(self.dim) + stiffness_names(self.dim)

    @property
    def stiffness(self) -> np.ndarray:
        """Voigt stiffness ``C`` (nv, nv), stress units."""
        lam = self.E * self.nu / ((1 + self.nu) * (1 - 2 * self.nu))
        mu = self.E / (2 * (1 + self.nu))
        return isotropic_voigt(np.array([lam]), np.array([mu]), self.dim)[0]

    def _strain(self, macro_input: Any) -> np.ndarray:
        nv = len(VOIGT_PAIRS[self.dim])
        eps = np.asarray(macro_input, dtype=np.float64).reshape(-1)
        if eps.shape != (nv,) or not np.isfinite(eps).all():
            raise OracleSetupError(f"RelaxingStress: the macro input must be {nv} finite Voigt strains "
                                   f"{self.inputs}, got {macro_input!r}")
        return eps

    def initial_state(self, macro_input: np.ndarray, *, seed: int) -> dict[str, np.ndarray]:
        """A cold configuration: every coordinate zero (no fluctuation), not equilibrated."""
        eps = self._strain(macro_input)
        return {"x": np.zeros((self.modes, eps.size)), "strain": eps.copy(), "z": np.array(float(self.prestress)),
                "equilibrated": np.array(False), "steps": np.array(0, dtype=np.int64)}

    def relaxation_steps(self, state: Mapping[str, np.ndarray], eps: np.ndarray, budget: Budget) -> int:
        """Steps an advance of ``state`` to strain ``eps`` spends before sampling."""
        if not bool(state["equilibrated"]):
            return budget.equilibration_steps
        C = self.stiffness
        shift = float(np.max(np.abs(C @ (eps - np.asarray(state["strain"])))))
        z = abs(float(state["z"]))
        fast = math.ceil(self.tau * math.log(shift / self.bias_tol)) if shift > self.bias_tol else 0
        slow = math.ceil(self.tau_slow * math.log(z / self.bias_tol)) if z > self.bias_tol else 0
        return min(budget.equilibration_steps, max(fast, slow))

    def advance(self, state: Mapping[str, np.ndarray], macro_input: np.ndarray, *, seed: int,
                budget: Budget) -> tuple[Estimate, dict[str, np.ndarray]]:
        """Relax ``state`` under the strain ``macro_input`` and sample the stress."""
        start = time.perf_counter()
        budget = resolve_budget(self, budget, func="RelaxingStress.advance()")
        eps = self._strain(macro_input)
        if budget.sampling_steps < BLOCKS:
            raise OracleSetupError(f"RelaxingStress.advance(): Budget.sampling_steps must be >= {BLOCKS}, "
                                   f"got {budget.sampling_steps}")
        x0 = np.asarray(state["x"], dtype=np.float64)
        if x0.shape != (self.modes, eps.size):
            raise OracleSetupError(f"RelaxingStress.advance(): state['x'] must have shape "
                                   f"{(self.modes, eps.size)}, got {x0.shape}")
        relax = self.relaxation_steps(state, eps, budget)
        n = relax + budget.sampling_steps
        target = self.stiffness @ eps
        a = math.exp(-1.0 / self.tau)
        noise = np.random.default_rng(seed).standard_normal((n, *x0.shape))
        y, _ = lfilter([math.sqrt(self.kT * (1 - a * a))], [1.0, -a], noise, axis=0,
                       zi=(a * (x0 - target))[None])
        series = y[relax:].mean(axis=1)  # (sampling_steps, nv): mode mean of x - s*
        blocks = series[: series.shape[0] // BLOCKS * BLOCKS].reshape(BLOCKS, -1, series.shape[1]).mean(axis=1)
        z = float(state["z"]) * math.exp(-1.0 / self.tau_slow) ** np.arange(1, n + 1)
        stress = target + series.mean(axis=0)
        stress[:self.dim] += z[relax:].mean()
        stderr = blocks.std(axis=0, ddof=1) / math.sqrt(BLOCKS)
        nv = eps.size
        mean = np.concatenate([stress, self.stiffness.ravel()])
        err = np.concatenate([stderr, np.zeros(nv * nv)])
        new = {"x": y[-1] + target, "strain": eps.copy(), "z": np.array(z[-1]), "equilibrated": np.array(True),
               "steps": np.array(int(state["steps"]) + n, dtype=np.int64)}
        return Estimate(mean, err, n_eff=float(BLOCKS), cost_s=time.perf_counter() - start,
                        provenance={"micro_steps": n, "relaxation_steps": relax}), new
