"""The hostile corpus on disk (one folder, built once per session); the CLI runner lives in
`support.cli_process`."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.hostile_corpus import Case, corpus


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for case in corpus():
        (folder / case.file_name).write_bytes(case.data)
    return folder


@pytest.fixture(scope="session")
def cases() -> tuple[Case, ...]:
    return corpus()
