"""Map the reference's device settings (device, precision, cpu_threads, enable_hpi, use_tensorrt,
enable_mkldnn) and pagefix's `cpu_backend` onto ONNX Runtime sessions, in one place. A setting that cannot apply is said out
loud: a warning where pagefix can fall back sensibly, a `DeviceError` where it cannot."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import ConfigError, DeviceError, ModelStoreError

__all__ = ["CPU_BACKENDS", "OnnxRunner", "Runner", "RuntimeOptions", "available_providers", "usable_cpu_count"]

#: `cpu_backend` values: "auto" runs a model on the fastest CPU configuration whose output was
#: measured equal to ONNX Runtime fp32's (models/fastest.py); "onnxruntime" is ONNX Runtime's CPU
#: provider at fp32 and nothing else, the configuration the reference's figures are reproduced with.
CPU_BACKENDS = ("auto", "onnxruntime")

logger = logging.getLogger(__name__)

_UNSUPPORTED_DEVICES = {"npu", "xpu", "mlu", "dcu", "gcu", "mps", "iluvatar_gpu", "metax_gpu"}


class Runner(Protocol):
    """Anything that maps an input batch to the model's outputs (an ONNX session, a fake in tests)."""

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]: ...


def usable_cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def available_providers() -> list[str]:
    import onnxruntime as ort

    return list(ort.get_available_providers())


@dataclass(frozen=True)
class RuntimeOptions:
    device: str | None = None
    precision: str = "fp32"
    cpu_threads: int | None = None
    enable_hpi: bool = False
    use_tensorrt: bool = False
    enable_mkldnn: bool | None = None
    mkldnn_cache_capacity: int | None = None
    #: The pipeline's setting defaults to "auto"; a model built by hand gets plain ONNX Runtime
    #: unless it asks (the training code and the model tests compare against those numbers).
    cpu_backend: str = "onnxruntime"

    def __post_init__(self) -> None:
        if self.precision not in ("fp32", "fp16"):
            raise ConfigError(f"precision must be 'fp32' or 'fp16', not {self.precision!r}")
        if self.cpu_backend not in CPU_BACKENDS:
            raise ConfigError(f"cpu_backend must be one of {', '.join(CPU_BACKENDS)}, not {self.cpu_backend!r}")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ConfigError("cpu_threads must be >= 1")

    @property
    def threads(self) -> int:
        return self.cpu_threads or usable_cpu_count()

    def device_kind(self) -> tuple[str, int]:
        """('cpu', 0) or ('gpu', index) after resolving the default device."""
        if self.device is None:
            return ("gpu", 0) if "CUDAExecutionProvider" in available_providers() else ("cpu", 0)
        text = self.device.strip().lower()
        kind, _, index = text.partition(":")
        if kind in _UNSUPPORTED_DEVICES:
            raise DeviceError(f"device {self.device!r} is not supported by pagefix (ONNX Runtime: cpu or gpu)")
        if kind not in ("cpu", "gpu", "cuda"):
            raise ConfigError(f"unknown device {self.device!r}; use 'cpu' or 'gpu[:N]'")
        if "," in index:
            raise ConfigError("several devices in one pipeline are not supported; run one per device")
        try:
            number = int(index) if index else 0
        except ValueError:
            raise ConfigError(f"device index in {self.device!r} is not a number") from None
        return ("cpu", 0) if kind == "cpu" else ("gpu", number)

    def providers(self) -> list[Any]:
        """The execution providers for a session, best first, with warnings for what cannot apply."""
        available = available_providers()
        kind, index = self.device_kind()
        chosen: list[Any] = []
        if kind == "gpu":
            if "CUDAExecutionProvider" not in available:
                raise DeviceError(
                    f"device {self.device or 'gpu'!r} needs the CUDA execution provider, which this "
                    "onnxruntime does not have; install pagefix[gpu] (onnxruntime-gpu) or use device='cpu'"
                )
            if self.use_tensorrt:
                if "TensorrtExecutionProvider" in available:
                    chosen.append(("TensorrtExecutionProvider", {"device_id": index, "trt_fp16_enable": self.precision == "fp16"}))
                else:
                    logger.warning("use_tensorrt: this onnxruntime has no TensorRT provider; using CUDA")
            chosen.append(("CUDAExecutionProvider", {"device_id": index}))
        else:
            if self.use_tensorrt:
                logger.warning("use_tensorrt applies to GPU devices only; ignored on the CPU")
            if self.enable_mkldnn:
                if "DnnlExecutionProvider" in available:
                    chosen.append("DnnlExecutionProvider")
                else:
                    logger.warning("enable_mkldnn: this onnxruntime has no oneDNN provider; using its CPU provider")
            if self.mkldnn_cache_capacity is not None and "DnnlExecutionProvider" not in available:
                logger.warning("mkldnn_cache_capacity has no effect without the oneDNN provider")
        chosen.append("CPUExecutionProvider")
        return chosen

    def session_options(self) -> Any:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3
        # Idle model threads sleep instead of spinning: a page's decoding, resampling and encoding
        # run beside the models on the same cores, and spinning threads starve them; the model
        # alone is barely slower (bench/run.py; docs/research/2026-11-speed-work.md).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options


class OnnxRunner:
    """An ONNX Runtime session behind the `Runner` interface; feeds the model's own input dtype."""

    def __init__(self, session: Any, output_names: Sequence[str] | None = None) -> None:
        self.session = session
        model_input = session.get_inputs()[0]
        self.input_name = model_input.name
        self.input_dtype = np.float16 if "float16" in model_input.type else np.float32
        self.output_names = list(output_names) if output_names else None

    @classmethod
    def load(cls, path: Path, options: RuntimeOptions, output_names: Sequence[str] | None = None,
             providers: list[Any] | None = None) -> OnnxRunner:
        """A session for `path`; `providers` overrides the ones `options` would choose."""
        import onnxruntime as ort

        providers = providers or options.providers()
        try:
            session = ort.InferenceSession(str(path), sess_options=options.session_options(), providers=providers)
        except Exception as exc:  # noqa: BLE001 - ORT raises plain RuntimeError/Fail subclasses
            raise ModelStoreError(f"cannot load model {path}: {exc}") from exc
        wanted = [p if isinstance(p, str) else p[0] for p in providers]
        active = session.get_providers()
        if wanted[0] != "CPUExecutionProvider" and wanted[0] not in active:
            message = f"{wanted[0]} could not be started for {path.name} (active: {', '.join(active)})"
            if options.device is not None and options.device_kind()[0] == "gpu":
                raise DeviceError(message + "; check the CUDA/cuDNN installation or use device='cpu'")
            logger.warning(message)
        return cls(session, output_names)

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        feed = {self.input_name: np.ascontiguousarray(batch, dtype=self.input_dtype)}
        return [np.asarray(o, dtype=np.float32) for o in self.session.run(self.output_names, feed)]
