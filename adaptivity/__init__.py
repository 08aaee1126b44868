"""Error indicators, marking and allocation of micro work (issue 7: not built yet).

This package will hold the statistical, modelling/reuse and discretisation
indicators and the Dörfler / budget-greedy marking strategies. It never runs
anything itself: it proposes, :class:`hmm.Coupler` executes.
"""
