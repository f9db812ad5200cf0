"""Every pipeline setting, declared once, and the pipeline YAML (the reference's keys plus pagefix's).

Each field of `PipelineConfig` made with `setting(...)` is one row of the table `SETTINGS`: its name,
type and default are the field's; the row adds the help text, the YAML path(s), the HTTP request
field and whether a single call may override it. Everything else is made from the table:

- the checks of `DocPreprocessor(...)` and of the YAML values (`Setting.checked`, `PipelineConfig.merged`),
- the YAML keys `load_config` reads, and the refusal of any key it does not know,
- the command-line flags of every subcommand that runs the pipeline (`pagefix.cli.flags`),
- the fields of the HTTP request body (`pagefix.serving.schemas.InferRequest`),
- the per-call overrides of `predict`, `predict_iter` and `process_pages` (`per_call_settings`).

To add a setting (say `deskew`), add one field to `PipelineConfig`::

    deskew: bool = setting(
        False, "straighten pages tilted by a few degrees (default: False)", yaml=("deskew",),
        http=HttpField("deskew", "Straighten small tilts (pagefix); null: the server's setting."),
        per_call=True,
    )

and read it where it acts: `settings["deskew"]` in the stages for a per-call setting, else
`pipeline.config.deskew`. `DocPreprocessor(deskew=True)`, `predict(..., deskew=True)`,
`deskew: true` in the YAML, `--deskew True` on the command line and `"deskew": true` in a request
then all work; tests/pipeline/test_settings.py, tests/test_cli_flags.py and
tests/serving/test_settings.py check that each front end has it. Leave out `http`
(and `per_call`) for a setting a request may not change, and pass `flag=False` for one that has
no command-line flag.

The YAML, for reference::

    pipeline_name: doc_preprocessor
    use_doc_orientation_classify: True
    use_doc_unwarping: True
    batch_size: 1
    skip_flat_pages: True            # pagefix: leave pages the padded probe finds flat untouched
    deskew: True                     # pagefix: straighten flat pages scanned a few degrees crooked
    deskew_dead_zone: 0.1            # pagefix: smaller skews (degrees) are left alone
    keep_margin: 0.0                 # pagefix: extra border kept around the unwarped page (fraction)
    orientation_views: default       # pagefix: views voted on (reference = the reference's one view)
    reclassify_unwarped: True        # pagefix: decide the final turn again on the unwarped page
    SubModules:
      DocOrientationClassify: {model_name: pagefix_doc_ori_v5, model_dir: null, batch_size: 8,
                               views: default, gate: null}   # pagefix: model (reference: PP-LCNet_x1_0_doc_ori), views
      DocUnwarping: {model_name: UVDoc, model_dir: null,
                     max_warp_score: 2.0, max_identity_rms: 6.0, fill_color: null}   # pagefix
    cpu_backend: auto                # pagefix: onnxruntime pins ONNX Runtime fp32 (the reference's numbers)
    Limits: {max_pixels: 100000000, pdf_render_scale: 2.0, ...}   # pagefix: see limits.py
    Serving: {visualize: true, extra: {max_num_input_imgs: 10}}    # read by `pagefix serve`

Explicit constructor arguments win over the file, the file wins over the defaults. A key the
table does not know, at any level, is a `ConfigError` naming it and the likely intended one; the
keys of `Serving:` are checked by the service that reads them (`pagefix.serving.settings`).
"""

from __future__ import annotations

import dataclasses
import logging
import numbers
import os
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..errors import ConfigError
from ..limits import Limits, did_you_mean, parse_bool
from ..models.runtime import CPU_BACKENDS

__all__ = [
    "HttpField",
    "MAX_KEEP_MARGIN",
    "PipelineConfig",
    "SETTINGS",
    "SETTINGS_BY_NAME",
    "Setting",
    "load_config",
    "per_call_settings",
    "setting",
]

logger = logging.getLogger(__name__)

#: Largest keep_margin accepted: the output is then twice the page's width and height.
MAX_KEEP_MARGIN = 0.5


@dataclass(frozen=True)
class HttpField:
    """A setting's field in the HTTP request body (the reference's camelCase); null there means
    the server's own value."""

    name: str
    description: str


