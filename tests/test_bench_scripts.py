"""Every benchmark script still starts: `--help` imports it and builds its parser, so a helper
that moved (tests/support) or a renamed module breaks this test, not the next benchmark run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"
#: The scripts (bench/data.py is a module the scripts import).
SCRIPTS = sorted(path.name for path in BENCH.glob("*.py") if '__name__ == "__main__"' in path.read_text(encoding="utf-8"))


def test_the_bench_folder_is_found():
    assert "run.py" in SCRIPTS


@pytest.mark.parametrize("script", SCRIPTS)
def test_bench_script_starts(script):
    done = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=BENCH.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()
