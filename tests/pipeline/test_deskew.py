"""Deskew in the pipeline: a flat page scanned a little crooked comes out straight by an exact
rotation (not bent by UVDoc), a page within the dead zone stays byte for byte, a warped photo is
still unwarped, and the point maps include the rotation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pagefix.evaluation.skew import turn_like_a_scan
from pagefix.geometry.rotate import rotate_page
from pagefix.geometry.skew import estimate_skew
from pagefix.train.synthetic import PageStyle, render_page, word_source

STYLE = PageStyle(width=(1200, 1300), aspect=(1.35, 1.45), font_px=(20, 28))


@pytest.fixture(scope="module")
def flat_page() -> np.ndarray:
    rng = np.random.default_rng(11)
    return render_page(word_source("latin", rng), [None], False, rng, STYLE, "text", "ragged")


@pytest.mark.parametrize("angle", [-2.4, 1.3, 3.0])
def test_a_crooked_flat_page_is_rotated_straight(pipeline, flat_page, angle):
    crooked = turn_like_a_scan(flat_page, angle)
    result = pipeline.predict(crooked)[0]
    assert result.angle == 0
    assert not result.unwarp_applied, "a flat page leaning a little must not go through UVDoc"
    assert result.skew_angle == pytest.approx(angle, abs=0.15)
    assert abs(estimate_skew(result.output_img).angle) <= 0.15
    # A rotation of the input, not a bend: the output is the crooked page turned back by the angle,
    # on a canvas that holds all of it.
    assert np.array_equal(result.output_img, rotate_page(crooked, result.skew_angle))
    assert result.output_img.shape[0] >= crooked.shape[0] and result.output_img.shape[1] >= crooked.shape[1]
    # The JSON says what was done.
    assert json.loads(json.dumps(result.to_dict()))["skew_angle"] == pytest.approx(angle, abs=0.15)


def test_points_round_trip_through_the_rotation(pipeline, flat_page):
    result = pipeline.predict(turn_like_a_scan(flat_page, 2.0))[0]
    h, w = result.input_img.shape[:2]
    points = np.array([[10.0, 20.0], [w / 2, h / 2], [w - 5.0, h - 7.0]])
    there = result.map_to_output(points)
    assert np.isfinite(there).all()
    back = result.map_to_input(there)
    np.testing.assert_allclose(back, points, atol=0.01)


def test_a_page_within_the_dead_zone_is_left_byte_for_byte(pipeline, flat_page):
    result = pipeline.predict(flat_page)[0]
    assert abs(result.skew_angle) < pipeline.config.deskew_dead_zone
    assert result.output_img is result.input_img or np.array_equal(result.output_img, result.input_img)


def test_deskew_off_is_todays_behaviour(pipeline, flat_page):
    crooked = turn_like_a_scan(flat_page, 1.0)
    result = pipeline.predict(crooked, deskew=False)[0]
    assert result.skew_angle is None
    assert not result.unwarp_applied
    assert np.array_equal(result.output_img, crooked)


def test_a_curled_photo_is_still_unwarped(pipeline):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "make_example", Path(__file__).resolve().parents[2] / "examples" / "make_example.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    result = pipeline.predict(example.curl_and_photograph(example.render_page()))[0]
    assert result.unwarp_applied
