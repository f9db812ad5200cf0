"""The pipeline configuration: the reference's YAML keys (`paddlex_config`) plus pagefix's own.

    pipeline_name: doc_preprocessor
    use_doc_orientation_classify: True
    use_doc_unwarping: True
    batch_size: 1
    skip_flat_pages: True            # pagefix: leave pages the padded probe finds flat untouched
    keep_margin: 0.0                 # pagefix: extra border kept around the unwarped page (fraction)
    orientation_views: default       # pagefix: views voted on (reference = the reference's one view)
    reclassify_unwarped: True        # pagefix: decide the final turn again on the unwarped page
    SubModules:
      DocOrientationClassify: {model_name: PP-LCNet_x1_0_doc_ori, model_dir: null, batch_size: 8,
                               views: default, gate: null}                       # pagefix
      DocUnwarping: {model_name: UVDoc, model_dir: null,
                     max_warp_score: 2.0, max_identity_rms: 6.0, fill_color: null}   # pagefix
    Limits: {max_pixels: 100000000, pdf_render_scale: 2.0, ...}   # pagefix: see limits.py
    Serving: {visualize: true, extra: {max_num_input_imgs: 10}}    # used by `pagefix serve`

Explicit constructor arguments win over the file, the file wins over the defaults.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from ..limits import Limits

__all__ = ["MAX_KEEP_MARGIN", "PipelineConfig", "check_unwarp_settings", "load_config"]


@dataclass
class PipelineConfig:
    use_doc_orientation_classify: bool = True
    use_doc_unwarping: bool = True
    doc_orientation_classify_model_name: str | None = None
    doc_orientation_classify_model_dir: str | None = None
    doc_unwarping_model_name: str | None = None
    doc_unwarping_model_dir: str | None = None
    #: Pages taken from the input stream together (classifier batch).
    batch_size: int = 1
    device: str | None = None
    precision: str = "fp32"
    cpu_threads: int | None = None
    enable_hpi: bool = False
    use_tensorrt: bool = False
    enable_mkldnn: bool | None = None
    mkldnn_cache_capacity: int | None = None
    #: Views of each page the classifier votes with (`models/orientation_views.py`); "reference"
    #: is the reference's single centre crop.
    orientation_views: str = "default"
    #: Run the views after the first only when the first view's top probability is below this
    #: (None: the view set's own gate).
    orientation_gate: float | None = None
    #: Classify the unwarped page again and turn the output by that answer (photos are classified
    #: far better flat); off reproduces the reference's single decision.
    reclassify_unwarped: bool = True
    #: Leave a page untouched when the padded probe finds it flat (a difference from the reference).
    skip_flat_pages: bool = True
    #: Border kept around the unwarped page, as a fraction of its width and height per side.
    keep_margin: float = 0.0
    #: The flat-page rule, both in per mille of the page diagonal (tuned on ../shared/data with
    #: bench/warp_score.py): the probe's homography residual and its distance from the identity.
    max_warp_score: float = 2.0
    max_identity_rms: float = 6.0
    #: (R, G, B) of output pixels that show nothing of the photo; None: white in a keep_margin
    #: margin, black (as the reference) without one.
    fill_color: tuple[int, int, int] | None = None
    limits: dict[str, Any] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)

    def merged(self, **explicit: Any) -> PipelineConfig:
        """A copy with every non-None explicit setting applied."""
        names = {f.name for f in fields(self)}
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for key, value in explicit.items():
            if key not in names:
                raise ConfigError(f"unknown setting {key!r}")
            if value is not None:
                values[key] = value
        if int(values["batch_size"]) < 1:
            raise ConfigError("batch_size must be >= 1")
        check_unwarp_settings(values["keep_margin"], values["fill_color"])
        values["fill_color"] = None if values["fill_color"] is None else tuple(int(c) for c in values["fill_color"])
        gate = values["orientation_gate"]
        if gate is not None and (isinstance(gate, bool) or not isinstance(gate, (int, float)) or not 0 < gate <= 1):
            raise ConfigError(f"orientation_gate must be a probability in (0, 1], got {gate!r}")
        for key in ("max_warp_score", "max_identity_rms"):
            value = values[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{key} must be a positive number (per mille), got {value!r}")
        return PipelineConfig(**values)

    def build_limits(self) -> Limits:
        try:
            return Limits.from_env(**self.limits)
        except TypeError as exc:
            raise ConfigError(f"invalid Limits section: {exc}") from exc


#: Largest keep_margin accepted: the output is then twice the page's width and height.
MAX_KEEP_MARGIN = 0.5


def check_unwarp_settings(keep_margin: Any, fill_color: Any = None) -> None:
    """Reject a keep_margin outside [0, MAX_KEEP_MARGIN] or a fill colour that is not three 0-255 values."""
    if isinstance(keep_margin, bool) or not isinstance(keep_margin, (int, float)) or not (
        0.0 <= float(keep_margin) <= MAX_KEEP_MARGIN
    ):
        raise ConfigError(f"keep_margin must be a number from 0 to {MAX_KEEP_MARGIN}, got {keep_margin!r}")
    if fill_color is None:
        return
    if (
        isinstance(fill_color, (str, bytes))
        or not hasattr(fill_color, "__len__")
        or len(fill_color) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in fill_color)
    ):
        raise ConfigError(f"fill_color must be three integers 0-255 (R, G, B), got {fill_color!r}")


def load_config(source: str | os.PathLike[str] | dict[str, Any] | None) -> PipelineConfig:
    """Read a pipeline YAML (or an already parsed dict) with the reference's keys."""
    if source is None:
        return PipelineConfig()
    if isinstance(source, dict):
        raw = source
    else:
        path = Path(source).expanduser()
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ConfigError(f"configuration file not found: {path}") from None
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError("the pipeline configuration must be a mapping")
    sub = raw.get("SubModules") or {}
    orientation = sub.get("DocOrientationClassify") or {}
    unwarping = sub.get("DocUnwarping") or {}
    values: dict[str, Any] = {
        "use_doc_orientation_classify": raw.get("use_doc_orientation_classify"),
        "use_doc_unwarping": raw.get("use_doc_unwarping"),
        "doc_orientation_classify_model_name": orientation.get("model_name"),
        "doc_orientation_classify_model_dir": orientation.get("model_dir"),
        "doc_unwarping_model_name": unwarping.get("model_name"),
        "doc_unwarping_model_dir": unwarping.get("model_dir"),
        "batch_size": raw.get("batch_size") or orientation.get("batch_size"),
        "skip_flat_pages": raw.get("skip_flat_pages"),
        "orientation_views": raw.get("orientation_views") or orientation.get("views"),
        "orientation_gate": raw.get("orientation_gate", orientation.get("gate")),
        "reclassify_unwarped": raw.get("reclassify_unwarped"),
        "keep_margin": raw.get("keep_margin"),
        "max_warp_score": unwarping.get("max_warp_score"),
        "max_identity_rms": unwarping.get("max_identity_rms"),
        "fill_color": unwarping.get("fill_color"),
    }
    for key in ("device", "precision", "cpu_threads", "enable_hpi", "use_tensorrt", "enable_mkldnn",
                "mkldnn_cache_capacity"):
        values[key] = raw.get(key)
    config = PipelineConfig().merged(**values)
    limits = raw.get("Limits") or {}
    serving = raw.get("Serving") or {}
    if not isinstance(limits, dict) or not isinstance(serving, dict):
        raise ConfigError("Limits and Serving must be mappings")
    config.limits = dict(limits)
    config.serving = dict(serving)
    return config
