"""The CPU configuration a model runs on: the fastest one installed, measured once per machine.

Two callers: `cpu_backend="auto"` (the pipeline's default) chooses among the configurations whose
output was measured equal to ONNX Runtime fp32's (fp32 everywhere; bf16 for the models whose table
entry says so, `ModelSpec.bf16_measured_equal`, see bench/backends.py); `enable_hpi` chooses among
every configuration, bf16 included for the models whose accuracy at bf16 was measured (`bf16_ok`).

The candidates are ONNX Runtime's CPU provider (always), ONNX Runtime's OpenVINO provider (when the
installed onnxruntime has it) and the OpenVINO runtime (the `openvino` extra) at fp32 and, on CPUs
with native bfloat16, at bf16. Each is loaded, warmed up, checked (its outputs have ONNX Runtime's
shapes and are finite) and timed on an input of the model's size; a candidate that fails is left
out with a warning. The winner is remembered in `$PAGEFIX_HOME/hpi.json` per model file, thread
count, CPU and library versions, so the timing is paid once per machine. Which configuration won,
and by how much, is logged at INFO.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .openvino_runner import OpenVinoRunner, openvino_bf16_supported, openvino_installed
from .runtime import OnnxRunner, Runner, RuntimeOptions, available_providers
from .store import default_home

__all__ = ["AutoChoice", "Candidate", "HpiChoice", "candidates", "choose_fastest", "load_runner"]

logger = logging.getLogger(__name__)

#: Timed runs per candidate after one warm-up run; the median decides.
TIMED_RUNS = 3


@dataclass(frozen=True)
class Candidate:
    name: str
    load: Callable[[], Runner]


@dataclass(frozen=True)
class HpiChoice:
    """The configuration picked for one model and the seconds each candidate took: the sum over
    the batch sizes timed of its median call at that size."""

    name: str
    seconds: dict[str, float]
    batches: tuple[int, ...] = (1,)

    def describe(self, model: str, asked: str = "enable_hpi") -> str:
        others = ", ".join(f"{n} {s:.3f} s" for n, s in sorted(self.seconds.items(), key=lambda i: i[1]) if n != self.name)
        calls = "per call" if self.batches == (1,) else "for calls of " + " and ".join(map(str, self.batches)) + " inputs"
        return f"{asked}: {model} runs on {self.name} ({self.seconds[self.name]:.3f} s {calls}; {others or 'no other candidate'})"


#: What `cpu_backend="auto"` may pick for a model: nothing but ONNX Runtime ("none"), the fp32
#: configurations, or those and bf16 (its output measured equal).
AutoChoice = Literal["none", "fp32", "bf16"]


def load_runner(path: Path, options: RuntimeOptions, sample_shape: tuple[int, ...], bf16_ok: bool = False,
                auto: AutoChoice = "none", batches: Sequence[int] = (1,), role: str = "") -> Runner:
    """The runner a model class uses. On the CPU: the measured fastest of every candidate with
    `enable_hpi`; with `cpu_backend="auto"`, the measured fastest of the candidates `auto` allows,
    unless the options ask for something specific (fp16 weights, the oneDNN provider). Otherwise
    ONNX Runtime with the providers `options` names (CUDA, TensorRT, oneDNN, CPU). `batches`: the
    batch sizes the model class calls the model with (`choose_fastest`); `role`: what the runner is
    for when it is not the model's main one, said in the log (e.g. the bf16 probe's fp32 guard)."""
    if options.device_kind()[0] == "cpu":
        if options.enable_hpi:
            return choose_fastest(path, options, sample_shape, bf16_ok, batches=batches)
        if (options.cpu_backend == "auto" and auto != "none" and options.precision == "fp32"
                and not options.enable_mkldnn):
            asked = f"cpu_backend=auto ({role})" if role else "cpu_backend=auto"
            return choose_fastest(path, options, sample_shape, auto == "bf16", asked=asked, batches=batches)
    return OnnxRunner.load(path, options)


def candidates(path: Path, options: RuntimeOptions, bf16_ok: bool, cache_dir: Path | None = None) -> list[Candidate]:
    """Every CPU configuration that can load `path` on this machine, ONNX Runtime's CPU provider
    first; `cache_dir`: where OpenVINO keeps what it compiles (`OpenVinoRunner.load`)."""
    plain = RuntimeOptions(device="cpu", cpu_threads=options.threads)
    found = [Candidate("onnxruntime", lambda: OnnxRunner.load(path, plain, providers=["CPUExecutionProvider"]))]
    if "OpenVINOExecutionProvider" in available_providers():
        provider = ("OpenVINOExecutionProvider", {"device_type": "CPU", "num_of_threads": options.threads})
        found.append(Candidate("onnxruntime-openvino", lambda: OnnxRunner.load(path, plain, providers=[provider])))
    try:
        if openvino_installed():
            found.append(Candidate("openvino-fp32", lambda: OpenVinoRunner.load(path, options.threads, "f32", cache_dir)))
            if bf16_ok and openvino_bf16_supported():
                found.append(Candidate("openvino-bf16",
                                       lambda: OpenVinoRunner.load(path, options.threads, "bf16", cache_dir)))
    except Exception as exc:  # noqa: BLE001 - a broken OpenVINO install (missing libraries, no CPU plugin)
        logger.warning("OpenVINO is installed but cannot start (%s); it is left out", exc)
        found = [c for c in found if not c.name.startswith("openvino-")]
    return found


def choose_fastest(path: Path, options: RuntimeOptions, sample_shape: tuple[int, ...], bf16_ok: bool = False,
                   remember: bool = True, asked: str = "enable_hpi", batches: Sequence[int] = (1,)) -> Runner:
    """The fastest runner for `path` on this CPU, measured now or remembered from an earlier run
    (`remember=False`: measured now, and not stored); `asked` names the setting in the log.

    Each candidate is timed at every batch size of `batches` (`sample_shape` with its first
    dimension replaced) and the sum decides: a runtime's lead at one size can turn at another (on an
    AVX2 CPU OpenVINO ran UVDoc alone faster than ONNX Runtime and two pages at once slower;
    bench/backends.py --end-to-end)."""
    shapes = [(batch, *sample_shape[1:]) for batch in batches]
    found = candidates(path, options, bf16_ok)
    if len(found) == 1:
        if asked == "enable_hpi":
            logger.warning("enable_hpi: only ONNX Runtime's CPU provider is installed here; "
                           'pip install "pagefix[openvino]" adds OpenVINO as a candidate')
        else:  # the default: nothing was asked for, nothing is missing and nothing was chosen
            logger.debug("%s: %s runs on onnxruntime (the only CPU configuration installed)", asked, path.parent.name)
        return found[0].load()
    key = _cache_key(path, options.threads, [c.name for c in found], batches)
    remembered = _read_cache().get(key) if remember else None
    if remembered and remembered.get("name") in {c.name for c in found}:
        choice = HpiChoice(remembered["name"], remembered["seconds"], tuple(batches))
        # The winner's compiled model is kept from its second load on: loading OpenVINO's compiled
        # bf16 UVDoc takes a fraction of compiling it (docs/unwarping.md). The losers never are.
        by_name = {c.name: c for c in candidates(path, options, bf16_ok, _compiled_dir())}
        try:
            runner = by_name[choice.name].load()
        except Exception as exc:  # noqa: BLE001 - whatever breaks a candidate, ONNX Runtime still runs the model
            logger.warning("%s: %s no longer loads %s (%s); using onnxruntime", asked, choice.name, path.parent.name, exc)
            return found[0].load()
        # enable_hpi was asked for, so its answer is always said; the default's once, when measured.
        level = logging.INFO if asked == "enable_hpi" else logging.DEBUG
        logger.log(level, choice.describe(path.parent.name, asked) + " [measured earlier]")
        return runner
    choice, runner = _measure(found, shapes, asked)
    logger.info(choice.describe(path.parent.name, asked))
    if remember:
        _write_cache(key, {"name": choice.name, "seconds": choice.seconds})
    return runner


def _measure(found: list[Candidate], shapes: Sequence[tuple[int, ...]], asked: str = "enable_hpi") -> tuple[HpiChoice, Runner]:
    """Times the candidates in turns (one run of each, then again), so a burst of load elsewhere on
    the machine slows them all alike instead of deciding the race. The first candidate (ONNX
    Runtime's CPU provider) must load: a model it cannot run is a broken model. Any other that
    fails to load or run, or gives outputs of other shapes or non-finite values, is left out with
    a warning."""
    rng = np.random.default_rng(0)
    samples = [rng.random(shape, dtype=np.float32) for shape in shapes]
    first, *others = found
    baseline = first.load()
    # Also the warm-up, at every size: allocations, kernel selection, OpenVINO's reshapes.
    expected = [[o.shape for o in baseline(sample)] for sample in samples]
    runners: dict[str, Runner] = {first.name: baseline}
    for candidate in others:
        try:
            runner = candidate.load()
            outputs = [runner(sample) for sample in samples]
        except Exception as exc:  # noqa: BLE001 - OpenVINO and providers raise plain RuntimeErrors
            logger.warning("%s: %s cannot run this model, left out (%s)", asked, candidate.name, exc)
            continue
        got = [[o.shape for o in out] for out in outputs]
        if got != expected or not all(np.isfinite(o).all() for out in outputs for o in out):
            logger.warning("%s: %s gives outputs of shapes %s (onnxruntime: %s) or non-finite values, left out",
                           asked, candidate.name, got, expected)
            continue
        runners[candidate.name] = runner
    times: dict[str, list[list[float]]] = {name: [[] for _ in samples] for name in runners}
    for _ in range(TIMED_RUNS):
        for i, sample in enumerate(samples):
            for name, runner in runners.items():
                start = time.perf_counter()
                runner(sample)
                times[name][i].append(time.perf_counter() - start)
    seconds = {name: sum(statistics.median(values) for values in per_size) for name, per_size in times.items()}
    name = min(seconds, key=seconds.__getitem__)
    batches = tuple(shape[0] for shape in shapes)
    return HpiChoice(name, seconds, batches), runners[name]  # the losers are freed on return


def _cache_path() -> Path:
    return default_home() / "hpi.json"


def _compiled_dir() -> Path | None:
    """OpenVINO's cache of compiled models, or None where it cannot be made (then it compiles)."""
    path = default_home() / "openvino"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        logger.debug("cannot keep OpenVINO's compiled models in %s: %s", path, exc)
        return None
    return path


def _cache_key(path: Path, threads: int, names: list[str], batches: Sequence[int] = (1,)) -> str:
    stat = path.stat()
    versions = []
    for module in ("onnxruntime", "openvino"):
        with contextlib.suppress(ImportError):
            versions.append(f"{module}={__import__(module).__version__}")
    cpu = _cpu_name()
    return "|".join([str(path.resolve()), str(stat.st_size), str(int(stat.st_mtime)), f"threads={threads}",
                     cpu, *versions, "candidates=" + ",".join(names),
                     "batches=" + ",".join(str(b) for b in batches)])


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _read_cache() -> dict[str, Any]:
    try:
        data = json.loads(_cache_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(key: str, value: dict[str, Any]) -> None:
    """Best effort: a read-only cache directory only means measuring again next time."""
    path = _cache_path()
    data = _read_cache()
    data[key] = value
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=".hpi.", suffix=".part", dir=path.parent)
    except OSError as exc:
        logger.debug("enable_hpi: cannot remember the choice in %s: %s", path, exc)
        return
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=1)
        os.replace(temp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)  # a full disk leaves no half-written file behind
        logger.debug("enable_hpi: cannot remember the choice in %s: %s", path, exc)
