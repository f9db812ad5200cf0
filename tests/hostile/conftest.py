"""The hostile corpus on disk (one folder, built once per session); the CLI runner lives in
`hostile_support`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile_corpus import Case, corpus  # noqa: E402


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for case in corpus():
        (folder / case.file_name).write_bytes(case.data)
    return folder


@pytest.fixture(scope="session")
def cases() -> tuple[Case, ...]:
    return corpus()
