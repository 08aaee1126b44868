r"""Uncertain oracle parameters: distributions, designs and the oracles they give.

An uncertain parameter is a dataclass field of an oracle (an LJ ``epsilon``,
a DPD repulsion ``a``, a KMC rate) with a :mod:`scipy.stats` distribution.
A design of ``n`` points is drawn in the unit cube ``[0, 1)^d`` by a
scrambled, seeded :mod:`scipy.stats.qmc` engine (or plain random numbers)
and mapped to each parameter by its distribution's inverse CDF, ``theta_j =
F_j^{-1}(v_j)``: the parameters are independent with exactly the given
marginals. Each design point becomes an oracle by ``dataclasses.replace``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from scipy import stats

DESIGNS = ("sobol", "halton", "lhs", "random")
"""Designs of :func:`sample_parameters`."""

UNIT_CLIP = 1e-12
"""Unit-cube coordinates are clipped to ``[UNIT_CLIP, 1 - UNIT_CLIP]`` before the inverse CDF
(an unbounded distribution has infinite quantiles at 0 and 1)."""


def make_distribution(spec: Any, name: str = "parameter") -> Any:
    """A frozen :mod:`scipy.stats` distribution from a distribution or a table.

    A table names the distribution by ``dist`` (a continuous distribution of
    :mod:`scipy.stats`: ``"norm"``, ``"uniform"``, ``"lognorm"``,
    ``"truncnorm"``, ...) and gives its scipy parameters (``loc``,
    ``scale``, shape parameters such as ``s``); ``{dist = "uniform", low =
    a, high = b}`` is accepted for ``loc = a, scale = b - a``.

    Raises
    ------
    ValueError
        Unknown distribution, parameters it does not take, or parameters
        outside its domain (e.g. a negative ``scale``), naming ``name``.
    TypeError
        ``spec`` is neither a distribution nor a mapping.
    """
    if hasattr(spec, "ppf") and hasattr(spec, "dist"):
        dist = spec
    elif isinstance(spec, Mapping):
        args = dict(spec)
        kind = args.pop("dist", None)
        family = getattr(stats, kind, None) if isinstance(kind, str) else None
        if not isinstance(family, stats.rv_continuous):
            raise ValueError(f"{name}: `dist` must name a continuous distribution of scipy.stats "
                             f"(e.g. 'norm', 'uniform', 'lognorm'), got {kind!r}")
        if kind == "uniform" and ({"low", "high"} & set(args)):
            if not {"low", "high"} <= set(args) or {"loc", "scale"} & set(args):
                raise ValueError(f"{name}: a uniform distribution takes `low` and `high` (or `loc` and `scale`)")
            low, high = args.pop("low"), args.pop("high")
            if not (_is_number(low) and _is_number(high) and high > low):
                raise ValueError(f"{name}: a uniform distribution needs numbers low < high, got {low!r}, {high!r}")
            args.update(loc=low, scale=high - low)
        bad = [k for k, v in args.items() if not _is_number(v)]
        if bad:
            raise ValueError(f"{name}: distribution parameter {bad[0]!r} must be a number, got {args[bad[0]]!r}")
        try:
            dist = family(**args)
        except TypeError as exc:
            shapes = family.shapes or "none"
            raise ValueError(f"{name}: {kind} does not take these parameters ({exc}); it takes loc, scale "
                             f"and the shape parameters {shapes}") from None
    else:
        raise TypeError(f"{name}: expected a scipy.stats distribution or a table with `dist`, "
                        f"got {type(spec).__name__}")
    with np.errstate(all="ignore"):
        q = np.asarray(dist.ppf([0.25, 0.5, 0.75]), dtype=float)
    if not (np.all(np.isfinite(q)) and q[2] > q[0]):
        raise ValueError(f"{name}: invalid parameters for {dist.dist.name} (args {dist.args}, kwds {dist.kwds}): "
                         "its quantiles are not finite")
    return dist


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) and math.isfinite(v)


def parameter_names(target: Any) -> list[str]:
    """Settable parameters of an oracle or of a factory.

    An oracle's are its init dataclass fields, and, for a field holding a
    dataclass instance (a coefficient, a potential), that instance's fields
    as dotted names (``coefficient.a0``); a factory's are its keywords.
    """
    if dataclasses.is_dataclass(target):
        names = []
        for f in dataclasses.fields(target):
            if not f.init:
                continue
            names.append(f.name)
            value = getattr(target, f.name, None)
            if dataclasses.is_dataclass(value) and not isinstance(value, type) and not isinstance(target, type):
                names += [f"{f.name}.{sub}" for sub in parameter_names(value)]
        return names
    if callable(target):
        return [p.name for p in inspect.signature(target).parameters.values()
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    raise TypeError(f"expected an oracle dataclass or a factory callable, got {type(target).__name__}")


def check_parameters(target: Any, parameters: Mapping[str, Any], func: str) -> dict[str, Any]:
    """``parameters`` with every distribution built, after checking each name is a parameter of ``target``."""
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError(f"{func}: `parameters` must be a non-empty mapping name -> distribution")
    names = parameter_names(target)
    unknown = [k for k in parameters if k not in names]
    if unknown:
        what = type(target).__name__ if dataclasses.is_dataclass(target) else getattr(target, "__name__", "factory")
        raise ValueError(f"{func}: {unknown[0]!r} is not a parameter of {what} (its parameters: "
                         f"{', '.join(names)})")
    return {k: make_distribution(v, f"{func}: parameter {k!r}") for k, v in parameters.items()}


def unit_design(method: str, n: int, d: int, seed: Any) -> np.ndarray:
    """``n`` points of ``[0, 1)^d``: scrambled Sobol' or Halton, Latin hypercube, or random (seeded)."""
    from scipy.stats import qmc

    if method not in DESIGNS:
        raise ValueError(f"sample_parameters(): unknown method {method!r}; valid methods are {list(DESIGNS)}")
    rng = np.random.default_rng(seed)
    if method == "sobol":
        engine = qmc.Sobol(d, scramble=True, seed=rng)
        m = int(round(math.log2(n)))
        return engine.random_base2(m) if 2**m == n else engine.random(n)
    if method == "halton":
        return qmc.Halton(d, scramble=True, seed=rng).random(n)
    if method == "lhs":
        return qmc.LatinHypercube(d, seed=rng).random(n)
    return rng.random((n, d))


