r"""What an equation-free micro model provides: the :class:`CoarseModel` and :class:`ToothModel` protocols.

A *coarse model* is the micro simulator seen through coarse variables ``U``
(e.g. a mean coverage, the slow variable of a fast/slow system) and
parameters ``p``; the coarse time-stepper :math:`\Phi_\tau(U; p)` is
``restrict(micro(lift(U, p), p, tau))`` and is never written down. A
*tooth model* is the micro simulator of one small box (a tooth of width
``h``) of a spatially extended problem, driven by the local Taylor data of
the macro field and boundary gradients (gap-tooth scheme).

Both are structural protocols (``typing.Protocol``): any object with the
three methods qualifies, e.g. ``oracles.FastSlowSDE``, ``oracles.LatticeKMC``
and ``oracles.MeanFieldFlow`` (coarse models), ``oracles.DiffusionTooth`` and
``oracles.KMCTooth`` (tooth models). They must be picklable (frozen
dataclasses with module-level methods) because the bursts run on Dask
workers; all their randomness comes from the ``rng`` passed in, which the
Coupler seeds per query, so that a burst is reproducible bit for bit.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, runtime_checkable

import numpy as np

__all__ = ["CoarseModel", "ToothModel", "Lift", "Micro", "Restrict"]

Lift = Callable[[np.ndarray, np.ndarray, np.random.Generator], Any]
"""``lift(U, p, rng) -> micro state``."""
Micro = Callable[[Any, np.ndarray, float, np.random.Generator], Any]
"""``micro(state, p, duration, rng) -> micro state``."""
Restrict = Callable[[Any], np.ndarray]
"""``restrict(state) -> U``."""


@runtime_checkable
class CoarseModel(Protocol):
    """Micro model of a coarse time-stepper: lift -> micro burst -> restrict.

    Units are the model's own: ``U`` in the units of the coarse variables,
    ``duration`` in the micro model's time unit.
    """

    def lift(self, coarse: np.ndarray, params: np.ndarray, rng: np.random.Generator) -> Any:
        """A micro state consistent with the coarse variables.

        Parameters
        ----------
        coarse : ndarray, shape (n_coarse,)
            Coarse variables ``U``.
        params : ndarray, shape (n_params,)
            Parameter values ``p``.
        rng : numpy.random.Generator
            The burst's random numbers (seeded by the Coupler).
        """
        ...

    def micro(self, state: Any, params: np.ndarray, duration: float, rng: np.random.Generator) -> Any:
        """The micro state after a burst of length ``duration`` (> 0)."""
        ...

    def restrict(self, state: Any) -> np.ndarray:
        """The coarse variables of a micro state, shape (n_coarse,)."""
        ...


@runtime_checkable
class ToothModel(Protocol):
    r"""Micro model of one tooth of the gap-tooth scheme.

    The tooth of width ``h`` is centred at a coarse point; the macro field
    near it is the quadratic :math:`U(x) = v + s x + c\,(x^2 - \langle x^2\rangle)`
    (value, slope, curvature; ``x`` from the tooth centre, in macro length
    units), and its boundary gradients are that quadratic's derivative at the
    tooth edges.
    """

    def lift(self, value: float, slope: float, curvature: float, width: float,
             rng: np.random.Generator) -> Any:
        """A micro state of the tooth whose average is ``value`` (the local quadratic's data)."""
        ...

    def micro(self, state: Any, slope_left: float, slope_right: float, width: float, duration: float,
              rng: np.random.Generator) -> Any:
        """The tooth after ``duration`` with the boundary gradients held at
        ``slope_left`` / ``slope_right`` (field units per length)."""
        ...

    def restrict(self, state: Any) -> float:
        """The tooth average of the field."""
        ...
