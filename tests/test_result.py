"""The result object: the reference's JSON fields and file names, the mapping, the picture."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from pagefix import PageResult


def make_result(input_path="scans/photo.jpg", page_index=None, angle=90) -> PageResult:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)
    turned = np.ascontiguousarray(np.rot90(image))
    return PageResult(
        input_path=input_path, page_index=page_index,
        model_settings={"use_doc_orientation_classify": True, "use_doc_unwarping": True},
        angle=angle, angle_score=0.9, input_img=image, rot_img=turned, output_img=turned,
    )


def test_json_has_the_reference_fields():
    result = make_result()
    assert list(result.json) == ["res"]
    assert list(result.to_dict())[:4] == ["input_path", "page_index", "model_settings", "angle"]
    assert result.json["res"]["angle"] == 90
    assert "input_img" not in result.to_dict() and "angle_score" not in result.to_dict()


def test_mapping_keys_and_images():
    result = make_result()
    for key in ("input_path", "page_index", "model_settings", "angle", "input_img", "rot_img", "output_img"):
        assert key in result
    assert result["output_img"] is result.output_img
    with pytest.raises(KeyError):
        result["nope"]
    assert result.angle_score == 0.9


def test_print_formats_like_the_reference(capsys):
    make_result().print()
    printed = json.loads(capsys.readouterr().out)
    assert printed["res"]["input_path"] == "scans/photo.jpg"
    make_result().print(format_json=False)
    assert capsys.readouterr().out.startswith("{'res': {")


def test_saved_file_names(tmp_path):
    paths = make_result().save_all(tmp_path)
    assert [p.name for p in paths] == ["photo.json", "photo_doc_preprocessor_res_img.jpg",
                                      "photo_doc_preprocessor_out.jpg"]
    pdf_page = make_result("report.pdf", page_index=2)
    assert [p.name for p in pdf_page.save_all(tmp_path)] == [
        "report_2.json", "report_2_doc_preprocessor_res_img.png", "report_2_doc_preprocessor_out.png"]
    assert json.loads((tmp_path / "report_2.json").read_text())["page_index"] == 2
    # An explicit file name is used as it is.
    assert make_result().save_to_json(tmp_path / "mine.json").name == "mine.json"
    assert not list(tmp_path.glob(".*part"))  # atomic writes leave no temporary files


def test_three_panel_picture():
    result = make_result()
    picture = result.img["preprocessed_img"]
    assert isinstance(picture, Image.Image) and picture.mode == "RGB"
    assert picture.size == (30 + 40 + 40, 40 + 25)
    # Panels pasted at native size, top-aligned: the first panel is the input (RGB of BGR).
    assert np.array_equal(np.asarray(picture)[:40, :30], result.input_img[:, :, ::-1])


def test_array_inputs_get_a_time_stamped_name():
    name = make_result(input_path=None).base_name
    stamp, number = name.split("_")
    assert stamp.isdigit() and 1000 <= int(number) <= 9999


def test_saved_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    mask = os.umask(0)
    os.umask(mask)
    path = make_result().save_to_json(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