def to_values(unit: np.ndarray, distributions: Mapping[str, Any]) -> np.ndarray:
    """Unit-cube points -> parameter values by each distribution's inverse CDF (columns in order)."""
    v = np.clip(np.asarray(unit, dtype=float), UNIT_CLIP, 1.0 - UNIT_CLIP)
    return np.column_stack([dist.ppf(v[:, j]) for j, dist in enumerate(distributions.values())])


@dataclass(frozen=True)
class ParameterDesign:
    """Design points of uncertain oracle parameters.

    Attributes
    ----------
    target : oracle or callable
        The base oracle (design points are ``dataclasses.replace(target,
        **point)``) or a factory ``target(**point) -> oracle``.
    distributions : dict
        Parameter name -> frozen scipy.stats distribution.
    unit : ndarray, shape (n, d)
        The design in the unit cube.
    values : ndarray, shape (n, d)
        Parameter values (columns in the order of ``names``).
    method : str
        The design (``"sobol"``, ``"halton"``, ``"lhs"``, ``"random"`` or ``"saltelli"``).
    seed : int
        Seed of the design.
    """

    target: Any
    distributions: dict
    unit: np.ndarray
    values: np.ndarray
    method: str
    seed: Any

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.distributions)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    def point(self, i: int) -> dict[str, float]:
        """Design point ``i`` as name -> value."""
        return {k: float(v) for k, v in zip(self.names, self.values[i])}

    def oracle(self, i: int) -> Any:
        """The oracle of design point ``i``."""
        return make_oracle(self.target, self.point(i))

    def oracles(self) -> list:
        """The oracles of every design point."""
        return [self.oracle(i) for i in range(self.n)]

    def __len__(self) -> int:
        return self.n


def make_oracle(target: Any, point: Mapping[str, float]) -> Any:
    """``dataclasses.replace(target, **point)`` for an oracle (a dotted name ``coefficient.a0`` replaces
    the field of the nested dataclass), ``target(**point)`` for a factory."""
    if not (dataclasses.is_dataclass(target) and not isinstance(target, type)):
        return target(**point)
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, float]] = {}
    for key, value in point.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            direct[key] = value
    for head, sub in nested.items():
        direct[head] = make_oracle(direct.get(head, getattr(target, head)), sub)
    return dataclasses.replace(target, **direct)


def sample_parameters(oracle_or_factory: Any, parameters: Mapping[str, Any], n: int, *,
                      method: str = "sobol", seed: int = 0) -> ParameterDesign:
    """A seeded design of ``n`` points of the uncertain oracle parameters.

    Parameters
    ----------
    oracle_or_factory : oracle dataclass or callable
        The oracle whose fields vary, or a factory ``f(**point) -> oracle``.
    parameters : mapping
        Field name -> a frozen ``scipy.stats`` distribution (e.g.
        ``scipy.stats.norm(1.0, 0.05)``) or a table as in
        :func:`make_distribution`.
    n : int
        Design points (>= 1; a power of two for a balanced Sobol' design).
    method : {"sobol", "halton", "lhs", "random"}
        Scrambled Sobol' or Halton points, a Latin hypercube, or plain random numbers.
    seed : int
        Seed of the scrambling / sampling.

    Returns
    -------
    ParameterDesign

    Raises
    ------
    ValueError
        A name that is not a field of the oracle (the message lists them),
        an invalid distribution, an unknown method or ``n < 1``.
    """
    func = "sample_parameters()"
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{func}: `n` must be an int >= 1, got {n!r}")
    dists = check_parameters(oracle_or_factory, parameters, func)
    unit = unit_design(method, int(n), len(dists), seed)
    return ParameterDesign(oracle_or_factory, dists, unit, to_values(unit, dists), method, seed)


def describe(dist: Any) -> str:
    """A short text of a frozen distribution: ``norm(loc=1, scale=0.05)``."""
    parts = [f"{v:g}" for v in dist.args] + [f"{k}={v:g}" for k, v in dist.kwds.items()]
    return f"{dist.dist.name}({', '.join(parts)})"

