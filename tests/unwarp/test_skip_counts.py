"""The flat-page rule on every page of the real data sets (one UVDoc probe per page, about 1.5-2
minutes on 2 cores): it must leave flat pages alone and unwarp warped photos."""

from __future__ import annotations

import pytest

from pagefix.models.warp_score import warp_probes
from pagefix.pipeline.settings import PipelineConfig


@pytest.mark.slow
@pytest.mark.realdata
def test_skip_counts_on_the_real_data(unwarper, page_sets, decode_page):
    config = PipelineConfig()
    limits = (config.max_warp_score, config.max_identity_rms)  # judged as the pipeline judges them
    skipped = {}
    for name, files in page_sets.items():
        probes = [warp_probes(unwarper, [decode_page(path)], limits=limits)[0] for path in files]
        skipped[name] = sum(p.is_flat(*limits) for p in probes)
    counts = {name: f"{skipped[name]}/{len(files)}" for name, files in page_sets.items()}
    print(f"\npages skipped by skip_flat_pages (W < {config.max_warp_score}, identity < "
          f"{config.max_identity_rms}): {counts}")
    assert skipped["flat"] >= 68, counts
    assert skipped["inv3d_real"] <= 8, counts
    assert skipped["docunet_crop"] <= 1, counts
