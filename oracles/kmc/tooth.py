r"""A lattice-KMC tooth with buffers for the gap-tooth scheme (:class:`hmm.ef.GapTooth`).

One tooth is a strip of ``rows`` x (``inner`` + 2 ``buffer``) sites (lattice
constant a = 1, periodic along the rows) closed by two reservoir columns
(:class:`oracles.kmc.Reservoirs`). Given the local quadratic interpolant of
the macro coverage around the tooth centre,

.. math:: \theta(x) = U + s\,x + c\,(x^2 - \langle x^2\rangle_{inner}),

the tooth is lifted column by column (each column gets round(theta(x) rows)
particles with stochastic rounding, so the expected inner average is exactly
U), the reservoirs hold theta at the two bath columns x = -+(inner/2 +
buffer + 1/2), the lattice runs for the gap-tooth step, and the tooth
average is the coverage of the ``inner`` central columns (Samaey, Roose &
Kevrekidis, "patch dynamics with buffers", J. Comput. Phys. 207, 2005). The
buffers keep the inner region away from the boundary layers that held
reservoir values create: for a step dt the layers reach about
sqrt(D dt), D = k_hop a^2, so ``buffer`` should be >= 2 sqrt(D dt).

For :class:`oracles.kmc.LatticeGas` (adsorption, desorption and exclusion
hopping) the expected coverage obeys the linear reaction-diffusion equation
theta_t = D theta_xx + k_a (1 - theta) - k_d theta exactly on the lattice
(the exclusion terms cancel for symmetric hopping), so gap-tooth KMC can be
checked against that equation.

Noise: the tooth average moves by particles crossing the inner region's
edges, variance ~ k_hop dt / (rows inner^2) per step, accumulated over the
steps (the coarse dynamics damps it only on the macro time scale), so the
gap-tooth profile is noisier than a window average of a full lattice; its
stderr comes from replicas (:class:`hmm.ef.GapTooth` ``replicas``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from hmm.contract import OracleSetupError

from .._validate import check_int
from .lattice import simulate
from .models import Reservoirs


class ToothState(NamedTuple):
    """A lifted tooth: the lattice (reservoir columns included) and the bath coverages."""

    lattice: np.ndarray
    left: float
    right: float


def lift_columns(profile: np.ndarray, rows: int, rng: np.random.Generator) -> np.ndarray:
    """An (rows, len(profile)) int8 lattice of species 1 with column coverages
    ``profile`` in expectation: round(theta rows) particles per column by
    stochastic rounding, placed on random rows (vectorised, no loop per site)."""
    target = np.clip(np.asarray(profile, dtype=float), 0.0, 1.0) * rows
    counts = np.floor(target + rng.random(target.shape)).astype(np.int64)
    ranks = np.argsort(rng.random((rows, target.size)), axis=0).argsort(axis=0)
    return (ranks < counts[None, :]).astype(np.int8)


@dataclass(frozen=True)
class KMCTooth:
    """Lattice-KMC tooth for :class:`hmm.ef.ToothBurst` (one species, e.g. ``LatticeGas``).

    Parameters
    ----------
    model
        A one-species surface model (``LatticeGas``).
    rows : int
        Sites across the strip (periodic): more rows, less noise.
    buffer : int
        Buffer columns on each side of the inner region (>= 1).

    The gap-tooth ``width`` (macro length units = lattice constants) is the
    number of inner columns and must be a positive integer. The slopes passed
    to :meth:`micro` are not used: this tooth is driven by the reservoir
    values set at :meth:`lift` from the interpolant.
    """

    model: Any
    rows: int = 32
    buffer: int = 4

    def __post_init__(self) -> None:
        if len(getattr(self.model, "species", ())) != 1:
            raise OracleSetupError("KMCTooth: `model` must have exactly one species (e.g. LatticeGas)")
        check_int(self.rows, "rows", "KMCTooth", minimum=2)
        check_int(self.buffer, "buffer", "KMCTooth", minimum=1)

    def _inner(self, width: float) -> int:
        inner = int(round(width))
        if inner < 1 or abs(inner - width) > 1e-9:
            raise OracleSetupError(f"KMCTooth: the tooth width must be a positive whole number of columns, got {width}")
        return inner

    def columns(self, width: float) -> np.ndarray:
        """Positions (relative to the tooth centre) of the simulated columns."""
        n = self._inner(width) + 2 * self.buffer
        return np.arange(n) - (n - 1) / 2

    def lift(self, value: float, slope: float, curvature: float, width: float,
             rng: np.random.Generator) -> ToothState:
        inner = self._inner(width)
        x = self.columns(width)
        x_in = x[self.buffer:self.buffer + inner]
        m2 = float(np.mean(x_in**2))
        profile = value + slope * x + curvature * (x**2 - m2)
        edge = (x[-1] + 1.0)
        left = float(np.clip(value - slope * edge + curvature * (edge**2 - m2), 0.0, 1.0))
        right = float(np.clip(value + slope * edge + curvature * (edge**2 - m2), 0.0, 1.0))
        lattice = np.zeros((self.rows, x.size + 2), dtype=np.int8)
        lattice[:, 1:-1] = lift_columns(profile, self.rows, rng)
        return ToothState(lattice, left, right)

    def micro(self, state: ToothState, slope_left: float, slope_right: float, width: float,
              duration: float, rng: np.random.Generator) -> ToothState:
        """Run the tooth for ``duration`` with the reservoirs at the lifted bath coverages."""
        if not (math.isfinite(duration) and duration >= 0):
            raise OracleSetupError(f"KMCTooth.micro(): `duration` must be a finite time >= 0, got {duration}")
        run = simulate(state.lattice, self.model, t_burst=float(duration),
                       boundary=Reservoirs((state.left,), (state.right,)), seed=int(rng.integers(2**63)))
        return ToothState(run.lattice, state.left, state.right)

    def restrict(self, state: ToothState) -> float:
        """Coverage of the inner columns."""
        inner = state.lattice.shape[1] - 2 - 2 * self.buffer
        block = state.lattice[:, 1 + self.buffer:1 + self.buffer + inner]
        return float(np.mean(block == 1))


def strip_profile(model: Any, theta0: Any, t_end: float, *, left: float, right: float, columns: int,
                  rows: int, seed: int = 0) -> np.ndarray:
    """Direct KMC of the whole strip: ``rows`` x ``columns`` interior sites
    (column j at x = j, j = 1..columns) between reservoir columns at x = 0 and
    x = columns + 1 holding ``left``/``right``; lifted from ``theta0(x)``
    (callable) column by column, run for ``t_end``; returns the column
    coverages (averaged over the rows) at ``t_end``."""
    rng = np.random.default_rng(seed)
    x = np.arange(1, columns + 1, dtype=float)
    lattice = np.zeros((rows, columns + 2), dtype=np.int8)
    lattice[:, 1:-1] = lift_columns(theta0(x), rows, rng)
    run = simulate(lattice, model, t_burst=float(t_end), boundary=Reservoirs((left,), (right,)),
                   seed=int(rng.integers(2**63)))
    return run.lattice[:, 1:-1].mean(axis=0)
