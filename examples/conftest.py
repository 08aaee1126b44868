"""pytest settings for ``examples/``: the notebooks run through nbmake in QUICK mode.

``QUICK=1`` is put into the environment at collection, before nbmake starts
any kernel (kernels inherit it), unless the caller set ``QUICK`` already.
Each notebook's run time is printed at the end of the session, so that the
CI log shows it.
"""

from __future__ import annotations

import os

os.environ.setdefault("QUICK", "1")

_NOTEBOOK_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Record the call-phase duration of every notebook item."""
    if report.when == "call" and ".ipynb" in report.nodeid:
        _NOTEBOOK_SECONDS[report.nodeid] = report.duration


def pytest_terminal_summary(terminalreporter):
    """Print each notebook's run time (QUICK mode unless QUICK was set otherwise)."""
    if not _NOTEBOOK_SECONDS:
        return
    terminalreporter.section(f"notebook run times (QUICK={os.environ.get('QUICK')})")
    for nodeid, seconds in sorted(_NOTEBOOK_SECONDS.items()):
        terminalreporter.write_line(f"{seconds:7.1f} s  {nodeid}")
    terminalreporter.write_line(f"{sum(_NOTEBOOK_SECONDS.values()):7.1f} s  in all")
