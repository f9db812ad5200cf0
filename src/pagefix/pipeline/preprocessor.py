"""`DocPreprocessor`: the reference's doc_preprocessor pipeline (orientation, quarter turn, UVDoc
unwarping) on ONNX Runtime. It never knows where a page came from: the input layer hands it pages."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import logging
import os
import threading
from collections.abc import Generator, Iterable, Iterator, Sequence
from typing import Any, Literal

from ..errors import ConfigError, PagefixError
from ..inputs import Page, PageFailure, iter_pages
from ..limits import Limits
from ..models import ModelStore, OrientationClassifier, RuntimeOptions, Unwarper
from ..models.orientation_views import resolve_view_set
from . import stages as page_stages
from .angles import PageAngle, iter_angles
from .prefetch import close_iterator, overlapped, prefetch
from .result import PageResult
from .settings import SETTINGS_BY_NAME, PipelineConfig, load_config, per_call_settings
from .stages import PageGrid, PreparedPage, UnwarpInput

__all__ = ["DocPreprocessor"]

logger = logging.getLogger(__name__)

ErrorMode = Literal["raise", "yield"]


class DocPreprocessor:
    """Turn pages upright and flatten them, with the reference's parameters.

    >>> for result in DocPreprocessor().predict("photo.jpg"):  # doctest: +SKIP
    ...     result.print(); result.save_to_img("out/")

    Every setting of `pagefix.pipeline.settings.SETTINGS` may be given by name (those without a
    parameter below through `**settings`, e.g. `max_warp_score=2.5`); it wins over `paddlex_config`,
    which wins over the defaults. A misspelt or invalid setting is a `ConfigError`.

    Models are loaded when the pipeline is built for the stages that are on; a stage switched on
    later, in one `predict` call, loads its model then. `orientation_classifier` and `unwarper`
    accept prebuilt objects (for tests, or to share sessions between pipelines).
    """

    #: Pages decoded ahead of the models in `predict_iter` when its stages run one after another
    #: (0: decode in the caller's thread).
    prefetch_pages: int = 1
    #: Chunks of pages (`batch_size` each) in `predict_iter` at once, its three stages overlapped:
    #: chunk n+1 decoded and prepared while n is in UVDoc and n-1 is finished and handed out
    #: (`prefetch.overlapped`; measured in bench/batch.py --photos). 1: one stage after another.
    pages_in_flight: int = 3

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
        **settings: Any,
    ) -> None:
        # Every setting is a row of `settings.SETTINGS`: the typed parameters above are the rows
        # documented here, `**settings` takes any other row (an unknown name is refused by `merged`).
        arguments = dict(locals())
        given = {name: value for name, value in arguments.items() if name in SETTINGS_BY_NAME}
        self.config: PipelineConfig = load_config(paddlex_config).merged(**given, **settings)
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
            cpu_backend=config.cpu_backend,
        )
        self.runtime.device_kind()  # reject a malformed device string now, not at first use
        if config.enable_hpi and config.cpu_backend == "onnxruntime":
            raise ConfigError("enable_hpi (the fastest configuration, any precision) and cpu_backend='onnxruntime' "
                              "(ONNX Runtime fp32 only) contradict each other; drop one")
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
        skip_flat_pages: bool | None = None, keep_margin: float | None = None, **overrides: Any,
    ) -> list[PageResult | PageFailure]:
        """All results as a list; see `predict_iter`."""
        return list(self.predict_iter(
            input, use_doc_orientation_classify, use_doc_unwarping, errors=errors,
            skip_flat_pages=skip_flat_pages, keep_margin=keep_margin, **overrides,
        ))

    def predict_angles(self, input: Any, *, errors: ErrorMode = "raise") -> list[PageAngle | PageFailure]:
        """Orientation only: how far each page is turned, without making corrected pages. JPEGs
        are decoded only as large as the classifier's views need (`pagefix.pipeline.angles`)."""
        return list(iter_angles(self, input, errors=errors))

    def predict_iter(
        self, input: Any, use_doc_orientation_classify: bool | None = None,
        use_doc_unwarping: bool | None = None, *, errors: ErrorMode = "raise",
        skip_flat_pages: bool | None = None, keep_margin: float | None = None, **overrides: Any,
    ) -> Iterator[PageResult | PageFailure]:
        """Yield one `PageResult` per page, in input order, decoding pages only as they are needed.

        `input`: an ndarray (BGR), bytes of a file, a path to an image or PDF, an http(s) URL, a
        directory (recursive, sorted) or a list of these. With `errors="raise"` the first input
        that cannot be processed raises its `PagefixError` (after the results before it); with
        `errors="yield"` it is yielded as a `PageFailure` and the other inputs go on.
        The stage switches, `skip_flat_pages`, `keep_margin` and any other per-call setting of
        `pagefix.pipeline.settings.SETTINGS` (as `**overrides`) change this call only; None keeps
        the pipeline's own.
        """
        if errors not in ("raise", "yield"):
            raise ConfigError("errors must be 'raise' or 'yield'")
        settings = self.resolve_settings({
            "use_doc_orientation_classify": use_doc_orientation_classify,
            "use_doc_unwarping": use_doc_unwarping,
            "skip_flat_pages": skip_flat_pages,
            "keep_margin": keep_margin,
            **overrides,
        })
        with contextlib.closing(self._chunk_results(input, settings)) as chunks:
            for results in chunks:
                while results:
                    # Handed over, not kept: the next page is decoded without this generator still
                    # holding the last result (three full-size images for a 100 MP page).
                    item = results.pop(0)
                    if isinstance(item, PageFailure) and errors == "raise":
                        item.raise_error()
                    yield item
                    del item
                del results

    def _chunk_results(self, input: Any, settings: dict[str, Any]) -> Generator[list[PageResult | PageFailure], None, None]:
        """The results of each chunk of the input's pages, in order."""
        pages = iter_pages(input, self.limits)
        if self.pages_in_flight > 1:
            # Decoding happens in stage 1's thread, inside the bound on pages in flight.
            yield from overlapped(_chunks(pages, self.config.batch_size), (
                lambda chunk: self.prepare_pages(chunk, settings),
                lambda prepared: (prepared, self.find_grids(_unwarp_inputs(prepared), settings)),
                lambda found: self.finish_pages(found[0], found[1], settings),
            ), self.pages_in_flight)
            return
        # The next page is decoded on a thread while this one is in the models (order and
        # errors unchanged; one page ahead at most).
        stream = prefetch(pages, self.prefetch_pages)
        while chunk := list(itertools.islice(stream, self.config.batch_size)):
            results = self._process_chunk(chunk, settings)
            del chunk
            yield results
            del results

    def process_pages(self, pages: Iterable[Page | PageFailure], settings: dict[str, Any]) -> list[PageResult | PageFailure]:
        """Run already decoded pages through the models (for front ends that decode themselves);
        settings left out or None take the pipeline's values."""
        return self._process_chunk(list(pages), self.resolve_settings(settings))

    def resolve_settings(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Every per-call setting (`per_call` in the settings table) for one call: from `overrides`
        when given (not None), else the pipeline's; checked as the constructor checks them."""
        return per_call_settings(self.config, overrides)

    # -- the per-page work in three stages (`page_stages`); an engine may run them apart --------

    def prepare_pages(self, chunk: list[Page | PageFailure],
                      settings: dict[str, Any]) -> list[PreparedPage | PageFailure]:
        """Stage 1: orientation decision, quarter turn and UVDoc's small inputs of each page.
        `settings` come from `resolve_settings`; failures pass through in place."""
        return page_stages.prepare(self, chunk, settings)

    def find_grids(self, inputs: list[UnwarpInput | None], settings: dict[str, Any]) -> list[PageGrid | PagefixError]:
        """Stage 2: the UVDoc model on the `unwarp_input`s of prepared pages (None: not unwarped)."""
        return page_stages.find_grids(self, inputs, settings)

    def finish_pages(self, prepared: list[PreparedPage | PageFailure], grids: Sequence[PageGrid | PagefixError | None],
                     settings: dict[str, Any]) -> list[PageResult | PageFailure]:
        """Stage 3: full-resolution resampling, second look, final turn: one result per item."""
        return page_stages.finish(self, prepared, grids, settings)

    def _process_chunk(self, chunk: list[Page | PageFailure], settings: dict[str, Any]) -> list[PageResult | PageFailure]:
        prepared = self.prepare_pages(chunk, settings)
        grids = self.find_grids(_unwarp_inputs(prepared), settings)
        return self.finish_pages(prepared, grids, settings)


def _chunks(pages: Iterator[Page | PageFailure], size: int) -> Iterator[list[Page | PageFailure]]:
    """`size` pages at a time; closing it closes `pages` (an open PDF stops being read)."""
    try:
        while chunk := list(itertools.islice(pages, size)):
            yield chunk
            del chunk  # not kept here while the stages work on it
    finally:
        close_iterator(pages)


def _unwarp_inputs(prepared: list[PreparedPage | PageFailure]) -> list[UnwarpInput | None]:
    return [p.unwarp_input if isinstance(p, PreparedPage) else None for p in prepared]
