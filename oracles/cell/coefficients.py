"""Oscillatory diffusion coefficients ``a(x, y)`` of homogenisation problems.

``x`` is the macro position and ``y = x / eps`` the fast variable on the
periodic unit cell. Every coefficient is a frozen dataclass (picklable,
hashable, identified by its fields), vectorised as ``a(x, y)`` with ``x`` and
``y`` arrays of shape ``(..., dim)``, returning shape ``(...)``, and knows its
homogenised tensor in closed form where one exists, for validation.

Units: ``a`` in the units of a diffusivity (length^2 / time); positions in
macro length units; ``y`` is dimensionless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from hmm.contract import OracleSetupError


def _modulation(x: np.ndarray, slope: float) -> np.ndarray:
    """Slow macro modulation ``1 + slope * x_1`` (positive on the unit domain for slope > -1)."""
    return 1.0 + slope * x[..., 0]


@dataclass(frozen=True)
class LayeredCosine:
    """``a(x, y) = (1 + macro_slope x_1) / (a0 + amp cos(2 pi y_axis))``.

    Layers are normal to ``axis``. Homogenised tensor (diagonal):
    across the layers the harmonic mean ``(1 + s x_1) / a0``, along them the
    arithmetic mean ``(1 + s x_1) / sqrt(a0^2 - amp^2)``
    (Bensoussan, Lions & Papanicolaou 1978, ch. 1; laminates).
    """

    a0: float = 2.0
    amp: float = 1.0
    axis: int = 0
    macro_slope: float = 0.0

    def __post_init__(self) -> None:
        if not abs(self.amp) < self.a0:
            raise OracleSetupError(f"LayeredCosine: need |amp| < a0 for a positive coefficient, "
                             f"got a0={self.a0}, amp={self.amp}")
        if self.axis not in (0, 1):
            raise OracleSetupError(f"LayeredCosine: `axis` must be 0 or 1, got {self.axis}")
        if self.macro_slope <= -1.0:
            raise OracleSetupError(f"LayeredCosine: `macro_slope` must be > -1, got {self.macro_slope}")

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _modulation(x, self.macro_slope) / (self.a0 + self.amp * np.cos(2 * np.pi * y[..., self.axis]))

    def effective_tensor(self, x: np.ndarray) -> np.ndarray:
        """Homogenised tensor at macro positions ``x`` (..., dim): shape (..., dim, dim)."""
        x = np.asarray(x, dtype=float)
        dim = x.shape[-1]
        m = _modulation(x, self.macro_slope)
        diag = np.full(dim, 1.0 / np.sqrt(self.a0**2 - self.amp**2))
        diag[self.axis] = 1.0 / self.a0
        return m[..., None, None] * np.diag(diag)


@dataclass(frozen=True)
class TwoPhaseLaminate:
    """Two phases in layers normal to ``axis``: ``a = a_high`` where
    ``frac(y_axis) < fraction``, else ``a_low``; times ``1 + macro_slope x_1``.

    Homogenised: harmonic mean across, arithmetic mean along the layers.
    """

    a_low: float = 1.0
    a_high: float = 10.0
    fraction: float = 0.5
    axis: int = 0
    macro_slope: float = 0.0

    def __post_init__(self) -> None:
        if self.a_low <= 0 or self.a_high <= 0:
            raise OracleSetupError(f"TwoPhaseLaminate: phases must be positive, got {self.a_low}, {self.a_high}")
        if not 0.0 < self.fraction < 1.0:
            raise OracleSetupError(f"TwoPhaseLaminate: `fraction` must be in (0, 1), got {self.fraction}")
        if self.axis not in (0, 1):
            raise OracleSetupError(f"TwoPhaseLaminate: `axis` must be 0 or 1, got {self.axis}")

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        phase = np.mod(y[..., self.axis], 1.0) < self.fraction
        return _modulation(x, self.macro_slope) * np.where(phase, self.a_high, self.a_low)

    def effective_tensor(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        dim = x.shape[-1]
        f = self.fraction
        harmonic = 1.0 / (f / self.a_high + (1 - f) / self.a_low)
        arithmetic = f * self.a_high + (1 - f) * self.a_low
        diag = np.full(dim, arithmetic)
        diag[self.axis] = harmonic
        return _modulation(x, self.macro_slope)[..., None, None] * np.diag(diag)


@dataclass(frozen=True)
class ConstantCoefficient:
    """``a(x, y) = value`` (no microstructure; the homogenised tensor is ``value I``)."""

    value: float = 1.0

    def __post_init__(self) -> None:
        if not self.value > 0:
            raise OracleSetupError(f"ConstantCoefficient: `value` must be > 0, got {self.value}")

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.full(np.shape(y)[:-1], float(self.value))

    def effective_tensor(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        return self.value * np.broadcast_to(np.eye(x.shape[-1]), x.shape[:-1] + (x.shape[-1],) * 2).copy()


COEFFICIENTS: dict[str, type] = {
    "layered_cosine": LayeredCosine,
    "two_phase_laminate": TwoPhaseLaminate,
    "constant": ConstantCoefficient,
}


def make_coefficient(spec: Any):
    """A coefficient from a name-keyed dict (``{"kind": "layered_cosine", ...}``) or an instance."""
    if callable(spec) and not isinstance(spec, dict):
        return spec
    if not isinstance(spec, dict) or "kind" not in spec:
        raise TypeError(f"coefficient must be a dict with a 'kind' key or a callable, got {spec!r}")
    params = dict(spec)
    kind = params.pop("kind")
    try:
        cls = COEFFICIENTS[kind]
    except KeyError:
        raise OracleSetupError(f"unknown coefficient kind {kind!r}; known kinds: {sorted(COEFFICIENTS)}") from None
    return cls(**params)


@dataclass(frozen=True)
class InclusionCosine:
    r"""Layered cosine microstructure inside a smooth macro inclusion.

    ``a(x, y) = m(x) / (a0 + amp cos(2 pi y_axis))`` with the macro modulation

    .. math::

        m(x) = 1 + s\,x_1 + \frac{h}{2}\Bigl(1 - \tanh\frac{|x - c| - r}{w}\Bigr),

    a plateau of extra height ``h`` (the inclusion) of radius ``r`` around
    ``c`` with edges of width ``w`` (steep when ``w << r``). Because ``a`` is a
    product of a macro and a micro factor, the homogenised tensor is exactly
    ``m(x)`` times that of :class:`LayeredCosine`: the harmonic mean
    ``m / a0`` across the layers and ``m / sqrt(a0^2 - amp^2)`` along them
    (Bensoussan, Lions & Papanicolaou 1978, ch. 1). Units as the module.

    Parameters
    ----------
    a0, amp : float
        Cell coefficient ``1 / (a0 + amp cos)``, ``|amp| < a0``.
    axis : int
        Layers normal to this axis (0 or 1).
    macro_slope : float
        ``s`` (per length), ``> -1``.
    height : float
        Inclusion contrast ``h`` (dimensionless), ``> -1``.
    center : tuple of float
        Inclusion centre ``c`` (length); the first ``dim`` entries are used.
    radius, width : float
        ``r >= 0`` and ``w > 0`` (length).
    """

    a0: float = 2.0
    amp: float = 1.0
    axis: int = 0
    macro_slope: float = 0.0
    height: float = 4.0
    center: tuple[float, ...] = (0.3, 0.5)
    radius: float = 0.06
    width: float = 0.015

    def __post_init__(self) -> None:
        if not abs(self.amp) < self.a0:
            raise OracleSetupError(f"InclusionCosine: need |amp| < a0, got a0={self.a0}, amp={self.amp}")
        if self.axis not in (0, 1):
            raise OracleSetupError(f"InclusionCosine: `axis` must be 0 or 1, got {self.axis}")
        if self.macro_slope <= -1.0:
            raise OracleSetupError(f"InclusionCosine: `macro_slope` must be > -1, got {self.macro_slope}")
        if self.height <= -1.0:
            raise OracleSetupError(f"InclusionCosine: `height` must be > -1, got {self.height}")
        if not (self.radius >= 0 and self.width > 0):
            raise OracleSetupError(f"InclusionCosine: need radius >= 0 and width > 0, got "
                             f"radius={self.radius}, width={self.width}")
        object.__setattr__(self, "center", tuple(float(c) for c in np.atleast_1d(self.center)))

    def modulation(self, x: np.ndarray) -> np.ndarray:
        """Macro factor ``m(x)`` at positions ``x`` (..., dim)."""
        x = np.asarray(x, dtype=float)
        dim = x.shape[-1]
        c = np.asarray(self.center[:dim] + (0.5,) * max(0, dim - len(self.center)))
        dist = np.sqrt(np.sum((x - c) ** 2, axis=-1))
        plateau = 0.5 * (1.0 - np.tanh((dist - self.radius) / self.width))
        return _modulation(x, self.macro_slope) + self.height * plateau

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.modulation(x) / (self.a0 + self.amp * np.cos(2 * np.pi * y[..., self.axis]))

    def effective_tensor(self, x: np.ndarray) -> np.ndarray:
        """Homogenised tensor at ``x`` (..., dim): shape (..., dim, dim)."""
        x = np.asarray(x, dtype=float)
        dim = x.shape[-1]
        diag = np.full(dim, 1.0 / np.sqrt(self.a0**2 - self.amp**2))
        diag[self.axis] = 1.0 / self.a0
        return self.modulation(x)[..., None, None] * np.diag(diag)



COEFFICIENTS["inclusion_cosine"] = InclusionCosine
