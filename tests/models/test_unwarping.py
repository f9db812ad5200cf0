"""UVDoc on photos: the full-resolution resampling equals the grid_sample formula (on a real photo),
and unwarped photos are closer to their flat originals (rendered pages; the whole of Inv3DReal in
the realdata tier)."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest
from support.pages import fixture_file, read_page

from pagefix.geometry.resample import apply_grid


def reference_grid_sample(image: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """grid_sample(align_corners=True, bilinear, zero padding) after an align-corners bilinear
    upsampling of the grid to the image size, written point by point in plain NumPy."""
    h, w = image.shape[:2]
    gh, gw = grid.shape[1:]
    # Upsample the grid: output pixel (i, j) sits at grid position (i*(gh-1)/(h-1), j*(gw-1)/(w-1)).
    gy = np.arange(h) * (gh - 1) / (h - 1)
    gx = np.arange(w) * (gw - 1) / (w - 1)
    y0 = np.minimum(np.floor(gy).astype(int), gh - 2)
    x0 = np.minimum(np.floor(gx).astype(int), gw - 2)
    fy = (gy - y0)[:, None]
    fx = (gx - x0)[None, :]

    def upsample(channel: np.ndarray) -> np.ndarray:
        a = channel[y0][:, x0]
        b = channel[y0][:, x0 + 1]
        c = channel[y0 + 1][:, x0]
        d = channel[y0 + 1][:, x0 + 1]
        return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy

    sx = (upsample(grid[0].astype(np.float64)) + 1) / 2 * (w - 1)
    sy = (upsample(grid[1].astype(np.float64)) + 1) / 2 * (h - 1)
    # Bilinear sampling; neighbours outside the image count as zero.
    left = np.floor(sx).astype(int)
    top = np.floor(sy).astype(int)
    ax = sx - left
    ay = sy - top
    padded = np.zeros((h + 2, w + 2, image.shape[2]), np.float64)
    padded[1:-1, 1:-1] = image
    out = np.zeros((h, w, image.shape[2]), np.float64)
    for dy, wy in ((0, 1 - ay), (1, ay)):
        for dx, wx in ((0, 1 - ax), (1, ax)):
            yy = np.clip(top + dy + 1, 0, h + 1)
            xx = np.clip(left + dx + 1, 0, w + 1)
            out += padded[yy, xx] * (wy * wx)[:, :, None]
    return out


# A real phone photo of a curled invoice from Inv3DReal, shrunk (tests/fixtures/manifest.csv).
REAL_PHOTO = "inv3d_real__00411_warped_document_curled_bright.jpg"


def test_resampling_matches_the_grid_sample_formula_on_a_real_photo(unwarper):
    photo = read_page(fixture_file(REAL_PHOTO))
    (grid,) = unwarper.predict_grids([photo])
    assert grid.shape == (2, 45, 31)
    ours = apply_grid(photo, grid).astype(np.float64)
    expected = reference_grid_sample(photo, grid)
    mad = np.abs(ours - expected).mean()
    print(f"\nmean absolute difference to the NumPy grid_sample: {mad:.3f} grey levels")
    assert ours.shape == photo.shape
    assert mad < 1.0


def test_output_keeps_the_input_size(unwarper):
    page = np.full((301, 217, 3), 200, np.uint8)
    assert unwarper.unwarp(page).shape == page.shape


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey images (Gaussian window, sigma 1.5), as Wang et al. define it."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (11, 11), 1.5)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    index = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return float(index.mean())


def grey_at(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.cvtColor(cv2.resize(image, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)


def test_unwarping_brings_rendered_photos_closer_to_their_flat_originals(pipeline, pages):
    size = (680, 880)
    rows = []
    for photo, flat in (pages.curled_columns, pages.curled_receipt):
        (result,) = pipeline.predict(photo, use_doc_orientation_classify=False, skip_flat_pages=False)
        rows.append((ssim(grey_at(photo, size), grey_at(flat, size)), ssim(grey_at(result.output_img, size), grey_at(flat, size))))
    print(f"\nrendered photos, SSIM to the flat page (before, after): {rows}")
    # Measured: SSIM rises by 0.26 on each (0.35 -> 0.60 and 0.52 -> 0.78); asked for: half of that.
    assert all(after > before + 0.13 for before, after in rows), rows


@pytest.mark.realdata
def test_unwarping_brings_inv3d_photos_closer_to_their_flat_originals(pipeline, test_data):
    folder = test_data / "unwarp" / "inv3d_real"
    with open(folder / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 144
    flats: dict[str, np.ndarray] = {}
    before, after = [], []
    size = (680, 880)  # width, height: the flat originals' aspect ratio, about 0.6 MP
    for row in rows:
        if row["ground_truth"] not in flats:
            flats[row["ground_truth"]] = grey_at(read_page(folder / row["ground_truth"]), size)
        flat = flats[row["ground_truth"]]
        photo = read_page(folder / row["distorted"])
        # UVDoc sees a 488x712 copy whatever the resolution: halving the photo keeps the test
        # fast without changing the grid it predicts.
        photo = cv2.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), interpolation=cv2.INTER_AREA)
        (result,) = pipeline.predict(photo, use_doc_orientation_classify=False, skip_flat_pages=False)
        before.append(ssim(grey_at(photo, size), flat))
        after.append(ssim(grey_at(result.output_img, size), flat))
    before_arr, after_arr = np.array(before), np.array(after)
    improved = float((after_arr > before_arr).mean())
    print(
        f"\ninv3d_real SSIM: mean before {before_arr.mean():.4f}, after {after_arr.mean():.4f}; "
        f"improved on {improved:.1%} of {len(rows)} photos"
    )
    assert improved >= 0.90
