"""The pipeline's per-page work as three stages, so that an engine can run them apart (UVDoc on a
GPU machine, the rest on CPUs) and still run the pipeline's own code; `DocPreprocessor` runs them
back to back on each chunk of pages.

1. `prepare`: the orientation decision, the quarter turn, and what UVDoc needs of the upright page
   (the page and, with skip_flat_pages, its probe frame, both at the model's 488x712 input size);
2. `find_grids`: the UVDoc model on a batch of those small inputs: the probe's verdict and the
   grid of each page found warped (no full-resolution pixels needed);
3. `finish`: the full-resolution resampling through the grid (or, for a flat page scanned
   crooked, the exact rotation that straightens it), the second look at the unwarped page, the
   final turn and the `PageResult`.

With deskew on, stage 1 also measures the upright page's fine skew; a page that leans by more than
the dead zone is probed straightened, so the probe's "flat" means flat up to that rotation, and
such a page is rotated instead of unwarped (docs: skew.md).

A model error on a batch is retried page by page in the stage it happened in, so one bad page
becomes a `PageFailure` and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from ..errors import InputError, PagefixError
from ..geometry.point_maps import PageMap
from ..geometry.resample import margin_pixels
from ..geometry.rotate import deskew_matrix, paper_colour, rotate_page
from ..geometry.shrink import ShrinkablePage
from ..geometry.skew import SkewEstimate, estimate_skew
from ..geometry.turns import quarter_turn
from ..inputs import Page, PageFailure
from ..models.unwarping import unwarp_with_grid
from ..models.warp_score import ProbeFrame, probe_image, read_probe, settle_near_limits, shows_background
from .result import AngleDecision, PageResult

if TYPE_CHECKING:
    from .preprocessor import DocPreprocessor

__all__ = ["PageGrid", "PreparedPage", "UnwarpInput", "find_grids", "finish", "prepare"]

#: Settings the reference reports in `model_settings`.
REFERENCE_SETTINGS = ("use_doc_orientation_classify", "use_doc_unwarping")


@dataclass
class UnwarpInput:
    """What UVDoc needs of one upright page: small uint8 images only (`Unwarper.model_image`)."""

    page: np.ndarray
    #: The page in its probe frame, with where it sits there; None when flat pages are not skipped.
    probe: np.ndarray | None = None
    probe_frame: ProbeFrame | None = None


@dataclass
class PageGrid:
    """UVDoc's answer for one page: the grid to resample it with, None to leave it as it is."""

    grid: np.ndarray | None = None
    #: The probe's warp score (None when the probe did not run).
    warp_score: float | None = None


@dataclass
class PreparedPage:
    """A page after stage 1: its first orientation decision, the page turned by it, UVDoc's input."""

    page: Page
    decision: AngleDecision | None
    upright: np.ndarray
    #: None when unwarping is off.
    unwarp_input: UnwarpInput | None = None
    #: The upright page's fine skew (None when deskew is off or does not apply).
    skew: SkewEstimate | None = None
    #: BGR of the corners the page gains when it is straightened (None: it is not turned).
    deskew_fill: tuple[int, int, int] | None = None


Unit = TypeVar("Unit")
Done = TypeVar("Done")


def prepare(pipeline: DocPreprocessor, chunk: Sequence[Page | PageFailure],
            settings: dict[str, Any]) -> list[PreparedPage | PageFailure]:
    """Stage 1 for a chunk of pages (failures pass through, in place)."""
    pages = [item for item in chunk if isinstance(item, Page)]
    done = _each_alone_on_error(
        lambda group: _prepare(pipeline, group, settings), pages,
        lambda page, exc: PageFailure(page.input_path, page.page_index, exc),
    )
    return _in_place(chunk, pages, done)


