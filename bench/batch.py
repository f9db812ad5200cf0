"""Throughput and memory of `pagefix batch`: the local engine, the Ray engine (a local Ray with all
CPUs) and a hand-written loop over `DocPreprocessor.predict_iter`, on the same page set.

Each run is a fresh process with a fresh output directory, so start-up and model loading count.
Runs are interleaved (local, ray, hand, local, ...) so that load from elsewhere on the machine
falls on all three alike. Memory is the peak, over the run, of the summed PSS of the process and
all its descendants (Ray's raylet, GCS and workers included; shared pages counted once).

    python bench/batch.py                  # 3 repetitions each on 44 pages built from the real data (bench/data.py)
    python bench/batch.py --repeat 5 --keep /tmp/pageset
    python bench/batch.py --photos 20      # a folder of 20 phone photos: pages overlapped or not
    python bench/batch.py --photos 20 --against ../before   # this tree's defaults against a checkout's

`--photos N` measures pages/s, cores busy (CPU seconds / wall seconds) and peak memory on a
folder of N Inv3DReal phone photos for `predict_iter` (a loop that takes each output image;
timed from the first page, the models loaded), `pagefix doc_preprocessor --save_path` and
`pagefix batch` (local engine; whole processes), each with its pages overlapped
(`DocPreprocessor.pages_in_flight`, the default) and with its stages one after another
(`pages_in_flight=1`), interleaved.
"""

from __future__ import annotations

import argparse
import json
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


# `predict_iter` over a folder; prints pages, wall and CPU seconds from the first page on, peak RSS.
ITER_LOOP = """
import json, resource, sys, time
from pathlib import Path
from pagefix import DocPreprocessor

pipeline = DocPreprocessor()
pages = 0
for result in pipeline.predict_iter(sys.argv[1], errors="yield"):
    if pages == 0:
        start, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    if result.ok:
        result.output_img
    pages += 1
wall = time.perf_counter() - start
end = resource.getrusage(resource.RUSAGE_SELF)
cpu = end.ru_utime + end.ru_stime - usage.ru_utime - usage.ru_stime
hwm = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
print(json.dumps({"pages": pages - 1, "wall": wall, "cpu": cpu, "peak_rss_mb": hwm / 1024}))
"""

# Runs a command of pagefix's CLI (argv[2:]) with `DocPreprocessor.pages_in_flight` set to argv[1]
# ("" keeps the code's default), so both ways run from the same tree in the same benchmark.
IN_FLIGHT = """
import runpy, sys
from pagefix.pipeline.preprocessor import DocPreprocessor
if sys.argv[1]:
    DocPreprocessor.pages_in_flight = int(sys.argv[1])
code, sys.argv = sys.argv[2], [sys.argv[0], *sys.argv[3:]]
if code == "cli":
    from pagefix.cli.main import main
    sys.exit(main(sys.argv[1:]))
exec(code)
"""


def build_photo_folder(root: Path, count: int) -> int:
    """`count` warped phone photos (Inv3DReal, as they are: about 1900x2050), spread over its documents."""
    photos = sorted(data_dir().glob("unwarp/inv3d_real/*/warped_document_*.jpg"))
    step = max(1, len(photos) // count)
    root.mkdir(parents=True)
    for photo in photos[::step][:count]:
        shutil.copy(photo, root / f"{photo.parent.name}_{photo.name}")
    return len(list(root.iterdir()))


def photos_main(count: int, repeat: int, keep: Path | None, against: Path | None = None) -> None:
    work = Path(tempfile.mkdtemp(prefix="pagefix-bench-"))
    folder = keep or work / "photos"
    if folder.exists():
        shutil.rmtree(folder)
    pages = build_photo_folder(folder, count)
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    python = sys.executable
    ways = {"overlapped": "", "one after another": "1"}
    sources = {way: REPO / "src" for way in ways}
    if against is not None:
        # This tree's defaults against another checkout's (its src first on the path), both as they
        # come: the before and after of a whole change, not only of the overlap.
        ways = {"this tree": "", f"{against}": ""}
        sources = {"this tree": REPO / "src", f"{against}": against / "src"}
    commands = {
        "predict_iter": lambda out, way: [python, "-c", IN_FLIGHT, way, ITER_LOOP, str(folder)],
        "CLI doc_preprocessor": lambda out, way: [python, "-c", IN_FLIGHT, way, "cli", "doc_preprocessor",
                                                  "-i", str(folder), "--save_path", str(out), "--quiet"],
        "batch, local engine": lambda out, way: [python, "-c", IN_FLIGHT, way, "cli", "batch", str(folder),
                                                 "--save_path", str(out)],
    }
    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    load = os.getloadavg()[0]
    print(f"{pages} photos, {os.cpu_count()} CPUs, {repeat} runs each, load average {load:.2f}", flush=True)
    for repetition in range(repeat):
        for name, command in commands.items():
            for way, in_flight in ways.items():
                out = work / f"out-{repetition}"
                wall, peak, cpu = run_once(command(out, in_flight), {**env, "PYTHONPATH": str(sources[way])})
                run = {"wall": wall, "cpu": cpu, "peak_mb": peak / 2**20, "pages": pages}
                if name == "predict_iter":
                    inner = json.loads(run_once.last_stdout.strip().splitlines()[-1])
                    run = {"wall": inner["wall"], "cpu": inner["cpu"], "peak_mb": inner["peak_rss_mb"],
                           "pages": inner["pages"]}
                results.setdefault((name, way), []).append(run)
                print(f"  {name}, {way}, run {repetition + 1}: {run['pages'] / run['wall']:.3f} pages/s, "
                      f"{run['cpu'] / run['wall']:.2f} cores busy, peak {run['peak_mb']:.0f} MiB", flush=True)
                shutil.rmtree(out, ignore_errors=True)
    print()
    print(f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| front end | pages | stages | pages/s (median) | cores busy (median) | peak memory |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in commands:
        rates = {}
        for way in ways:
            runs = results[(name, way)]
            rates[way] = statistics.median(r["pages"] / r["wall"] for r in runs)
            busy = statistics.median(r["cpu"] / r["wall"] for r in runs)
            peak = max(r["peak_mb"] for r in runs)
            print(f"| {name} | {runs[0]['pages']} | {way} | {rates[way]:.3f} | {busy:.2f} | {peak:.0f} MiB |")
        first, second = ways
        print(f"| {name} | | {first} / {second} | {rates[first] / rates[second]:.2f}x | | |")
    print("\npredict_iter: from its first page on, peak RSS; CLI and batch: whole processes (start-up and "
          "model loading included), peak PSS of the process tree")
    shutil.rmtree(work, ignore_errors=True)


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
    """Wall seconds, peak bytes and CPU seconds (this child and the descendants it waited for);
    the child's output is kept in `run_once.last_stdout`."""
    before = os.times()
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               stdin=subprocess.DEVNULL)
    memory = PeakMemory(process.pid)
    stdout, stderr = process.communicate()
    run_once.last_stdout = stdout  # type: ignore[attr-defined]
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
    parser.add_argument("--photos", type=int, metavar="N",
                        help="only a folder of N phone photos, pages overlapped or not (CLI, predict_iter, batch)")
    parser.add_argument("--against", type=Path, metavar="CHECKOUT",
                        help="with --photos: this tree's defaults against another checkout's (e.g. a git worktree)")
    args = parser.parse_args()
    if args.photos:
        photos_main(args.photos, args.repeat, args.keep, args.against)
        return
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
