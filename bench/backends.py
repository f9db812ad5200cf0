"""UVDoc on every CPU configuration against ONNX Runtime fp32: grid differences, the flat-page probe's
decision on every development page, MS-SSIM and local distortion of the unwarped Inv3DReal photos,
and the seconds per call (medians of interleaved repeats, same run). The table in
docs/unwarping.md (which CPU configurations count as equal) comes from this script.

    python bench/backends.py                  # every page of every set, every configuration
    python bench/backends.py --photos 48      # a seeded subset of the Inv3DReal photos
    python bench/backends.py --no-int8        # without the int8 candidates (no quantisation run)
    python bench/backends.py --end-to-end     # only: a 12 MP photo in memory, cpu_backend auto vs onnxruntime

Configurations: onnxruntime (fp32, the reference's numbers), openvino-fp32, openvino-bf16 (CPUs
with native bfloat16 only) and, unless --no-int8, int8: UVDoc quantised here with ONNX Runtime's
static QDQ quantisation (per channel, calibrated on pages rendered and curled by the tests' page
maker, none of them from the data sets measured), run by ONNX Runtime and by OpenVINO.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from data import REPO, data_dir  # bench/data.py, beside this script

from pagefix.evaluation.metrics import local_distortion, ms_ssim, prepare_pair
from pagefix.inputs import Page, iter_pages
from pagefix.models import ModelStore, RuntimeOptions, Unwarper
from pagefix.models.openvino_runner import OpenVinoRunner, openvino_bf16_supported
from pagefix.models.runtime import OnnxRunner, Runner
from pagefix.models.unwarping import unwarp_with_grid
from pagefix.models.warp_score import probe_image, read_probe
from pagefix.pipeline.settings import PipelineConfig

SETS = ("upright", "inv3d_flat", "inv3d_real", "docunet_crop", "qualitative")


def page_sets(data: Path) -> dict[str, list[Path]]:
    inv3d = data / "unwarp" / "inv3d_real"
    return {
        "upright": sorted(p for p in (data / "orientation" / "upright").iterdir() if p.is_file()
                          and p.suffix.lower() in (".jpg", ".jpeg", ".png")),
        "inv3d_flat": sorted(inv3d.glob("*/flat_document.png")),
        "inv3d_real": sorted(inv3d.glob("*/warped_document_*.jpg")),
        "docunet_crop": sorted((data / "unwarp" / "docunet_crop").glob("*.jpg")),
        "qualitative": sorted(p for p in (data / "unwarp" / "qualitative").iterdir() if p.suffix != ".csv"),
    }


def decode(path: Path) -> np.ndarray:
    page = next(iter_pages(str(path)))
    if not isinstance(page, Page):
        raise SystemExit(f"cannot decode {path}: {page.message}")
    return page.image


def quantised_uvdoc(source: Path, folder: Path, unwarper: Unwarper) -> Path:
    """UVDoc in int8 (QDQ, per channel), calibrated on eight rendered and curled pages."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    sys.path.insert(0, str(REPO / "tests"))
    from support.pages import curled_photo, text_page  # the tests' page maker

    layouts = ("text", "table", "columns", "receipt")
    pages = [curled_photo(text_page(seed, layouts[seed % 4])) for seed in range(8)]
    inputs = [unwarper.model_input(page)[None] for page in pages]
    name = unwarper.runner.input_name  # type: ignore[attr-defined]

    class Pages(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = iter(inputs)

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self.left, None)
            return None if batch is None else {name: batch}

    prepared, quantised = folder / "uvdoc.pre.onnx", folder / "uvdoc.int8.onnx"
    quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    quantize_static(str(prepared), str(quantised), Pages(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return quantised


def grid_pixels(grid: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A [2, gh, gw] grid in [-1, 1] as pixels of the model's input (width, height = size)."""
    scale = np.array([(size[0] - 1) / 2.0, (size[1] - 1) / 2.0])[:, None, None]
    return np.asarray(grid, np.float64) * scale


def seconds_per_call(runners: dict[str, Runner], batch: np.ndarray, repeats: int) -> dict[str, float]:
    """Median seconds per call, each round running every configuration once (interleaved)."""
    for runner in runners.values():
        runner(batch)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(repeats):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner(batch)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="the real data folder (default: bench/data.py's)")
    parser.add_argument("--photos", type=int, default=0, help="Inv3DReal photos scored (seeded subset; 0: all 144)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds per configuration")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-int8", action="store_true", help="leave out the int8 candidates")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="page sets probed")
    parser.add_argument("--csv", type=Path, help="one row per page and configuration")
    parser.add_argument("--end-to-end", action="store_true",
                        help="only time the pipeline on a 12 MP photo: auto vs onnxruntime, default and reference settings")
    args = parser.parse_args()
    data = args.data or data_dir()
    if args.end_to_end:
        return end_to_end(args.threads, args.repeats)

    files = ModelStore().resolve("unwarping")
    plain = RuntimeOptions(device="cpu", cpu_threads=args.threads)
    unwarper = Unwarper(OnnxRunner.load(files.path, plain, providers=["CPUExecutionProvider"]))
    loaders: dict[str, Callable[[], Runner]] = {
        "onnxruntime": lambda: unwarper.runner,
        "openvino-fp32": lambda: OpenVinoRunner.load(files.path, args.threads, "f32"),
    }
    if openvino_bf16_supported():
        loaders["openvino-bf16"] = lambda: OpenVinoRunner.load(files.path, args.threads, "bf16")
    scratch = tempfile.TemporaryDirectory(prefix="pagefix-int8-")
    if not args.no_int8:
        start = time.perf_counter()
        int8 = quantised_uvdoc(files.path, Path(scratch.name), unwarper)
        print(f"int8 model made in {time.perf_counter() - start:.0f} s ({int8.stat().st_size / 1e6:.1f} MB)")
        loaders["onnxruntime-int8"] = lambda: OnnxRunner.load(int8, plain, providers=["CPUExecutionProvider"])
        loaders["openvino-int8"] = lambda: OpenVinoRunner.load(int8, args.threads, "f32")
    runners = {name: load() for name, load in loaders.items()}
    names = list(runners)
    size = unwarper.input_size
    config = PipelineConfig()

    sample = unwarper.model_input(decode(page_sets(data)["inv3d_real"][0]))[None]
    speed = {f"batch {n}": seconds_per_call(runners, np.repeat(sample, n, axis=0), args.repeats) for n in (1, 2)}

    sets = {name: paths for name, paths in page_sets(data).items() if name in args.sets}
    photos = page_sets(data)["inv3d_real"]
    scored = set(photos if not args.photos else random.Random(0).sample(photos, args.photos))
    if "inv3d_real" in sets:
        sets["inv3d_real"] = [p for p in photos if p in scored]  # a subset: only the photos scored
    rows: list[dict] = []
    start = time.perf_counter()
    for set_name, paths in sets.items():
        for path in paths:
            image = decode(path)
            small, frame = probe_image(unwarper, image)
            # Two calls, as the pipeline makes them: the probe, then the page.
            probe_batch, page_batch = _chw(small)[None], unwarper.model_input(image)[None]
            outputs = {name: (runner(probe_batch)[0][0], runner(page_batch)[0][0]) for name, runner in runners.items()}
            base_probe, base_page = outputs["onnxruntime"]
            original = decode(path.parent / "flat_document.png") if path in scored else None
            for name in names:
                probe_grid, page_grid = outputs[name]
                probe = read_probe(probe_grid, frame)
                row = {
                    "set": set_name, "file": str(path.relative_to(data)), "config": name,
                    "W": probe.score, "identity": probe.identity_rms,
                    "flat": probe.is_flat(config.max_warp_score, config.max_identity_rms),
                    "probe_dmax": float(np.abs(grid_pixels(probe_grid - base_probe, size)).max()),
                    "page_dmax": float(np.abs(grid_pixels(page_grid - base_page, size)).max()),
                    "page_dmean": float(np.abs(grid_pixels(page_grid - base_page, size)).mean()),
                }
                if original is not None:
                    result, flat = prepare_pair(unwarp_with_grid(image, page_grid, threads=args.threads), original)
                    row["ms_ssim"], row["ld"] = ms_ssim(result, flat), local_distortion(result, flat)
                rows.append(row)
    elapsed = time.perf_counter() - start
    report(rows, names, speed, len(scored), elapsed)
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=sorted({k for r in rows for k in r}))
            writer.writeheader()
            writer.writerows(rows)
    scratch.cleanup()
    return 0


#: The reference's own pipeline: one view, no flat-page probe, no second decision, no deskew.
REFERENCE_SETTINGS = {"orientation_views": "reference", "skip_flat_pages": False, "reclassify_unwarped": False,
                      "deskew": False}


def end_to_end(threads: int, repeats: int) -> int:
    """Seconds per page of the 12 MP photo of bench/run.py, decoded once (in memory), for the
    default and the reference settings on each cpu_backend, interleaved; and what building the
    pipeline costs on a first run (nothing remembered) and afterwards."""
    from run import build_inputs  # bench/run.py's 12 MP photo

    from pagefix import DocPreprocessor
    from pagefix.models import fastest

    with tempfile.TemporaryDirectory(prefix="pagefix-e2e-") as folder:
        photo = decode(build_inputs(Path(folder), 12.0, 1, 1)["photo"])
        remembered = fastest._cache_path
        fastest._cache_path = lambda: Path(folder) / "hpi.json"  # type: ignore[assignment]  # a first run
        build: dict[str, list[float]] = {"first run (measures)": [], "later runs": [], "onnxruntime": []}
        for _ in range(3):
            (Path(folder) / "hpi.json").unlink(missing_ok=True)
            for label, backend in (("first run (measures)", "auto"), ("later runs", "auto"),
                                   ("onnxruntime", "onnxruntime")):
                start = time.perf_counter()
                DocPreprocessor(device="cpu", cpu_threads=threads, cpu_backend=backend, use_doc_orientation_classify=False)
                build[label].append(time.perf_counter() - start)
        fastest._cache_path = remembered  # type: ignore[assignment]
        pipelines = {}
        for backend in ("onnxruntime", "auto"):
            base = DocPreprocessor(device="cpu", cpu_threads=threads, cpu_backend=backend)
            for name, settings in (("default", {}), ("reference settings", REFERENCE_SETTINGS)):
                pipelines[f"{name}, {backend}"] = DocPreprocessor(
                    device="cpu", cpu_threads=threads, cpu_backend=backend, unwarper=base.unwarper,
                    orientation_classifier=base.orientation_classifier, **settings)
        runs = {name: (lambda image, p=pipeline: p.predict(image)[0].output_img) for name, pipeline in pipelines.items()}
        seconds = seconds_per_call(runs, photo, repeats)  # type: ignore[arg-type]  # a page, not a batch
    print(f"12 MP photo in memory, {threads} threads, medians of {repeats} interleaved rounds")
    for name, value in seconds.items():
        before = seconds[name.replace("auto", "onnxruntime")]
        print(f"  {name:32} {value:6.3f} s/page  ({value / before:.2f}x onnxruntime)")
    unwarper = pipelines["default, auto"].unwarper.runner
    print(f"  auto runs UVDoc on {getattr(unwarper, 'providers', ['?'])[0]}")
    print("building the pipeline (UVDoc only), median of 3:")
    for label, values in build.items():
        print(f"  {label:22} {statistics.median(values):6.2f} s")
    return 0


def _chw(small: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) * np.float32(1.0 / 255.0)


def report(rows: list[dict], names: list[str], speed: dict[str, dict[str, float]], photos: int,
           elapsed: float) -> None:
    pages = len({r["file"] for r in rows})
    print(f"{pages} pages, {photos} Inv3DReal photos scored, in {elapsed:.0f} s\n")
    base = {r["file"]: r for r in rows if r["config"] == "onnxruntime"}
    print(f"{'configuration':18} {'s/call b1':>9} {'b2':>7} {'x fp32':>6} {'grid max px':>11} {'mean px':>7} "
          f"{'probe max':>9} {'flips':>5} {'MS-SSIM':>8} {'dMS-SSIM':>16} {'LD':>6} {'dLD':>14}")
    fp32 = speed["batch 1"]["onnxruntime"]
    for name in names:
        mine = [r for r in rows if r["config"] == name]
        flips = [r["file"] for r in mine if r["flat"] != base[r["file"]]["flat"]]
        scored = [r for r in mine if "ms_ssim" in r]
        ssim = np.array([r["ms_ssim"] for r in scored])
        ld = np.array([r["ld"] for r in scored])
        d_ssim = ssim - np.array([base[r["file"]]["ms_ssim"] for r in scored])
        d_ld = ld - np.array([base[r["file"]]["ld"] for r in scored])
        n = max(1, len(scored))
        print(f"{name:18} {speed['batch 1'][name]:9.3f} {speed['batch 2'][name]:7.3f} "
              f"{speed['batch 1'][name] / fp32:6.2f} {max(r['page_dmax'] for r in mine):11.2f} "
              f"{np.mean([r['page_dmean'] for r in mine]):7.3f} {max(r['probe_dmax'] for r in mine):9.2f} "
              f"{len(flips):5d} {ssim.mean():8.4f} {d_ssim.mean():+8.4f}±{d_ssim.std(ddof=1) / np.sqrt(n):.4f} "
              f"{ld.mean():6.2f} {d_ld.mean():+7.3f}±{d_ld.std(ddof=1) / np.sqrt(n):.3f}")
        for file in flips:
            print(f"    flat decision changed: {file}")
    print("\nclosest probe scores to the rule (W < 2.0 and identity < 6.0), fp32 vs each configuration:")
    for name in names[1:]:
        mine = {r["file"]: r for r in rows if r["config"] == name}
        worst = max(base, key=lambda f: abs(mine[f]["W"] - base[f]["W"]))
        print(f"  {name:18} largest |dW| {abs(mine[worst]['W'] - base[worst]['W']):.3f} on {worst} "
              f"(W {base[worst]['W']:.2f} -> {mine[worst]['W']:.2f}); largest |d identity| "
              f"{max(abs(mine[f]['identity'] - base[f]['identity']) for f in base):.3f}")
    print("\n(± is the standard error of the paired per-photo difference; flips: probe decisions that differ "
          "from onnxruntime fp32)")


if __name__ == "__main__":
    sys.exit(main())
