"""Analytic space-time profiles for initial data, sources and boundary values.

A profile is a small frozen dataclass called as ``profile(*coords, t=0.0)``
with one coordinate array per axis (any common broadcast shape); it returns a
float array of that broadcast shape. Profiles can be built from TOML configs
through :func:`make_profile`:

>>> make_profile({"kind": "gaussian", "amplitude": 1.0, "center": [0.5], "width": 0.1})
Gaussian(amplitude=1.0, center=(0.5,), width=0.1)

The units are those of the quantity the profile stands for (``u`` for initial
and boundary data, ``u`` per time for sources).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validate import check_float, check_int

__all__ = ["Constant", "Gaussian", "SineProduct", "PROFILES", "make_profile"]


def _broadcast(coords: tuple[Any, ...]) -> list[np.ndarray]:
    if not coords:
        raise TypeError("profile(): at least one coordinate array is required")
    return list(np.broadcast_arrays(*(np.asarray(c, dtype=float) for c in coords)))


@dataclass(frozen=True)
class Constant:
    """Uniform profile ``p(x, t) = value``."""

    value: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", check_float(self.value, "value", "Constant()"))

    def __call__(self, *coords: Any, t: float = 0.0) -> np.ndarray:
        xs = _broadcast(coords)
        return np.full(xs[0].shape, self.value)


def _per_axis(value: Any, name: str, func: str, check: Callable[..., Any], scalar: type,
              kind: str) -> tuple:
    """A scalar or a sequence, validated entry by entry, as a non-empty tuple."""
    if isinstance(value, scalar):
        return (check(value, name, func),)
    try:
        out = tuple(check(v, name, func) for v in value)
    except TypeError:
        raise TypeError(f"{func}: `{name}` must be a sequence of {kind}, got {value!r}") from None
    if not out:
        raise ValueError(f"{func}: `{name}` must have one entry per axis, got ()")
    return out


def _axes(coords: tuple, per_axis: tuple, name: str, func: str) -> list[np.ndarray]:
    """Broadcast coordinate arrays, one per entry of the per-axis parameter ``name``."""
    xs = _broadcast(coords)
    if len(xs) != len(per_axis):
        raise ValueError(f"{func}: got {len(xs)} coordinate arrays but `{name}` has "
                         f"{len(per_axis)} entries")
    return xs


@dataclass(frozen=True)
class Gaussian:
    """Gaussian bump ``p(x) = amplitude * exp(-|x - center|^2 / (2 width^2))``.

    ``center`` has one entry per spatial axis; the profile is time independent.
    """

    amplitude: float
    center: tuple[float, ...]
    width: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude", check_float(self.amplitude, "amplitude", "Gaussian()"))
        center = _per_axis(self.center, "center", "Gaussian()", check_float, numbers.Real, "floats")
        object.__setattr__(self, "center", center)
        object.__setattr__(self, "width", check_float(self.width, "width", "Gaussian()", positive=True))

    def __call__(self, *coords: Any, t: float = 0.0) -> np.ndarray:
        xs = _axes(coords, self.center, "center", "Gaussian()")
        r2 = sum((x - c) ** 2 for x, c in zip(xs, self.center))
        return self.amplitude * np.exp(-r2 / (2.0 * self.width**2))


@dataclass(frozen=True)
class SineProduct:
    """Product of sines ``p(x) = amplitude * prod_k sin(modes[k] * pi * x_k)``.

    Intended for the unit domain ``[0, 1]^d``, where integer modes vanish on
    the boundary (the eigenfunctions of the Dirichlet Laplacian). The
    coordinates are used as given, not rescaled to the grid extent.
    """

    amplitude: float = 1.0
    modes: tuple[int, ...] = (1,)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude", check_float(self.amplitude, "amplitude", "SineProduct()"))
        modes = _per_axis(self.modes, "modes", "SineProduct()", check_int, numbers.Integral, "ints")
        object.__setattr__(self, "modes", modes)

    def __call__(self, *coords: Any, t: float = 0.0) -> np.ndarray:
        xs = _axes(coords, self.modes, "modes", "SineProduct()")
        out = np.full(xs[0].shape, self.amplitude)
        for x, m in zip(xs, self.modes):
            out = out * np.sin(m * np.pi * x)
        return out


PROFILES: dict[str, type] = {"constant": Constant, "gaussian": Gaussian, "sine": SineProduct}
"""Registry of profile kinds usable in configs (``{"kind": name, ...}``)."""


def make_profile(spec: Any, *, name: str = "spec") -> Callable[..., np.ndarray]:
    """Build a profile from a number, a config dict or a callable.

    Parameters
    ----------
    spec : float, dict or callable
        A real number gives :class:`Constant`; a dict needs the key
        ``"kind"`` (one of :data:`PROFILES`) and the remaining keys are passed
        to that class; a callable ``f(*coords, t)`` is returned unchanged.
    name : str
        Argument name used in error messages (e.g. ``"source"``).

    Raises
    ------
    ValueError
        Unknown ``kind`` (the message lists the valid kinds) or missing key.
    TypeError
        ``spec`` is none of the accepted types, or bad keyword arguments.
    """
    if isinstance(spec, numbers.Real) and not isinstance(spec, bool):
        return Constant(float(spec))
    if isinstance(spec, dict):
        params = dict(spec)
        if "kind" not in params:
            raise ValueError(
                f"make_profile(): `{name}` dict needs a 'kind' key, one of {sorted(PROFILES)}"
            )
        kind = params.pop("kind")
        try:
            cls = PROFILES[kind]
        except (KeyError, TypeError):
            raise ValueError(
                f"make_profile(): unknown {name} kind {kind!r}; valid kinds are {sorted(PROFILES)}"
            ) from None
        try:
            return cls(**params)
        except TypeError as err:
            raise TypeError(f"make_profile(): bad parameters for `{name}` kind {kind!r}: {err}") from err
    if callable(spec):
        return spec
    raise TypeError(
        f"make_profile(): `{name}` must be a real number, a dict with key 'kind' "
        f"({sorted(PROFILES)}) or a callable f(*coords, t), got {type(spec).__name__}"
    )
