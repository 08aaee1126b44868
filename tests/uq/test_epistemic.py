"""hmm.uq.sample_parameters and hmm.uq.epistemic against closed forms.

Test oracle (tests/uq/_oracles.py): q = grad u / R(theta) + sigma xi, a conductivity 1 / R. The steady
finite-volume equations D q + f = 0 are linear, so u = R (u_1 + sigma M_1 xi) with u_1, M_1 the
noise-free state and the noise map at R = 1, and the flow rate Q = w . u is
    Q = R (c + sigma w M_1 xi),  E[Q | theta] = c R,  Var(Q | theta) = R^2 v_1,
with c = Q at R = 1 (noise-free) and v_1 = sigma^2 |w M_1|^2, both computed here from deterministic
solves with one face's answer offset (independent of the propagation code).

* Sobol': R = Ishigami(x1, x2, x3) + 11 with x_i ~ U(-pi, pi) makes Q an affine function of the
  Ishigami function, whose indices are known in closed form (Ishigami & Homma 1990; values for
  a = 7, b = 0.1 as in Saltelli et al. 2010, Comput. Phys. Commun. 181, 259, and Sobol' 2001):
  V1 = b pi^4 / 5 + b^2 pi^8 / 50 + 1/2, V2 = a^2 / 8, V13 = b^2 pi^8 (1/18 - 1/50), V3 = 0,
  V = V1 + V2 + V13; S1 = V1 / V, S2 = V2 / V, S3 = 0; ST1 = (V1 + V13) / V, ST2 = S2, ST3 = V13 / V.
  Affine maps do not change Sobol' indices. Check: |S - exact| within 4 bootstrap standard
  deviations (SALib's half-width at 95% is 1.96 of them).
* Variance split (law of total variance): R = r1 + r2, r1 ~ U(0.5, 1.5), r2 ~ N(1, 0.1):
  aleatoric E[Var(Q | theta)] = v_1 E[R^2] = v_1 (Var R + (E R)^2), epistemic Var(E[Q | theta]) = c^2 Var R.
  Tolerances: 4 standard errors of the estimators, from the samples (plug-in): the mean of the
  per-point variances has stderr std / sqrt(n); the epistemic estimate S^2 - A / m has the stderr of
  a sample variance, sqrt((m4 - S^4) / n), plus that of A / m.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from hmm import Coupler, HMMSolver
from hmm.uq import epistemic, goals, sample_parameters
from macro import ClosureResult, DiffusionLaw, Grid1D, solve_steady

from ._oracles import ISHIGAMI_A, ISHIGAMI_B, ResistiveFlux

PI = math.pi
U = stats.uniform(-PI, 2 * PI)


def _ishigami_indices(a=ISHIGAMI_A, b=ISHIGAMI_B):
    v1 = b * PI**4 / 5 + b**2 * PI**8 / 50 + 0.5
    v2 = a**2 / 8
    v13 = b**2 * PI**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def _solver(coupler, cells=4):
    return HMMSolver(DiffusionLaw(source=1.0), Grid1D(cells), coupler)


class _Offset:
    """q = grad u + offset (deterministic)."""

    def __init__(self, offset=None):
        self.offset = offset

    def __call__(self, points, *, seed_rows=None):
        q = points[:, -1:].copy()
        if self.offset is not None:
            q = q + self.offset
        return ClosureResult(q, np.zeros_like(q), np.zeros(len(q)))

    def tangent(self, points):
        return np.ones((len(points), 1, 1))


def _c_and_v1(cells, sigma):
    """Flow rate c at R = 1 and the variance v_1 of its noise part, from offset solves."""
    law, grid = DiffusionLaw(source=1.0), Grid1D(cells)
    base = solve_steady(law, grid, _Offset(), tol=1e-13).u
    h = 1.0 / cells
    grads = []
    for f in range(grid.n_faces):
        offset = np.zeros((grid.n_faces, 1))
        offset[f] = 1.0
        grads.append(h * np.sum(solve_steady(law, grid, _Offset(offset), tol=1e-13).u - base))
    return h * float(np.sum(base)), sigma**2 * float(np.sum(np.square(grads)))


def test_sobol_indices_of_an_ishigami_conductivity_match_the_closed_form():
    s1_exact, st_exact = _ishigami_indices()
    with Coupler(ResistiveFlux(ishigami_on=True), "sync", seed=0, cache=True) as coupler:
        res = epistemic(_solver(coupler), {"x1": U, "x2": U, "x3": U}, n=512, goal="flow_rate", seed=1)
    ix = res.indices
    z = stats.norm.ppf(0.975)
    four_sd = 4.0 / z
    assert res.design.n == 512 * 5 and res.design.method == "saltelli"
    assert np.all(np.abs(ix.first - s1_exact) <= four_sd * ix.first_conf), (ix.first, ix.first_conf)
    assert np.all(np.abs(ix.total - st_exact) <= four_sd * ix.total_conf), (ix.total, ix.total_conf)
    # the intervals resolve the structure: x2 acts alone, x3 only through its interaction with x1
    assert ix.first[1] - four_sd * ix.first_conf[1] > 0 and ix.total[2] - four_sd * ix.total_conf[2] > 0
    assert ix.total[0] - four_sd * ix.total_conf[0] > ix.first[2] + four_sd * ix.first_conf[2]
    # a deterministic oracle has no aleatoric part: the goal variance is all epistemic
    assert res.split.aleatoric == 0.0 and res.split.epistemic == pytest.approx(np.var(res.goal, ddof=1))
    ds = res.to_dataset()
    assert list(ds["parameter"].values) == ["x1", "x2", "x3"] and ds["design"].shape == (2560, 3)
    np.testing.assert_array_equal(ds["sobol_first"].values, ix.first)
    np.testing.assert_allclose(ds["sobol_total_upper"] - ds["sobol_total"], ds["sobol_total_conf"])
    assert ds.attrs["distribution_x1"].startswith("uniform(") and ds.attrs["sobol_confidence"] == 0.95


@pytest.mark.parametrize("n_aleatoric, n_points", [(1, 256), (4, 64)])
def test_variance_split_matches_the_law_of_total_variance(n_aleatoric, n_points):
    cells, sigma = 4, 0.1
    c, v1 = _c_and_v1(cells, sigma)
    r1, r2 = stats.uniform(0.5, 1.0), stats.norm(1.0, 0.1)
    var_r, mean_r = r1.var() + r2.var(), r1.mean() + r2.mean()
    aleatoric, epistemic_exact = v1 * (var_r + mean_r**2), c**2 * var_r
    with Coupler(ResistiveFlux(noise=sigma), "sync", seed=0, cache=True) as coupler:
        res = epistemic(_solver(coupler, cells), {"r1": r1, "r2": r2}, n=n_points, goal="flow_rate",
                        indices=False, design="sobol", n_aleatoric=n_aleatoric, seed=2)
    a_i, q, m = res.aleatoric_variance, res.goal, n_aleatoric
    se_a = np.std(a_i, ddof=1) / math.sqrt(len(a_i))
    assert abs(res.split.aleatoric - aleatoric) < 4 * se_a, (res.split.aleatoric, aleatoric, se_a)
    if m == 1:  # linear stderr: a deterministic function of theta, here R^2 v_1 exactly
        r = res.design.values.sum(axis=1)
        np.testing.assert_allclose(a_i, r**2 * v1, rtol=1e-9)
    s2 = np.var(q, ddof=1)
    m4 = np.mean((q - q.mean()) ** 4)
    se_e = math.sqrt(max(m4 - s2**2, 0.0) / len(q)) + se_a / m
    assert abs(res.split.epistemic - epistemic_exact) < 4 * se_e, (res.split.epistemic, epistemic_exact, se_e)
    assert res.split.total == pytest.approx(res.split.aleatoric + res.split.epistemic)
    assert len(set(res.seeds.tolist())) == n_points and np.all(res.micro_runs > 0)
    assert res.indices is None and "sobol_first" not in res.to_dataset()


def test_sample_parameters_design_and_oracles():
    base = ResistiveFlux()
    dists = {"r1": stats.norm(1.0, 0.05), "r2": {"dist": "uniform", "low": 2.0, "high": 3.0}}
    for method in ("sobol", "halton", "lhs", "random"):
        d = sample_parameters(base, dists, 64, method=method, seed=4)
        assert d.values.shape == (64, 2) and d.names == ("r1", "r2") and d.method == method
        np.testing.assert_allclose(d.values[:, 0], stats.norm(1.0, 0.05).ppf(d.unit[:, 0]), rtol=1e-12)
        assert np.all((d.values[:, 1] >= 2.0) & (d.values[:, 1] <= 3.0))
        again = sample_parameters(base, dists, 64, method=method, seed=4)
        np.testing.assert_array_equal(again.values, d.values)
        oracle = d.oracle(3)
        assert oracle.r1 == d.values[3, 0] and oracle.r2 == d.values[3, 1] and oracle.noise == base.noise
    # a scrambled Sobol' design is balanced: each half of [0, 1) holds half of the points per axis
    d = sample_parameters(base, dists, 64, method="sobol", seed=4)
    assert np.all(np.sum(d.unit < 0.5, axis=0) == 32)
    assert len(d.oracles()) == 64
    # a dotted name sets a field of a nested dataclass (here a coefficient)
    from oracles import NoisyCellProblemFlux
    from oracles.cell.coefficients import LayeredCosine

    cell = NoisyCellProblemFlux(LayeredCosine(a0=2.0, amp=0.5), dim=1, cells=8)
    nd = sample_parameters(cell, {"coefficient.amp": stats.uniform(0.2, 0.6), "noise": stats.uniform(0.0, 0.1)}, 4)
    o = nd.oracle(1)
    assert o.coefficient.amp == nd.values[1, 0] and o.noise == nd.values[1, 1] and o.coefficient.a0 == 2.0
    assert cell.coefficient.amp == 0.5  # the base oracle is untouched
    # a factory works too (its keywords are the parameters)
    fd = sample_parameters(lambda r1, r2=1.0: ResistiveFlux(r1=r1, r2=r2), {"r1": stats.norm(1, 0.1)}, 4)
    assert fd.oracle(0).r1 == fd.values[0, 0]


@pytest.mark.parametrize("parameters, match", [
    ({"epsilon": stats.norm(1, 0.1)}, r"'epsilon' is not a parameter of ResistiveFlux \(its parameters: r1, r2"),
    ({"r1": {"dist": "gauss", "loc": 1.0}}, "must name a continuous distribution of scipy.stats"),
    ({"r1": {"dist": "norm", "loc": 1.0, "scale": -0.1}}, "invalid parameters for norm"),
    ({"r1": {"dist": "norm", "mu": 1.0}}, "norm does not take these parameters"),
    ({"r1": {"dist": "uniform", "low": 2.0, "high": 1.0}}, "low < high"),
    ({"r1": {"dist": "lognorm", "scale": 1.0}}, "lognorm does not take these parameters"),
    ({}, "non-empty mapping"),
])
def test_bad_parameters_are_refused(parameters, match):
    with pytest.raises(ValueError, match=match):
        sample_parameters(ResistiveFlux(), parameters, 8)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n": 12}, ValueError, "power of two >= 8"),
    ({"n": 4}, ValueError, "power of two >= 8"),
    ({"n": 8, "confidence": 0.0}, ValueError, r"`confidence` must lie in \(0, 1\)"),
    ({"n": 8, "goal": None}, ValueError, "`goal` is required"),
    ({"n": 8, "indices": False, "design": "grid"}, ValueError, "unknown design 'grid'"),
    ({"n": 1, "indices": False}, ValueError, "`n` must be >= 2"),
    ({"n": 8, "n_aleatoric": 0}, ValueError, "must be >= 1"),
    ({"n": 8, "parameters": {"r1": stats.norm(1.0, 10.0)}}, ValueError, "resistance must be > 0"),
])
def test_bad_studies_are_refused_before_any_micro_run(kwargs, error, match):
    kwargs = {"goal": "flow_rate", "parameters": {"r1": stats.uniform(0.5, 1.0)}, **kwargs}
    with Coupler(ResistiveFlux(), "sync", seed=0) as coupler:
        with pytest.raises(error, match=match):
            epistemic(_solver(coupler), **kwargs)
        assert coupler.accounting.fresh_runs == 0


def test_goals_module_is_exported():
    assert goals.GOALS["flow_rate"] is goals.flow_rate
