"""Throughput and memory of `pagefix batch`: the local engine, the Ray engine (a local Ray with all
CPUs) and a hand-written loop over `DocPreprocessor.predict_iter`, on the same page set.

Each run is a fresh process with a fresh output directory, so start-up and model loading count.
Runs are interleaved (local, ray, hand, local, ...) so that load from elsewhere on the machine
falls on all three alike. Memory is the peak, over the run, of the summed PSS of the process and
all its descendants (Ray's raylet, GCS and workers included; shared pages counted once).

    python bench/batch.py                  # 3 repetitions each on 44 pages built from the real data (bench/data.py)
    python bench/batch.py --repeat 5 --keep /tmp/pageset
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
from data import data_dir  # bench/data.py, beside this script
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

HAND_LOOP = """
import sys
from pathlib import Path
from pagefix import DocPreprocessor
from pagefix.outputs.files import encode_image, write_atomic

source, out = sys.argv[1], Path(sys.argv[2])
pipeline = DocPreprocessor()
pages = 0
for result in pipeline.predict_iter(source, errors="yield"):
    if result.ok:
        name = f"{Path(result.input_path).name}.p{result.page_index or 0:04d}.jpg"
        write_atomic(out / name, encode_image(result.output_img, ".jpg", 95))
        pages += 1
print(pages)
"""


def build_page_set(root: Path) -> int:
    """44 pages: 16 warped phone photos (Inv3DReal), 12 document pages turned 0/90/180/270, and
    4 PDFs of 4 pages each. Returns the page count."""
    data = data_dir()
    photos = sorted((data / "unwarp/inv3d_real").glob("*/warped_document_*.jpg"))
    by_document: dict[str, list[Path]] = {}
    for photo in photos:
        by_document.setdefault(photo.parent.name, []).append(photo)
    chosen = [files[i] for files in by_document.values() for i in (0, len(files) // 2)][:16]
    (root / "photos").mkdir(parents=True)
    for photo in chosen:
        shutil.copy(photo, root / "photos" / f"{photo.parent.name}_{photo.name}")
    uprights = sorted((data / "orientation/upright").glob("docbank__*.jpg")) + sorted(
        (data / "orientation/upright").glob("publaynet__*.jpg"))
    turns = (None, cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE)
    (root / "pages").mkdir()
    for i, path in enumerate(uprights[:12]):
        image = cv2.imread(str(path))
        if turns[i % 4] is not None:
            image = cv2.rotate(image, turns[i % 4])
        cv2.imwrite(str(root / "pages" / f"page_{i:02d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    (root / "pdfs").mkdir()
    for d in range(4):
        group = uprights[12 + 4 * d: 16 + 4 * d]
        pictures = [Image.open(p).convert("RGB") for p in group]
        # 144 dpi: the pipeline renders PDFs at scale 2, so pages come back at their pixel size.
        pictures[0].save(root / "pdfs" / f"doc_{d}.pdf", save_all=True, append_images=pictures[1:], resolution=144.0)
    return len(chosen) + 12 + 16


class PeakMemory:
    """Samples the summed PSS of a process tree every 0.1 s."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(_pss(p) for p in _tree(self.pid)))
            self._stop.wait(0.1)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _pss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_once(command: list[str], env: dict[str, str]) -> tuple[float, int, float]:
    """Wall seconds, peak bytes and CPU seconds (this child and the descendants it waited for)."""
    before = os.times()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               stdin=subprocess.DEVNULL)
    memory = PeakMemory(process.pid)
    stdout, stderr = process.communicate()
    wall = time.perf_counter() - started
    peak = memory.stop()
    after = os.times()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, peak, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="build the page set here and keep it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pagefix-bench-"))
    pageset = args.keep or work / "pageset"
    if pageset.exists():
        shutil.rmtree(pageset)
    pages = build_page_set(pageset)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    python = sys.executable
    commands = {
        "local": lambda out: [python, "-m", "pagefix", "batch", str(pageset), "--save_path", str(out)],
        "ray": lambda out: [python, "-m", "pagefix", "batch", str(pageset), "--save_path", str(out),
                            "--engine", "ray"],
        "hand loop": lambda out: [python, "-c", HAND_LOOP, str(pageset), str(out)],
    }
    results: dict[str, list[tuple[float, int, float]]] = {name: [] for name in commands}
    print(f"{pages} pages, {os.cpu_count()} CPUs, {args.repeat} runs each", flush=True)
    for repetition in range(args.repeat):
        for name, command in commands.items():
            out = work / f"out-{name.replace(' ', '_')}-{repetition}"
            wall, peak, cpu = run_once(command(out), env)
            results[name].append((wall, peak, cpu))
            print(f"  {name:9s} run {repetition + 1}: {pages / wall:.3f} pages/s, {wall:.1f} s, "
                  f"peak {peak / 2**20:.0f} MiB", flush=True)
            shutil.rmtree(out, ignore_errors=True)
    print()
    print("| engine | runs | pages/s min | pages/s median | peak memory (all processes) | CPU s/page |")
    print("| --- | --- | --- | --- | --- | --- |")
    medians = {}
    for name, runs in results.items():
        rates = [pages / wall for wall, _, _ in runs]
        medians[name] = statistics.median(rates)
        peak = max(p for _, p, _ in runs)
        # Ray's workers are not this script's children: their CPU time is not seen here.
        cpu = "n/a" if name == "ray" else f"{statistics.median(c for _, _, c in runs) / pages:.2f}"
        print(f"| {name} | {len(runs)} | {min(rates):.3f} | {medians[name]:.3f} | {peak / 2**30:.2f} GiB | {cpu} |")
    print()
    print(f"ray / local (medians): {medians['ray'] / medians['local']:.2f}x; "
          f"local / hand loop: {medians['local'] / medians['hand loop']:.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
