"""Private: ``B = dR/d(answers)`` of a semi-discrete law from its own arithmetic, no closure call.

The right-hand side ``R(U, t; A)`` of a law depends on the closure answers
``A`` of one evaluation. A law may give ``B`` itself,
``law.answer_jacobian(grid, U, t, evaluation)`` (sparse, answers flat in
row-major order; :meth:`macro.DiffusionLaw.answer_jacobian`). Otherwise
column ``a`` of ``B diag(sigma)`` is
``R(U; A + sigma_a e_a) - R(U; A)`` (rescaled by the representable step),
evaluated by ``law.evaluate`` with a closure that replays the stored
answers: exact for a law affine in its answers (:class:`macro.DiffusionLaw`).
Columns whose row supports are disjoint are probed together (one law
evaluation per colour of a greedy colouring of the support-overlap graph);
the supports are probed one answer at a time once per answer layout and
checked at every evaluation: a change found outside the expected rows
re-probes them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from .closure import ClosureResult
from .law import Evaluation


class _Replay:
    """A closure answering stored arrays whatever it is asked (no new runs)."""

    def __init__(self, evaluation: Evaluation, func: str) -> None:
        self.shape = np.shape(evaluation.points)
        self.mean = np.array(evaluation.mean, dtype=float, order="C")  # flat views below write into it
        self.stderr = np.ascontiguousarray(evaluation.stderr, dtype=float)
        self.cost = np.zeros(len(self.mean))
        self.func = func

    def __call__(self, points: np.ndarray, *, seed_rows: np.ndarray | None = None) -> ClosureResult:
        if np.shape(points) != self.shape:
            raise ValueError(f"{self.func}: the law queried {np.shape(points)} points where its evaluation "
                             f"holds {self.shape}")
        return ClosureResult(self.mean, self.stderr, self.cost)


class AnswerSensitivity:
    """``B diag(sigma)`` of one evaluation as a sparse matrix (n_state, n_noisy), cached supports.

    Parameters
    ----------
    law : semi-discrete macro.ConservationLaw
    grid : Grid1D or Grid2D
    """

    def __init__(self, law: Any, grid: Any, func: str = "AnswerSensitivity") -> None:
        self.law, self.grid, self.func = law, grid, func
        self._layout: tuple[int, ...] | None = None
        self._support: list[np.ndarray] = []
        self._colours: list[np.ndarray] = []
        self.evaluations = 0  # law evaluations made (cost counter)

    def _rhs(self, U: np.ndarray, t: float, replay: _Replay) -> np.ndarray:
        self.evaluations += 1
        return np.asarray(self.law.evaluate(self.grid, U, t, replay).du_dt, dtype=float).ravel()

    def _probe(self, U: np.ndarray, t: float, replay: _Replay, base: np.ndarray) -> None:
        """Row support of every answer's column, one answer at a time, and a greedy colouring."""
        n_ans = replay.mean.size
        flat = replay.mean.reshape(-1)
        support = []
        for a in range(n_ans):  # once per answer layout
            original = flat[a]
            flat[a] = original + max(abs(original), 1.0) * 2.0**-20
            support.append(np.flatnonzero(self._rhs(U, t, replay) != base))
            flat[a] = original
        colours: list[list[int]] = []
        rows_of: list[set[int]] = []
        for a in np.argsort([-len(s) for s in support], kind="stable"):
            if not len(support[a]):
                continue
            rows = set(support[a].tolist())
            for c, used in enumerate(rows_of):
                if not (rows & used):
                    colours[c].append(int(a))
                    used |= rows
                    break
            else:
                colours.append([int(a)])
                rows_of.append(rows)
        self._support, self._colours = support, [np.array(c, dtype=int) for c in colours]
        self._layout = replay.mean.shape

    def columns(self, evaluation: Evaluation, U: np.ndarray, t: float) -> tuple[sp.csc_matrix, np.ndarray]:
        """``(B diag(sigma), answers)``: the sparse scaled columns of the noisy answers that enter
        ``R`` and their flat answer indices (row-major in ``evaluation.mean``)."""
        replay = _Replay(evaluation, self.func)
        flat_sigma = replay.stderr.reshape(-1)
        n = int(np.size(U))
        if not np.any(flat_sigma > 0):
            return sp.csc_matrix((n, 0)), np.zeros(0, dtype=int)
        if callable(getattr(self.law, "answer_jacobian", None)):
            b = sp.csc_matrix(self.law.answer_jacobian(self.grid, U, t, evaluation))
            if b.shape != (n, flat_sigma.size):
                raise ValueError(f"{self.func}: law.answer_jacobian returned shape {b.shape}, expected "
                                 f"{(n, flat_sigma.size)}")
            answers = np.flatnonzero((flat_sigma > 0) & (np.diff(b.indptr) > 0))
            return sp.csc_matrix(b[:, answers] @ sp.diags(flat_sigma[answers])), answers
        base = self._rhs(U, t, replay)
        if self._layout != replay.mean.shape:
            self._probe(U, t, replay, base)
        for _ in range(2):
            cols, answers, ok = self._coloured(U, t, replay, base, flat_sigma)
            if ok:
                break
            self._probe(U, t, replay, base)  # the supports moved: probe them again
        if not ok:
            raise RuntimeError(f"{self.func}: the law's dependence on its closure answers is not local "
                               "enough to probe (a column changed rows outside its probed support)")
        return cols, answers

    def _coloured(self, U, t, replay, base, flat_sigma):
        flat = replay.mean.reshape(-1)
        rows, cols, vals, answers = [], [], [], []
        for colour in self._colours:
            group = colour[flat_sigma[colour] > 0]
            if not len(group):
                continue
            original = flat[group].copy()
            flat[group] = original + flat_sigma[group]
            step = flat[group] - original  # representable shifts
            diff = self._rhs(U, t, replay) - base
            flat[group] = original
            expected = np.zeros(base.size, dtype=bool)
            for a, s in zip(group, step):
                sup = self._support[a]
                expected[sup] = True
                rows.append(sup)
                cols.append(np.full(len(sup), len(answers)))
                vals.append(diff[sup] * (flat_sigma[a] / s))
                answers.append(int(a))
            if np.any(diff[~expected] != 0):
                return None, None, False
        n = base.size
        if not answers:
            return sp.csc_matrix((n, 0)), np.zeros(0, dtype=int), True
        matrix = sp.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(n, len(answers)))
        return matrix, np.array(answers, dtype=int), True