def _prepare(pipeline: DocPreprocessor, pages: list[Page], settings: dict[str, Any]) -> list[PreparedPage]:
    # Each page's small images (the classifier's views, UVDoc's input, the probe) come from one
    # working copy of it, made at most once (geometry/shrink.py).
    shrinkables = [ShrinkablePage(page.image) for page in pages]
    decisions = _decide(pipeline, shrinkables, settings, "input")
    prepared = []
    # Deskew acts on the pages left flat: all of them when unwarping is off, those the probe finds
    # flat otherwise; with skip_flat_pages off every page goes to UVDoc, which straightens it.
    measure_skew = settings["deskew"] and (settings["skip_flat_pages"] or not settings["use_doc_unwarping"])
    for page, shrinkable_page, decision in zip(pages, shrinkables, decisions):
        upright = quarter_turn(page.image, decision.angle) if decision else page.image
        skew = estimate_skew(upright) if measure_skew else None
        # The paper's colour is measured once, for the probe's copy and the full page alike.
        fill = None if _lean(pipeline, skew) is None else _deskew_fill(pipeline, upright)
        unwarp_input = None
        if settings["use_doc_unwarping"]:
            unwarper = pipeline.unwarper
            small = shrinkable_page.turned(decision.angle if decision else 0, upright)
            unwarp_input = UnwarpInput(unwarper.model_image(small))
            if settings["skip_flat_pages"]:
                probed = _straightened_for_probe(pipeline, small, skew, fill)
                unwarp_input.probe, unwarp_input.probe_frame = probe_image(unwarper, probed)
        prepared.append(PreparedPage(page, decision, upright, unwarp_input, skew, fill))
    return prepared


#: Long side of the straightened copy a crooked page is probed on: the probe sees 712 px at most.
_PROBE_COPY_SIDE = 1424


def _lean(pipeline: DocPreprocessor, skew: SkewEstimate | None) -> float | None:
    """The skew to undo, None when the page stays as it is (no estimate, or within the dead zone)."""
    if skew is None or skew.angle is None or abs(skew.angle) < pipeline.config.deskew_dead_zone:
        return None
    return skew.angle


def _straightened_for_probe(pipeline: DocPreprocessor, upright: ShrinkablePage, skew: SkewEstimate | None,
                            fill: tuple[int, int, int] | None) -> ShrinkablePage | np.ndarray:
    """The page the flat-page probe looks at: a small straightened copy when the page leans, so a
    flat page scanned crooked reads as flat (its lean alone would send it to UVDoc), else the page."""
    angle = _lean(pipeline, skew)
    if angle is None:
        return upright
    h, w = upright.shape[:2]
    scale = min(1.0, _PROBE_COPY_SIDE / max(h, w))
    return rotate_page(upright.shrunk((max(1, round(w * scale)), max(1, round(h * scale)))), angle, fill)


def _deskew_fill(pipeline: DocPreprocessor, page: np.ndarray) -> tuple[int, int, int]:
    """BGR of the corners a straightened page gains: the configured fill colour, else its paper."""
    return _configured_fill(pipeline) or paper_colour(page)


def find_grids(pipeline: DocPreprocessor, inputs: Sequence[UnwarpInput | None],
               settings: dict[str, Any]) -> list[PageGrid | PagefixError]:
    """Stage 2: UVDoc on a batch of pages' small inputs (None: a page not to unwarp). With
    skip_flat_pages, pages the probe finds flat get no grid; the grids of pages that show their
    background ride in the probe's model call, the others' follow it for the pages found warped
    (at most two calls a batch); a page the model fails on gets its error."""
    wanted = [i for i, item in enumerate(inputs) if item is not None]
    grids: list[PageGrid | PagefixError] = [PageGrid() for _ in inputs]
    if not settings["use_doc_unwarping"] or not wanted:
        return grids
    chosen = [item for item in inputs if item is not None]
    found: list[PageGrid | PagefixError] = _each_alone_on_error(
        lambda group: _grids(pipeline, group, settings), chosen, lambda _, exc: exc,
    )
    for i, grid in zip(wanted, found):
        grids[i] = grid
    return grids


def _grids(pipeline: DocPreprocessor, inputs: list[UnwarpInput], settings: dict[str, Any]) -> list[PageGrid]:
    unwarper = pipeline.unwarper
    if not settings["skip_flat_pages"]:
        return [PageGrid(grid) for grid in unwarper.grids_for_model_images([item.page for item in inputs])]
    probe_images, frames = zip(*(_probe_of(item) for item in inputs))
    # A page that shows its background (a photo of a page on a table) is nearly always found
    # warped, so its own grid is asked for in the probe's call: one model call of two images
    # instead of two calls (bench/probe_batch.py). The probe still decides every page; a page
    # guessed wrong costs time, never a different answer (docs: unwarping.md, flat pages).
    early = [i for i, item in enumerate(inputs) if shows_background(item.page)]
    first = unwarper.grids_for_model_images([*probe_images] + [inputs[i].page for i in early])
    own = dict(zip(early, first[len(inputs):]))
    limits = (pipeline.config.max_warp_score, pipeline.config.max_identity_rms)
    # At bf16 a probe near a limit is read again at fp32: every page is decided as fp32 decides it.
    probes = settle_near_limits(unwarper, [read_probe(grid, frame) for grid, frame in zip(first, frames)],
                                probe_images, frames, limits)
    warped = [i for i, probe in enumerate(probes) if not probe.is_flat(*limits)]
    late = [i for i in warped if i not in own]
    own.update(zip(late, unwarper.grids_for_model_images([inputs[i].page for i in late])))
    kept = set(warped)
    return [PageGrid(own[i] if i in kept else None, probe.score) for i, probe in enumerate(probes)]


