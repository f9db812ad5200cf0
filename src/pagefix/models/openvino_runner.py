"""The OpenVINO runtime behind the `Runner` interface: one of the configurations `enable_hpi` tries.

OpenVINO reads the same ONNX files as ONNX Runtime, so no model is converted or stored twice. It
lives in the optional `openvino` extra; the `openvino` package installs beside `onnxruntime`
(unlike the `onnxruntime-openvino` wheel, which replaces it under the same import name).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelStoreError

__all__ = ["OpenVinoRunner", "openvino_bf16_supported", "openvino_installed"]


def openvino_installed() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def openvino_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 natively (AVX512-BF16 or AMX): only then is bf16 worth a try."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class OpenVinoRunner:
    """A model compiled by OpenVINO for the CPU at one inference precision ("f32" or "bf16")."""

    def __init__(self, compiled: Any, precision: str) -> None:
        self.compiled = compiled
        self.precision = precision
        # An infer request serves one call at a time; each thread gets its own.
        self._local = threading.local()

    @classmethod
    def load(cls, path: Path, threads: int, precision: str = "f32", cache_dir: Path | None = None) -> OpenVinoRunner:
        """`cache_dir`: where OpenVINO keeps the compiled model, so that the next load of the same
        file, precision and threads reads it instead of compiling again (docs/unwarping.md)."""
        import openvino as ov

        config: dict[str, Any] = {
            "INFERENCE_NUM_THREADS": int(threads),
            # OpenVINO would pick bf16 by itself on CPUs that have it; the choice stays ours.
            "INFERENCE_PRECISION_HINT": precision,
            "PERFORMANCE_HINT": "LATENCY",
        }
        if cache_dir is not None:
            config["CACHE_DIR"] = str(cache_dir)
        try:
            compiled = ov.Core().compile_model(str(path), "CPU", config)
        except Exception as exc:  # noqa: BLE001 - OpenVINO raises plain RuntimeError
            raise ModelStoreError(f"OpenVINO cannot load model {path}: {exc}") from exc
        return cls(compiled, precision)

    @property
    def providers(self) -> list[str]:
        return [f"OpenVINO CPU ({self.precision})"]

    def __call__(self, batch: np.ndarray) -> list[np.ndarray]:
        request = getattr(self._local, "request", None)
        if request is None:
            request = self._local.request = self.compiled.create_infer_request()
        results = request.infer([np.ascontiguousarray(batch, dtype=np.float32)])
        # Copies: the request reuses its output buffers on the next call.
        return [np.array(results[output], dtype=np.float32) for output in self.compiled.outputs]
