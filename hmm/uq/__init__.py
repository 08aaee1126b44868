"""Uncertainty quantification across scales: aleatoric (micro noise) and epistemic (micro parameters).

Public names
------------
propagate, UQResult
    Micro noise carried into an HMM run's fields and a goal, by linear
    propagation or a seed ensemble (:mod:`hmm.uq.propagate`).
sample_parameters, ParameterDesign, make_distribution
    Seeded quasi-Monte Carlo designs of uncertain oracle parameters given
    as ``scipy.stats`` distributions (:mod:`hmm.uq.parameters`).
epistemic, EpistemicResult, VarianceSplit, SobolIndices
    Whole HMM runs over a parameter design: goal samples, Sobol' indices
    (SALib) and the law-of-total-variance split into aleatoric and
    epistemic parts (:mod:`hmm.uq.epistemic`, :mod:`hmm.uq.sobol`).
SharedSurrogateOptions
    Semi-intrusive epistemic studies: one micro surrogate over (macro state,
    parameters) shared by every design point (``epistemic(surrogate=...)``,
    :mod:`hmm.uq.shared`).
goals
    Goal quantities (linear functionals of a field: flow rate, regional
    mean, point value) and :func:`~hmm.uq.goals.make_goal`.
pce_study, PCEResult
    A polynomial chaos expansion of the goal over the parameters (optional
    extra ``pce``, OpenTURNS; imported on first use, :mod:`hmm.uq.pce`).
run_study
    The ``[uq]`` section of a run configuration (:mod:`hmm.uq.study`).
"""

from . import goals
from .epistemic import EpistemicResult, VarianceSplit, epistemic
from .parameters import ParameterDesign, make_distribution, sample_parameters
from .propagate import UQResult, propagate
from .shared import SharedSurrogateOptions
from .sobol import SobolIndices

__all__ = ["propagate", "UQResult", "sample_parameters", "ParameterDesign", "make_distribution", "epistemic",
           "EpistemicResult", "VarianceSplit", "SobolIndices", "SharedSurrogateOptions", "goals", "run_study",
           "pce_study", "PCEResult"]


def __getattr__(name):
    if name == "run_study":
        from .study import run_study

        return run_study
    if name in ("pce_study", "PCEResult"):
        from . import pce

        return getattr(pce, name)
    raise AttributeError(f"module 'hmm.uq' has no attribute {name!r}")
