"""The multi-script models shipped in the package (`pagefix_doc_ori_v5`, the default, and
`pagefix_doc_ori_v1`, both trained by `train/recipes.py`) on freshly generated pages of several
scripts, right to left among them, in four turns, with the default views."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pagefix import DocPreprocessor
from pagefix.evaluation.datasets import turn_content
from pagefix.train.synthetic import SCRIPTS, render_page, word_source

# Fonts the recipe evaluates with, never trained on (`recipes._V1_EVAL`); the Latin page uses
# Pillow's own font, so it runs everywhere.
FONTS = {
    "latin": None,
    "hebrew": "/usr/share/fonts/truetype/culmus/FrankRuehlCLM-Medium.ttf",
    "arabic": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "devanagari": "/usr/share/fonts/truetype/freefont/FreeSerif.ttf",
    "thai": "/usr/share/fonts/truetype/tlwg/Garuda.ttf",
}


@pytest.fixture(scope="module", params=["pagefix_doc_ori_v5", "pagefix_doc_ori_v1"])
def pipeline(request):
    return DocPreprocessor(device="cpu", use_doc_unwarping=False, cpu_threads=2,
                           doc_orientation_classify_model_name=request.param)


@pytest.mark.parametrize("script", sorted(FONTS))
def test_generated_pages_come_upright_in_four_turns(pipeline, script):
    font = FONTS[script]
    if font is not None and not Path(font).is_file():
        pytest.skip(f"{font} is not installed")
    rng = np.random.default_rng(900 + len(script))
    spec = SCRIPTS[script]
    page = render_page(word_source(script, rng), [font], spec.rtl, rng, layout="text", shaped=spec.shaped)
    turned = [turn_content(page, angle) for angle in (0, 90, 180, 270)]
    answers = [result.angle for result in pipeline.predict(turned)]
    assert answers == [0, 90, 180, 270], script
    named = pipeline.orientation_classifier.name
    assert {result.to_dict()["angle_model"] for result in pipeline.predict(turned[:1])} == {named}
