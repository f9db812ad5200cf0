"""map_to_input / map_to_output on photos: round trips, agreement with the resampled pixels,
and coloured dots drawn on photos (turned four ways, unwarped) found where the map says.

Every test runs twice: on three photos from the repository (two rendered and curled, one real from
tests/fixtures), and in the realdata tier on three real photos of the data set;
PAGEFIX_FULL_UNWARP_TESTS=1 makes the latter twelve (48 runs).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
import numpy as np
import pytest
from support.pages import fixture_file, read_page

from pagefix import PagefixError, PageResult

DEFAULT_PHOTOS = (
    "unwarp/inv3d_real/00411/warped_document_curled_bright.jpg",
    "unwarp/inv3d_real/06288/warped_document_multifold_shadow.jpg",
    "unwarp/docunet_crop/5_1.jpg",
)
FULL_PHOTOS = DEFAULT_PHOTOS + (
    "unwarp/inv3d_real/00745/warped_document_perspective_color.jpg",
    "unwarp/inv3d_real/01457/warped_document_crumpleshard_bright.jpg",
    "unwarp/inv3d_real/09874/warped_document_fewfold_shadow.jpg",
    "unwarp/inv3d_real/10388/warped_document_curled_color.jpg",
    "unwarp/inv3d_real/12916/warped_document_crumpleseasy_shadow.jpg",
    "unwarp/docunet_crop/21_2.jpg",
    "unwarp/docunet_crop/45_1.jpg",
    "unwarp/qualitative/page_dewarp__example_input_boston_cooking_a.jpg",
    "unwarp/qualitative/RapidUnDistort__img_demo.jpg",
)
DOT_RADIUS = 6
DOT_BGR = (255, 0, 255)  # magenta: far from paper, ink and the tints of the photos' lighting
DOT_SPACING = 0.08  # of the page's longer side


@dataclass
class Run:
    name: str
    turn: int  # quarter turns counter-clockwise applied to the photo before drawing the dots
    dots: np.ndarray  # [N, 2] dot centres in the pipeline's input
    result: PageResult


def magenta(image: np.ndarray) -> np.ndarray:
    """How magenta each pixel is (0 on grey paper, ink and tinted light; 255 on a dot)."""
    b, g, r = (image[..., i].astype(np.float64) for i in range(3))
    return np.clip(np.minimum(b, r) - g - 60.0, 0.0, None)


def find_dot(image: np.ndarray, near: np.ndarray, reach: int) -> np.ndarray | None:
    """Centroid of the magenta around `near` (x, y), or None when there is none."""
    x0, y0 = int(round(near[0])) - reach, int(round(near[1])) - reach
    if x0 < 0 or y0 < 0 or x0 + 2 * reach >= image.shape[1] or y0 + 2 * reach >= image.shape[0]:
        return None
    weight = magenta(image[y0:y0 + 2 * reach + 1, x0:x0 + 2 * reach + 1])
    if weight.sum() < 255.0 * 4:  # fewer than about four dot pixels
        return None
    ys, xs = np.mgrid[0:weight.shape[0], 0:weight.shape[1]]
    return np.array([x0 + (weight * xs).sum() / weight.sum(), y0 + (weight * ys).sum() / weight.sum()])


def draw_dots(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = image.shape[:2]
    step = max(4 * DOT_RADIUS, int(DOT_SPACING * max(h, w)))
    ys, xs = np.mgrid[step // 2:h - step // 2:step, step // 2:w - step // 2:step]
    centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
    marked = image.copy()
    for x, y in centres:
        cv2.circle(marked, (int(x), int(y)), DOT_RADIUS, DOT_BGR, thickness=-1, lineType=cv2.LINE_8)
    return marked, centres.astype(np.float64)


def _repository_photos(pages) -> list[tuple[str, np.ndarray]]:
    real = "inv3d_real__00411_warped_document_curled_bright.jpg"

    def lens(image: np.ndarray) -> np.ndarray:
        # A camera's slight blur. Rendered glyph edges jump from paper to ink within one pixel,
        # where the 1/32-pixel sampling lattice of the resampling (test_resampling.py) moves a
        # sample by several grey levels (99th percentile 3 measured unblurred, against 2 here).
        return cv2.GaussianBlur(image, (0, 0), 0.8)

    return [("rendered curled page", lens(pages.curled)), ("rendered two-column page", lens(pages.curled_columns[0])),
            (real, read_page(fixture_file(real)))]


@pytest.fixture(scope="module", params=["repository", pytest.param("realdata", marks=pytest.mark.realdata)])
def runs(request, pipeline, pages, full_run) -> list[Run]:
    """Each photo turned 0/90/180/270°, dotted, classified and unwarped (every other run with a
    10% keep_margin, so the extrapolated margin is mapped too)."""
    if request.param == "repository":
        photos = _repository_photos(pages)
    else:
        data = request.getfixturevalue("test_data")
        photos = [(name, read_page(data / name)) for name in (FULL_PHOTOS if full_run else DEFAULT_PHOTOS)]
    found = []
    for name, photo in photos:
        for turn in range(4):
            marked, dots = draw_dots(np.ascontiguousarray(np.rot90(photo, turn)))
            result = pipeline.predict(marked, skip_flat_pages=False, keep_margin=0.1 * (turn % 2))[0]
            found.append(Run(name, turn, dots, result))
    return found


def test_the_runs_cover_every_turn(runs):
    assert {run.result.page_map.angle for run in runs} >= {0, 90, 180, 270} or len(runs) < 4
    assert all(run.result.unwarp_applied for run in runs)


def test_round_trips_on_real_photos(runs):
    rng = np.random.default_rng(8)
    worst = 0.0
    for run in runs:
        h, w = run.result.output_img.shape[:2]
        points = np.stack([rng.uniform(0, w - 1, 4000), rng.uniform(0, h - 1, 4000)], axis=1)
        back = run.result.map_to_input(points)
        shown = ~np.isnan(back[:, 0])
        assert shown.mean() > 0.5, run.name
        again = run.result.map_to_output(back[shown])
        assert not np.isnan(again).any(), run.name
        worst = max(worst, float(np.abs(again - points[shown]).max()))
        # and from the input side: input points the output shows come back home
        start = back[shown][:500] + rng.uniform(-0.4, 0.4, (500, 2))
        there = run.result.map_to_output(start)
        kept = ~np.isnan(there[:, 0])
        worst = max(worst, float(np.abs(run.result.map_to_input(there[kept]) - start[kept]).max()))
    print(f"\nround trip map_to_output(map_to_input(p)) over {len(runs)} runs: worst {worst:.2e} px")
    assert worst <= 0.01


def test_map_to_input_is_where_the_output_pixels_come_from(runs):
    rng = np.random.default_rng(3)
    for run in runs:
        out = run.result.output_img
        h, w = out.shape[:2]
        ys, xs = rng.integers(0, h, 3000), rng.integers(0, w, 3000)
        source, inside = run.result.map_to_input(np.stack([xs, ys], axis=1).astype(np.float64), return_valid=True)
        sampled = cv2.remap(run.result.input_img, source[inside, 0].astype(np.float32)[None],
                            source[inside, 1].astype(np.float32)[None], cv2.INTER_LINEAR)[0]
        diff = np.abs(sampled.astype(np.int16) - out[ys[inside], xs[inside]])
        assert diff.mean() < 0.5 and np.percentile(diff, 99) <= 2, run.name


def test_dots_are_found_where_the_map_puts_them(runs):
    errors = []
    reach = 3 * DOT_RADIUS
    for run in runs:
        # the detector finds each dot exactly where it was drawn in the input
        for dot in run.dots[:5]:
            assert np.allclose(find_dot(run.result.input_img, dot, reach), dot, atol=1e-9)
        predicted = run.result.map_to_output(run.dots)
        usable = 0
        for where in predicted[~np.isnan(predicted[:, 0])]:
            seen = find_dot(run.result.output_img, where, reach)
            if seen is None and not _near_edge(where, run.result.output_img.shape, reach):
                errors.append(np.inf)  # the map points at a place with no dot
            elif seen is not None:
                errors.append(float(np.hypot(*(seen - where))))
                usable += 1
        assert usable >= 10, f"{run.name} turned {run.turn}: only {usable} dots in the output"
    errors = np.array(errors)
    median, within = float(np.median(errors)), float(np.mean(errors <= 1.5))
    print(f"\nmarkers: {len(errors)} dots over {len(runs)} runs; median error {median:.3f} px, "
          f"{within:.1%} within 1.5 px, 99th percentile {np.percentile(errors, 99):.2f} px")
    assert median <= 0.5
    assert within >= 0.95


def _near_edge(point: np.ndarray, shape: tuple[int, ...], reach: int) -> bool:
    return bool(point[0] < reach + 1 or point[1] < reach + 1
                or point[0] > shape[1] - reach - 2 or point[1] > shape[0] - reach - 2)


def test_points_outside_map_to_nan(runs):
    result = runs[0].result
    h, w = result.output_img.shape[:2]
    assert np.isnan(result.map_to_input([[-5.0, 10.0], [w + 3.0, 10.0]])).all()
    ih, iw = result.input_img.shape[:2]
    # Far beside the input: no place on the output page, margin or not.
    found, valid = result.map_to_output([[-iw, 0.0], [2.0 * iw, ih / 2]], return_valid=True)
    assert np.isnan(found).all() and not valid.any()
    # Just beside it: never counted as a point of the page, whatever the margin shows.
    assert not result.map_to_output([[-1.0, 0.0], [iw + 10.0, ih / 2]], return_valid=True)[1].any()
    with pytest.raises(ValueError):
        result.map_to_input(np.zeros((3, 3)))


def test_a_result_without_a_map_says_so(runs):
    bare = dataclasses.replace(runs[0].result, page_map=None)
    with pytest.raises(PagefixError, match="coordinate map"):
        bare.map_to_input([[1.0, 1.0]])


def test_a_point_in_the_kept_margin_maps_to_the_extrapolated_position():
    """keep_margin=0.17 on the bundled example's warped page (made by examples/make_example.py): the
    point (120, 80) lies in the margin; it maps to a finite position (the grid's linear extension,
    outside the photo) that the forward map takes back to (120, 80). UVDoc at fp32, so the grid (and
    where its extension lands) is the same on every machine."""
    import importlib.util
    from pathlib import Path

    from pagefix import DocPreprocessor

    pipeline = DocPreprocessor(device="cpu", cpu_threads=2, cpu_backend="onnxruntime")

    spec = importlib.util.spec_from_file_location(
        "make_example", Path(__file__).resolve().parents[2] / "examples" / "make_example.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    stored = cv2.rotate(example.curl_and_photograph(example.render_page()), cv2.ROTATE_90_CLOCKWISE)
    result = pipeline.predict(stored, keep_margin=0.17, skip_flat_pages=False)[0]
    assert result.unwarp_applied and result.angle in (90, 270)
    mx, my = result.page_map.margin
    assert 120 < min(mx, my)  # the point is in the margin
    point = np.array([[120.0, 80.0]])
    source, valid = result.map_to_input(point, return_valid=True)
    assert np.isfinite(source).all() and not valid.any()  # the margin there shows fill, not the photo
    assert np.array_equal(result.map_to_input(point), source)
    back, back_valid = result.map_to_output(source, return_valid=True)
    assert np.abs(back - point).max() <= 0.01
    assert not back_valid.any()  # the source lies beside the photo
    # Inside the page, both directions are valid and the round trip is exact.
    h, w = result.output_img.shape[:2]
    middle = np.array([[w / 2, h / 2], [w / 3, 2 * h / 3]])
    source, valid = result.map_to_input(middle, return_valid=True)
    assert valid.all()
    back, back_valid = result.map_to_output(source, return_valid=True)
    assert back_valid.all() and np.abs(back - middle).max() <= 0.01
    # Off the output page there is nothing to map to: NaN, and said so.
    off, off_valid = result.map_to_input([[-3.0, 5.0], [w + 2.0, 5.0]], return_valid=True)
    assert np.isnan(off).all() and not off_valid.any()
