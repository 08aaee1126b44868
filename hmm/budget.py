"""How much micro computation one oracle call may spend (defined in :mod:`hmm.contract`)."""

from .contract import BUDGET_FIELDS, Budget, resolve_budget

__all__ = ["Budget", "BUDGET_FIELDS", "resolve_budget"]
