"""The orientation classifier: accuracy in four turns with the reference's view and the default
views (rendered pages; the whole real upright set in the realdata tier), the published rotated pages,
the reference's preprocessing, exact quarter turns."""

from __future__ import annotations

import csv
from collections import defaultdict

import cv2
import numpy as np
import pytest
from support.pages import fixture_file, read_page, text_page, turned

from pagefix.geometry.turns import quarter_turn
from pagefix.models.orientation_views import VIEW_SETS, combine_views, make_crops, view_agreement

TURNS = (0, 90, 180, 270)
# A real Chinese product sheet (Apache-2.0, tests/fixtures/manifest.csv).
REAL_PAGE = "paddle__doc_imgs_11.jpg"
# Pages published already turned, with their label (tests/fixtures/manifest.csv).
PUBLISHED_TURNED = {"tess__testing_phototest-rotated-180.png": 180, "tess__testing_phototest-rotated-L.png": 270}


def test_rendered_pages_in_four_turns_reference_view_vs_default_views(pipeline):
    # One page of each layout; seed 1 of "columns" is one the reference's single view reads upside
    # down at every turn (measured), which the default views get right.
    rendered = {layout: text_page(1, layout, align=None) for layout in ("text", "receipt", "table", "columns")}
    reference_right, default_right = {}, {}
    for layout, page in rendered.items():
        variants = [turned(page, angle) for angle in TURNS]
        reference = pipeline.orientation_classifier.predict(variants, "reference")
        results = pipeline.predict(variants, use_doc_unwarping=False)
        reference_right[layout] = sum(r.angle == a for r, a in zip(reference, TURNS))
        default_right[layout] = sum(r.angle == a for r, a in zip(results, TURNS))
    print(f"\nrendered pages in four turns, right: reference view {reference_right}, default views {default_right}")
    assert all(default_right[layout] >= reference_right[layout] for layout in rendered)
    # Measured: 16 of 16 with the default views, 12 of 16 with the reference's view.
    assert sum(default_right.values()) == 16, default_right
    assert reference_right["columns"] < 4


@pytest.mark.realdata
def test_scans_in_four_turns_reference_view_vs_default_views(pipeline, test_data):
    files = sorted((test_data / "orientation" / "upright").iterdir())
    assert len(files) >= 80
    hits: dict[str, dict[str, list[bool]]] = {"reference": defaultdict(list), "default": defaultdict(list)}
    wrong = []
    for path in files:
        source = path.name.split("__")[0]
        variants = [turned(read_page(path), angle) for angle in TURNS]
        reference = pipeline.orientation_classifier.predict(variants, "reference")
        # The pipeline's own answer (default views): the returned page is upright exactly when
        # the classifier names the turn.
        results = pipeline.predict(variants, use_doc_unwarping=False)
        for angle, ref, result in zip(TURNS, reference, results):
            hits["reference"][source].append(ref.angle == angle)
            hits["default"][source].append(result.angle == angle)
            if result.angle != angle:
                wrong.append((path.name, angle, result.angle))
    print("\nscans in four turns, upright after the pipeline:")
    for source in sorted(hits["default"]):
        ref, ours = np.mean(hits["reference"][source]), np.mean(hits["default"][source])
        print(f"  {source:10s} reference view {ref:6.1%}   default views {ours:6.1%}")
        assert ours >= ref, source  # no source group worse than with the reference view
    every_ref = np.mean([h for v in hits["reference"].values() for h in v])
    every = np.mean([h for v in hits["default"].values() for h in v])
    print(f"  all        reference view {every_ref:6.1%}   default views {every:6.1%}; wrong: {wrong}")
    # The target, 99.4% of the 332 cases, is 330 of them.
    correct = sum(h for v in hits["default"].values() for h in v)
    assert correct >= round(0.994 * 332)


@pytest.mark.parametrize("name", sorted(PUBLISHED_TURNED))
def test_published_rotated_pages_are_turned_back(pipeline, name):
    (result,) = pipeline.predict(str(fixture_file(name)), use_doc_unwarping=False)
    assert result.angle == PUBLISHED_TURNED[name]
    assert result.output_img.shape[:2] == result.rot_img.shape[:2]


@pytest.mark.realdata
def test_published_rotated_pages_match_the_manifest(pipeline, test_data):
    folder = test_data / "orientation"
    with open(folder / "manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["file"].startswith("rotated_known/")]
    assert rows
    for row in rows:
        (result,) = pipeline.predict(str(folder / row["file"]), use_doc_unwarping=False)
        assert result.angle == int(row["orientation"]), row["file"]
        assert result.output_img.shape[:2] == result.rot_img.shape[:2]


def test_preprocessing_follows_the_reference_recipe(classifier):
    page = read_page(fixture_file(REAL_PAGE))
    h, w = page.shape[:2]
    scale = 256 / min(h, w)
    resized = cv2.resize(page, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (resized.shape[0] - 224) // 2, (resized.shape[1] - 224) // 2
    crop = resized[y0:y0 + 224, x0:x0 + 224, ::-1].astype(np.float32) / 255.0
    expected = ((crop - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0, 1)
    np.testing.assert_allclose(classifier.preprocess(page), expected, atol=1e-5)


def test_reference_views_give_the_reference_probabilities(classifier):
    page = read_page(fixture_file(REAL_PAGE))
    (found,) = classifier.predict([page], "reference")
    direct = classifier.probabilities(classifier.preprocess(page)[None])[0]
    assert found.probabilities == pytest.approx(tuple(direct), abs=1e-6)


def test_every_view_set_scores_all_views_in_one_model_call(classifier):
    page = read_page(fixture_file(REAL_PAGE))
    calls = []
    runner = classifier.runner
    classifier.runner = lambda batch: calls.append(len(batch)) or runner(batch)
    try:
        found, _ = classifier.predict([page, page], VIEW_SETS["default"])
    finally:
        classifier.runner = runner
    crops, _ = make_crops(page, VIEW_SETS["default"].views)
    assert calls == [2 * len(crops)] and len(crops) == 17
    assert found.angle == 0


def test_votes_are_combined_in_the_turn_of_each_view():
    # A view turned one quarter clockwise sees a page labelled 0 as labelled 90.
    upright = np.array([0.7, 0.1, 0.1, 0.1])
    turned_once = np.array([0.1, 0.7, 0.1, 0.1])
    score = combine_views(np.stack([upright, turned_once]), [0, 1])
    assert int(score.argmax()) == 0
    assert view_agreement(np.stack([upright, turned_once]), [0, 1])[0] == pytest.approx(0.7)


def test_extreme_aspect_ratio_does_not_build_a_huge_strip(classifier):
    strip = np.full((20, 40000, 3), 255, np.uint8)
    assert classifier.preprocess(strip).shape == (3, 224, 224)
    assert len(classifier.predict([strip], "default")) == 1


def test_scores_are_probabilities(classifier):
    page = read_page(fixture_file(REAL_PAGE))
    for views in ("reference", "default"):
        (found,) = classifier.predict([page], views)
        assert found.angle in (0, 90, 180, 270)
        assert abs(sum(found.probabilities) - 1) < 1e-4
        assert found.score == max(found.probabilities)


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_quarter_turn_is_exact_and_undoes_the_turn(angle):
    rng = np.random.default_rng(angle)
    page = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    back = quarter_turn(turned(page, angle), angle)
    assert back.shape == page.shape
    assert np.array_equal(back, page)  # lossless: no shift, no black line


def test_quarter_turn_refuses_other_angles():
    with pytest.raises(ValueError):
        quarter_turn(np.zeros((4, 4, 3), np.uint8), 45)
