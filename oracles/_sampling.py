r"""The one sampling helper of the stochastic oracles: replica seeding, block averaging,
``max_wall_s``, ``target_stderr`` and cost timing.

An oracle writes only its per-replica simulation: a function of a
``numpy.random.Generator`` that equilibrates and then yields chunks of
samples (an array of shape (k, n_outputs), or :class:`Weighted` samples).
:func:`sample_replicas` runs the replicas, decides when to stop and reduces
the samples; :class:`SampledOracle` is a mix-in whose ``run`` does all of that
around one method, ``sample_replica``.

Seeding (one idiom)
    Replica r of a run with seed s draws from
    ``default_rng(SeedSequence(s).spawn(R)[r])``: independent streams by
    spawn key, the same for any R up to r (:func:`replica_rngs`).

Block averaging (one rule, :func:`block_stats`)
    Batch means with a fixed number B of equal blocks per replica
    (Flyvbjerg & Petersen, J. Chem. Phys. 91, 461, 1989; Schmeiser,
    Oper. Res. 30, 556, 1982). Replica r's n_r samples are cut into
    B_r = min(B, n_r) consecutive blocks of L_r = n_r // B_r samples (the
    first n_r - B_r L_r, closest to the equilibration, are dropped). With
    sample weights w (e.g. the duration of a KMC interval, for time
    averages) block j has the ratio mean b_rj = sum(w x) / sum(w) and the
    weight W_rj = sum(w); otherwise w = 1. With the relative weights
    omega_rj = W_rj / mean_j(W_rj) and N = sum_r B_r blocks,

    .. math::

        M = \frac{\sum_{rj}\omega_{rj} b_{rj}}{N}, \qquad
        s_M^2 = \frac{\sum_{rj}\omega_{rj}^2 (b_{rj} - M)^2}{N (N - 1)},

    the mean (for equal blocks: the mean of the replica means) and its
    squared standard error, with N - 1 degrees of freedom (Student t for
    intervals). Blocks of independent replicas are independent; blocks of
    one replica are nearly so once a block spans many correlation times,
    and then s_M is unbiased. For weighted samples s_M is the delta-method
    (ratio-estimator) variance. Deviations are taken about the pooled M, so
    replicas that disagree (e.g. one absorbed) widen the error bar.
    ``n_eff`` is the smallest, over outputs, of the pooled sample variance
    over s_M^2. Fewer than two blocks give an infinite stderr.

    Why this rule: it has a known reference distribution (t with N - 1
    degrees of freedom), so intervals have their nominal coverage once the
    blocks are long enough, and it converges as the run grows. Taking the
    larger of two blockings (an earlier DPD rule) guards against too-short
    blocks but biases every stderr upwards and has no known distribution;
    the choice of B and of a run long enough for it stays with the oracle
    (its ``blocks`` parameter).

Stopping
    ``sampling_steps`` caps every replica. ``max_wall_s``: replica r stops
    after the chunk that passes ``start + max_wall_s (r + 1) / R`` (its share
    of the wall time) once it holds at least B samples, so every replica
    gets a block per block slot; the answer then depends on the machine's
    speed. ``target_stderr``: a replica stops after the chunk at which the
    pooled stderr of every output (all replicas so far) is below the target,
    once it holds at least 4 B samples (blocks of >= 4 samples); the
    remaining replicas still run, each to that test. Both are checked
    between chunks, whose size the oracle chooses independently of the
    budget, so a run without them is reproducible bit for bit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Any, ClassVar, NamedTuple

import numpy as np

from hmm.contract import Budget, Estimate, OracleRunError, OracleSetupError, resolve_budget

from ._validate import check_state

TARGET_MIN_BLOCK = 4  # samples per block before target_stderr may stop a replica
DEFAULT_BLOCKS = 20  # blocks per replica of SampledOracle subclasses without a `blocks` field


class Weighted(NamedTuple):
    """Samples with weights: ``values`` (k, n_outputs), ``weights`` (k,) > 0 (e.g. the
    duration of each sampling interval, for a time average)."""

    values: np.ndarray
    weights: np.ndarray


class BlockStats(NamedTuple):
    """Result of :func:`block_stats`."""

    mean: np.ndarray  # (n_outputs,)
    stderr: np.ndarray  # (n_outputs,)
    n_eff: float  # smallest over outputs of sample variance / stderr^2
    blocks: int  # N, blocks over all replicas
    dof: int  # N - 1


def replica_rngs(seed: int, replicas: int) -> list[np.random.Generator]:
    """The generators of ``replicas`` independent replicas of a run seeded ``seed``
    (children of ``SeedSequence(seed)``; replica r's stream does not depend on ``replicas``)."""
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(replicas)]


