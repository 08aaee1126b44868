"""Uncertainty quantification across scales: aleatoric (micro noise) and epistemic (micro parameters).

Public names
------------
propagate, UQResult
    Micro noise carried into an HMM run's fields and a goal, by linear
    propagation or a seed ensemble (:mod:`hmm.uq.propagate`).
goals
    Goal quantities (linear functionals of a field: flow rate, regional
    mean, point value) and :func:`~hmm.uq.goals.make_goal`.
"""

from . import goals
from .propagate import UQResult, propagate

__all__ = ["propagate", "UQResult", "goals"]