@dataclass(frozen=True)
class Setting:
    """One row of the settings table; `name`, `type` and `default` are those of its
    `PipelineConfig` field."""

    name: str
    #: The field's annotation, e.g. `bool` or `int | None`.
    type: Any
    default: Any
    #: The command-line help, shown as is by `--help`.
    help: str
    #: Dotted YAML paths, the first one present (not null) wins; empty: not in the YAML.
    yaml: tuple[str, ...] = ()
    #: The request field of the HTTP service; None: a request cannot change it.
    http: HttpField | None = None
    #: Whether `predict`/`predict_iter`/`process_pages` may override it for one call.
    per_call: bool = False
    #: Whether it has the command-line flag `--<name>`.
    flag: bool = True
    #: One of the reference's own parameters (its CLI flags, constructor arguments and request
    #: fields), listed before pagefix's additions wherever settings are listed.
    reference: bool = False
    metavar: str | None = None
    #: The only values accepted (also the flag's choices).
    choices: tuple[str, ...] = ()
    #: Bounds of a number; `above_minimum`: the minimum itself is refused.
    minimum: float | None = None
    maximum: float | None = None
    above_minimum: bool = False
    #: A check of its own for a value that is not a plain bool, int, float or str; returns the
    #: value to keep.
    check: Callable[[Any], Any] | None = None

    @property
    def kind(self) -> type:
        """bool, int, float or str for a plain setting (None allowed or not); else object."""
        annotation = self.type
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        return annotation if annotation in (bool, int, float, str) else object

    def checked(self, value: Any) -> Any:
        """`value` as the pipeline keeps it (a path as str, a tuple as a tuple), or ConfigError."""
        if self.check is not None:
            return self.check(value)
        kind = self.kind
        if kind is bool:
            return _checked_bool(self.name, value)
        if kind is str:
            if isinstance(value, os.PathLike):
                value = os.fspath(value)
            if not isinstance(value, str):
                raise ConfigError(f"{self.name} must be a string, got {value!r}")
            if self.choices and value not in self.choices:
                raise ConfigError(f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
                                  + did_you_mean(value, self.choices))
            return value
        if kind in (int, float):
            number_types = numbers.Integral if kind is int else numbers.Real
            if isinstance(value, bool) or not isinstance(value, number_types) or not self._in_range(float(value)):
                raise ConfigError(f"{self.name} must be {self.describe_range()}, got {value!r}")
            return kind(value)
        return value

    def _in_range(self, value: float) -> bool:
        # Written so that NaN is out of every range.
        low, high = self.minimum, self.maximum
        above_low = low is None or (value > low if self.above_minimum else value >= low)
        return above_low and (high is None or value <= high)

    def describe_range(self) -> str:
        """'a number from 0 to 0.5', 'an integer >= 1', 'a number in (0, 1]', ..."""
        what = "an integer" if self.kind is int else "a number"
        low, high = self.minimum, self.maximum
        if low is not None and high is not None:
            return f"{what} in ({low:g}, {high:g}]" if self.above_minimum else f"{what} from {low:g} to {high:g}"
        if low is not None:
            return f"{what} {'>' if self.above_minimum else '>='} {low:g}"
        return what


def setting(
    default: Any, help: str, *, yaml: tuple[str, ...] = (), http: HttpField | None = None,
    per_call: bool = False, flag: bool = True, reference: bool = False, metavar: str | None = None,
    choices: tuple[str, ...] = (), minimum: float | None = None, maximum: float | None = None,
    above_minimum: bool = False, check: Callable[[Any], Any] | None = None,
) -> Any:
    """A `PipelineConfig` field that is a row of the settings table (see the module docstring)."""
    if http is not None and not per_call:
        raise TypeError("a setting with an HTTP field must be per_call: a request changes it for itself only")
    row = Setting("", object, default, help, yaml=yaml, http=http, per_call=per_call, flag=flag,
                  reference=reference, metavar=metavar, choices=choices, minimum=minimum,
                  maximum=maximum, above_minimum=above_minimum, check=check)
    return field(default=default, metadata={_ROW: row})


_ROW = "pagefix.setting"


def _checked_bool(name: str, value: Any) -> bool:
    """True/False; also 1/0, numpy booleans and the words the command line takes ('true', 'no', ...)."""
    if isinstance(value, str):
        return parse_bool(value, name)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def _checked_fill_color(value: Any) -> tuple[int, int, int]:
    if (
        isinstance(value, (str, bytes))
        or not hasattr(value, "__len__")
        or len(value) != 3
        or not all(isinstance(c, numbers.Integral) and not isinstance(c, bool) and 0 <= int(c) <= 255 for c in value)
    ):
        raise ConfigError(f"fill_color must be three integers 0-255 (R, G, B), got {value!r}")
    return (int(value[0]), int(value[1]), int(value[2]))


