"""`enable_hpi` on the CPU: time every configuration that can run a model here and keep the fastest.

The candidates are ONNX Runtime's CPU provider (always), ONNX Runtime's OpenVINO provider (when the
installed onnxruntime has it) and the OpenVINO runtime (the `openvino` extra) at fp32 and, on CPUs
with native bfloat16, at bf16 for the models whose accuracy at bf16 was measured (`bf16_ok`).
Each is loaded, warmed up and timed on an input of the model's size; the winner is remembered in
`$PAGEFIX_HOME/hpi.json` per model file, thread count, CPU and library versions, so the timing is
paid once per machine. Which configuration won, and by how much, is logged.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelStoreError
from .openvino_runner import OpenVinoRunner, openvino_bf16_supported, openvino_installed
from .runtime import OnnxRunner, Runner, RuntimeOptions, available_providers
from .store import default_home

__all__ = ["Candidate", "HpiChoice", "candidates", "choose_fastest", "load_runner"]

logger = logging.getLogger(__name__)

#: Timed runs per candidate after one warm-up run; the median decides.
TIMED_RUNS = 3


@dataclass(frozen=True)
class Candidate:
    name: str
    load: Callable[[], Runner]


@dataclass(frozen=True)
class HpiChoice:
    """The configuration picked for one model and the median seconds each candidate took."""

    name: str
    seconds: dict[str, float]

    def describe(self, model: str) -> str:
        others = ", ".join(f"{n} {s:.3f} s" for n, s in sorted(self.seconds.items(), key=lambda i: i[1]) if n != self.name)
        return f"enable_hpi: {model} runs on {self.name} ({self.seconds[self.name]:.3f} s per call; {others or 'no other candidate'})"


def load_runner(path: Path, options: RuntimeOptions, sample_shape: tuple[int, ...], bf16_ok: bool = False) -> Runner:
    """The runner a model class uses: the measured fastest with `enable_hpi` on the CPU, else ONNX
    Runtime with the providers `options` names (CUDA, TensorRT, oneDNN, CPU)."""
    if options.enable_hpi and options.device_kind()[0] == "cpu":
        return choose_fastest(path, options, sample_shape, bf16_ok)
    return OnnxRunner.load(path, options)


def candidates(path: Path, options: RuntimeOptions, bf16_ok: bool) -> list[Candidate]:
    """Every CPU configuration that can load `path` on this machine, ONNX Runtime's CPU provider first."""
    plain = RuntimeOptions(device="cpu", cpu_threads=options.threads)
    found = [Candidate("onnxruntime", lambda: OnnxRunner.load(path, plain, providers=["CPUExecutionProvider"]))]
    if "OpenVINOExecutionProvider" in available_providers():
        provider = ("OpenVINOExecutionProvider", {"device_type": "CPU", "num_of_threads": options.threads})
        found.append(Candidate("onnxruntime-openvino", lambda: OnnxRunner.load(path, plain, providers=[provider])))
    if openvino_installed():
        found.append(Candidate("openvino-fp32", lambda: OpenVinoRunner.load(path, options.threads, "f32")))
        if bf16_ok and openvino_bf16_supported():
            found.append(Candidate("openvino-bf16", lambda: OpenVinoRunner.load(path, options.threads, "bf16")))
    return found


def choose_fastest(path: Path, options: RuntimeOptions, sample_shape: tuple[int, ...], bf16_ok: bool = False,
                   remember: bool = True) -> Runner:
    """The fastest runner for `path` on this CPU, measured now or remembered from an earlier run
    (`remember=False`: measured now, and not stored)."""
    found = candidates(path, options, bf16_ok)
    if len(found) == 1:
        logger.warning("enable_hpi: only ONNX Runtime's CPU provider is installed here; "
                       'pip install "pagefix[openvino]" adds OpenVINO as a candidate')
        return found[0].load()
    key = _cache_key(path, options.threads, [c.name for c in found])
    remembered = _read_cache().get(key) if remember else None
    by_name = {c.name: c for c in found}
    if remembered and remembered.get("name") in by_name:
        choice = HpiChoice(remembered["name"], remembered["seconds"])
        logger.info(choice.describe(path.parent.name) + " [measured earlier]")
        return by_name[choice.name].load()
    choice, runner = _measure(found, sample_shape)
    logger.info(choice.describe(path.parent.name))
    if remember:
        _write_cache(key, {"name": choice.name, "seconds": choice.seconds})
    return runner


def _measure(found: list[Candidate], sample_shape: tuple[int, ...]) -> tuple[HpiChoice, Runner]:
    """Times the candidates in turns (one run of each, then again), so a burst of load elsewhere on
    the machine slows them all alike instead of deciding the race."""
    sample = np.random.default_rng(0).random(sample_shape, dtype=np.float32)
    runners: dict[str, Runner] = {}
    for candidate in found:
        try:
            runner = candidate.load()
            runner(sample)  # warm-up: first-call allocations and kernel selection
        except ModelStoreError as exc:
            logger.info("enable_hpi: %s cannot run this model (%s)", candidate.name, exc)
            continue
        runners[candidate.name] = runner
    if not runners:
        raise ModelStoreError("enable_hpi: no configuration could run the model")
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(TIMED_RUNS):
        for name, runner in runners.items():
            start = time.perf_counter()
            runner(sample)
            times[name].append(time.perf_counter() - start)
    seconds = {name: statistics.median(values) for name, values in times.items()}
    name = min(seconds, key=seconds.__getitem__)
    return HpiChoice(name, seconds), runners[name]  # the losers are freed on return


def _cache_path() -> Path:
    return default_home() / "hpi.json"


def _cache_key(path: Path, threads: int, names: list[str]) -> str:
    stat = path.stat()
    versions = []
    for module in ("onnxruntime", "openvino"):
        with contextlib.suppress(ImportError):
            versions.append(f"{module}={__import__(module).__version__}")
    cpu = _cpu_name()
    return "|".join([str(path.resolve()), str(stat.st_size), str(int(stat.st_mtime)), f"threads={threads}",
                     cpu, *versions, "candidates=" + ",".join(names)])


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
