"""The closure protocol: as_closure, ClosureResult, CountingClosure, QuantisedClosure,
TabulatedClosure's fresh mask."""

import numpy as np
import pytest

from macro import ClosureResult, CountingClosure, LinearFlux, QuantisedClosure, TabulatedClosure, as_closure
from macro.closure import ignores_seed_rows


class Recorder:
    """Protocol closure q = 2 G (1D columns x, grad_x) that records what it was asked."""

    def __init__(self):
        self.points, self.seeds = [], []

    def __call__(self, points, *, seed_rows=None):
        self.points.append(np.array(points))
        self.seeds.append(None if seed_rows is None else np.array(seed_rows))
        n = len(points)
        return ClosureResult(2.0 * points[:, 1:2], np.zeros((n, 1)), np.full(n, 0.5), np.ones(n, dtype=bool))


def test_as_closure_adapts_functions_of_the_points_alone():
    def plain(points):
        return LinearFlux(1.0)(points)

    adapted = as_closure(plain)
    pts = np.array([[0.1, 2.0], [0.2, -1.0]])
    assert np.array_equal(adapted(pts, seed_rows=pts + 1).mean, [[2.0], [-1.0]])  # seed rows dropped
    assert ignores_seed_rows(adapted) and ignores_seed_rows(CountingClosure(plain))
    rec = Recorder()
    assert as_closure(rec) is rec and not ignores_seed_rows(rec)
    flux = LinearFlux(1.0)  # a protocol closure: unchanged
    assert as_closure(flux) is flux

    def with_tangent(points):
        return flux(points)

    with_tangent.tangent = flux.tangent  # the optional exact tangent survives the adapter
    assert as_closure(with_tangent).tangent == flux.tangent
    with pytest.raises(TypeError, match=r"solve\(\): `closure` must be callable"):
        as_closure(3, "solve()")


def test_closure_result_fresh_mask():
    res = ClosureResult(np.zeros((3, 1)), np.zeros((3, 1)), np.zeros(3))
    assert res.fresh.dtype == bool and not res.fresh.any()  # a formula answered: no micro run
    with pytest.raises(ValueError, match=r"`fresh` must have shape \(3,\)"):
        ClosureResult(np.zeros((3, 1)), np.zeros((3, 1)), np.zeros(3), np.ones(2, dtype=bool))


def test_counting_closure_counts_calls_points_and_reported_cost():
    rec = Recorder()
    counted = CountingClosure(rec)
    counted(np.zeros((4, 2)), seed_rows=np.ones((4, 2)))
    counted(np.zeros((3, 2)))
    assert (counted.calls, counted.points_evaluated, counted.cost_s) == (2, 7, 3.5)
    assert np.array_equal(rec.seeds[0], np.ones((4, 2))) and rec.seeds[1] is None  # seed rows passed on


def test_quantised_closure_rounds_queries_and_seed_rows():
    rec = Recorder()
    quant = QuantisedClosure(rec, [0.0, 0.25])
    pts = np.array([[0.13, 0.1], [0.37, 0.2], [0.5, -0.1], [0.6, 0.4]])
    res = quant(pts, seed_rows=pts)
    # column 0 (spacing 0) unchanged, column 1 rounded to multiples of 0.25
    expected = np.column_stack([pts[:, 0], [0.0, 0.25, -0.0, 0.5]])
    assert np.array_equal(rec.points[0], expected) and np.array_equal(rec.seeds[0], expected)
    assert np.signbit(rec.points[0][2, 1])  # round(p / h) h: the sign of a zero (seed keys) is kept
    assert np.array_equal(res.mean[:, 0], 2.0 * expected[:, 1]) and res.fresh.all()
    assert quant.stats == {"calls": 1, "queries": 4}
    shifted = QuantisedClosure(rec, 0.25, origin=[0.0, 0.1])
    assert np.allclose(shifted.quantise(np.array([[0.0, 0.2]])), [[0.0, 0.1]])
    with pytest.raises(ValueError, match="`spacing`"):
        QuantisedClosure(rec, [0.1, -1.0])
    with pytest.raises(ValueError, match="2 entries but the points have 3"):
        quant(np.zeros((2, 3)))


def test_tabulated_closure_marks_answers_from_new_fresh_nodes():
    rec = Recorder()
    tab = TabulatedClosure(rec, [1.0, 1.0])
    first = tab(np.array([[0.5, 0.5], [0.2, 0.7]]))
    assert first.fresh.all() and len(tab) == 4
    again = tab(np.array([[0.4, 0.4], [1.5, 0.5]]))  # first cell known; second needs 2 new nodes
    assert again.fresh.tolist() == [False, True] and len(tab) == 6
