"""The three page stages (`prepare_pages`, `find_grids`, `finish_pages`), run apart the way a staged
engine runs them (UVDoc on a batch of several pages' small inputs, the stages' state pickled in
between), give what `predict` gives on a photo and a scan."""

from __future__ import annotations

import pickle

import cv2
import numpy as np

from pagefix import PageFailure
from pagefix.errors import InputError
from pagefix.inputs import Page
from pagefix.pipeline.stages import PreparedPage


def _pages(pages):
    photo = pages.curled  # a curled page: unwarped
    scan = cv2.resize(pages.scan, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    turned = cv2.rotate(scan, cv2.ROTATE_90_CLOCKWISE)  # flat: left as it was, turned back
    return [Page(photo, "photo.jpg", None), Page(turned, "turned.png", None)]


def test_stages_run_apart_equal_predict(pipeline, pages):
    pages = _pages(pages)
    expected = pipeline.predict([page.image for page in pages])
    settings = pipeline.resolve_settings({})
    broken = PageFailure("broken.jpg", None, InputError("not an image"))
    prepared = pipeline.prepare_pages([pages[0], broken, pages[1]], settings)
    assert prepared[1] is broken
    prepared = pickle.loads(pickle.dumps(prepared))  # what crosses the object store
    small = [p.unwarp_input if isinstance(p, PreparedPage) else None for p in prepared]
    assert all(s.page.shape == (712, 488, 3) and s.page.dtype == np.uint8 for s in small if s is not None)
    grids = pipeline.find_grids(small, settings)  # both pages in one model call
    results = pipeline.finish_pages(prepared, pickle.loads(pickle.dumps(grids)), settings)
    assert isinstance(results[1], PageFailure) and results[1].input_path == "broken.jpg"  # passed through
    got = [results[0], results[2]]
    assert [r.angle for r in got] == [r.angle for r in expected] == [0, 90]
    assert [r.unwarp_applied for r in got] == [r.unwarp_applied for r in expected] == [True, False]
    for mine, theirs in zip(got, expected):
        assert mine.angle_decisions == theirs.angle_decisions
        assert mine.warp_score == theirs.warp_score
        assert np.array_equal(mine.output_img, theirs.output_img)
        assert np.array_equal(mine.rot_img, theirs.rot_img)