def finish(pipeline: DocPreprocessor, prepared: Sequence[PreparedPage | PageFailure],
           grids: Sequence[PageGrid | PagefixError | None], settings: dict[str, Any]) -> list[PageResult | PageFailure]:
    """Stage 3: each prepared page with its grid (None: no grid) to its result; failures pass through."""
    units = [(item, grid) for item, grid in zip(prepared, grids) if isinstance(item, PreparedPage)]
    done = _each_alone_on_error(
        lambda group: _finish(pipeline, group, settings), units,
        lambda unit, exc: PageFailure(unit[0].page.input_path, unit[0].page.page_index, exc),
    )
    return _in_place(prepared, [item for item, _ in units], done)


def _probe_of(item: UnwarpInput) -> tuple[np.ndarray, ProbeFrame]:
    if item.probe is None or item.probe_frame is None:
        # An engine that runs the stages apart passed other settings to stage 2 than to stage 1.
        raise ValueError("skip_flat_pages is on but the page was prepared without its probe")
    return item.probe, item.probe_frame


@dataclass
class _Unwarped:
    """One page after resampling; `grid` is None when the page was left as it was."""

    image: np.ndarray
    warp_score: float | None = None
    grid: np.ndarray | None = None
    margin: tuple[int, int] = (0, 0)
    #: The 2x3 rotation that straightened a crooked flat page (None: not turned).
    rotation: np.ndarray | None = None


def _finish(pipeline: DocPreprocessor, units: list[tuple[PreparedPage, PageGrid | PagefixError | None]],
            settings: dict[str, Any]) -> list[PageResult | PageFailure]:
    outputs = [_resample(pipeline, item, grid, settings["keep_margin"]) for item, grid in units]
    second = _decide_again(pipeline, outputs, settings)
    results: list[PageResult | PageFailure] = []
    outputs.reverse()  # popped from the end: the first page first
    for i, (item, _) in enumerate(units):
        page, decided, again = item.page, item.decision, second[i]
        # Taken out of the list, so each full-size copy goes as soon as it is not needed (a 100 MP
        # page is 300 MB a copy).
        out = outputs.pop()
        if isinstance(out, PagefixError):
            results.append(PageFailure(page.input_path, page.page_index, out))
            continue
        rot = item.upright
        decisions = tuple(d for d in (decided, again) if d is not None)
        angle = sum(d.angle for d in decisions) % 360 if decided else -1
        output = out.image
        if again is not None and again.angle:
            output = quarter_turn(output, again.angle)
            out.image = output  # the unturned unwarped page goes
            rot = quarter_turn(rot, again.angle)  # turned by the first answer, then the second
        results.append(PageResult(
            input_path=page.input_path,
            page_index=page.page_index,
            model_settings={key: settings[key] for key in REFERENCE_SETTINGS},
            angle=angle,
            # The confidence of the decision that set the final turn.
            angle_score=decisions[-1].score if decisions else None,
            angle_decisions=decisions,
            input_img=page.image,
            rot_img=rot,
            output_img=output,
            unwarp_applied=out.grid is not None,
            warp_score=out.warp_score,
            skew_angle=item.skew.angle if item.skew is not None else None,
            angle_model=pipeline.orientation_classifier.name if decisions else None,
            page_map=PageMap(
                page.image.shape[:2], decided.angle if decided else 0, out.grid, out.margin,
                final_angle=again.angle if again else 0, rotation=out.rotation,
                rotated_shape=out.image.shape[:2] if out.rotation is not None else None,
            ),
            source_jpeg=page.encoded if out.grid is None and out.rotation is None and angle <= 0 else None,
            dpi=_turned_dpi(page.dpi, sum(d.angle for d in decisions)),
        ))
    return results


