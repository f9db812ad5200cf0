"""Running the CLI in a subprocess and measuring it: exit status, output, wall time and peak RSS
(os.wait4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: Stages off: the tests that are about the gate do not pay for loading the models.
NO_MODELS = ["--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False"]


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    wall_s: float
    peak_rss_mib: float


# The child's peak RSS is read by a small launcher, not by pytest itself: Linux counts the memory
# of the process that forked (the test runner, maybe 1 GB by then) into the forked child's
# ru_maxrss until it execs. Forked from the small launcher, the CLI's own peak is what is left.
_LAUNCHER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "pagefix", *sys.argv[2:]])
signal.signal(signal.SIGTERM, lambda sig, frame: os.kill(pid, sig))
signal.signal(signal.SIGINT, lambda sig, frame: os.kill(pid, sig))
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
with open(sys.argv[1], "w") as report:
    report.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


class CliProcess:
    """`python -m pagefix ARGS` started in the background; `wait()` gives its exit status, output,
    wall time and peak RSS (os.wait4 in the launcher). `terminate()`/`kill()` reach the CLI itself."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self._out = tempfile.TemporaryFile()
        self._err = tempfile.TemporaryFile()
        handle, self._report = tempfile.mkstemp(prefix="pagefix-rusage-")
        os.close(handle)
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, self._report, *args], stdout=self._out, stderr=self._err,
            stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
        )

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)  # forwarded by the launcher

    def kill(self) -> None:
        # SIGKILL cannot be forwarded: find the CLI as the launcher's only child.
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)

    def wait(self, timeout: float = 300) -> Run:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.terminate()
            self.process.wait(30)
            raise
        wall = time.monotonic() - self.started
        code, maxrss = Path(self._report).read_text().split()
        os.unlink(self._report)
        texts = []
        for handle in (self._out, self._err):
            handle.seek(0)
            texts.append(handle.read().decode("utf-8", "replace"))
            handle.close()
        return Run(int(code), texts[0], texts[1], wall, int(maxrss) / 1024)


def run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> Run:
    return CliProcess(args, env).wait(timeout)


def json_results(stdout: str) -> list[dict]:
    """The results the CLI printed: one indented JSON object per page, each's "res"."""
    decoder = json.JSONDecoder()
    found, at = [], 0
    text = stdout.strip()
    while at < len(text):
        value, end = decoder.raw_decode(text, at)
        found.append(value["res"])
        at = end
        while at < len(text) and text[at].isspace():
            at += 1
    return found
