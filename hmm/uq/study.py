"""The ``[uq]`` section of ``hmm run CONFIG.toml``: one function from a configured solver to results.

``method = "linear"`` and ``"ensemble"`` give the Dataset of
:class:`hmm.uq.UQResult` (fields with ``_stderr``, ``_spread``, ``_lower``,
``_upper``; per-member goal and seeds); ``"sobol"`` and ``"qmc"`` give that
of :meth:`hmm.uq.EpistemicResult.to_dataset` (design, goal samples, the
variance split and, for sobol, the Sobol' indices with their intervals).
"""

from __future__ import annotations

from typing import Any

from .epistemic import epistemic
from .propagate import propagate


def study_run_kwargs(cfg: Any) -> dict[str, Any]:
    """Keyword arguments of each member's solve from ``[run]`` and ``[macro]``."""
    if cfg.run.mode == "steady":
        return {}
    return {"t_end": cfg.run.t_end, "dt": cfg.run.dt, "u0": cfg.macro.initial, "save_every": cfg.run.save_every}


def run_study(cfg: Any, solver: Any, *, progress: bool = False) -> tuple[Any, str]:
    """Run the study of ``cfg.uq`` with ``solver``; return its Dataset and a one-line summary."""
    uq = cfg.uq
    kwargs = {"goal": uq.goal, "seed": uq.seed, "mode": cfg.run.mode, "run_kwargs": study_run_kwargs(cfg),
              "confidence": uq.confidence, "progress": progress}
    mark = solver.coupler.accounting
    if uq.method in ("linear", "ensemble"):
        res = propagate(solver, uq.method, n=uq.n_points, **kwargs)
        ds = res.dataset
        goal = (f"; goal {ds.attrs['uq_goal']} = {res.goal_mean:.6g} +- {res.goal_stderr:.2g}"
                if "goal_mean" in ds else "")
        summary = f"{uq.method} uq, {res.n} run(s){goal}"
    else:
        res = epistemic(solver, uq.parameters, n=uq.n_points, indices=uq.method == "sobol", design=uq.design,
                        n_aleatoric=uq.n_aleatoric, num_resamples=uq.num_resamples, surrogate=uq.surrogate,
                        **kwargs)
        ds = res.to_dataset({"uq_method": uq.method, "uq_seed": uq.seed, "uq_confidence": uq.confidence,
                             "uq_mode": cfg.run.mode, "oracle": type(solver.coupler.oracle).__name__})
        split = res.split
        how = "shared micro surrogate" if uq.surrogate is not None else f"{res.n_aleatoric} run(s)"
        if split.aleatoric == split.aleatoric:  # known
            parts = (f"variance {split.total:.3g} = aleatoric {split.aleatoric:.3g} + epistemic "
                     f"{split.epistemic:.3g}")
        else:
            parts = f"epistemic variance {split.epistemic:.3g} (aleatoric part not estimated)"
        summary = f"{uq.method} uq, {res.design.n} design points x {how}; goal {res.goal_name} {parts}"
        if res.indices is not None:
            ix = res.indices
            summary += "; Sobol' total " + ", ".join(f"{k} {v:.2f}" for k, v in zip(ix.names, ix.total))
    work = solver.coupler.accounting - mark
    ds.attrs["micro_runs"] = int(work.fresh_runs)
    ds.attrs["micro_seconds"] = float(work.micro_seconds)
    return ds, summary
