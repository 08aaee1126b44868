"""The Oracle contract (defined in :mod:`hmm.contract`, re-exported here).

A micro model is a small, frozen, picklable config object that declares what
it takes and returns as class data and writes one method, ``run``; see
:class:`hmm.contract.Oracle`.
"""

from hmm.contract import Oracle, oracle_units, resolve_budget

__all__ = ["Oracle", "oracle_units", "resolve_budget"]
