"""hmm.uq.pce_study: a polynomial chaos expansion of a goal over uncertain oracle parameters (OpenTURNS).

OpenTURNS is an optional extra (``pce``, about 240 MB installed), not in the ``test`` extra: the tests
that need it skip without it; the ImportError test runs always.

* Affine goal, exact: with R = r1 + r2 (tests/uq/_oracles.py, deterministic) the steady flow rate is
  Q = c R exactly (c from offset solves, test_epistemic.py), so a degree-1 expansion is exact: E Q = c E R,
  Var Q = c^2 (Var r1 + Var r2), S1 = ST = Var r_j / Var R. Marginals a lognormal (mapped to
  openturns.LogNormal) and a Weibull (no OpenTURNS class: wrapped, polynomials built numerically).
  Tolerance: rtol 1e-9 for the moments and 1e-9 absolute for the indices (least squares on an exact
  affine model: rounding of the solves and of the numerical orthonormalisation).
* Ishigami (Ishigami & Homma 1990; closed form as in test_epistemic.py; PCE-based Sobol' indices as in
  Sudret 2008, Reliab. Eng. Syst. Saf. 93, 964): the resistance R = Ishigami + 11 makes Q affine in the
  Ishigami function. Tolerance 0.02 on every index, the accuracy target the issue sets for the Saltelli
  benchmark; benchmarks/uq_sobol.py reaches it with N = 4096, N (d + 2) = 20480 whole runs, here a degree-12
  expansion (hyperbolic q = 0.75, 265 terms) uses 400. The mean and variance of the expansion are checked
  against a / 2 + 11 and V (scaled) within 0.02 sqrt(V) and 0.02 V.
* Smooth HMM goal: the 2D flow rate of -div(A* grad u) = 1, u = 0 on the square, A* from the periodic cell
  problem of LayeredCosine layers normal to x (A*_xx = 1 / a0, A*_yy the cell's mean of 1 / (a0 + amp cos),
  a smooth function of amp < a0). amp ~ U(0.2, 1.4), a0 ~ N(2, 0.05). The PCE mean and variance agree with
  the plain scrambled-Sobol' estimates of hmm.uq.epistemic (256 points) within 4 of those estimates'
  standard errors (plug-in: s / sqrt(n) for the mean, sqrt((m4 - s^4) / n) for the variance; conservative
  for QMC); the expansion's own error is far smaller (LOO error < 1e-4 of the variance is asserted).
* A goal that is not smooth in its parameter: the laminate's volume fraction on an 8-cell unit cell moves
  the discrete harmonic mean in steps. A polynomial's L2 error on a jump decays only like degree^(-1/2), so
  the relative LOO error stays O(0.1): asserted > 0.05 at degrees 4 and 6, while the smooth a_high of the
  same laminate falls below 1e-3 at degree 6.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from hmm import Coupler, HMMSolver
from hmm.uq import epistemic, goals, pce_study
from macro import DiffusionLaw, Grid1D, Grid2D

from ._oracles import ISHIGAMI_A, ResistiveFlux
from .test_epistemic import _c_and_v1, _ishigami_indices


@pytest.fixture
def ot():
    return pytest.importorskip("openturns")


def _solver(coupler, cells=4):
    return HMMSolver(DiffusionLaw(source=1.0), Grid1D(cells), coupler)


def test_degree_one_is_exact_for_an_affine_goal(ot):
    c, _ = _c_and_v1(4, 0.0)
    r1, r2 = stats.lognorm(0.3, loc=0.1, scale=0.8), stats.weibull_min(2.0, scale=1.0)
    with Coupler(ResistiveFlux(), "sync", seed=0, cache=True) as coupler:
        res = pce_study(_solver(coupler), {"r1": r1, "r2": r2}, goal="flow_rate", degree=1, n=8, seed=3)
        assert coupler.accounting.fresh_runs == int(res.micro_runs.sum()) > 0
    var = np.array([r1.var(), r2.var()])
    assert res.mean == pytest.approx(c * (r1.mean() + r2.mean()), rel=1e-9)
    assert res.variance == pytest.approx(c**2 * var.sum(), rel=1e-9)
    np.testing.assert_allclose(res.first, var / var.sum(), rtol=0, atol=1e-9)
    np.testing.assert_allclose(res.total, var / var.sum(), rtol=0, atol=1e-9)
    assert res.basis_size == 3 and res.n_runs == 8 and res.loo_error < 1e-12
    np.testing.assert_allclose(res.predict(res.design.values), res.goal, rtol=1e-9)
    np.testing.assert_allclose(res.goal, c * res.design.values.sum(axis=1), rtol=1e-9)
    ds = res.to_dataset({"study": "affine"})
    assert ds["sobol_total"].dims == ("parameter",) and list(ds["parameter"].values) == ["r1", "r2"]
    assert float(ds["pce_mean"]) == res.mean and ds.attrs["pce_basis_size"] == 3 and ds.attrs["study"] == "affine"
    assert ds.attrs["distribution_r2"].startswith("weibull_min(")


def test_ishigami_indices_from_the_expansion_with_400_runs(ot):
    u = stats.uniform(-math.pi, 2 * math.pi)
    with Coupler(ResistiveFlux(ishigami_on=True), "sync", seed=0, cache=True) as coupler:
        solver = _solver(coupler)
        res = pce_study(solver, {"x1": u, "x2": u, "x3": u}, goal="flow_rate", degree=12, q_norm=0.75, n=400,
                        seed=1)
        c = solver.solve_steady(stderr=False)  # x = 0: R = 11, the flow rate is 11 c
    s1, st = _ishigami_indices()
    assert res.n_runs == 400 and res.basis_size == 265
    assert np.max(np.abs(res.first - s1)) < 0.02, res.first
    assert np.max(np.abs(res.total - st)) < 0.02, res.total
    scale = goals.flow_rate()(c) / 11.0  # Q = scale (Ishigami + 11)
    a, b = ISHIGAMI_A, 0.1
    big_v = b * math.pi**4 / 5 + b**2 * math.pi**8 / 50 + 0.5 + a**2 / 8 + b**2 * math.pi**8 * (1 / 18 - 1 / 50)
    assert abs(res.mean - scale * (a / 2 + 11.0)) < 0.02 * abs(scale) * math.sqrt(big_v)
    assert abs(res.variance - scale**2 * big_v) < 0.02 * scale**2 * big_v
    assert res.loo_error < 1e-3


def _layered_2d():
    from oracles import CellProblemFlux
    from oracles.cell.coefficients import LayeredCosine

    return CellProblemFlux(LayeredCosine(a0=2.0, amp=0.8, axis=0), dim=2, cells=8)


def test_smooth_cell_problem_goal_agrees_with_the_qmc_estimates(ot):
    parameters = {"coefficient.amp": stats.uniform(0.2, 1.2), "coefficient.a0": stats.norm(2.0, 0.05)}
    with Coupler(_layered_2d(), "sync", seed=0, cache=True) as coupler:
        solver = HMMSolver(DiffusionLaw(source=1.0), Grid2D((6, 6)), coupler)
        pce = pce_study(solver, parameters, goal="flow_rate", degree=4, seed=1)
        qmc = epistemic(solver, parameters, n=256, goal="flow_rate", indices=False, design="sobol", seed=2)
    assert pce.basis_size == 15 and pce.n_runs == 30 and pce.loo_error < 1e-4
    q = qmc.goal
    s2 = np.var(q, ddof=1)
    se_mean = math.sqrt(s2 / q.size)
    se_var = math.sqrt(max(np.mean((q - q.mean()) ** 4) - s2**2, 0.0) / q.size)
    assert abs(pce.mean - q.mean()) < 4 * se_mean, (pce.mean, q.mean(), se_mean)
    assert abs(pce.variance - s2) < 4 * se_var, (pce.variance, s2, se_var)
    # physics: amp enters only along the layers (A*_yy), a0 both ways; neither index vanishes
    assert np.all(pce.first > 0.1) and np.all(pce.total >= pce.first - 1e-12)
    assert np.all(pce.aleatoric_variance == 0.0)  # a deterministic oracle


def test_a_goal_with_jumps_keeps_a_large_leave_one_out_error(ot):
    from oracles import CellProblemFlux
    from oracles.cell.coefficients import TwoPhaseLaminate

    oracle = CellProblemFlux(TwoPhaseLaminate(a_low=1.0, a_high=10.0, fraction=0.5), dim=1, cells=8)
    loo = {}
    for name, dist in (("fraction", stats.uniform(0.3, 0.4)), ("a_high", stats.uniform(5.0, 10.0))):
        for degree in (4, 6):
            with Coupler(oracle, "sync", seed=0, cache=True) as coupler:
                res = pce_study(HMMSolver(DiffusionLaw(source=1.0), Grid1D(8), coupler),
                                {f"coefficient.{name}": dist}, goal="flow_rate", degree=degree, seed=1)
            loo[name, degree] = res.loo_error
    assert loo["fraction", 4] > 0.05 and loo["fraction", 6] > 0.05, loo
    assert loo["a_high", 6] < 1e-3, loo


@pytest.mark.parametrize("kwargs, error, match", [
    ({"degree": 0}, ValueError, "`degree` must be >= 1"),
    ({"degree": 2.0}, TypeError, "`degree` must be an int"),
    ({"q_norm": 1.5}, ValueError, r"`q_norm` must lie in \(0, 1\]"),
    ({"degree": 3, "n": 10}, ValueError, "cannot fit 10 coefficients"),
    ({"design": "grid"}, ValueError, "unknown design 'grid'"),
    ({"goal": None}, ValueError, "`goal` is required"),
    ({"parameters": {"epsilon": stats.norm(1, 0.1)}}, ValueError, "'epsilon' is not a parameter of ResistiveFlux"),
    ({"parameters": {"r1": stats.norm(1.0, 10.0)}, "n": 64}, ValueError, "resistance must be > 0"),
])
def test_bad_studies_are_refused_before_any_micro_run(ot, kwargs, error, match):
    kwargs = {"goal": "flow_rate", "parameters": {"r1": stats.uniform(0.5, 1.0), "r2": stats.uniform(0.5, 1.0)},
              **kwargs}
    with Coupler(ResistiveFlux(), "sync", seed=0) as coupler:
        with pytest.raises(error, match=match):
            pce_study(_solver(coupler), **kwargs)
        assert coupler.accounting.fresh_runs == 0


def test_missing_openturns_names_the_pce_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "openturns", None)  # `import openturns` now raises ImportError
    with Coupler(ResistiveFlux(), "sync", seed=0) as coupler:
        with pytest.raises(ImportError, match=r"pip install 'hmm-ef\[pce\]'"):
            pce_study(_solver(coupler), {"r1": stats.uniform(0.5, 1.0)}, goal="flow_rate")
        assert coupler.accounting.fresh_runs == 0


def test_importing_hmm_uq_does_not_import_openturns():
    code = ("import sys, hmm.uq; assert 'openturns' not in sys.modules; "
            "assert hmm.uq.PCEResult.__name__ == 'PCEResult'; assert 'openturns' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=str(Path(__file__).parents[2]))


def test_guide_pce_snippet_runs_as_pasted(ot, capsys):
    """The ``py`` block of docs/guide/uq.md (not a ``python`` block: tests/test_docs_site.py runs those
    without the optional extra). Physics: across the layers the harmonic mean is controlled by the weak
    phase, so a_low must dominate."""
    import re

    page = Path(__file__).parents[2] / "docs" / "guide" / "uq.md"
    blocks = re.findall(r"^```py\n(.*?)^```$", page.read_text(), flags=re.S | re.M)
    assert len(blocks) == 1
    namespace: dict = {"__name__": "__main__"}
    exec(compile(blocks[0], str(page), "exec", dont_inherit=True), namespace)  # as pasted
    chaos = namespace["chaos"]
    assert "leave-one-out error" in capsys.readouterr().out
    assert chaos.names == ("coefficient.a_low", "coefficient.a_high") and chaos.first[0] > 0.5 > chaos.first[1]
    assert chaos.loo_error < 1e-3 and chaos.n_runs == 2 * chaos.basis_size
