"""skip_flat_pages and keep_margin in the pipeline, on a rendered page and a curled photo: what is skipped comes back
pixel for pixel, what is unwarped is the reference's output, and the settings reach the models."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pagefix import ConfigError, DocPreprocessor
from pagefix.geometry.resample import apply_grid


@pytest.fixture(scope="module")
def sharing(pipeline):
    """Build another pipeline on the already loaded models."""
    def build(**kwargs) -> DocPreprocessor:
        return DocPreprocessor(orientation_classifier=pipeline.orientation_classifier,
                               unwarper=pipeline.unwarper, device="cpu", **kwargs)
    return build


def test_a_flat_jpeg_page_comes_back_untouched(pipeline, pages):
    path = pages.scan_jpeg
    result = pipeline.predict(str(path))[0]
    assert result.angle == 0
    assert result.unwarp_applied is False
    assert 0 < result.warp_score < pipeline.config.max_warp_score
    assert np.array_equal(result.output_img, result.input_img)
    assert result.source_jpeg == path.read_bytes()
    saved = json.loads(json.dumps(result.to_dict()))
    assert saved["unwarp_applied"] is False and saved["warp_score"] == pytest.approx(result.warp_score, abs=1e-3)
    assert result["unwarp_applied"] is False and result["warp_score"] == result.warp_score
    assert list(saved["model_settings"]) == ["use_doc_orientation_classify", "use_doc_unwarping"]
    points = np.array([[0.0, 0.0], [300.5, 400.25]])
    assert np.array_equal(result.map_to_input(points), points)
    assert np.array_equal(result.map_to_output(points), points)


def test_without_skipping_the_output_is_the_reference_unwarp(pipeline, pages, decode_page):
    image = decode_page(pages.scan_jpeg)
    result = pipeline.predict(image, skip_flat_pages=False)[0]
    assert result.unwarp_applied is True and result.warp_score is None and result.source_jpeg is None
    reference = apply_grid(image, pipeline.unwarper.predict_grids([image])[0])
    assert np.array_equal(result.output_img, reference)


def test_a_warped_photo_is_unwarped_with_its_own_grid(pipeline, pages, decode_page):
    image = decode_page(pages.curled_jpeg)
    result = pipeline.predict(image, use_doc_orientation_classify=False)[0]
    assert result.unwarp_applied is True
    assert result.warp_score > pipeline.config.max_warp_score
    # The unwarp uses the grid of the unpadded page, not the probe's.
    assert np.array_equal(result.output_img, apply_grid(image, pipeline.unwarper.predict_grids([image])[0]))


def test_a_turned_flat_page_comes_back_upright_and_untouched(pipeline, pages, decode_page):
    upright = decode_page(pages.scan_jpeg)
    result = pipeline.predict(np.ascontiguousarray(np.rot90(upright)))[0]  # content turned 90° counter-clockwise
    assert result.angle == 270
    assert result.unwarp_applied is False
    assert np.array_equal(result.output_img, upright)
    assert result.source_jpeg is None
    h, w = upright.shape[:2]
    # The top-left corner of the upright page is the bottom-left corner of the turned input.
    assert np.allclose(result.map_to_input([[0.0, 0.0]]), [[0.0, w - 1.0]])
    assert np.allclose(result.map_to_output([[0.0, w - 1.0]]), [[0.0, 0.0]])


def test_unwarping_off_reports_no_score(pipeline, pages):
    result = pipeline.predict(str(pages.curled_jpeg), use_doc_unwarping=False)[0]
    assert result.unwarp_applied is False and result.warp_score is None
    assert result.to_dict()["warp_score"] is None
    assert result.output_img is result.rot_img


def test_settings_from_the_constructor_and_per_call(sharing, pages):
    image = pages.curled_crop
    built = sharing(skip_flat_pages=False, keep_margin=0.1, use_doc_orientation_classify=False)
    result = built.predict(image)[0]
    h, w = image.shape[:2]
    mx, my = round(0.1 * w), round(0.1 * h)
    assert result.output_img.shape == (h + 2 * my, w + 2 * mx, 3)
    assert result.warp_score is None
    # The margin shows white where the extrapolated grid leaves the photo (a corner, here).
    assert (result.output_img[0, 0] == 255).all()
    overridden = built.predict(image, keep_margin=0.0, skip_flat_pages=True)[0]
    assert overridden.output_img.shape == image.shape and overridden.warp_score is not None


def test_fill_color_is_rgb(sharing, pages):
    image = pages.curled_crop
    built = sharing(skip_flat_pages=False, keep_margin=0.1, fill_color=(255, 0, 0),
                    use_doc_orientation_classify=False)
    corner = built.predict(image)[0].output_img[0, 0]
    assert corner.tolist() == [0, 0, 255]  # BGR


def test_the_yaml_carries_the_settings_and_the_thresholds(sharing, tmp_path):
    config = tmp_path / "pipeline.yml"
    config.write_text(
        "skip_flat_pages: False\nkeep_margin: 0.05\nSubModules:\n  DocUnwarping:\n"
        "    max_warp_score: 2.5\n    max_identity_rms: 7\n    fill_color: [10, 20, 30]\n"
    )
    built = sharing(paddlex_config=str(config))
    assert (built.config.skip_flat_pages, built.config.keep_margin) == (False, 0.05)
    assert (built.config.max_warp_score, built.config.max_identity_rms) == (2.5, 7)
    assert built.config.fill_color == (10, 20, 30)
    assert sharing(paddlex_config=str(config), keep_margin=0.0).config.keep_margin == 0.0  # explicit wins


@pytest.mark.parametrize("bad", [{"keep_margin": -0.1}, {"keep_margin": 0.9}, {"keep_margin": "wide"},
                                 {"fill_color": (1, 2)}, {"fill_color": (0, 0, 300)}])
def test_bad_settings_are_refused(sharing, bad):
    with pytest.raises(ConfigError):
        sharing(**bad)


def test_bad_per_call_settings_are_refused(pipeline, pages):
    with pytest.raises(ConfigError, match="keep_margin"):
        pipeline.predict(str(pages.scan_jpeg), keep_margin=2.0)
    with pytest.raises(ConfigError, match="unknown"):
        pipeline.process_pages([], {"keep_edges": True})
