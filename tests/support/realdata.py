"""Where the real-data tier finds its data: `PAGEFIX_TEST_DATA`, else `../shared/data` beside the
repository when that folder exists. `PAGEFIX_REQUIRE_DATA=1` turns a missing data set from a skip
into an error, so that CI cannot pass without running the tier.

The variables are read once, when the test session starts (tests/conftest.py clears every
`PAGEFIX_*` variable between tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HOW_TO_RUN = "set PAGEFIX_TEST_DATA=/path/to/data (see docs/development.md) to run the realdata tier"


@dataclass(frozen=True)
class DataLocation:
    path: Path | None  # None: not found
    required: bool
    looked_at: str

    def missing_message(self) -> str:
        return f"real data not found at {self.looked_at}: {HOW_TO_RUN}"


def locate(environ: dict[str, str] | None = None) -> DataLocation:
    env = os.environ if environ is None else environ
    required = env.get("PAGEFIX_REQUIRE_DATA", "").strip().lower() not in ("", "0", "false", "no")
    named = env.get("PAGEFIX_TEST_DATA", "").strip()
    candidate = Path(named).expanduser() if named else REPO.parent / "shared" / "data"
    found = candidate.resolve() if candidate.is_dir() else None
    return DataLocation(found, required, str(candidate))
