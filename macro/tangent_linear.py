r"""Closure noise carried through a transient run by the tangent-linear model of each step.

A step maps the state and the closure answers ``A`` it used to the new
state. Linearised about the run, every step of the semi-discrete steppers
is

.. math::

    \delta u_1 = P\,\bigl(Q\,\delta u_0 + \textstyle\sum_k K_k B_k\, e_k\bigr),

with ``e_k`` the noise of the answers of the step's evaluation ``k``
(standard errors ``sigma_k``) and ``B_k = dR/dA`` of the law at that
evaluation (from the law's own arithmetic by replaying the stored answers:
no closure call, :mod:`macro._sensitivity`):

==================  =========================  =====================  ======================================
stepper             ``P``                      ``Q``                  noise terms ``K_k B_k e_k``
==================  =========================  =====================  ======================================
theta (implicit)    ``(I - dt th J)^{-1}``     ``I + dt (1-th) J``    ``dt (1-th) B_0 e_0 + dt th B_1 e_1``
explicit Euler      ``I``                      ``I + h J``            ``h B_0 e_0``
Heun                ``I``                      ``I + h J + h^2 J^2/2`` ``h/2 (I + h J) B_0 e_0 + h/2 B_* e_*``
==================  =========================  =====================  ======================================

(one row per sub-step of the explicit steppers). The covariance ``C`` of
the flat state is propagated exactly for this linear model,
``C_1 = P (Q C_0 Q^T + cross terms + W) P^T``, so ``{field}_stderr =
sqrt(diag C)``.

**Jacobians.** The theta steppers reuse the modified-Newton matrix they
hold (``I - dt th J`` for ``P``, the same ``J`` in ``Q``): no closure call,
no micro run. ``P`` acts on ``n_state`` columns per step, so it is inverted
densely once per Newton-matrix refresh (BLAS-3; the stepper's SuperLU
factorisation solves column by column, far slower for that many right-hand
sides) and applied by two dense products per step, ``O(n_state^3)``. That ``J`` was computed at the last refresh
(the first step, a change of ``dt``, slow contraction), so it is exact for
closures linear in the state and otherwise lags by the state change since
that refresh, a relative error of order ``|dJ/du| |u - u_refresh| / |J|``
in the step's tangent. The explicit steppers hold no Jacobian: one is
computed by ``law.jacobian`` at the start of the step every
``jacobian_refresh`` steps (default: the stepper's ``cfl_refresh``, 10) and
used for every sub-step until the next refresh. It costs one closure call,
the same tangent query the stepper's CFL estimate (``law.max_rate``) makes
at that state on that schedule, so a caching closure (``hmm.Coupler(...,
cache=True)``) answers it from its cache; without a cache it repeats
``(dim + 1)`` micro runs per face (finite-difference tangents) or one per
face (an exact ``closure.tangent``). A run whose every answer is exact
(zero stderr) computes no Jacobian and changes nothing.

**Noise identity.** Answers are independent unless they are the same noise
source. Two answers are the same source when they share their seed row and
output column (the closure protocol: rows with equal seed rows share their
random numbers, so a cache hit of an earlier answer is the same draw), or,
for a closure that ignores seed rows, when they are the same entry of the
same evaluation (the start evaluation of a Crank-Nicolson step is the end
evaluation of the step before). The cross-covariance of the state with the
previous step's sources is carried (lazily, column by column), so a source
repeated by consecutive steps is exact. A source that comes back after a
step without it, and an answer a closure wrapper reuses under another seed
row (a table, a quantised lattice, a surrogate), count as fresh draws: there
the propagated stderr is too small.

**Size.** ``C`` is dense, ``n_state^2`` floats; a theta step costs two
dense ``n_state^3`` products (an explicit sub-step ``O(n_state^2)``):
:class:`TangentLinear` refuses states larger than ``max_state`` (default
:data:`MAX_COVARIANCE_STATE`) with a ``ValueError`` naming the option.

**Goals.** :meth:`TangentLinear.goal_stderr` gives the stderr of a linear
functional ``w . u`` at the last step by the backward adjoint sweep over
the kept step tangents (``keep_steps=True``), ``lambda_k = Q_k^T P_k^T
lambda_{k+1}``, one transposed solve per step, the contributions of one
source summed before squaring; it equals ``sqrt(w^T C w)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._sensitivity import AnswerSensitivity
from ._validate import check_int
from .closure import ignores_seed_rows
from .law import Evaluation, state_shape

__all__ = ["TangentLinear", "TangentStep", "TapedEvaluation", "MAX_COVARIANCE_STATE"]

MAX_COVARIANCE_STATE = 2048
"""Default largest flat state (entries) whose covariance :class:`TangentLinear` propagates: 32 MiB, and
about ``4 n^3 = 3.4e10`` flops per implicit step (a few seconds on one core)."""


@dataclass(frozen=True, eq=False)
class TapedEvaluation:
    """One evaluation a step used: the evaluation, the state and time it was made at and its seed rows
    (``None``: the query points themselves)."""

    evaluation: Evaluation
    state: np.ndarray
    t: float
    seeds: np.ndarray | None


@dataclass(frozen=True, eq=False)
class TangentStep:
    """What a stepper records of one (sub-)step for its tangent-linear model (see the module docstring).

    Attributes
    ----------
    kind : {"theta", "euler", "heun"}
    h : float
        The (sub-)step (time).
    start : ndarray
        State at its start.
    t : float
        Time at its start.
    evaluations : tuple of TapedEvaluation
        theta: (start evaluation or None, end evaluation); euler: (start,); heun: (start, stage).
    theta : float
        theta of a theta step.
    jacobian : sparse matrix, optional
        The ``J`` of the Newton matrix ``I - dt th J`` the step holds (theta steps).
    """

    kind: str
    h: float
    start: np.ndarray
    t: float
    evaluations: tuple[TapedEvaluation | None, ...]
    theta: float = 1.0
    jacobian: Any = None


@dataclass(eq=False)
class _Previous:
    """The last step's sources: cross-covariance of the state with them, on demand."""

    keys: dict
    p: np.ndarray | None
    q: Any
    rec_idx: np.ndarray  # that step's sources repeated from the step before it
    rec_h: np.ndarray  # (n, len(rec_idx)): their cross-covariance with the state at that step's start
    cr: sp.csc_matrix
    gids: np.ndarray
    refs: tuple  # keeps the evaluations alive (identity keys use their ids)

    def cross(self, sources: np.ndarray) -> np.ndarray:
        """``Cov(du_now, xi_s)`` for sources ``s`` of that step (unit-variance sources), (n, len(sources))."""
        cols = self.cr[:, sources].toarray()
        if len(self.rec_idx):
            where = {int(s): k for k, s in enumerate(self.rec_idx)}
            pick = [(i, where[int(s)]) for i, s in enumerate(sources) if int(s) in where]
            if pick:
                h = np.zeros_like(cols)
                for i, k in pick:
                    h[:, i] = self.rec_h[:, k]
                cols = cols + np.asarray(self.q @ h)
        return cols if self.p is None else self.p @ cols


