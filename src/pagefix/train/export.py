"""Write a fine-tuned classifier in pagefix's model layout (`model.onnx` + `pagefix.yml`) and check
that the written file, run by ONNX Runtime through the models layer, gives what PyTorch gives."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ..errors import ModelStoreError
from ..models import ModelStore, OrientationClassifier, RuntimeOptions
from ..models.store import CONFIG_FILE, MODEL_FILE, ModelFiles, sha256_of
from .network import PPLCNet
from .onnx_weights import write_onnx_weights

__all__ = ["EXPORT_TOLERANCE", "export_model"]

EXPORT_TOLERANCE = 1e-4


def export_model(
    net: PPLCNet, base: ModelFiles, out: Path, name: str, metadata: dict[str, Any],
    check_batch: torch.Tensor | None = None,
) -> Path:
    """Export into `out` (created if needed); files are written beside and renamed into place."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".export-", dir=out) as tmp:
        staging = Path(tmp)
        write_onnx_weights(net, base.path, staging / MODEL_FILE)
        config = {
            "name": name,
            "task": "orientation",
            "license": base.config.get("license", "Apache-2.0"),
            "source": {key: value for key, value in metadata.items() if value is not None},
            "preprocessing": base.preprocessing,
            "files": {MODEL_FILE: sha256_of(staging / MODEL_FILE)},
        }
        (staging / CONFIG_FILE).write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
        if check_batch is not None:
            _check(net, staging, check_batch)
        for file_name in (MODEL_FILE, CONFIG_FILE):
            os.replace(staging / file_name, out / file_name)
    return out


def _check(net: PPLCNet, directory: Path, batch: torch.Tensor) -> None:
    files = ModelStore().resolve("orientation", model_dir=directory)
    classifier = OrientationClassifier.from_files(files, RuntimeOptions(device="cpu", cpu_threads=1))
    onnx_probs = classifier.probabilities(batch.numpy())
    net.eval()
    with torch.no_grad():
        torch_probs = net.probabilities(batch).numpy()
    difference = float(np.abs(onnx_probs - torch_probs).max())
    if difference > EXPORT_TOLERANCE:
        raise ModelStoreError(f"the exported model differs from the trained network by {difference:.2e}")
