"""Small misbehaving oracles for the Coupler tests (importable by Dask workers).

Call counters live in files under ``tag`` (a tmp dir), so they count runs
across processes without any global state in the oracle object.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from hmm import Budget, Estimate
from hmm.contract import OracleSetupError


def _bump(tag: str) -> int:
    os.makedirs(tag, exist_ok=True)
    path = os.path.join(tag, "calls")
    n = int(open(path).read()) + 1 if os.path.exists(path) else 1
    with open(path, "w") as fh:
        fh.write(str(n))
    return n


def calls(tag: str) -> int:
    """Runs counted under ``tag`` so far."""
    path = os.path.join(tag, "calls")
    return int(open(path).read()) if os.path.exists(path) else 0


@dataclass(frozen=True)
class CountingOracle:
    tag: str
    inputs = ("s0", "s1")
    outputs = ("value",)

    def calls(self) -> int:
        return calls(self.tag)

    def run(self, state, *, seed, budget):
        _bump(self.tag)
        return Estimate([state.sum() + seed % 1000], [0.0])


@dataclass(frozen=True)
class FlakyOracle:
    """Raises on its first ``failures`` calls, then answers ``state[0]``."""

    tag: str
    failures: int = 1
    inputs = ("s0",)
    outputs = ("value",)

    def run(self, state, *, seed, budget):
        if _bump(self.tag) <= self.failures:
            raise RuntimeError("transient")
        return Estimate([state[0]], [0.0])


@dataclass(frozen=True)
class NaNOracle:
    """Returns NaN for negative input (an exploding micro run)."""

    inputs = ("s0",)
    outputs = ("value",)

    def run(self, state, *, seed, budget):
        return Estimate([np.sqrt(state[0]) if state[0] >= 0 else np.nan], [0.0])


@dataclass(frozen=True)
class WrongShapeOracle:
    inputs = ("s0",)
    outputs = ("value",)

    def run(self, state, *, seed, budget):
        return Estimate([1.0, 2.0])


@dataclass(frozen=True)
class SetupErrorOracle:
    """Refuses every state as a setup error (counts its calls)."""

    tag: str
    inputs = ("s0",)
    outputs = ("value",)

    def calls(self) -> int:
        return calls(self.tag)

    def run(self, state, *, seed, budget):
        _bump(self.tag)
        raise OracleSetupError("s0 outside the model's domain")


@dataclass(frozen=True)
class DeclaredOracle:
    """Declares its class data: honours only ``sampling_steps`` (default 100),
    answers the number of steps it ran."""

    tag: str
    inputs = ("s0",)
    outputs = ("value",)
    units = {"s0": "1", "value": "steps"}
    default_budget = Budget(sampling_steps=100)
    supports = frozenset({"sampling_steps"})
    deterministic = True

    def calls(self) -> int:
        return calls(self.tag)

    def run(self, state, *, seed, budget):
        _bump(self.tag)
        return Estimate([float(budget.sampling_steps)], [0.0])


@dataclass(frozen=True)
class SlowNoisyFlux:
    """A cheap stochastic flux closure ``q = k grad_x + noise * N(0, 1)`` that
    takes ``delay_s`` of wall time per run and reports a fixed, exactly
    representable cost (2**-10 s), so every result, including the recorded
    micro seconds, is a pure function of the queries and seeds."""

    k: float = 1.0
    noise: float = 1e-3
    delay_s: float = 0.0
    inputs = ("x", "grad_x")
    outputs = ("flux",)
    units = {"x": "m", "grad_x": "K/m", "flux": "K m/s"}

    def run(self, state, *, seed, budget):
        import time

        if self.delay_s:
            time.sleep(self.delay_s)
        z = np.random.default_rng(seed).standard_normal()
        return Estimate([self.k * state[1] + self.noise * z], [self.noise], n_eff=1.0, cost_s=2.0 ** -10)


def _mark(tag: str) -> None:
    """Count one run under ``tag`` with a file of its own (safe across processes)."""
    import uuid

    os.makedirs(tag, exist_ok=True)
    open(os.path.join(tag, f"run-{uuid.uuid4().hex}"), "w").close()


def marks(tag: str) -> int:
    """Runs counted by :func:`_mark` under ``tag``."""
    return sum(1 for name in os.listdir(tag) if name.startswith("run-")) if os.path.isdir(tag) else 0


@dataclass(frozen=True)
class SlowCountingOracle:
    """Stochastic ``value = s0 + N(0, 0.1)`` after ``delay_s`` of wall time; counts its runs."""

    tag: str
    delay_s: float = 0.05
    inputs = ("s0",)
    outputs = ("value",)

    def run(self, state, *, seed, budget):
        import time

        time.sleep(self.delay_s)
        _mark(self.tag)
        z = np.random.default_rng(seed).standard_normal()
        return Estimate([state[0] + 0.1 * z], [0.1], n_eff=1.0, cost_s=self.delay_s)


@dataclass(frozen=True)
class FailingAt:
    """Stochastic ``value = 2 s0 + N(0, 0.01)``; every run at an ``s0`` in ``bad``
    fails (an OracleRunError, whatever the seed); a run at ``slow`` sleeps ``sleep_s``."""

    bad: tuple = ()
    slow: float = float("nan")
    sleep_s: float = 0.0
    inputs = ("s0",)
    outputs = ("value",)

    def run(self, state, *, seed, budget):
        from hmm.contract import OracleRunError

        if state[0] in self.bad:
            raise OracleRunError(f"blew up at s0={state[0]}")
        if state[0] == self.slow:
            import time

            time.sleep(self.sleep_s)
        z = np.random.default_rng(seed).standard_normal()
        return Estimate([2.0 * state[0] + 0.01 * z], [0.01], n_eff=1.0, cost_s=2.0 ** -10)


@dataclass(frozen=True)
class HoleyFlux:
    """``q = k grad_x + noise N(0, 1)``, but every run at a face with ``lo < x < hi`` fails."""

    k: float = 1.0
    noise: float = 1e-3
    lo: float = 0.45
    hi: float = 0.55
    inputs = ("x", "grad_x")
    outputs = ("flux",)

    def run(self, state, *, seed, budget):
        from hmm.contract import OracleRunError

        if self.lo < state[0] < self.hi:
            raise OracleRunError("the micro model has a hole here")
        z = np.random.default_rng(seed).standard_normal()
        return Estimate([self.k * state[1] + self.noise * z], [self.noise], n_eff=1.0, cost_s=2.0 ** -10)