def _as_2d(values: Any) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    return values.reshape(len(values), -1) if values.ndim != 2 else values


def block_stats(series: Iterable[np.ndarray], blocks: int,
                weights: Iterable[np.ndarray | None] | None = None) -> BlockStats:
    """Mean and standard error of correlated series by the one block rule (see the module doc).

    Parameters
    ----------
    series : iterable of array (n_r, n_outputs)
        The samples of each independent replica, in time order.
    blocks : int
        B, blocks per replica (a replica with n_r < B samples gets n_r blocks).
    weights : iterable of array (n_r,) or None, optional
        Positive sample weights per replica (``None``: all 1).

    Raises
    ------
    ValueError
        If no replica holds a sample, or the weights do not match the samples.
    """
    series = [_as_2d(s) for s in series]
    weights = [None] * len(series) if weights is None else list(weights)
    if len(weights) != len(series):
        raise ValueError(f"block_stats(): {len(weights)} weight arrays for {len(series)} series")
    if isinstance(blocks, bool) or not isinstance(blocks, (int, np.integer)) or blocks < 1:
        raise ValueError(f"block_stats(): `blocks` must be an int >= 1, got {blocks!r}")
    b_means, b_omega, kept_x, kept_w = [], [], [], []
    for x, w in zip(series, weights):
        n = len(x)
        if n == 0:
            continue
        w = np.ones(n) if w is None else np.asarray(w, dtype=float).reshape(-1)
        if w.shape != (n,) or not (w > 0).all():
            raise ValueError(f"block_stats(): weights must be {n} positive numbers, got shape {w.shape}")
        nb = min(int(blocks), n)
        length = n // nb
        x, w = x[n - nb * length:], w[n - nb * length:]
        wb = w.reshape(nb, length)
        total = wb.sum(axis=1)
        b_means.append((x.reshape(nb, length, -1) * wb[..., None]).sum(axis=1) / total[:, None])
        b_omega.append(total / total.mean())
        kept_x.append(x), kept_w.append(w / w.mean())
    if not b_means:
        raise ValueError("block_stats(): no samples")
    b, omega = np.concatenate(b_means), np.concatenate(b_omega)
    n_blocks = len(b)
    mean = (omega[:, None] * b).sum(axis=0) / n_blocks
    if n_blocks < 2:
        stderr = np.full(mean.shape, math.inf)
    else:
        dev = omega[:, None] * (b - mean)
        stderr = np.sqrt((dev**2).sum(axis=0) / (n_blocks * (n_blocks - 1)))
    x, w = np.concatenate(kept_x), np.concatenate(kept_w)
    var = (w[:, None] * (x - mean) ** 2).sum(axis=0) / max(w.sum() - 1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(stderr > 0, var / stderr**2, math.inf)
    return BlockStats(mean, stderr, float(np.min(n_eff)), n_blocks, n_blocks - 1)


def pooled_blocks(means: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and stderr of independent estimates (rows of ``means``): sample mean and
    standard deviation over sqrt(count). The rule above with one sample per block."""
    means = np.asarray(means, dtype=float)
    return means.mean(axis=0), means.std(axis=0, ddof=1) / math.sqrt(len(means))


def block_estimate(datasets: list[np.ndarray], blocks: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, stderr, n_eff) of independent correlated series by :func:`block_stats`."""
    stats = block_stats(datasets, blocks)
    return stats.mean, stats.stderr, stats.n_eff


@dataclass(frozen=True)
class Sampled:
    """What :func:`sample_replicas` measured: the statistics plus the bookkeeping.

    ``samples`` holds the sample count of each replica, ``stopped`` why the
    last replica ended (``"budget"``, ``"max_wall_s"`` or ``"target_stderr"``).
    """

    stats: BlockStats
    samples: tuple[int, ...]
    cost_s: float
    stopped: str
    truncated: bool

    def estimate(self, provenance: dict[str, Any] | None = None) -> Estimate:
        """The :class:`~hmm.contract.Estimate` of these statistics (provenance: blocks,
        degrees of freedom, replicas, samples per replica, and ``provenance``)."""
        prov = {"blocks": self.stats.blocks, "dof": self.stats.dof, "replicas": len(self.samples),
                "samples": list(self.samples), "stopped": self.stopped, "truncated": self.truncated,
                **(provenance or {})}
        return Estimate(self.stats.mean, self.stats.stderr, self.stats.n_eff, self.cost_s, prov)


ReplicaResult = Any  # an array (k, n), Weighted, or an iterator of those (a generator may return replacements)


def _split(chunk: Any) -> tuple[np.ndarray, np.ndarray | None]:
    if isinstance(chunk, Weighted):
        values = _as_2d(chunk.values)
        return values, np.asarray(chunk.weights, dtype=float).reshape(len(values))
    return _as_2d(chunk), None


def sample_replicas(run_replica: Callable[[np.random.Generator], ReplicaResult], budget: Budget, seed: int, *,
                    blocks: int, start: float | None = None, name: str = "oracle",
                    clock: Callable[[], float] = time.perf_counter) -> Sampled:
    """Run ``budget.replicas`` replicas of ``run_replica`` and reduce their samples.

    Parameters
    ----------
    run_replica : callable
        ``run_replica(rng)`` simulates one replica with the generator ``rng``
        (see :func:`replica_rngs`) and returns its samples: an array of shape
        (k, n_outputs), :class:`Weighted` samples, or an iterator (generator)
        of such chunks, which lets the helper stop between chunks. A
        generator may end with ``return samples``: those then replace every
        chunk it yielded (e.g. a lattice that fell into an absorbing state,
        whose long-time average is that state).
    budget : Budget
        A resolved budget: ``replicas``, ``max_wall_s`` and ``target_stderr``
        are applied here; the steps are the replica's business.
    seed : int
        The run's seed.
    blocks : int
        B, blocks per replica of :func:`block_stats`.
    start : float, optional
        ``clock()`` when the run started (default: now); the cost and the
        wall-time shares count from it.
    name : str
        Used in error messages (e.g. ``"DPD.run()"``).
    clock : callable
        Monotonic seconds (tests inject a fake clock).

    Raises
    ------
    OracleSetupError
        If no replica produced a sample (the budget is too small).
    OracleRunError
        If the estimate is not finite.
    """
    start = clock() if start is None else start
    n_rep = budget.replicas
    target, cap = budget.target_stderr, budget.max_wall_s
    series: list[np.ndarray] = []
    weights: list[np.ndarray | None] = []
    stopped, truncated = "budget", False
    for r, rng in enumerate(replica_rngs(seed, n_rep)):
        deadline = None if cap is None else start + cap * (r + 1) / n_rep
        result = run_replica(rng)
        chunks: Iterator[Any] = iter([result]) if isinstance(result, (np.ndarray, Weighted)) else iter(result)
        xs: list[np.ndarray] = []
        ws: list[np.ndarray | None] = []
        count, replacement, stopped = 0, None, "budget"
        while True:
            try:
                chunk = next(chunks)
            except StopIteration as stop:
                replacement = stop.value
                break
            x, w = _split(chunk)
            xs.append(x), ws.append(w)
            count += len(x)
            if deadline is not None and count >= blocks and clock() > deadline:
                stopped, truncated = "max_wall_s", True
            elif target is not None and count >= TARGET_MIN_BLOCK * blocks:
                now = block_stats([*series, np.concatenate(xs)], blocks, [*weights, _join(ws, xs)])
                if (now.stderr < target).all():
                    stopped = "target_stderr"
            if stopped != "budget":
                if hasattr(chunks, "close"):
                    chunks.close()
                break
        if replacement is not None:
            x, w = _split(replacement)
            xs, ws = [x], [w]
        x = np.concatenate(xs) if xs else np.zeros((0, 0))
        series.append(x), weights.append(_join(ws, xs))
    if not any(len(x) for x in series):
        raise OracleSetupError(f"{name}: the budget gives no samples; raise budget.sampling_steps")
    width = max(x.shape[1] for x in series if len(x))
    series = [x if len(x) else np.zeros((0, width)) for x in series]
    stats = block_stats(series, blocks, weights)
    if not (np.isfinite(stats.mean).all() and not np.isnan(stats.stderr).any()):
        raise OracleRunError(f"{name}: non-finite estimate {stats.mean}")
    return Sampled(stats, tuple(len(x) for x in series), clock() - start, stopped, truncated)


def chunk_sizes(total: int, size: int) -> Iterator[int]:
    """Sizes of consecutive chunks of at most ``size`` covering ``total`` (the last may be shorter)."""
    done = 0
    while done < total:
        step = min(size, total - done)
        yield step
        done += step


def _join(ws: list[np.ndarray | None], xs: list[np.ndarray]) -> np.ndarray | None:
    """Concatenated weights of one replica's chunks (None when no chunk was weighted)."""
    if all(w is None for w in ws):
        return None
    return np.concatenate([np.ones(len(x)) if w is None else w for w, x in zip(ws, xs)])


class SampledOracle:
    """Mix-in for a stochastic oracle that writes only its per-replica simulation.

    A subclass (a frozen dataclass) declares ``inputs``, ``outputs``,
    ``units`` and ``default_budget``, may have a ``blocks`` field (B of
    :func:`block_stats`; default :data:`DEFAULT_BLOCKS`) and implements

    ``sample_replica(state, rng, n_equilibration, n_sampling)``
        one replica at the validated ``state`` with generator ``rng``:
        equilibrate for ``n_equilibration`` micro steps, then return or
        yield the samples of ``n_sampling`` steps, shape (k, n_outputs)
        (see :func:`sample_replicas`).

    Optional hooks: ``check_state(state)`` (validate and convert; default:
    a float vector of ``len(inputs)`` finite values) and
    ``static_estimate(state)`` (an exact answer that needs no sampling,
    e.g. at zero temperature; default ``None``). ``run`` resolves the
    budget, calls them, and hands everything else (seeding, block
    averaging, ``max_wall_s``, ``target_stderr``, cost) to
    :func:`sample_replicas`. Every :class:`~hmm.contract.Budget` field is
    supported.
    """

    supports: ClassVar[frozenset[str]] = frozenset({"equilibration_steps", "sampling_steps", "replicas",
                                                    "target_stderr", "max_wall_s"})

    def check_state(self, state: Any) -> Any:
        """The validated state (default: a finite float vector of ``len(inputs)`` values)."""
        return check_state(state, self.inputs, f"{type(self).__name__}.run()")

    def static_estimate(self, state: Any) -> Estimate | None:
        """An exact answer without sampling, or ``None`` (default)."""
        return None

    def sample_replica(self, state: Any, rng: np.random.Generator, n_equilibration: int,
                       n_sampling: int) -> ReplicaResult:
        raise NotImplementedError(f"{type(self).__name__} must implement sample_replica()")

    def run(self, state: np.ndarray, *, seed: int, budget: Budget) -> Estimate:
        """One micro run: validated state, resolved budget, replicas by :func:`sample_replicas`."""
        start = time.perf_counter()
        name = f"{type(self).__name__}.run()"
        budget = resolve_budget(self, budget, func=name)
        checked = self.check_state(state)
        static = self.static_estimate(checked)
        if static is not None:
            return static if not math.isnan(static.cost_s) else replace(static, cost_s=time.perf_counter() - start)
        n_eq, n_samp = budget.equilibration_steps, budget.sampling_steps
        sampled = sample_replicas(lambda rng: self.sample_replica(checked, rng, n_eq, n_samp), budget, seed,
                                  blocks=getattr(self, "blocks", DEFAULT_BLOCKS), start=start, name=name)
        return sampled.estimate()


__all__ = ["Weighted", "BlockStats", "Sampled", "SampledOracle", "replica_rngs", "block_stats", "block_estimate",
           "pooled_blocks", "sample_replicas", "chunk_sizes", "TARGET_MIN_BLOCK", "DEFAULT_BLOCKS"]
