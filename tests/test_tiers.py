"""The test tiers themselves: the realdata tier skips without its data (one line saying how to run
it) and fails when the data is required; no PAGEFIX_* setting of the shell reaches a test."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from support.realdata import HOW_TO_RUN, locate

REPO = Path(__file__).resolve().parents[1]
# A realdata test that skips before building any fixture, and the environment check below.
CHEAP = ["tests/unwarp/test_skip_counts.py", "tests/test_tiers.py::test_no_pagefix_setting_reaches_a_test"]


def test_no_pagefix_setting_reaches_a_test():
    assert [name for name in os.environ if name.startswith("PAGEFIX_") and name != "PAGEFIX_HOME"] == []


def test_the_data_location(tmp_path):
    found = locate({"PAGEFIX_TEST_DATA": str(tmp_path)})
    assert found.path == tmp_path.resolve() and not found.required
    missing = locate({"PAGEFIX_TEST_DATA": str(tmp_path / "nowhere"), "PAGEFIX_REQUIRE_DATA": "1"})
    assert missing.path is None and missing.required
    assert HOW_TO_RUN in missing.missing_message() and str(tmp_path / "nowhere") in missing.missing_message()
    assert not locate({"PAGEFIX_REQUIRE_DATA": "0"}).required


def _pytest(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PAGEFIX_") or k == "PAGEFIX_HOME"}
    full.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "run"), *CHEAP],
        cwd=REPO, env=full, capture_output=True, text=True, timeout=300,
    )


def test_missing_data_is_a_skip_or_with_require_data_an_error(tmp_path):
    # PAGEFIX_MAX_PIXELS set in the "shell": the environment check must still pass.
    skipped = _pytest(tmp_path, PAGEFIX_TEST_DATA=str(tmp_path / "nowhere"), PAGEFIX_MAX_PIXELS="7")
    assert skipped.returncode == 0, skipped.stdout + skipped.stderr
    assert "1 passed, 1 skipped" in skipped.stdout
    assert f"real data not found at {tmp_path / 'nowhere'}: {HOW_TO_RUN}" in skipped.stdout
    failed = _pytest(tmp_path, PAGEFIX_TEST_DATA=str(tmp_path / "nowhere"), PAGEFIX_REQUIRE_DATA="1")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "1 passed, 1 error" in failed.stdout  # failed in setup, before any fixture
    assert f"PAGEFIX_REQUIRE_DATA=1 and the real data not found at {tmp_path / 'nowhere'}" in failed.stdout
