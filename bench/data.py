"""Where the benchmarks find the real data sets, the same way the tests' realdata tier does:
`$PAGEFIX_TEST_DATA`, else `../shared/data` beside the repository when that folder exists.

    PAGEFIX_TEST_DATA=/path/to/data python bench/run.py

The folder holds `orientation/` (upright real pages and their manifest) and `unwarp/`
(`inv3d_real/`, `docunet_crop/`, `qualitative/`); docs/datasets.md describes them.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """The data folder; exits with a line saying how to point at it when there is none."""
    named = os.environ.get("PAGEFIX_TEST_DATA", "").strip()
    folder = Path(named).expanduser() if named else REPO.parent / "shared" / "data"
    if not folder.is_dir():
        raise SystemExit(f"real data not found at {folder}: set PAGEFIX_TEST_DATA=/path/to/data")
    return folder.resolve()
