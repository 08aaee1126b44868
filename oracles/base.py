"""The Oracle contract: a micro model as a small, frozen, picklable config object.

In the spirit of an ASE ``Calculator``: the model declares what it takes and
what it returns as class data and writes one method, ``run``. The framework
(:class:`hmm.Coupler`) owns scheduling, seeding, caching and retries.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from hmm.budget import Budget
    from hmm.estimate import Estimate


@runtime_checkable
class Oracle(Protocol):
    """A microscale model queried with a macro state.

    Attributes
    ----------
    inputs : tuple of str
        Names of the macro state components, in column order of ``state``
        (e.g. ``("x", "grad_x")`` or ``("strain", "temperature")``).
    outputs : tuple of str
        Names of the returned quantities, in the order of ``Estimate.mean``.

    Notes
    -----
    ``run`` must be pure: the same ``state``, ``seed`` and ``budget`` give the
    same bits on any worker. Implementations should be frozen dataclasses so
    that :func:`hmm.provenance.oracle_token` identifies their configuration.

    Optional: ``deterministic = True`` declares that the seed cannot change
    the answer (the Coupler then ignores common-random-number seed rows, so
    repeated states keep hitting its cache).

    Optional: ``run_batch(states, *, seeds, budget) -> hmm.EstimateArrays``
    answers a block of queries at once (the Coupler packs ``batch_size``
    queries per task and calls it when present). Row ``i`` must be bit for
    bit what ``run(states[i], seed=seeds[i], budget=budget)`` returns. Rows
    that come back non-finite, or a batch that raises, are re-run one by one
    through ``run`` so that failures name the exact query.
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    def run(self, state: np.ndarray, *, seed: int, budget: "Budget") -> "Estimate":
        """Run one micro simulation constrained by ``state`` and return its estimate."""
        ...
