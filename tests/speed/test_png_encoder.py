"""The fast PNG encoder writes the same pixels as OpenCV's, and the environment can choose either."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pagefix.errors import ConfigError
from pagefix.outputs.files import encode_image, png_encoder


@pytest.fixture(scope="module")
def page(pages) -> np.ndarray:
    return pages.curled[::2, ::2]  # not contiguous: the encoder must cope with views


@pytest.mark.parametrize("encoder", ["fpng", "zlib"])
def test_png_round_trips_losslessly(page, encoder, monkeypatch) -> None:
    monkeypatch.setenv("PAGEFIX_PNG_ENCODER", encoder)
    assert png_encoder() == encoder
    data = encode_image(page, ".png")
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    back = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.shape == page.shape and np.array_equal(back, page)


def test_grey_images_still_encode(monkeypatch) -> None:
    monkeypatch.delenv("PAGEFIX_PNG_ENCODER", raising=False)
    grey = np.arange(64 * 48, dtype=np.uint32).reshape(48, 64).astype(np.uint8)
    back = cv2.imdecode(np.frombuffer(encode_image(grey, ".png"), np.uint8), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(back, grey)


def test_unknown_encoder_is_named(monkeypatch) -> None:
    monkeypatch.setenv("PAGEFIX_PNG_ENCODER", "zopfli")
    with pytest.raises(ConfigError, match="PAGEFIX_PNG_ENCODER"):
        encode_image(np.zeros((4, 4, 3), np.uint8), ".png")
