"""`DocPreprocessor`: the reference's doc_preprocessor pipeline (orientation, quarter turn, UVDoc
unwarping) on ONNX Runtime. It never knows where a page came from: the input layer hands it pages."""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any, Literal

import numpy as np

from .config import PipelineConfig, load_config
from .errors import ConfigError, InputError, PagefixError
from .inputs import Page, PageFailure, iter_pages
from .limits import Limits
from .models import ModelStore, OrientationClassifier, RuntimeOptions, Unwarper, quarter_turn
from .result import PageResult

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
        )
        config = self.config
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
    ) -> list[PageResult | PageFailure]:
        """All results as a list; see `predict_iter`."""
        return list(self.predict_iter(input, use_doc_orientation_classify, use_doc_unwarping, errors=errors))

    def predict_iter(
        self, input: Any, use_doc_orientation_classify: bool | None = None,
        use_doc_unwarping: bool | None = None, *, errors: ErrorMode = "raise",
    ) -> Iterator[PageResult | PageFailure]:
        """Yield one `PageResult` per page, in input order, decoding pages only as they are needed.

        `input`: an ndarray (BGR), bytes of a file, a path to an image or PDF, an http(s) URL, a
        directory (recursive, sorted) or a list of these. With `errors="raise"` the first input
        that cannot be processed raises its `PagefixError` (after the results before it); with
        `errors="yield"` it is yielded as a `PageFailure` and the other inputs go on.
        """
        if errors not in ("raise", "yield"):
            raise ConfigError("errors must be 'raise' or 'yield'")
        settings = {
            "use_doc_orientation_classify": _choose(use_doc_orientation_classify, self.config.use_doc_orientation_classify),
            "use_doc_unwarping": _choose(use_doc_unwarping, self.config.use_doc_unwarping),
        }
        stream = iter_pages(input, self.limits)
        while chunk := list(itertools.islice(stream, self.config.batch_size)):
            for item in self._process_chunk(chunk, settings):
                if isinstance(item, PageFailure) and errors == "raise":
                    item.raise_error()
                yield item

    def process_pages(self, pages: Iterable[Page], settings: dict[str, bool]) -> list[PageResult | PageFailure]:
        """Run already decoded pages through the models (for front ends that decode themselves)."""
        return self._process_chunk(list(pages), settings)

    def _process_chunk(self, chunk: list[Page | PageFailure], settings: dict[str, bool]) -> list[PageResult | PageFailure]:
        pages = [item for item in chunk if isinstance(item, Page)]
        done: dict[int, PageResult | PageFailure] = {}
        try:
            angles = self._classify(pages, settings)
            rotated = [quarter_turn(page.image, angle) if angle > 0 else page.image for page, (angle, _) in zip(pages, angles)]
            outputs = self._unwarp(rotated, settings)
        except PagefixError as exc:
            if len(pages) > 1:  # one page broke the batch: run them one by one to isolate it
                done = {id(page): self._process_chunk([page], settings)[0] for page in pages}
            else:
                done = {id(page): PageFailure(page.input_path, page.page_index, exc) for page in pages}
            return [done.get(id(item), item) for item in chunk]
        for page, (angle, score), rot, out in zip(pages, angles, rotated, outputs):
            if isinstance(out, PagefixError):
                done[id(page)] = PageFailure(page.input_path, page.page_index, out)
                continue
            done[id(page)] = PageResult(
                input_path=page.input_path,
                page_index=page.page_index,
                model_settings=dict(settings),
                angle=angle,
                angle_score=score,
                input_img=page.image,
                rot_img=rot,
                output_img=out,
            )
        return [done.get(id(item), item) for item in chunk]  # type: ignore[misc]

    def _classify(self, pages: list[Page], settings: dict[str, bool]) -> list[tuple[int, float | None]]:
        if not settings["use_doc_orientation_classify"] or not pages:
            return [(-1, None) for _ in pages]
        found = self.orientation_classifier.predict([page.image for page in pages])
        return [(o.angle, o.score) for o in found]

    def _unwarp(self, images: list[np.ndarray], settings: dict[str, bool]) -> list[np.ndarray | PagefixError]:
        if not settings["use_doc_unwarping"] or not images:
            return list(images)
        unwarper = self.unwarper
        grids = unwarper.predict_grids(images)
        outputs: list[np.ndarray | PagefixError] = []
        for image, grid in zip(images, grids):
            try:
                outputs.append(unwarper.unwarp(image, grid))
            except PagefixError as exc:
                outputs.append(exc)
            except MemoryError:
                outputs.append(InputError(f"out of memory unwarping a {image.shape[1]}x{image.shape[0]} page"))
        return outputs


def _choose(override: bool | None, default: bool) -> bool:
    return bool(default if override is None else override)


def _path_or_none(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)
