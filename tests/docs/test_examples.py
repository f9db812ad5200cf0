"""Run the ```python and ```bash blocks of README.md and docs/**/*.md, so the examples cannot rot.

A block runs unless the line before its fence is `<!-- no-run: why -->` (servers, clusters,
training, installs, the evaluation data set). The README's `<!-- example-command -->` and
`<!-- test-command -->` blocks install the package, so they are skipped too; CI runs them.
Each block runs alone, in a fresh folder holding the files the examples name: `photo.jpg`,
`my_scans/` (two pages) and a two-page `report.pdf`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PHOTO = ROOT / "examples" / "curled_page.jpg"
FENCE = re.compile(r"^```(python|bash)\s*$")
SKIP_MARKERS = ("<!-- no-run", "<!-- example-command -->", "<!-- test-command -->")
# The real models run in every block; a block that takes longer than this has grown too big.
TIMEOUT_S = 300


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    skip_reason: str | None

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"


def _doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def _blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start = i
        end = start + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        previous = next((lines[j].strip() for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        skip = previous if previous.startswith(SKIP_MARKERS) else None
        blocks.append(Block(path, start + 1, match.group(1), "\n".join(lines[start + 1:end]) + "\n", skip))
        i = end + 1
    return blocks


ALL_BLOCKS = [block for path in _doc_files() for block in _blocks(path)]


def test_blocks_found() -> None:
    # A change to the fence syntax must not silently turn this file into a no-op.
    assert sum(block.skip_reason is None for block in ALL_BLOCKS) >= 10


@pytest.mark.parametrize("block", [b for b in ALL_BLOCKS if b.skip_reason], ids=lambda b: b.id)
def test_no_run_says_why(block: Block) -> None:
    reason = block.skip_reason or ""
    if reason.startswith("<!-- no-run"):
        assert re.match(r"<!-- no-run: \S.* -->$", reason), f"{block.id}: say why a block does not run"


@pytest.fixture(scope="session")
def example_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("example-files")
    shutil.copy(EXAMPLE_PHOTO, folder / "photo.jpg")
    scans = folder / "my_scans"
    scans.mkdir()
    shutil.copy(EXAMPLE_PHOTO, scans / "page1.jpg")
    shutil.copy(EXAMPLE_PHOTO, scans / "page2.jpg")
    # A small two-page PDF keeps the PDF examples to seconds.
    with Image.open(EXAMPLE_PHOTO) as photo:
        page = photo.convert("RGB")
        page.thumbnail((1000, 1000))
        page.save(folder / "report.pdf", save_all=True, append_images=[page.rotate(180)], resolution=100)
    return folder


@pytest.fixture(scope="session")
def run_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = dict(os.environ)
    bin_dirs = [str(Path(sys.executable).parent)]
    if shutil.which("pagefix", path=os.pathsep.join(bin_dirs + [env.get("PATH", "")])) is None:
        # Not installed (a checkout tried with PYTHONPATH=src): a shim that runs the module.
        shim_dir = tmp_path_factory.mktemp("shim")
        shim = shim_dir / "pagefix"
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pagefix "$@"\n')
        shim.chmod(0o755)
        bin_dirs.insert(0, str(shim_dir))
    env["PATH"] = os.pathsep.join(bin_dirs + [env.get("PATH", "")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Snippets run from their own folder; keep the checkout importable when it is not installed.
    if (ROOT / "src").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.parametrize(
    "block",
    [pytest.param(b, marks=pytest.mark.skip(reason=b.skip_reason)) if b.skip_reason else b for b in ALL_BLOCKS],
    ids=lambda b: b.id,
)
def test_example(block: Block, example_files: Path, run_env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(example_files, work)
    if block.language == "python":
        script = work / "_example.py"
        command = [sys.executable, str(script)]
    else:
        script = work / "_example.sh"
        command = ["bash", "-e", str(script)]
    script.write_text(block.code, encoding="utf-8")
    done = subprocess.run(
        command, cwd=work, env=run_env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"{block.id} exited with {done.returncode}\n--- code\n{block.code}"
            f"--- stdout (end)\n{done.stdout[-3000:]}\n--- stderr (end)\n{done.stderr[-3000:]}"
        )
