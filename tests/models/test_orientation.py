"""The orientation classifier on real pages: accuracy in four turns with the reference's view and
the default views, the published rotated pages, the reference's preprocessing, exact quarter turns."""

from __future__ import annotations

import csv
from collections import defaultdict

import cv2
import numpy as np
import pytest

from pagefix.geometry.turns import quarter_turn
from pagefix.inputs import iter_pages
from pagefix.models.orientation_views import VIEW_SETS, combine_views, make_crops, view_agreement

TURNS = {0: None, 90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def turned(image: np.ndarray, angle: int) -> np.ndarray:
    """The page with its content turned `angle` degrees clockwise (the label convention)."""
    return image if angle == 0 else cv2.rotate(image, TURNS[angle])


def load(path) -> np.ndarray:
    (page,) = list(iter_pages(str(path)))
    return page.image


def test_scans_in_four_turns_reference_view_vs_default_views(pipeline, shared_data):
    files = sorted((shared_data / "orientation" / "upright").iterdir())
    assert len(files) >= 80
    hits: dict[str, dict[str, list[bool]]] = {"reference": defaultdict(list), "default": defaultdict(list)}
    wrong = []
    for path in files:
        source = path.name.split("__")[0]
        variants = [turned(load(path), angle) for angle in TURNS]
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


def test_published_rotated_pages_match_the_manifest(pipeline, shared_data):
    folder = shared_data / "orientation"
    with open(folder / "manifest.csv", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["file"].startswith("rotated_known/")]
    assert rows
    for row in rows:
        (result,) = pipeline.predict(str(folder / row["file"]), use_doc_unwarping=False)
        assert result.angle == int(row["orientation"]), row["file"]
        assert result.output_img.shape[:2] == result.rot_img.shape[:2]


def test_preprocessing_follows_the_reference_recipe(classifier, shared_data):
    page = load(shared_data / "orientation" / "upright" / "paddle__doc_imgs_11.jpg")
    h, w = page.shape[:2]
    scale = 256 / min(h, w)
    resized = cv2.resize(page, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    y0, x0 = (resized.shape[0] - 224) // 2, (resized.shape[1] - 224) // 2
    crop = resized[y0:y0 + 224, x0:x0 + 224, ::-1].astype(np.float32) / 255.0
    expected = ((crop - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]).transpose(2, 0, 1)
    np.testing.assert_allclose(classifier.preprocess(page), expected, atol=1e-5)


def test_reference_views_give_the_reference_probabilities(classifier, shared_data):
    page = load(shared_data / "orientation" / "upright" / "paddle__doc_imgs_11.jpg")
    (found,) = classifier.predict([page], "reference")
    direct = classifier.probabilities(classifier.preprocess(page)[None])[0]
    assert found.probabilities == pytest.approx(tuple(direct), abs=1e-6)


def test_every_view_set_scores_all_views_in_one_model_call(classifier, shared_data):
    page = load(shared_data / "orientation" / "upright" / "paddle__doc_imgs_11.jpg")
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


def test_scores_are_probabilities(classifier, shared_data):
    page = load(shared_data / "orientation" / "upright" / "paddle__doc_imgs_11.jpg")
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
