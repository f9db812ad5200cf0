"""`pagefix batch --engine ray`: the fixture collection on a local Ray (2 CPUs) gives the local
engine's manifest, in the fused and the staged layout; a two-node cluster on 127.0.0.1 processes
pages on both nodes. Ray comes with the test extra; without it these tests fail with the CLI's
install hint rather than being skipped."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pagefix.batch import MANIFEST_NAME

from .conftest import run_cli

VOLATILE = ["run_id", "elapsed_ms"]
RAY = str(Path(sys.executable).with_name("ray"))


@pytest.fixture
def local_manifest(local_run):
    return pq.read_table(local_run[0] / MANIFEST_NAME)


# staged: UVDoc in its own actor pool, on the CPU here (0 GPUs), several pages per model call.
LAYOUTS = {"fused": [], "staged": ["--ray_layout", "staged", "--ray_unwarp_gpus", "0", "--ray_unwarp_batch_size", "4"]}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_local_ray_gives_the_local_engines_manifest(collection, local_manifest, tmp_path, layout):
    out = tmp_path / "out"
    result = run_cli(str(collection.root), "--save_path", str(out), "--engine", "ray", "--ray_num_cpus", "2",
                     "--ray_object_store_mb", "300", *LAYOUTS[layout])
    assert result.returncode == 0, result.stderr[-3000:]
    assert "6 pages ok, 3 failed" in result.stdout
    ray_manifest = pq.read_table(out / MANIFEST_NAME)
    assert ray_manifest.schema.equals(local_manifest.schema)
    assert ray_manifest.drop_columns(VOLATILE).equals(local_manifest.drop_columns(VOLATILE))
    assert len(set(ray_manifest.column("run_id").to_pylist())) == 1
    written = sorted(p.relative_to(out).as_posix() for p in (out / "pages").rglob("*") if p.is_file())
    assert written == sorted(p for p in local_manifest.column("output_path").to_pylist() if p)
    again = run_cli(str(collection.root), "--save_path", str(out), "--engine", "ray", "--ray_num_cpus", "2",
                    "--ray_object_store_mb", "300", "--no_retry_errors", *LAYOUTS[layout])
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 pages ok, 0 failed, from 0 inputs" in again.stdout  # nothing left: Ray is not even started


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_node(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """`ray start ... --block` in its own session, so it and its children can be stopped by id."""
    with open(log, "w") as handle:
        process = subprocess.Popen([RAY, "start", *args, "--block"], stdout=handle, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True, env=env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "Ray runtime started" in text:
            return process
        if process.poll() is not None:
            break
        time.sleep(0.3)
    _stop_nodes([process])
    raise AssertionError(f"ray start {' '.join(args)} did not come up:\n{log.read_text(errors='replace')[-3000:]}")


def _stop_nodes(processes: list[subprocess.Popen]) -> None:
    """SIGTERM every node at once (each drains for up to 30 s), then SIGKILL whatever is left in
    their sessions: Ray's workers leave the node's process group but not its session."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 45
    for process in processes:
        try:
            process.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"ray node {process.pid} still running after SIGTERM; killing its session", file=sys.stderr)
    sessions = {process.pid for process in processes}
    for pid in _pids_in_sessions(sessions):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for process in processes:
        process.wait(timeout=30)


def _pids_in_sessions(sessions: set[int]) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                sid = os.getsid(int(entry.name))
            except (ProcessLookupError, PermissionError):
                continue
            if sid in sessions:
                found.append(int(entry.name))
    return found


@pytest.mark.timeout(300)
def test_two_node_cluster_processes_pages_on_both_nodes(collection, local_manifest, tmp_path):
    temp = Path(tempfile.mkdtemp(prefix="pfray", dir="/tmp"))  # short: Ray's socket paths have a length limit
    port = _free_port()
    # The test's own token: nodes and driver agree on it whatever ~/.ray holds.
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"} | auth
    env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "2"  # the job is over when the nodes stop: nothing to drain
    nodes: list[subprocess.Popen] = []
    try:
        nodes.append(_start_node(["--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "1",
                                  "--include-dashboard", "false", "--temp-dir", str(temp)], tmp_path / "head.log", env))
        nodes.append(_start_node(["--address", f"127.0.0.1:{port}", "--node-ip-address", "127.0.0.1",
                                  "--num-cpus", "1"], tmp_path / "worker.log", env))
        out = tmp_path / "out"
        result = run_cli(str(collection.root), "--save_path", str(out), "--engine", "ray",
                         "--ray_worker_cpus", "1", env={**auth, "RAY_ADDRESS": f"127.0.0.1:{port}"}, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
        per_node = re.search(r"pages per node: ([^;]+);", result.stdout)
        assert per_node, result.stdout
        counts = dict(part.split("=") for part in per_node.group(1).split(", "))
        assert len(counts) == 2 and all(int(n) > 0 for n in counts.values()), result.stdout
        assert sum(int(n) for n in counts.values()) == 6
        table = pq.read_table(out / MANIFEST_NAME)
        assert table.drop_columns(VOLATILE).equals(local_manifest.drop_columns(VOLATILE))
    finally:
        _stop_nodes(nodes)
        shutil.rmtree(temp, ignore_errors=True)


def test_staged_layout_refuses_save_pdf_before_starting_ray(collection, tmp_path):
    from pagefix.batch import BatchOptions, OutputOptions, RayOptions, run_batch
    from pagefix.errors import ConfigError

    options = BatchOptions([str(collection.root)], str(tmp_path / "out"), engine="ray",
                           output=OutputOptions(save_pdf=True), ray=RayOptions(layout="staged"))
    with pytest.raises(ConfigError, match="--ray_layout fused"):
        run_batch(options)
