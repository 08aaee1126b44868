r"""Gap-tooth scheme and patch dynamics for 1D spatially extended problems.

The macro field is known by its averages ``U_i`` over small teeth of width
``h`` centred at coarse points ``x_i`` (spacing ``H >> h``). One gap-tooth step
(Gear, Li & Kevrekidis, Phys. Lett. A 316, 190, 2003; Samaey, Roose &
Kevrekidis, Multiscale Model. Simul. 4, 278, 2005):

1. build the local quadratic interpolant of (U_{i-1}, U_i, U_{i+1}) around
   each tooth: slope s_i = (U_{i+1} - U_{i-1}) / 2H, curvature
   c_i = (U_{i+1} - 2 U_i + U_{i-1}) / 2H^2;
2. lift a micro state in each tooth consistent with it;
3. run the micro model for ``dt`` with the tooth's boundary gradients held at
   the interpolant's derivative there, s_i -+ c_i h (every tooth is one query
   of one batch of Dask futures);
4. restrict: the new tooth averages.

For diffusion this is a consistent, second-order (in H) scheme. **Patch
dynamics** adds projective integration in time: :class:`GapTooth` offers the
coarse-stepper interface (``run(U, params, record_times)``), so
:func:`hmm.ef.projective_integrate` extrapolates over the gaps in time.
Boundaries: periodic, or Dirichlet values at both ends (ghost points by
reflection through the boundary value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..accounting import Accounting
from ..contract import Budget, Estimate
from ..coupler import Coupler
from ._compose import UNSET as _UNSET
from .models import ToothModel
from .stepper import CoarseRecords


@dataclass(frozen=True)
class ToothBurst:
    """Oracle: one tooth, lift from (value, slope, curvature), run ``dt``, restrict.

    ``model`` is a :class:`hmm.ef.ToothModel`: ``lift(value, slope, curvature,
    width, rng)``, ``micro(state, slope_left, slope_right, width, duration,
    rng)`` and ``restrict(state) -> float``.
    """

    model: ToothModel
    width: float
    dt: float

    inputs = ("value", "slope", "curvature")
    outputs = ("average",)

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        value, slope, curv = (float(v) for v in state)
        rng = np.random.default_rng(seed)
        micro = self.model.lift(value, slope, curv, self.width, rng)
        half = 0.5 * self.width
        micro = self.model.micro(micro, slope - 2 * curv * half, slope + 2 * curv * half, self.width,
                                 self.dt, rng)
        return Estimate(np.array([self.model.restrict(micro)]), np.zeros(1), n_eff=1.0)


class GapTooth:
    """Gap-tooth time-stepper on coarse points ``x`` (uniform spacing H).

    Construction (one implementation underneath, same bits):

    * ``GapTooth(model, x, coupler)`` -- ``coupler`` is a :class:`hmm.Coupler`
      of ``ToothBurst(model, width, dt)``, which sets the tooth width and the
      step; the caller owns (and closes) it;
    * ``GapTooth(model, x, width, dt, client=..., seed=..., cache=...)`` --
      compatibility form: the stepper builds (and closes) the Coupler
      (defaults ``client="sync"``, ``seed=0``, ``cache=None``).

    Parameters
    ----------
    model : ToothModel
        Tooth micro model (see :class:`hmm.ef.ToothModel`).
    x : array_like (n,)
        Tooth centres, uniformly spaced.
    width : hmm.Coupler or float
        The Coupler of the tooth bursts, or the tooth width h (0 < h <= H) of
        the compatibility form.
    dt : float
        Gap-tooth time step (compatibility form; the Coupler's ``ToothBurst.dt`` otherwise).
    boundary : "periodic" or (left, right)
        Periodic domain of length n H, or Dirichlet values at the domain
        ends x_0 - H/2 and x_{n-1} + H/2 (the ghost points x_0 - H and
        x_{n-1} + H get the values reflected through them).
    replicas : int
        Independent tooth runs per step, averaged (stderr from their spread).
    budget : hmm.Budget, optional
        Budget of every tooth run.
    coupler : hmm.Coupler, optional
        Keyword spelling of the first form.

    Attributes
    ----------
    accounting : hmm.Accounting
        Micro work done through this stepper (the Coupler's ledger since it was built).
    micro_seconds, calls
        ``accounting.micro_seconds`` and ``accounting.batches`` (one per gap-tooth step).
    """

    coarse_names = ("U",)

    def __init__(self, model: ToothModel, x: Any, width: Coupler | float | None = None,
                 dt: float | None = None, *, boundary: Any = "periodic", replicas: int = 1,
                 budget: Budget | None = None, coupler: Coupler | None = None, client: Any = _UNSET,
                 seed: Any = _UNSET, cache: Any = _UNSET) -> None:
        if isinstance(width, Coupler):
            if coupler is not None:
                raise TypeError("GapTooth(): give the Coupler once (positionally or as `coupler`)")
            coupler, width = width, None
        options = {k: v for k, v in dict(client=client, seed=seed, cache=cache).items() if v is not _UNSET}
        if coupler is not None:
            burst = coupler.oracle if isinstance(coupler, Coupler) else None
            if not isinstance(burst, ToothBurst):
                raise TypeError("GapTooth(): `coupler` must be a hmm.Coupler of a hmm.ef.ToothBurst, got "
                                f"{type(coupler).__name__ if burst is None else type(burst).__name__}")
            if options or width is not None or dt is not None:
                raise TypeError("GapTooth(model, x, coupler): the width and step come from the Coupler's "
                                "ToothBurst, and client/seed/cache from the Coupler")
            if burst.model != model:
                raise ValueError("GapTooth(): `model` must be the ToothModel the Coupler's ToothBurst runs")
            width, dt = burst.width, burst.dt
        elif width is None or dt is None:
            raise TypeError("GapTooth(): pass (model, x, coupler) or (model, x, width, dt)")
        if not isinstance(model, ToothModel):
            raise TypeError("GapTooth(): `model` must provide lift(value, slope, curvature, width, rng), "
                            "micro(state, slope_left, slope_right, width, duration, rng) and restrict(state), "
                            f"got {type(model).__name__}")
        x = np.asarray(x, dtype=float)
        if x.ndim != 1 or x.size < 3:
            raise ValueError(f"GapTooth(): `x` must be 1-D with >= 3 tooth centres, got shape {x.shape}")
        H = np.diff(x)
        if not np.allclose(H, H[0], rtol=1e-9) or H[0] <= 0:
            raise ValueError("GapTooth(): tooth centres `x` must be increasing and uniformly spaced")
        if not 0 < width <= H[0]:
            raise ValueError(f"GapTooth(): `width` must be in (0, H={H[0]:g}], got {width}")
        if not dt > 0:
            raise ValueError(f"GapTooth(): `dt` must be > 0, got {dt}")
        if boundary != "periodic" and (np.shape(boundary) != (2,)):
            raise ValueError("GapTooth(): `boundary` must be 'periodic' or (left, right) Dirichlet values")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
            raise ValueError(f"GapTooth(): `replicas` must be an int >= 1, got {replicas!r}")
        self.x, self.H, self.width, self.dt = x, float(H[0]), float(width), float(dt)
        self.boundary, self.replicas, self.budget = boundary, replicas, budget or Budget()
        self._owns = coupler is None
        if coupler is None:
            legacy = dict(client="sync", seed=0, cache=None)
            legacy.update(options)
            coupler = Coupler(ToothBurst(model, self.width, self.dt), legacy.pop("client"), **legacy)
        self.coupler = coupler
        self._start = coupler.accounting
        self._step_index = 0

    @property
    def accounting(self) -> Accounting:
        """Micro work done through this stepper (the Coupler's ledger since it was built)."""
        return self.coupler.accounting - self._start

    @property
    def micro_seconds(self) -> float:
        """Micro seconds spent by fresh tooth runs (``accounting.micro_seconds``)."""
        return self.accounting.micro_seconds

    @property
    def calls(self) -> int:
        """Gap-tooth steps taken (``accounting.batches``: one batch of teeth per step)."""
        return self.accounting.batches

    def _ghosts(self, U: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.boundary == "periodic":
            return np.roll(U, 1), np.roll(U, -1)
        left, right = (float(b) for b in self.boundary)
        prev = np.concatenate([[2 * left - U[0]], U[:-1]])
        nxt = np.concatenate([U[1:], [2 * right - U[-1]]])
        return prev, nxt

    def step(self, U: Any) -> tuple[np.ndarray, np.ndarray]:
        """One gap-tooth step of length ``dt``: (new averages, their stderr)."""
        U = np.asarray(U, dtype=float).reshape(-1)
        if U.shape != self.x.shape:
            raise ValueError(f"GapTooth.step(): `U` must have shape {self.x.shape}, got {U.shape}")
        prev, nxt = self._ghosts(U)
        slope = (nxt - prev) / (2 * self.H)
        curvature = (nxt - 2 * U + prev) / (2 * self.H**2)
        states = np.repeat(np.column_stack([U, slope, curvature]), self.replicas, axis=0)
        replica = np.tile(np.arange(self.replicas), U.size) + self.replicas * self._step_index
        batch = self.coupler.evaluate(states, self.budget, replica=replica)
        self._step_index += 1
        values = batch.mean[:, 0].reshape(U.size, self.replicas)
        se = values.std(axis=1, ddof=1) / np.sqrt(self.replicas) if self.replicas > 1 else np.zeros(U.size)
        return values.mean(axis=1), se

    def run(self, U: Any, params: Any = (), record_times: Any = (1.0,), **_: Any) -> CoarseRecords:
        """Coarse-stepper interface for :func:`hmm.ef.projective_integrate`
        (patch dynamics): record times must be multiples of ``dt``."""
        U = np.asarray(U, dtype=float).reshape(-1)
        times = np.atleast_1d(np.asarray(record_times, dtype=float))
        steps = np.rint(times / self.dt).astype(int)
        if not np.allclose(steps * self.dt, times, rtol=1e-9, atol=1e-15) or np.any(steps < 1):
            raise ValueError(f"GapTooth.run(): record times must be positive multiples of dt={self.dt:g}")
        means, ses, se = [], [], np.zeros_like(U)
        before = self.micro_seconds
        for k in range(1, steps.max() + 1):
            U, step_se = self.step(U)
            se = np.hypot(se, step_se)
            if k in steps:
                means.append(U.copy())
                ses.append(se.copy())
        return CoarseRecords(times, np.array(means)[None], np.array(ses)[None], self.micro_seconds - before,
                             self.replicas)

    @property
    def n_coarse(self) -> int:
        return self.x.size

    def close(self) -> None:
        """Close the Coupler if the stepper built it (the compatibility form)."""
        if self._owns:
            self.coupler.close()

    def __enter__(self) -> "GapTooth":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
