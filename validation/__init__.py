"""Validation studies of the framework and its micro models (not installed).

Each case module runs reproducible cases with known answers (closed forms,
published values) and returns the measured numbers next to the references
as plain data (:class:`validation.table.Section`). ``docs/make_validation.py``
runs them and renders ``docs/validation.md``; ``tests/validation/`` checks the
methods against the same references with derived tolerances.

Run from the repository root (the package sits next to ``hmm/`` and is found
on ``sys.path`` there); it is not part of the ``hmm-ef`` distribution.

Closed forms and published values of the micro models live in
:mod:`validation.references`.
"""

from __future__ import annotations

import importlib
from typing import Callable, NamedTuple

__all__ = ["SECTIONS", "SectionSpec", "load_section"]


class SectionSpec(NamedTuple):
    """Where a report section is computed and what running it costs."""

    target: str  # "module:function" returning a validation.table.Section
    cost: str  # "short" (under a minute on one core) or "long" (minutes to tens of minutes)
    summary: str


#: The report's sections in the order of ``docs/validation.md``.
SECTIONS: dict[str, SectionSpec] = {
    "cell_problem": SectionSpec("validation.homogenisation:cell_problem_section", "short",
                                "cell-problem oracle against closed-form homogenised coefficients"),
    "hmm_convergence": SectionSpec("validation.homogenisation:convergence_section", "short",
                                   "HMM convergence in H to the homogenised solution, 1D and 2D"),
    "hmm_direct": SectionSpec("validation.homogenisation:direct_section", "short",
                              "HMM against direct fine-grid solves resolving eps"),
    "equation_free": SectionSpec("validation.equation_free:section", "short",
                                 "projective integration, coarse fixed point and folds (fast/slow SDE)"),
    "md": SectionSpec("validation.md:section", "long",
                      "Lennard-Jones MD: lattice sums, equation of state, drift, self-diffusion"),
    "adapters": SectionSpec("validation.adapters:section", "long",
                            "LAMMPS and ASE adapters against our MD and a finite difference"),
    "kmc": SectionSpec("validation.kmc:section", "long",
                       "lattice KMC: Langmuir, tracer diffusion, ZGB transitions, mean field, folds"),
    "dpd": SectionSpec("validation.dpd:section", "long",
                       "DPD: equation of state, temperature control, viscosity, shear thinning"),
    "dpd_wall": SectionSpec("validation.dpd_wall:section", "long",
                            "DPD walls: momentum balance, Couette viscosity, near-wall slip"),
    "adaptivity": SectionSpec("validation.adaptivity:section", "short",
                              "effectivity of the goal-error indicators and the adaptive loop"),
}


def load_section(name: str) -> Callable[[], object]:
    """The function that computes section ``name`` (imported on demand: the
    modules pull in the oracles they validate)."""
    try:
        spec = SECTIONS[name]
    except KeyError:
        raise ValueError(f"load_section(): unknown section {name!r}; known: {', '.join(SECTIONS)}") from None
    module, func = spec.target.split(":")
    return getattr(importlib.import_module(module), func)
