"""UVDoc at bf16 (what cpu_backend="auto" picks on CPUs that have it) decides every page as fp32
does: a probe whose score lands near a limit is read again at fp32. Real models, real runtimes;
skipped where OpenVINO or a bf16 CPU is missing."""

from __future__ import annotations

import pytest
from support.pages import curled_photo, text_page

from pagefix import DocPreprocessor
from pagefix.models.openvino_runner import OpenVinoRunner, openvino_bf16_supported, openvino_installed
from pagefix.models.runtime import OnnxRunner, RuntimeOptions
from pagefix.models.store import ModelStore
from pagefix.models.unwarping import Unwarper

pytestmark = pytest.mark.skipif(not (openvino_installed() and openvino_bf16_supported()),
                                reason="needs OpenVINO on a CPU with native bfloat16")


class Counting:
    def __init__(self, runner) -> None:
        self.runner, self.images = runner, 0

    def __call__(self, batch):
        self.images += len(batch)
        return self.runner(batch)


def unwarpers() -> tuple[Unwarper, Unwarper, Counting]:
    """(UVDoc at bf16 with its fp32 fallback counted, UVDoc at fp32 on ONNX Runtime)."""
    path = ModelStore().resolve("unwarping").path
    exact = Counting(OnnxRunner.load(path, RuntimeOptions(device="cpu", cpu_threads=2)))
    fast = Unwarper(OpenVinoRunner.load(path, 2, "bf16"), exact=lambda: exact)
    return fast, Unwarper(exact.runner), exact


def verdicts(unwarper: Unwarper, pages, **limits):
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, unwarper=unwarper, **limits)
    return [(r.unwarp_applied, r.warp_score) for r in pipeline.predict(pages)]


def test_a_probe_near_the_limit_is_decided_at_fp32():
    fast, plain, exact = unwarpers()
    assert fast.approximate and not plain.approximate
    photo, scan = curled_photo(), text_page(5)
    [(_, curled_score), (_, flat_score)] = verdicts(plain, [photo, scan])
    # Limits just above and just below each page's fp32 score put that page in the guard band:
    # its decision and its score are fp32's; the other page keeps its (bf16) decision.
    for page, limit in ((0, curled_score * 1.02), (0, curled_score * 0.98), (1, flat_score * 1.03),
                        (1, flat_score * 0.97)):
        before = exact.images
        got, want = verdicts(fast, [photo, scan], max_warp_score=limit), verdicts(plain, [photo, scan], max_warp_score=limit)
        assert [applied for applied, _ in got] == [applied for applied, _ in want]
        assert got[page] == want[page]
        assert exact.images > before


def test_a_probe_far_from_the_limits_stays_at_bf16():
    fast, plain, exact = unwarpers()
    photo, scan = curled_photo(), text_page(5)
    fast_verdicts = verdicts(fast, [photo, scan])
    assert exact.images == 0
    assert [applied for applied, _ in fast_verdicts] == [applied for applied, _ in verdicts(plain, [photo, scan])]