def _turned_dpi(dpi: tuple[float, float] | None, angle: int) -> tuple[float, float] | None:
    """The input's pixels per inch for the page turned by `angle`; the unwarped page is resampled
    at the upright page's scale (its margin adds pixels at the same scale)."""
    if dpi is None:
        return None
    return (dpi[1], dpi[0]) if angle % 180 else dpi


def _resample(pipeline: DocPreprocessor, item: PreparedPage, grid: PageGrid | PagefixError | None,
              keep_margin: float) -> _Unwarped | PagefixError:
    image = item.upright
    if isinstance(grid, PagefixError):
        return grid
    if grid is None or grid.grid is None:  # unwarping off, or the page was found flat
        warp_score = None if grid is None else grid.warp_score
        angle = _lean(pipeline, item.skew)
        if angle is None:
            return _Unwarped(image, warp_score)
        matrix, _ = deskew_matrix(image.shape[:2], angle)
        straight = rotate_page(image, angle, item.deskew_fill)
        return _Unwarped(straight, warp_score, rotation=matrix)
    try:
        unwarped = unwarp_with_grid(image, grid.grid, keep_margin, fill_color(pipeline, keep_margin),
                                    threads=pipeline.runtime.threads)
    except PagefixError as exc:
        return exc
    except MemoryError:
        return InputError(f"out of memory unwarping a {image.shape[1]}x{image.shape[0]} page")
    return _Unwarped(unwarped, grid.warp_score, grid.grid, margin_pixels(image.shape[:2], keep_margin))


def _decide(pipeline: DocPreprocessor, images: Sequence[np.ndarray | ShrinkablePage], settings: dict[str, Any],
            stage: str, expect: int | None = None) -> list[AngleDecision | None]:
    if not settings["use_doc_orientation_classify"] or not images:
        return [None for _ in images]
    found = pipeline.orientation_classifier.predict(images, pipeline.view_set, expect=expect)
    return [AngleDecision(stage, o.angle, o.score) for o in found]


def _decide_again(pipeline: DocPreprocessor, outputs: list[_Unwarped | PagefixError],
                  settings: dict[str, Any]) -> list[AngleDecision | None]:
    """Decide the turn again on the pages UVDoc unwarped: the classifier reads a flat page far
    better than a curled photo. Pages left as they were are not classified twice.

    The unwarped page was turned by the first decision, so it should read upright: a cascade
    stops after its cheap first stage only when that stage confirms it (reads 0), and runs its
    full vote when it reads anything else, so only the vote can overturn the first decision
    (docs/orientation.md, "Decide on the flat page")."""
    again: list[AngleDecision | None] = [None] * len(outputs)
    if not (pipeline.config.reclassify_unwarped and settings["use_doc_orientation_classify"]):
        return again
    unwarped = [(i, out) for i, out in enumerate(outputs) if isinstance(out, _Unwarped) and out.grid is not None]
    found = _decide(pipeline, [out.image for _, out in unwarped], settings, "unwarped", expect=0)
    for (i, _), decision in zip(unwarped, found):
        again[i] = decision
    return again


def fill_color(pipeline: DocPreprocessor, keep_margin: float) -> tuple[int, int, int]:
    """BGR colour of output pixels outside the photo: the configured one, else white in a
    margin (it reads as paper) and black without one (as the reference)."""
    configured = _configured_fill(pipeline)
    if configured is None:
        return (255, 255, 255) if keep_margin > 0 else (0, 0, 0)
    return configured


def _configured_fill(pipeline: DocPreprocessor) -> tuple[int, int, int] | None:
    """The `fill_color` setting (R, G, B) as BGR, None when it is not set."""
    if pipeline.config.fill_color is None:
        return None
    red, green, blue = pipeline.config.fill_color
    return (blue, green, red)


def _each_alone_on_error(work: Callable[[list[Unit]], Sequence[Done]], units: list[Unit],
                         failed: Callable[[Unit, PagefixError], Done]) -> list[Done]:
    """`work` on all units at once; when it raises, on each unit alone, so the error lands on the
    unit that caused it."""
    if not units:
        return []
    try:
        return list(work(units))
    except PagefixError as exc:
        if len(units) == 1:
            return [failed(units[0], exc)]
    return [_each_alone_on_error(work, [unit], failed)[0] for unit in units]


def _in_place(chunk: Sequence[Any], taken: list[Any], done: list[Any]) -> list[Any]:
    """`chunk` with each item of `taken` replaced by its entry of `done` (the rest as they were)."""
    by_id = {id(item): result for item, result in zip(taken, done)}
    return [by_id.get(id(item), item) for item in chunk]
