r"""Analytic constitutive laws as oracles: stand-ins for particle simulations of
complex fluids, with exactly known answers.

The Carreau model of a shear-thinning polymer solution (Bird, Armstrong &
Hassager, *Dynamics of Polymeric Liquids* vol. 1, 1987, sec. 4.4):

.. math::

    \tau = \eta(\dot\gamma)\,\dot\gamma, \qquad
    \eta(\dot\gamma) = \eta_\infty + (\eta_0 - \eta_\infty)
                       \big(1 + (\lambda\dot\gamma)^2\big)^{(n-1)/2}.

Optionally observed with Gaussian noise of standard deviation
``noise / sqrt(max(1, budget.sampling_steps))``, like a DPD or MD estimate of
the shear stress. Units: those of the parameters (stress = viscosity / time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from hmm.contract import Budget, Estimate, EstimateArrays, OracleSetupError, resolve_budget

from ._validate import check_real, check_state, check_states


@dataclass(frozen=True)
class CarreauShearStress:
    """Shear stress of a Carreau fluid at a given shear rate.

    Parameters
    ----------
    eta0, eta_inf : float
        Zero- and infinite-shear viscosities (eta0 >= eta_inf >= 0, eta0 > 0).
    relaxation_time : float
        lambda (>= 0); ``lambda * shear_rate ~ 1`` marks the onset of thinning.
    power_index : float
        n in (0, 1] (n < 1 shear thinning; n = 1 Newtonian).
    noise : float
        Standard deviation of one sample's stress noise (>= 0).
    """

    eta0: float = 1.0
    eta_inf: float = 0.0
    relaxation_time: float = 1.0
    power_index: float = 0.5
    noise: float = 0.0

    inputs = ("shear_rate",)
    outputs = ("shear_stress",)
    units: ClassVar[Mapping[str, str]] = {"shear_rate": "1", "shear_stress": "1"}  # those of the parameters
    default_budget: ClassVar[Budget] = Budget(sampling_steps=1)
    supports: ClassVar[frozenset[str]] = frozenset({"sampling_steps"})

    @property
    def deterministic(self) -> bool:
        return self.noise == 0.0

    def __post_init__(self) -> None:
        for name in ("eta0", "eta_inf", "relaxation_time", "power_index", "noise"):
            check_real(getattr(self, name), name, "CarreauShearStress")
        if not (self.eta0 > 0 and 0 <= self.eta_inf <= self.eta0):
            raise OracleSetupError(f"CarreauShearStress: need eta0 > 0 and 0 <= eta_inf <= eta0, got "
                             f"eta0={self.eta0}, eta_inf={self.eta_inf}")
        if not self.relaxation_time >= 0:
            raise OracleSetupError(f"CarreauShearStress: `relaxation_time` must be >= 0, got {self.relaxation_time}")
        if not 0 < self.power_index <= 1:
            raise OracleSetupError(f"CarreauShearStress: `power_index` must be in (0, 1], got {self.power_index}")
        if not self.noise >= 0:
            raise OracleSetupError(f"CarreauShearStress: `noise` must be >= 0, got {self.noise}")

    def viscosity(self, shear_rate) -> np.ndarray:
        g = np.asarray(shear_rate, dtype=float)
        return self.eta_inf + (self.eta0 - self.eta_inf) * (
            1.0 + (self.relaxation_time * g) ** 2) ** ((self.power_index - 1) / 2)

    def stress(self, shear_rate) -> np.ndarray:
        g = np.asarray(shear_rate, dtype=float)
        return self.viscosity(g) * g

    def shear_rate_for(self, stress: float) -> float:
        """Inverse of the (monotone) flow curve by bisection + Newton-free bracketing."""
        from scipy.optimize import brentq

        if stress == 0:
            return 0.0
        sign, s = math.copysign(1.0, stress), abs(stress)
        hi = 1.0
        while self.stress(hi) < s:
            hi *= 2.0
        return sign * brentq(lambda g: float(self.stress(g)) - s, 0.0, hi, xtol=1e-15, rtol=1e-14)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        start = time.perf_counter()
        n = resolve_budget(self, budget, func=f"{type(self).__name__}.run()").sampling_steps
        state = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        tau = float(self.stress(state[0]))
        se = self.noise / math.sqrt(n)
        if se > 0:
            tau += se * np.random.default_rng(seed).standard_normal()
        return Estimate(np.array([tau]), np.array([se]), n_eff=float(n) if se > 0 else math.inf,
                        cost_s=time.perf_counter() - start)

    def run_batch(self, states: np.ndarray, *, seeds: np.ndarray, budget: Budget) -> EstimateArrays:
        """All rows at once (same bits as :meth:`run` row by row: the stress is
        evaluated element by element, as vectorised powers may round differently)."""
        budget = resolve_budget(self, budget, func=f"{type(self).__name__}.run_batch()")
        states = check_states(states, self.inputs, f"{type(self).__name__}.run_batch()")
        mean = [float(self.stress(g)) for g in states[:, 0]]
        return _noisy_batch(np.array(mean), seeds, self.noise, budget)


@dataclass(frozen=True)
class NonlinearElasticStress:
    """1D stress-strain law ``sigma = E eps + beta eps^2`` (+ optional noise).

    With ``beta = 0`` linear elasticity (sound speed sqrt(E/rho0)); with
    ``beta != 0`` the sound speed depends on strain and compressive or
    tensile pulses steepen into shocks. Inputs ``("strain",)``, outputs
    ``("stress",)``, the same as a zero-temperature MD chain oracle.
    """

    modulus: float = 1.0
    beta: float = 0.0
    noise: float = 0.0

    inputs = ("strain",)
    outputs = ("stress",)
    units: ClassVar[Mapping[str, str]] = {"strain": "1", "stress": "1"}  # stress in the units of `modulus`
    default_budget: ClassVar[Budget] = Budget(sampling_steps=1)
    supports: ClassVar[frozenset[str]] = frozenset({"sampling_steps"})

    @property
    def deterministic(self) -> bool:
        return self.noise == 0.0

    def __post_init__(self) -> None:
        for name in ("modulus", "beta", "noise"):
            check_real(getattr(self, name), name, "NonlinearElasticStress")
        if not self.modulus > 0:
            raise OracleSetupError(f"NonlinearElasticStress: `modulus` must be > 0, got {self.modulus}")
        if not self.noise >= 0:
            raise OracleSetupError(f"NonlinearElasticStress: `noise` must be >= 0, got {self.noise}")

    def stress(self, strain) -> np.ndarray:
        e = np.asarray(strain, dtype=float)
        return self.modulus * e + self.beta * e**2

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        n = resolve_budget(self, budget, func=f"{type(self).__name__}.run()").sampling_steps
        state = check_state(state, self.inputs, f"{type(self).__name__}.run()")
        sigma = float(self.stress(state[0]))
        se = self.noise / math.sqrt(n)
        if se > 0:
            sigma += se * np.random.default_rng(seed).standard_normal()
        return Estimate(np.array([sigma]), np.array([se]), n_eff=float(n) if se > 0 else math.inf)

    def run_batch(self, states: np.ndarray, *, seeds: np.ndarray, budget: Budget) -> EstimateArrays:
        """All rows at once (same bits as :meth:`run` row by row: the stress is
        evaluated element by element, as vectorised powers may round differently)."""
        budget = resolve_budget(self, budget, func=f"{type(self).__name__}.run_batch()")
        states = check_states(states, self.inputs, f"{type(self).__name__}.run_batch()")
        mean = [float(self.stress(g)) for g in states[:, 0]]
        return _noisy_batch(np.array(mean), seeds, self.noise, budget)


def _noisy_batch(mean: np.ndarray, seeds: np.ndarray, noise: float, budget: Budget) -> EstimateArrays:
    """Row-for-row the same bits as the oracles' ``run``: mean plus one
    N(0, se^2) draw from ``default_rng(seed)`` per row, se = noise/sqrt(n)."""
    n = max(1, budget.sampling_steps)
    se = noise / math.sqrt(n)
    mean = np.array(mean, dtype=float)
    if se > 0:
        mean += se * np.array([np.random.default_rng(int(z)).standard_normal() for z in seeds])
    k = mean.size
    return EstimateArrays(mean[:, None], np.full((k, 1), se), np.full(k, float(n) if se > 0 else math.inf),
                          np.full(k, math.nan))


CarreauFluid = CarreauShearStress  # the name before the redesign


NonlinearElastic = NonlinearElasticStress  # the name before the redesign
