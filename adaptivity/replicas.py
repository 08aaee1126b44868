r"""Replica allocation: how many more independent bursts a noisy coarse state needs.

A stochastic coarse time-stepper estimates :math:`\Phi_\tau(U)` by the mean
of ``R`` independent bursts; its standard error is
:math:`\hat\sigma / \sqrt{R}`, with :math:`\hat\sigma` the replicas' spread.
A replica policy is the statistical indicator of that estimate at work
(``sample_more``): told the stderr and replica count of every state, it
proposes how many more replicas each one gets. It only decides; the stepper
(:class:`hmm.ef.CoarseStepper`) runs the extra bursts through its Coupler.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np

__all__ = ["ReplicaPolicy", "StderrTargetPolicy"]


@runtime_checkable
class ReplicaPolicy(Protocol):
    """Proposes extra replicas per coarse state.

    Attributes
    ----------
    min_replicas : int
        Replicas a state must already have for the policy to judge it (2 for
        a policy that reads the spread).
    """

    min_replicas: int

    def propose(self, stderr: np.ndarray, replicas: np.ndarray) -> np.ndarray:
        """Extra replicas (int array (m,), >= 0) for states whose replica mean
        has standard error ``stderr`` (m,) from ``replicas`` (m,) replicas."""
        ...


@dataclass(frozen=True)
class StderrTargetPolicy:
    r"""Enough replicas for a target standard error, in one more round.

    A state with ``R`` replicas and stderr :math:`s` gets
    :math:`\lceil R\,(s / s_\mathrm{target})^2 \rceil` replicas in all (the
    spread :math:`\hat\sigma = s\sqrt R` predicts that many reach the
    target), at most ``max_replicas`` and never fewer than it has.

    Parameters
    ----------
    target_stderr : float
        Target standard error of every coarse variable (units of the coarse
        variables), > 0.
    max_replicas : int
        Cap on the replicas per state, >= 1.
    """

    target_stderr: float
    max_replicas: int = 64

    min_replicas: ClassVar[int] = 2

    def __post_init__(self) -> None:
        t = self.target_stderr
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not (math.isfinite(t) and t > 0):
            raise ValueError(f"StderrTargetPolicy(): `target_stderr` must be a finite number > 0, got {t!r}")
        m = self.max_replicas
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise ValueError(f"StderrTargetPolicy(): `max_replicas` must be an int >= 1, got {m!r}")
        object.__setattr__(self, "target_stderr", float(t))

    def propose(self, stderr: np.ndarray, replicas: np.ndarray) -> np.ndarray:
        """Extra replicas per state: ``clip(ceil(R (s / target)^2), R, max_replicas) - R``."""
        stderr = np.asarray(stderr, dtype=float)
        replicas = np.asarray(replicas)
        if stderr.shape != replicas.shape or stderr.ndim != 1:
            raise ValueError(f"StderrTargetPolicy.propose(): `stderr` and `replicas` must be 1-D of one "
                             f"shape, got {stderr.shape} and {replicas.shape}")
        need = np.ceil(replicas * (stderr / self.target_stderr) ** 2).astype(int)
        return np.clip(need, replicas, self.max_replicas) - replicas
