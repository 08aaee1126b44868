"""Every example script behaves alike: ``--help`` only prints help (usage, a
``--quick`` flag, the expected run time), exits 0 and writes nothing.

Each script runs in a real subprocess from an empty working directory, so a
script that started its study (or wrote ``results/``) on ``--help`` fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
EXAMPLES = [p for p in EXAMPLES if p.name != "conftest.py"]


def test_every_example_is_listed():
    """The examples folder is not empty (a glob that matched nothing would pass every test below)."""
    assert len(EXAMPLES) >= 8


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_help_only_prints_help(script: Path, tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("usage:"), out[:200]
    assert "--quick" in out, f"{script.name}: no --quick flag"
    assert "run time" in out.lower(), f"{script.name}: help states no expected run time"
    assert list(tmp_path.iterdir()) == [], f"{script.name} --help wrote {list(tmp_path.iterdir())}"