_ORIENTATION = "SubModules.DocOrientationClassify."
_UNWARPING = "SubModules.DocUnwarping."


@dataclass
class PipelineConfig:
    """The pipeline's settings (one field per setting, in the order the command line lists them),
    plus the `Limits:` and `Serving:` sections of its YAML."""

    doc_orientation_classify_model_name: str | None = setting(
        None, "orientation model name (default: pagefix_doc_ori_v5, pagefix's multi-script model shipped in "
        "the package; PP-LCNet_x1_0_doc_ori is the reference's)", reference=True, metavar="NAME",
        yaml=(_ORIENTATION + "model_name",),
    )
    doc_orientation_classify_model_dir: str | None = setting(
        None, "orientation model directory (model.onnx + pagefix.yml) or .onnx file", reference=True,
        metavar="DIR", yaml=(_ORIENTATION + "model_dir",),
    )
    doc_unwarping_model_name: str | None = setting(
        None, "unwarping model name (default: UVDoc)", reference=True, metavar="NAME",
        yaml=(_UNWARPING + "model_name",),
    )
    doc_unwarping_model_dir: str | None = setting(
        None, "unwarping model directory (model.onnx + pagefix.yml) or .onnx file", reference=True,
        metavar="DIR", yaml=(_UNWARPING + "model_dir",),
    )
    use_doc_orientation_classify: bool = setting(
        True, "load and use the orientation classifier (default: True)", reference=True,
        yaml=("use_doc_orientation_classify",), per_call=True,
        http=HttpField("useDocOrientationClassify",
                       "Classify and undo the page's orientation; null: the server's setting."),
    )
    use_doc_unwarping: bool = setting(
        True, "load and use UVDoc unwarping (default: True)", reference=True,
        yaml=("use_doc_unwarping",), per_call=True,
        http=HttpField("useDocUnwarping", "Unwarp the page with UVDoc; null: the server's setting."),
    )
    device: str | None = setting(
        None, "cpu, gpu or gpu:N (default: gpu:0 when CUDA is available, else cpu)", reference=True,
        yaml=("device",),
    )
    enable_hpi: bool = setting(
        False, "use the fastest execution provider installed (OpenVINO on CPU)", reference=True,
        yaml=("enable_hpi",),
    )
    use_tensorrt: bool = setting(False, "use TensorRT on GPU", reference=True, yaml=("use_tensorrt",))
    precision: str = setting(
        "fp32", "model precision (default: fp32)", reference=True, choices=("fp32", "fp16"),
        yaml=("precision",),
    )
    enable_mkldnn: bool | None = setting(
        None, "use the oneDNN execution provider when this onnxruntime has it", reference=True,
        yaml=("enable_mkldnn",),
    )
    mkldnn_cache_capacity: int | None = setting(
        None, "oneDNN cache capacity", reference=True, metavar="N", yaml=("mkldnn_cache_capacity",),
    )
    cpu_threads: int | None = setting(
        None, "ONNX Runtime threads on the CPU (default: the usable cores)", reference=True, metavar="N",
        minimum=1, yaml=("cpu_threads",),
    )
    #: Which CPU configuration runs the models (models/fastest.py): "auto" the fastest whose output
    #: was measured equal to ONNX Runtime fp32's, "onnxruntime" ONNX Runtime fp32 only (the
    #: reference's numbers). A setting, not an environment variable, so that a reproduction recipe
    #: is one pipeline YAML with the other device settings.
    cpu_backend: str = setting(
        "auto", "CPU configuration of the models: auto (the fastest installed whose output was measured "
        "equal to ONNX Runtime fp32's; measured once per machine) or onnxruntime (ONNX Runtime fp32 only, "
        "to reproduce the reference's numbers)", choices=CPU_BACKENDS, yaml=("cpu_backend",),
    )
    #: Pages taken from the input stream together (classifier batch).
    batch_size: int = setting(
        1, "pages classified per model call (default: 1)", metavar="N", minimum=1,
        yaml=("batch_size", _ORIENTATION + "batch_size"),
    )
    #: Leave a page untouched when the padded probe finds it flat (a difference from the reference).
    skip_flat_pages: bool = setting(
        True, "leave pages that a padded UVDoc probe finds flat untouched (default: True; "
        "False unwarps every page, as the reference)", yaml=("skip_flat_pages",), per_call=True,
        http=HttpField("skipFlatPages", "Leave pages that a padded UVDoc probe finds flat untouched "
                       "(pagefix); null: the server's setting (default true; false unwarps every page, "
                       "as the reference)."),
    )
    #: Border kept around the unwarped page, as a fraction of its width and height per side.
    keep_margin: float = setting(
        0.0, "border kept around an unwarped page, as a fraction of its size per side, so edges "
        "UVDoc would cut off stay (default: 0; e.g. 0.17)", metavar="F", minimum=0.0,
        maximum=MAX_KEEP_MARGIN, yaml=("keep_margin",), per_call=True,
        http=HttpField("keepMargin", "Border kept around an unwarped page, as a fraction of its size "
                       "per side (pagefix); null: the server's setting (default 0)."),
    )
    #: Views of each page the classifier votes with (`models/orientation_views.py`); "reference"
    #: is the reference's single centre crop.
    orientation_views: str = setting(
        "default", "views the orientation classifier votes with: default (17 crops, after the centre "
        "crop in four turns when those disagree), full (17 crops always), fast (17 crops, only when "
        "the reference view is unsure) or reference (one centre crop)", metavar="NAME",
        yaml=("orientation_views", _ORIENTATION + "views"),
    )
    #: Run the views after the first only when the first view's top probability is below this
    #: (None: the view set's own gate).
    orientation_gate: float | None = setting(
        None, "run the extra views only when the reference view's top probability is below P",
        metavar="P", minimum=0.0, maximum=1.0, above_minimum=True,
        yaml=("orientation_gate", _ORIENTATION + "gate"),
    )
    #: Classify the unwarped page again and turn the output by that answer (photos are classified
    #: far better flat); off reproduces the reference's single decision.
    reclassify_unwarped: bool = setting(
        True, "decide the final turn again on the unwarped page (default: True; False and "
        "--orientation_views reference with the reference's model reproduce the reference)", yaml=("reclassify_unwarped",),
    )
    #: Straighten a flat page scanned a few degrees crooked by the exact rotation its text lines show
    #: (geometry/skew.py; docs: skew.md). Off leaves such pages as before.
    deskew: bool = setting(
        True, "straighten flat pages scanned a few degrees crooked, by an exact rotation (default: "
        "True; False leaves them as they are)", yaml=("deskew",), per_call=True,
        http=HttpField("deskew", "Straighten flat pages scanned a few degrees crooked, by an exact "
                       "rotation (pagefix); null: the server's setting (default true)."),
    )
    #: Skews smaller than this (degrees) are left alone: the page stays byte for byte as it came
    #: (measured with `pagefix eval skew`, docs: skew.md).
    deskew_dead_zone: float = setting(
        0.1, "skews below this many degrees are left alone", flag=False, minimum=0.0,
        yaml=("deskew_dead_zone",),
    )
    #: The flat-page rule, both in per mille of the page diagonal (tuned with bench/warp_score.py):
    #: the probe's homography residual and its distance from the identity.
    max_warp_score: float = setting(
        2.0, "a page whose padded probe scores below this (per mille of the diagonal) is flat",
        flag=False, minimum=0.0, above_minimum=True, yaml=(_UNWARPING + "max_warp_score",),
    )
    max_identity_rms: float = setting(
        6.0, "a flat page's probe grid stays within this of the identity (per mille of the diagonal)",
        flag=False, minimum=0.0, above_minimum=True, yaml=(_UNWARPING + "max_identity_rms",),
    )
    #: (R, G, B) of output pixels that show nothing of the photo; None: white in a keep_margin
    #: margin, black (as the reference) without one, and the page's own paper colour in the corners
    #: a deskewed page gains.
    fill_color: tuple[int, int, int] | None = setting(
        None, "(R, G, B) of output pixels that show nothing of the photo", flag=False,
        check=_checked_fill_color, yaml=(_UNWARPING + "fill_color",),
    )
    limits: dict[str, Any] = field(default_factory=dict)
    serving: dict[str, Any] = field(default_factory=dict)

    def merged(self, **explicit: Any) -> PipelineConfig:
        """A copy with every non-None explicit setting applied, and every setting checked."""
        for key in explicit:
            if key not in SETTINGS_BY_NAME:
                raise ConfigError(f"unknown setting {key!r}" + did_you_mean(key, SETTINGS_BY_NAME))
        values = {row.name: getattr(self, row.name) if explicit.get(row.name) is None else explicit[row.name]
                  for row in SETTINGS}
        checked: dict[str, Any] = {
            name: None if value is None else SETTINGS_BY_NAME[name].checked(value) for name, value in values.items()
        }
        return dataclasses.replace(self, **checked)

    def build_limits(self) -> Limits:
        try:
            return Limits.from_env(**self.limits)
        except TypeError as exc:
            raise ConfigError(f"invalid Limits section: {exc}") from exc


