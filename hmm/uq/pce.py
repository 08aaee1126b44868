r"""Polynomial chaos expansion of a goal over uncertain oracle parameters (OpenTURNS, optional).

A seeded design of ``n`` points :math:`\theta_i` (scrambled Sobol', Halton,
Latin hypercube or random, :func:`hmm.uq.sample_parameters`) is run as whole
multiscale runs through the solver's one Coupler (the member machinery of
:func:`hmm.uq.epistemic`), and the goal is expanded in the polynomials
:math:`\Psi_\alpha` orthonormal under the parameters' joint distribution
(Legendre for uniform, Hermite for normal marginals, ...),

.. math::

    Q(\theta) \approx \sum_{\alpha \in \mathcal A} c_\alpha \Psi_\alpha(\theta),
    \qquad \mathcal A = \{\alpha : \|\alpha\|_q \le p\},

with the coefficients fitted by least squares (``degree`` :math:`p`,
hyperbolic truncation ``q_norm`` :math:`q`; :math:`q = 1` is the total
degree). Orthonormality gives the moments and Sobol' indices from the
coefficients (Sudret 2008, Reliab. Eng. Syst. Saf. 93, 964):
:math:`E Q = c_0`, :math:`\operatorname{Var} Q = \sum_{\alpha \ne 0}
c_\alpha^2`, the first-order index of :math:`\theta_j` the share of the
terms in :math:`\theta_j` alone, its total index the share of all terms
that involve :math:`\theta_j`.

The surrogate's accuracy is the leave-one-out error (analytical, from the
least-squares hat matrix), reported relative to the sample variance of the
goal. For a smooth goal it falls fast with the degree and a few hundred
runs replace the tens of thousands of a Saltelli design. For a goal that is
not smooth in the parameters (a kink, a jump, a discrete count) or a noisy
one, it stays large: the expansion then converges slowly or fits noise, and
its moments and indices are not to be trusted; the sampling estimates of
:func:`hmm.uq.epistemic` are. With micro noise (``n_aleatoric`` runs per
point) the expansion fits :math:`E[Q \mid \theta]` plus noise: its variance
then holds about ``basis_size / n`` of the aleatoric variance per run.

OpenTURNS is an optional extra (``pip install 'hmm-ef[pce]'``); it is
imported only when a study runs.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from .epistemic import _independent
from .goals import goal_name, make_goal
from .parameters import DESIGNS, ParameterDesign, check_parameters, describe, to_values, unit_design
from .propagate import check_n
from ._members import check_member_kwargs, check_mode, member_seeds

INSTALL_HINT = "pip install 'hmm-ef[pce]'"
"""How to install the optional OpenTURNS dependency."""


def import_openturns() -> Any:
    """The ``openturns`` module, or an ImportError naming the ``pce`` extra."""
    try:
        import openturns as ot
    except ImportError as exc:
        raise ImportError(f"hmm.uq.pce_study() needs OpenTURNS, an optional extra: {INSTALL_HINT} "
                          f"(or pip install openturns); import failed: {exc}") from exc
    ot.Log.Show(ot.Log.NONE)  # no OpenTURNS warnings on the console; errors are raised
    return ot


def _scipy_parameters(dist: Any) -> tuple[dict[str, float], float, float]:
    """Shape parameters (by name), ``loc`` and ``scale`` of a frozen scipy.stats distribution."""
    family = dist.dist
    names = [s.strip() for s in family.shapes.split(",")] if family.shapes else []
    bound = inspect.Signature([inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                               for k in names] + [
        inspect.Parameter("loc", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0.0),
        inspect.Parameter("scale", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=1.0)]).bind(
            *dist.args, **dist.kwds)
    bound.apply_defaults()
    args = {k: float(v) for k, v in bound.arguments.items()}
    loc, scale = args.pop("loc"), args.pop("scale")
    return args, loc, scale


def _native(ot: Any, dist: Any) -> Any:
    """The OpenTURNS distribution of a scipy.stats family it has natively, else None."""
    shapes, loc, scale = _scipy_parameters(dist)
    name = dist.dist.name
    if name == "uniform":
        return ot.Uniform(loc, loc + scale)
    if name == "norm":
        return ot.Normal(loc, scale)
    if name == "lognorm":
        return ot.LogNormal(math.log(scale), shapes["s"], loc)
    if name == "truncnorm":
        return ot.TruncatedNormal(loc, scale, loc + shapes["a"] * scale, loc + shapes["b"] * scale)
    if name == "beta":
        return ot.Beta(shapes["a"], shapes["b"], loc, loc + scale)
    if name == "gamma":
        return ot.Gamma(shapes["a"], 1.0 / scale, loc)
    if name == "triang":
        return ot.Triangular(loc, loc + shapes["c"] * scale, loc + scale)
    if name == "expon":
        return ot.Exponential(1.0 / scale, loc)
    return None


def to_openturns(dist: Any, name: str = "parameter") -> Any:
    """An OpenTURNS distribution with the same law as a frozen ``scipy.stats`` distribution.

    Uniform, normal, lognormal, truncated normal, beta, gamma, triangular and
    exponential laws map to their OpenTURNS classes (checked: the CDFs agree at
    the deciles to 1e-9); any other continuous law is wrapped
    (``openturns.SciPyDistribution``), and its polynomials are built
    numerically.
    """
    ot = import_openturns()
    native = _native(ot, dist)
    if native is not None:
        probe = np.asarray(dist.ppf(np.linspace(0.1, 0.9, 9)), dtype=float)
        mine = np.array([native.computeCDF(float(x)) for x in probe])
        if np.allclose(mine, np.linspace(0.1, 0.9, 9), rtol=0.0, atol=1e-9):
            return native
    try:
        return ot.Distribution(ot.SciPyDistribution(dist))
    except Exception as exc:  # noqa: BLE001 - OpenTURNS raises its own exception types
        raise ValueError(f"{name}: {describe(dist)} has no OpenTURNS counterpart ({exc})") from None


def basis_size(d: int, degree: int, q_norm: float = 1.0) -> int:
    """Number of polynomials of ``d`` variables with ``||alpha||_q <= degree`` (hyperbolic truncation)."""
    ot = import_openturns()
    return int(ot.HyperbolicAnisotropicEnumerateFunction(d, float(q_norm)).getBasisSizeFromTotalDegree(degree))


@dataclass(frozen=True)
class PCEResult:
    """A polynomial chaos expansion of a goal over a parameter design.

    Attributes
    ----------
    design : ParameterDesign
        The design points (``method`` is the design's name).
    goal : ndarray, shape (n_points,)
        Goal at each point (one run, or the mean of ``n_aleatoric`` runs).
    aleatoric_variance : ndarray, shape (n_points,)
        Estimated ``Var(Q | theta_i)`` of one run (NaN where unknown).
    degree : int
        Largest polynomial degree.
    q_norm : float
        Hyperbolic truncation (1: total degree).
    basis_size : int
        Number of polynomials (coefficients fitted).
    mean, variance : float
        Mean and variance of the expansion (goal units, squared).
    first, total : ndarray, shape (n_parameters,)
        Sobol' first-order and total indices from the coefficients.
    loo_error : float
        Leave-one-out mean squared error over the sample variance of the
        goal (0: exact, 1: no better than the mean).
    n_runs : int
        Whole HMM runs used (``n_points * n_aleatoric``).
    n_aleatoric : int
        Runs per design point.
    seeds : ndarray
        Study seed of each point's micro runs.
    micro_runs, micro_seconds : ndarray
        Fresh micro runs and micro seconds per point.
    goal_units, goal_name : str
    chaos : openturns.FunctionalChaosResult
        The expansion itself (for :meth:`predict`).
    """

    design: ParameterDesign
    goal: np.ndarray
    aleatoric_variance: np.ndarray
    degree: int
    q_norm: float
    basis_size: int
    mean: float
    variance: float
    first: np.ndarray
    total: np.ndarray
    loo_error: float
    n_runs: int
    n_aleatoric: int
    seeds: np.ndarray
    micro_runs: np.ndarray
    micro_seconds: np.ndarray
    goal_units: str = "1"
    goal_name: str = "goal"
    chaos: Any = field(default=None, repr=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names, in the order of ``first``, ``total`` and the design columns."""
        return self.design.names

    @property
    def stddev(self) -> float:
        """Standard deviation of the expansion (goal units)."""
        return math.sqrt(max(self.variance, 0.0))

    def predict(self, values: Any) -> np.ndarray:
        """The expansion at parameter values, shape ``(k, n_parameters)`` -> ``(k,)`` (goal units)."""
        x = np.atleast_2d(np.asarray(values, dtype=float))
        if x.shape[1] != len(self.names):
            raise ValueError(f"PCEResult.predict(): expected {len(self.names)} parameter columns "
                             f"({', '.join(self.names)}), got shape {x.shape}")
        ot = import_openturns()
        return np.asarray(self.chaos.getMetaModel()(ot.Sample(x)), dtype=float)[:, 0]

    def to_dataset(self, attrs: Mapping[str, Any] | None = None):
        """The results as an :class:`xarray.Dataset`: ``design``, ``goal``, ``goal_aleatoric_variance``
        (sample); ``pce_mean``, ``pce_variance``, ``pce_loo_error``; ``sobol_first``, ``sobol_total``
        (parameter); the truncation and run counts as attributes."""
        import xarray as xr

        unit = self.goal_units
        sq = f"({unit})^2" if unit != "1" else "1"
        d = self.design
        data = {
            "design": (("sample", "parameter"), d.values, {"long_name": "parameter values of each design point"}),
            "goal": ("sample", self.goal, {"units": unit, "long_name": f"{self.goal_name} at each design point"}),
            "goal_aleatoric_variance": ("sample", self.aleatoric_variance, {
                "units": sq, "long_name": "estimated Var(goal | parameters) of one run"}),
            "pce_mean": ((), self.mean, {"units": unit, "long_name": "mean of the polynomial chaos expansion"}),
            "pce_variance": ((), self.variance, {"units": sq, "long_name": "variance of the expansion"}),
            "pce_loo_error": ((), self.loo_error, {"units": "1", "long_name":
                                                   "leave-one-out mean squared error / sample variance"}),
            "sobol_first": ("parameter", self.first, {"units": "1", "long_name": "Sobol' first-order index (PCE)"}),
            "sobol_total": ("parameter", self.total, {"units": "1", "long_name": "Sobol' total index (PCE)"}),
        }
        out = {"uq_method": "pce", "uq_design": d.method, "uq_n_points": d.n, "uq_n_runs": self.n_runs,
               "uq_n_aleatoric": self.n_aleatoric, "pce_degree": self.degree, "pce_q_norm": self.q_norm,
               "pce_basis_size": self.basis_size, "uq_goal": self.goal_name,
               **{f"distribution_{k}": describe(v) for k, v in d.distributions.items()}}
        ds = xr.Dataset(data, coords={"sample": np.arange(d.n), "parameter": list(d.names)})
        ds.attrs.update({**out, **dict(attrs or {})})
        return ds


def _check_truncation(degree: Any, q_norm: Any, func: str) -> tuple[int, float]:
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
        raise TypeError(f"{func}: `degree` must be an int, got {type(degree).__name__}")
    if degree < 1:
        raise ValueError(f"{func}: `degree` must be >= 1, got {degree}")
    try:
        q = float(q_norm)
    except (TypeError, ValueError):
        raise TypeError(f"{func}: `q_norm` must be a number in (0, 1], got {q_norm!r}") from None
    if not 0.0 < q <= 1.0:
        raise ValueError(f"{func}: `q_norm` must lie in (0, 1], got {q_norm!r}")
    return int(degree), q


def pce_study(solver: Any, parameters: Mapping[str, Any], *, goal: Any, degree: int = 3, n: int | None = None,
              q_norm: float = 1.0, design: str = "lhs", seed: int = 0, n_aleatoric: int = 1,
              mode: str = "steady", run_kwargs: Mapping[str, Any] | None = None, progress: bool = False,
              concurrency: int | None = None) -> PCEResult:
    """A polynomial chaos expansion of a goal over uncertain oracle parameters, from whole HMM runs.

    Parameters
    ----------
    solver : hmm.HMMSolver
        The run; its Coupler's oracle is the base of every design point.
    parameters : mapping
        Oracle field name -> ``scipy.stats`` distribution or table (see
        :func:`hmm.uq.sample_parameters`); independent parameters.
    goal : callable, str or mapping
        The scalar goal (see :func:`hmm.uq.propagate`).
    degree : int
        Largest polynomial degree (>= 1).
    n : int, optional
        Design points (whole HMM runs, times ``n_aleatoric``); more than the
        basis size. Default: twice the basis size.
    q_norm : float
        Hyperbolic truncation in (0, 1]: keep ``||alpha||_q <= degree``;
        below 1 it drops high-order interactions first.
    design : {"lhs", "sobol", "halton", "random"}
        The seeded design of the points.
    seed : int
        Seed of the design and of every point's micro seeds.
    n_aleatoric : int
        Runs per design point (>= 1), averaged before the fit.
    mode, run_kwargs, progress, concurrency
        As in :func:`hmm.uq.epistemic`.

    Returns
    -------
    PCEResult

    Raises
    ------
    ImportError
        OpenTURNS is not installed (the ``pce`` extra).
    ValueError, TypeError
        A bad ``degree``, ``q_norm``, ``design``, ``n`` (not above the basis
        size), goal or parameter, before any micro run starts.
    """
    func = "hmm.uq.pce_study()"
    ot = import_openturns()
    check_mode(mode, func)
    degree, q = _check_truncation(degree, q_norm, func)
    goal = make_goal(goal)
    if goal is None:
        raise ValueError(f"{func}: `goal` is required (a callable or a named goal)")
    m = check_n(n_aleatoric, f"{func} (n_aleatoric)", 1)
    run_kwargs = check_member_kwargs(run_kwargs, func)
    if design not in DESIGNS:
        raise ValueError(f"{func}: unknown design {design!r}; valid designs are {list(DESIGNS)}")
    coupler = solver.coupler
    dists = check_parameters(coupler.oracle, parameters, func)
    names = tuple(dists)
    marginals = [to_openturns(dist, f"{func}: parameter {k!r}") for k, dist in dists.items()]
    size = basis_size(len(names), degree, q)
    n = 2 * size if n is None else check_n(n, func, 1)
    if n <= size:
        raise ValueError(f"{func}: `n` = {n} design points cannot fit {size} coefficients (degree {degree}, "
                         f"q_norm {q:g}, {len(names)} parameters): take n > {size}, about {2 * size} or more")
    unit = unit_design(design, n, len(names), seed)
    points = ParameterDesign(coupler.oracle, dists, unit, to_values(unit, dists), design, seed)
    oracles = points.oracles()  # every design point's oracle is validated before any run starts
    seeds = np.asarray(member_seeds(seed, points.n), dtype=np.uint64)
    y, var, runs, seconds, unit_text = _independent(solver, oracles, seeds, goal, m, mode, run_kwargs, 0.95,
                                                    concurrency, progress)
    if getattr(coupler.oracle, "deterministic", False) and m == 1:
        var = np.where(np.isfinite(var), var, 0.0)
    if not np.all(np.isfinite(y)):
        raise ValueError(f"{func}: the goal is not finite at every design point")
    chaos = _fit(ot, marginals, points.values, y, degree, q, size)
    first, total, mean, variance = _moments(ot, chaos, len(names))
    loo = _loo_error(ot, chaos, y)
    return PCEResult(points, y, var, degree, q, size, mean, variance, first, total, loo, points.n * m, m, seeds,
                     runs, seconds, unit_text, goal_name(goal), chaos)


def _fit(ot: Any, marginals: list, x: np.ndarray, y: np.ndarray, degree: int, q: float, size: int) -> Any:
    """Least-squares expansion on the full truncated basis (no model selection: the analytical
    leave-one-out error stays valid)."""
    d = len(marginals)
    joint = ot.JointDistribution(marginals)
    enum = ot.HyperbolicAnisotropicEnumerateFunction(d, q)
    basis = ot.OrthogonalProductPolynomialFactory(
        [ot.StandardDistributionPolynomialFactory(marginals[j]) for j in range(d)], enum)
    algo = ot.FunctionalChaosAlgorithm(ot.Sample(np.asarray(x, dtype=float)), ot.Sample(y[:, None]), joint,
                                       ot.FixedStrategy(basis, size), ot.LeastSquaresStrategy())
    algo.run()
    return algo.getResult()


def _moments(ot: Any, chaos: Any, d: int) -> tuple[np.ndarray, np.ndarray, float, float]:
    sobol = ot.FunctionalChaosSobolIndices(chaos)
    vector = ot.FunctionalChaosRandomVector(chaos)
    first = np.array([sobol.getSobolIndex(j) for j in range(d)], dtype=float)
    total = np.array([sobol.getSobolTotalIndex(j) for j in range(d)], dtype=float)
    return first, total, float(vector.getMean()[0]), float(vector.getCovariance()[0, 0])


def _loo_error(ot: Any, chaos: Any, y: np.ndarray) -> float:
    """Analytical leave-one-out mean squared error over the sample variance of ``y``."""
    s2 = float(np.var(y, ddof=1))
    mse = float(ot.FunctionalChaosValidation(chaos).computeMeanSquaredError()[0])
    return mse / s2 if s2 > 0 else (0.0 if mse == 0 else math.inf)
