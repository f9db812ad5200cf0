"""`DocPreprocessor`: the reference's doc_preprocessor pipeline (orientation, quarter turn, UVDoc
unwarping) on ONNX Runtime. It never knows where a page came from: the input layer hands it pages."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .config import PipelineConfig, check_unwarp_settings, load_config
from .errors import ConfigError, InputError, PagefixError
from .inputs import Page, PageFailure, iter_pages
from .limits import Limits
from .mapping import PageMap
from .models import ModelStore, OrientationClassifier, RuntimeOptions, Unwarper, quarter_turn
from .models.orientation_views import resolve_view_set
from .models.unwarping import margin_pixels
from .models.warp_score import warp_probes
from .prefetch import prefetch
from .result import AngleDecision, PageResult

__all__ = ["DocPreprocessor"]

logger = logging.getLogger(__name__)

ErrorMode = Literal["raise", "yield"]


class DocPreprocessor:
    """Turn pages upright and flatten them, with the reference's parameters.

    >>> for result in DocPreprocessor().predict("photo.jpg"):  # doctest: +SKIP
    ...     result.print(); result.save_to_img("out/")

    Models are loaded when the pipeline is built for the stages that are on; a stage switched on
    later, in one `predict` call, loads its model then. `orientation_classifier` and `unwarper`
    accept prebuilt objects (for tests, or to share sessions between pipelines).
    """

    #: Pages decoded ahead of the models in `predict_iter` (0: decode in the caller's thread).
    prefetch_pages: int = 1

    def __init__(
        self,
        doc_orientation_classify_model_name: str | None = None,
        doc_orientation_classify_model_dir: str | os.PathLike[str] | None = None,
        doc_unwarping_model_name: str | None = None,
        doc_unwarping_model_dir: str | os.PathLike[str] | None = None,
        use_doc_orientation_classify: bool | None = None,
        use_doc_unwarping: bool | None = None,
        device: str | None = None,
        enable_hpi: bool | None = None,
        use_tensorrt: bool | None = None,
        precision: str | None = None,
        enable_mkldnn: bool | None = None,
        mkldnn_cache_capacity: int | None = None,
        cpu_threads: int | None = None,
        paddlex_config: str | os.PathLike[str] | dict[str, Any] | None = None,
        *,
        batch_size: int | None = None,
        skip_flat_pages: bool | None = None,
        keep_margin: float | None = None,
        fill_color: tuple[int, int, int] | None = None,
        orientation_views: str | None = None,
        orientation_gate: float | None = None,
        reclassify_unwarped: bool | None = None,
        limits: Limits | None = None,
        store: ModelStore | None = None,
        orientation_classifier: OrientationClassifier | None = None,
        unwarper: Unwarper | None = None,
    ) -> None:
        self.config: PipelineConfig = load_config(paddlex_config).merged(
            doc_orientation_classify_model_name=doc_orientation_classify_model_name,
            doc_orientation_classify_model_dir=_path_or_none(doc_orientation_classify_model_dir),
            doc_unwarping_model_name=doc_unwarping_model_name,
            doc_unwarping_model_dir=_path_or_none(doc_unwarping_model_dir),
            use_doc_orientation_classify=use_doc_orientation_classify,
            use_doc_unwarping=use_doc_unwarping,
            device=device,
            enable_hpi=enable_hpi,
            use_tensorrt=use_tensorrt,
            precision=precision,
            enable_mkldnn=enable_mkldnn,
            mkldnn_cache_capacity=mkldnn_cache_capacity,
            cpu_threads=cpu_threads,
            batch_size=batch_size,
            skip_flat_pages=skip_flat_pages,
            keep_margin=keep_margin,
            fill_color=fill_color,
            orientation_views=orientation_views,
            orientation_gate=orientation_gate,
            reclassify_unwarped=reclassify_unwarped,
        )
        config = self.config
        self.view_set = resolve_view_set(config.orientation_views)
        if config.orientation_gate is not None:
            self.view_set = dataclasses.replace(self.view_set, gate=config.orientation_gate)
        self.limits = limits or config.build_limits()
        self.runtime = RuntimeOptions(
            device=config.device,
            precision=config.precision,
            cpu_threads=config.cpu_threads,
            enable_hpi=bool(config.enable_hpi),
            use_tensorrt=bool(config.use_tensorrt),
            enable_mkldnn=config.enable_mkldnn,
            mkldnn_cache_capacity=config.mkldnn_cache_capacity,
        )
        self.runtime.device_kind()  # reject a malformed device string now, not at first use
        self.store = store or ModelStore()
        self._classifier = orientation_classifier
        self._unwarper = unwarper
        self._load_lock = threading.Lock()
        if config.use_doc_orientation_classify:
            self.orientation_classifier  # noqa: B018 - load now so a bad model fails at construction
        if config.use_doc_unwarping:
            self.unwarper  # noqa: B018

    # -- models, loaded once ------------------------------------------------------------------

    @property
    def orientation_classifier(self) -> OrientationClassifier:
        if self._classifier is None:
            with self._load_lock:
                if self._classifier is None:
                    files = self.store.resolve(
                        "orientation", self.config.doc_orientation_classify_model_name,
                        self.config.doc_orientation_classify_model_dir,
                    )
                    self._classifier = OrientationClassifier.from_files(files, self.runtime)
                    logger.info("loaded orientation model %s from %s", files.name, files.path)
        return self._classifier

    @property
    def unwarper(self) -> Unwarper:
        if self._unwarper is None:
            with self._load_lock:
                if self._unwarper is None:
                    precision = self.runtime.precision
                    if precision == "fp16" and self.runtime.device_kind()[0] == "cpu":
                        logger.warning("precision='fp16' on the CPU runs UVDoc about twice as slow as fp32")
                    files = self.store.resolve(
                        "unwarping", self.config.doc_unwarping_model_name,
                        self.config.doc_unwarping_model_dir, precision=precision,
                    )
                    self._unwarper = Unwarper.from_files(files, self.runtime)
                    logger.info("loaded unwarping model %s from %s", files.name, files.path)
        return self._unwarper

    # -- prediction ---------------------------------------------------------------------------

    def predict(
        self, input: Any, use_doc_orientation_classify: bool | None = None,
        use_doc_unwarping: bool | None = None, *, errors: ErrorMode = "raise",
        skip_flat_pages: bool | None = None, keep_margin: float | None = None,
    ) -> list[PageResult | PageFailure]:
        """All results as a list; see `predict_iter`."""
        return list(self.predict_iter(
            input, use_doc_orientation_classify, use_doc_unwarping, errors=errors,
            skip_flat_pages=skip_flat_pages, keep_margin=keep_margin,
        ))

    def predict_iter(
        self, input: Any, use_doc_orientation_classify: bool | None = None,
        use_doc_unwarping: bool | None = None, *, errors: ErrorMode = "raise",
        skip_flat_pages: bool | None = None, keep_margin: float | None = None,
    ) -> Iterator[PageResult | PageFailure]:
        """Yield one `PageResult` per page, in input order, decoding pages only as they are needed.

        `input`: an ndarray (BGR), bytes of a file, a path to an image or PDF, an http(s) URL, a
        directory (recursive, sorted) or a list of these. With `errors="raise"` the first input
        that cannot be processed raises its `PagefixError` (after the results before it); with
        `errors="yield"` it is yielded as a `PageFailure` and the other inputs go on.
        `skip_flat_pages` and `keep_margin` override the pipeline's settings for this call.
        """
        if errors not in ("raise", "yield"):
            raise ConfigError("errors must be 'raise' or 'yield'")
        settings = self.resolve_settings({
            "use_doc_orientation_classify": use_doc_orientation_classify,
            "use_doc_unwarping": use_doc_unwarping,
            "skip_flat_pages": skip_flat_pages,
            "keep_margin": keep_margin,
        })
        # The next page is decoded on a thread while this one is in the models (order and
        # errors unchanged; one page ahead at most).
        stream = prefetch(iter_pages(input, self.limits), self.prefetch_pages)
        while chunk := list(itertools.islice(stream, self.config.batch_size)):
            results = self._process_chunk(chunk, settings)
            del chunk
            while results:
                # Handed over, not kept: the next page is decoded without this generator still
                # holding the last result (three full-size images for a 100 MP page).
                item = results.pop(0)
                if isinstance(item, PageFailure) and errors == "raise":
                    item.raise_error()
                yield item
                del item

    def process_pages(self, pages: Iterable[Page], settings: dict[str, Any]) -> list[PageResult | PageFailure]:
        """Run already decoded pages through the models (for front ends that decode themselves);
        settings left out or None take the pipeline's values."""
        return self._process_chunk(list(pages), self.resolve_settings(settings))

    def resolve_settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Per-call settings: each of `_SETTINGS` from `overrides` when given (not None), else the config."""
        unknown = set(overrides) - set(_SETTINGS)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        settings: dict[str, Any] = {key: _choose(overrides.get(key), getattr(self.config, key)) for key in _SWITCHES}
        keep_margin = overrides.get("keep_margin")
        keep_margin = self.config.keep_margin if keep_margin is None else keep_margin
        check_unwarp_settings(keep_margin)
        settings["keep_margin"] = float(keep_margin)
        return settings

    def _process_chunk(self, chunk: list[Page | PageFailure], settings: dict[str, Any]) -> list[PageResult | PageFailure]:
        pages = [item for item in chunk if isinstance(item, Page)]
        done: dict[int, PageResult | PageFailure] = {}
        try:
            first = self._classify([page.image for page in pages], settings)
            rotated = [quarter_turn(page.image, d.angle) if d else page.image for page, d in zip(pages, first)]
            outputs = self._unwarp(rotated, settings)
            second = self._reclassify(outputs, settings)
        except PagefixError as exc:
            if len(pages) > 1:  # one page broke the batch: run them one by one to isolate it
                done = {id(page): self._process_chunk([page], settings)[0] for page in pages}
            else:
                done = {id(page): PageFailure(page.input_path, page.page_index, exc) for page in pages}
            return [done.get(id(item), item) for item in chunk]
        for i, page in enumerate(pages):
            decided, again = first[i], second[i]
            # Take the pages out of the lists, so each full-size copy is freed as soon as it is
            # not needed (a 100 MP page is 300 MB a copy).
            rot, out = rotated[i], outputs[i]
            rotated[i] = outputs[i] = None  # type: ignore[call-overload]
            if isinstance(out, PagefixError):
                done[id(page)] = PageFailure(page.input_path, page.page_index, out)
                continue
            decisions = tuple(d for d in (decided, again) if d is not None)
            angle = sum(d.angle for d in decisions) % 360 if decided else -1
            output = out.image
            if again is not None and again.angle:
                output = quarter_turn(output, again.angle)
                out.image = output  # the unturned unwarped page goes
                rot = quarter_turn(rot, again.angle)  # turned by the first answer, then the second
            done[id(page)] = PageResult(
                input_path=page.input_path,
                page_index=page.page_index,
                model_settings={key: settings[key] for key in _REFERENCE_SETTINGS},
                angle=angle,
                # The confidence of the decision that set the final turn.
                angle_score=decisions[-1].score if decisions else None,
                angle_decisions=decisions,
                input_img=page.image,
                rot_img=rot,
                output_img=output,
                unwarp_applied=out.grid is not None,
                warp_score=out.warp_score,
                page_map=PageMap(
                    page.image.shape[:2], decided.angle if decided else 0, out.grid, out.margin,
                    final_angle=again.angle if again else 0,
                ),
                source_jpeg=page.encoded if out.grid is None and angle <= 0 else None,
            )
        return [done.get(id(item), item) for item in chunk]  # type: ignore[misc]

    def _classify(self, images: list[np.ndarray], settings: dict[str, Any], stage: str = "input") -> list[AngleDecision | None]:
        if not settings["use_doc_orientation_classify"] or not images:
            return [None for _ in images]
        found = self.orientation_classifier.predict(images, self.view_set)
        return [AngleDecision(stage, o.angle, o.score) for o in found]

    def _reclassify(self, outputs: list[_Unwarped | PagefixError], settings: dict[str, Any]) -> list[AngleDecision | None]:
        """Decide the turn again on the pages UVDoc unwarped: the classifier reads a flat page far
        better than a curled photo. Pages left as they were are not classified twice."""
        again: list[AngleDecision | None] = [None] * len(outputs)
        if not (self.config.reclassify_unwarped and settings["use_doc_orientation_classify"]):
            return again
        unwarped = [i for i, out in enumerate(outputs) if isinstance(out, _Unwarped) and out.grid is not None]
        found = self._classify([outputs[i].image for i in unwarped], settings, stage="unwarped")  # type: ignore[union-attr]
        for i, decision in zip(unwarped, found):
            again[i] = decision
        return again

    def _unwarp(self, images: list[np.ndarray], settings: dict[str, Any]) -> list[_Unwarped | PagefixError]:
        """Unwarp the upright pages; with skip_flat_pages, pages the padded probe finds flat are
        returned as they are (one UVDoc call for those, two for the others)."""
        if not settings["use_doc_unwarping"] or not images:
            return [_Unwarped(image) for image in images]
        unwarper = self.unwarper
        scores: list[float | None] = [None] * len(images)
        warped = list(range(len(images)))
        if settings["skip_flat_pages"]:
            probes = warp_probes(unwarper, images)
            scores = [probe.score for probe in probes]
            warped = [i for i, probe in enumerate(probes)
                      if not probe.is_flat(self.config.max_warp_score, self.config.max_identity_rms)]
        outputs: list[_Unwarped | PagefixError] = [_Unwarped(image, score) for image, score in zip(images, scores)]
        keep_margin = settings["keep_margin"]
        fill = self._fill(keep_margin)
        for i, grid in zip(warped, unwarper.predict_grids([images[i] for i in warped])):
            image = images[i]
            try:
                unwarped = unwarper.unwarp(image, grid, keep_margin, fill)
            except PagefixError as exc:
                outputs[i] = exc
                continue
            except MemoryError:
                outputs[i] = InputError(f"out of memory unwarping a {image.shape[1]}x{image.shape[0]} page")
                continue
            outputs[i] = _Unwarped(unwarped, scores[i], grid, margin_pixels(image.shape[:2], keep_margin))
        return outputs

    def _fill(self, keep_margin: float) -> tuple[int, int, int]:
        """BGR colour of output pixels outside the photo: the configured one, else white in a
        margin (it reads as paper) and black without one (as the reference)."""
        color = self.config.fill_color
        if color is None:
            return (255, 255, 255) if keep_margin > 0 else (0, 0, 0)
        red, green, blue = color
        return (blue, green, red)


@dataclass
class _Unwarped:
    """One page after the unwarping step; `grid` is None when the page was left as it was."""

    image: np.ndarray
    warp_score: float | None = None
    grid: np.ndarray | None = None
    margin: tuple[int, int] = (0, 0)


#: Per-call settings: the on/off ones, all of them, and the ones the reference reports in `model_settings`.
_SWITCHES = ("use_doc_orientation_classify", "use_doc_unwarping", "skip_flat_pages")
_SETTINGS = _SWITCHES + ("keep_margin",)
_REFERENCE_SETTINGS = ("use_doc_orientation_classify", "use_doc_unwarping")


def _choose(override: bool | None, default: bool) -> bool:
    return bool(default if override is None else override)


def _path_or_none(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)