class TangentLinear:
    """Forward covariance of a transient run's state from its closure noise (see the module docstring).

    Parameters
    ----------
    law : semi-discrete macro.ConservationLaw
    grid : Grid1D or Grid2D
    covariance : ndarray, optional
        Covariance of the flat initial state (zeros: a given initial state).
    max_state : int
        Largest flat state accepted (``n_state^2`` floats are kept).
    jacobian_refresh : int, optional
        Explicit steppers: steps between Jacobians (>= 1); default the stepper's ``cfl_refresh``
        (10 when it has none).
    keep_steps : bool
        Keep every step's tangent for :meth:`goal_stderr` (memory grows with the steps).

    Raises
    ------
    ValueError
        The state has more than ``max_state`` entries, or a bad option.
    """

    def __init__(self, law: Any, grid: Any, *, covariance: np.ndarray | None = None,
                 max_state: int = MAX_COVARIANCE_STATE, jacobian_refresh: int | None = None,
                 keep_steps: bool = False) -> None:
        func = "TangentLinear()"
        self.law, self.grid = law, grid
        self.shape = state_shape(law, grid)
        n = int(np.prod(self.shape))
        max_state = check_int(max_state, "max_state", func, minimum=1)
        if n > max_state:
            raise ValueError(f"{func}: the flat state has {n} entries, more than `max_state` = {max_state}: "
                             f"its dense covariance would hold {n}^2 floats ({8 * n * n / 2**20:.0f} MiB); "
                             "raise `max_state` to propagate it anyway")
        self.n = n
        self.jacobian_refresh = (None if jacobian_refresh is None
                                 else check_int(jacobian_refresh, "jacobian_refresh", func, minimum=1))
        self._cov = np.zeros((n, n)) if covariance is None else np.array(covariance, dtype=float)
        if self._cov.shape != (n, n):
            raise ValueError(f"{func}: `covariance` must have shape {(n, n)}, got {self._cov.shape}")
        self.initial_covariance = self._cov.copy()
        self._zero = not np.any(self._cov)
        self.sensitivity = AnswerSensitivity(law, grid, "TangentLinear")
        self._previous: _Previous | None = None
        self._jacobian = None
        self._jacobian_age = 0
        self._inverse_cache: tuple | None = None
        self.n_jacobians = 0
        self.n_sources = 0
        self.keep_steps = bool(keep_steps)
        self.steps: list[tuple[Any, Any, sp.csc_matrix, np.ndarray]] = []

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of every state entry (state shape)."""
        return np.sqrt(np.clip(np.diag(self._cov), 0.0, None)).reshape(self.shape)

    @property
    def covariance(self) -> np.ndarray:
        """Covariance of the flat state (state units squared), symmetrised."""
        return 0.5 * (self._cov + self._cov.T)

    def set_covariance(self, covariance: Any) -> None:
        """Continue from a given covariance of the flat state (e.g. a checkpoint's); kept steps are dropped."""
        c = np.array(covariance, dtype=float)
        if c.shape != (self.n, self.n):
            raise ValueError(f"TangentLinear.set_covariance(): `covariance` must have shape {(self.n, self.n)}, "
                             f"got {c.shape}")
        self._cov, self.initial_covariance = c, c.copy()
        self._zero = not np.any(c)
        self.steps.clear()

    def restart(self) -> None:
        """Forget the lagged Jacobian of the explicit steppers and the previous step's sources, as a
        stepper restarted at a checkpoint does (the next step computes a Jacobian when it needs one)."""
        self._jacobian = None
        self._previous = None
        self._cov = self.covariance  # as a checkpoint stores it

    def advance(self, stepper: Any) -> None:
        """Propagate through the steps ``stepper`` recorded in ``stepper.tangent_tape`` (and empty it)."""
        tape, first = list(stepper.tangent_tape), True
        stepper.tangent_tape.clear()
        for entry in tape:
            self._advance(entry, stepper, first)
            first = False
        if tape and tape[0].kind != "theta":
            self._jacobian_age += 1

    # -- one (sub-)step ---------------------------------------------------------------
    def _sources(self, entry: TangentStep, closure: Any):
        """Noise columns of the step (sparse n x S, unit-variance sources), their keys and the
        coefficient operators' inputs."""
        seeded = not ignores_seed_rows(closure)
        keys: dict = {}
        blocks = []
        for taped in entry.evaluations:
            if taped is None:
                blocks.append(None)
                continue
            cols, answers = self.sensitivity.columns(taped.evaluation, taped.state, taped.t)
            n_out = np.shape(taped.evaluation.mean)[1]
            # -0.0 -> +0.0: equal seed rows are equal numbers (as the Coupler seeds them)
            rows = np.asarray(taped.evaluation.points if taped.seeds is None else taped.seeds, dtype=float) + 0.0
            local = np.empty(len(answers), dtype=int)
            for i, a in enumerate(answers):
                p, j = divmod(int(a), n_out)
                key = (b"s", rows[p].tobytes(), j) if seeded \
                    else (b"e", id(taped.evaluation), p, j)
                local[i] = keys.setdefault(key, len(keys))
            blocks.append((cols, local))
        return keys, blocks

    def _advance(self, entry: TangentStep, stepper: Any, first: bool) -> None:
        keys, blocks = self._sources(entry, stepper.closure)
        if self._zero and not keys:
            self._previous = None
            return
        n, h = self.n, entry.h
        eye = sp.identity(n, format="csr")
        if entry.kind == "theta":
            jac = sp.csr_matrix(entry.jacobian)
            p = self._inverse(entry.jacobian, h * entry.theta)
            a, b = h * (1.0 - entry.theta), h * entry.theta
            q = eye + a * jac if a else eye
            coefs = [a, b]
        else:
            jac = self._lagged_jacobian(entry, stepper, first)
            p = None
            if entry.kind == "euler":
                q, coefs = eye + h * jac, [h]
            elif entry.kind == "heun":
                hj = h * jac
                q = eye + hj + 0.5 * (hj @ hj)
                coefs = [0.5 * h * (eye + hj), 0.5 * h]
            else:
                raise ValueError(f"TangentLinear.advance(): unknown tangent step kind {entry.kind!r}")
        n_src = len(keys)
        cr = sp.csc_matrix((n, n_src))
        for coef, block in zip(coefs, blocks):
            if block is None or not np.size(block[1]):
                continue
            cols, local = block
            agg = sp.csr_matrix((np.ones(len(local)), (np.arange(len(local)), local)), shape=(len(local), n_src))
            cr = cr + sp.csc_matrix(coef * cols if np.isscalar(coef) else coef @ cols) @ agg
        cr = sp.csc_matrix(cr)
        # sources repeated from the previous step: their cross-covariance with the state
        gids = np.empty(n_src, dtype=int)
        prev = self._previous
        rec_idx, prev_idx = [], []
        for key, s in keys.items():
            s_prev = prev.keys.get(key) if prev is not None else None
            if s_prev is None:
                gids[s] = self.n_sources
                self.n_sources += 1
            else:
                rec_idx.append(s)
                prev_idx.append(s_prev)
                gids[s] = prev.gids[s_prev]
        rec = np.array(rec_idx, dtype=int)
        rec_h = prev.cross(np.array(prev_idx, dtype=int)) if len(rec) else np.zeros((n, 0))
        # q C q^T (C symmetric up to round-off, so (q C)^T = C q^T); kept unsymmetrised between records
        x = np.zeros((n, n)) if self._zero else np.asarray(q @ np.asarray(q @ self._cov).T)
        if len(rec):
            cross = np.asarray(q @ rec_h) @ cr[:, rec].toarray().T
            x += cross
            x += cross.T
        w = (cr @ cr.T).tocoo()
        np.add.at(x, (w.row, w.col), w.data)
        if p is not None:
            x = p @ x @ p.T
        self._cov = x
        self._zero = self._zero and not np.any(x)
        self._previous = _Previous(keys, p, q, rec, rec_h, cr, gids,
                                   tuple(t.evaluation for t in entry.evaluations if t is not None))
        if self.keep_steps:
            self.steps.append((q, p, cr, gids))

    def _inverse(self, jac: Any, b: float) -> np.ndarray:
        """Dense ``(I - b J)^{-1}``, kept while the stepper holds the same Newton matrix."""
        cached = self._inverse_cache
        if cached is not None and cached[0] is jac and cached[1] == b:
            return cached[2]
        matrix = np.eye(self.n) - b * sp.csr_matrix(jac).toarray()
        try:
            inverse = np.linalg.inv(matrix)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"TangentLinear: the Newton matrix I - dt theta J is singular: {exc}") from exc
        self._inverse_cache = (jac, b, inverse)
        return inverse

    def _lagged_jacobian(self, entry: TangentStep, stepper: Any, first: bool):
        refresh = self.jacobian_refresh or getattr(stepper, "cfl_refresh", 10)
        if self._jacobian is None or (first and self._jacobian_age >= refresh):
            self._jacobian, _ = self.law.jacobian(self.grid, entry.start, entry.t, stepper.closure)
            self._jacobian = sp.csr_matrix(self._jacobian)
            stepper.n_jacobians += 1
            self.n_jacobians += 1
            self._jacobian_age = 0
        return self._jacobian

    # -- goals ------------------------------------------------------------------------
    def goal_stderr(self, weights: Any) -> float:
        """Standard error of ``weights . u`` at the last step by the backward adjoint sweep.

        Needs ``keep_steps=True`` from the start. ``weights`` has the state's shape (or is flat).
        """
        func = "TangentLinear.goal_stderr()"
        if not self.keep_steps:
            raise ValueError(f"{func}: the step tangents were not kept; construct with keep_steps=True")
        lam = np.asarray(weights, dtype=float).reshape(-1)
        if lam.size != self.n:
            raise ValueError(f"{func}: `weights` must have {self.n} entries (the state), got {lam.size}")
        total: dict[int, float] = {}
        for q, p, cr, gids in reversed(self.steps):
            mu = lam if p is None else p.T @ lam
            for gid, c in zip(gids, cr.T @ mu):
                total[int(gid)] = total.get(int(gid), 0.0) + float(c)
            lam = np.asarray(q.T @ mu)
        variance = sum(c * c for c in total.values()) + float(lam @ self.initial_covariance @ lam)
        return float(np.sqrt(max(variance, 0.0)))
