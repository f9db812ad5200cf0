"""The hostile corpus on disk (one folder, built once per session) and a subprocess runner that
measures what each CLI run cost (wall time and peak RSS through os.wait4)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from hostile_corpus import Case, corpus  # noqa: E402

#: Stages off: the tests that are about the gate do not pay for loading the models.
NO_MODELS = ["--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False"]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    for case in corpus():
        (folder / case.file_name).write_bytes(case.data)
    return folder


@pytest.fixture(scope="session")
def cases() -> tuple[Case, ...]:
    return corpus()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mib: float


class CliProcess:
    """`python -m pagefix ARGS` started in the background; `wait()` reaps it with os.wait4."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "pagefix", *args], stdout=self._out, stderr=self._err,
            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
        )

    def wait(self, timeout: float = 300) -> Run:
        timer = threading.Timer(timeout, self.process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(self.process.pid, 0)
        finally:
            timer.cancel()
        wall = time.monotonic() - self.started
        self.process.returncode = os.waitstatus_to_exitcode(status)
        texts = []
        for handle in (self._out, self._err):
            handle.seek(0)
            texts.append(handle.read().decode("utf-8", "replace"))
            handle.close()
        return Run(self.process.returncode, texts[0], texts[1], wall, usage.ru_maxrss / 1024)


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    return CliProcess(args, env).wait(timeout)