def _table() -> tuple[Setting, ...]:
    hints = typing.get_type_hints(PipelineConfig)
    return tuple(
        dataclasses.replace(f.metadata[_ROW], name=f.name, type=hints[f.name])
        for f in fields(PipelineConfig) if _ROW in f.metadata
    )


#: The settings table, in the order the command line lists the flags.
SETTINGS: tuple[Setting, ...] = _table()
SETTINGS_BY_NAME: dict[str, Setting] = {row.name: row for row in SETTINGS}


def per_call_settings(config: PipelineConfig, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Every per-call setting for one call: from `overrides` when given (not None), else `config`'s."""
    for key in overrides:
        row = SETTINGS_BY_NAME.get(key)
        if row is None:
            per_call = [r.name for r in SETTINGS if r.per_call]
            raise ConfigError(f"unknown setting {key!r}" + did_you_mean(key, per_call))
        if not row.per_call:
            raise ConfigError(f"{key} cannot change per call; set it when building the pipeline")
    chosen: dict[str, Any] = {}
    for row in SETTINGS:
        if row.per_call:
            value = overrides.get(row.name)
            chosen[row.name] = row.checked(getattr(config, row.name) if value is None else value)
    return chosen


# -- the YAML ----------------------------------------------------------------------------------

#: Keys of the reference's YAML that pagefix reads past: names that select nothing here, and its
#: inference-engine options (pagefix picks its runtime from device/precision/enable_hpi).
_SILENT = ("pipeline_name", _ORIENTATION + "module_name", _UNWARPING + "module_name")
_NOT_USED = tuple(
    prefix + key for prefix in ("", _ORIENTATION, _UNWARPING)
    for key in ("engine", "engine_config", "use_hpip", "hpi_config")
) + (_UNWARPING + "batch_size",)
#: Sections whose keys are checked by whoever reads them.
_CHECKED_ELSEWHERE = ("Serving",)


def _known_keys() -> dict[str, Any]:
    """The YAML's tree of keys: a nested dict whose leaves are None."""
    tree: dict[str, Any] = {}
    paths = [p for row in SETTINGS for p in row.yaml] + list(_SILENT) + list(_NOT_USED)
    paths += [f"Limits.{f.name}" for f in fields(Limits)]
    for path in paths:
        *parents, leaf = path.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node.setdefault(leaf, None)
    tree.setdefault("Limits", {})
    for section in _CHECKED_ELSEWHERE:
        tree[section] = None
    return tree


def _check_keys(raw: Mapping[str, Any], known: dict[str, Any], where: str = "") -> None:
    for key, value in raw.items():
        path = f"{where}{key}"
        if not isinstance(key, str) or key not in known:
            hint = did_you_mean(path, [f"{where}{name}" for name in known]) or f" (known here: {', '.join(known)})"
            raise ConfigError(f"unknown key {path!r} in the pipeline configuration{hint}")
        if path in _NOT_USED:
            logger.warning("%s of the reference's configuration is not used by pagefix and is ignored", path)
        below = known[key]
        if below is not None and value is not None:
            if not isinstance(value, Mapping):
                raise ConfigError(f"{path} must be a mapping in the pipeline configuration, got {value!r}")
            _check_keys(value, below, path + ".")


def _lookup(raw: Mapping[str, Any], path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def load_config(source: str | os.PathLike[str] | dict[str, Any] | None) -> PipelineConfig:
    """Read a pipeline YAML (or an already parsed dict) with the reference's keys and pagefix's."""
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
    _check_keys(raw, _known_keys())
    for section in _CHECKED_ELSEWHERE:
        if not isinstance(raw.get(section) or {}, Mapping):
            raise ConfigError(f"{section} must be a mapping in the pipeline configuration")
    values: dict[str, Any] = {}
    for row in SETTINGS:
        for key in row.yaml:
            value = _lookup(raw, key)
            if value is not None:
                values[row.name] = value
                break
    config = PipelineConfig().merged(**values)
    config.limits = dict(raw.get("Limits") or {})
    config.serving = dict(raw.get("Serving") or {})
    return config

