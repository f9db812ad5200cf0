"""Make docs/img/web-page.png: the web page of `pagefix serve` after the bundled example photo
(examples/curled_page.jpg, curled and turned a quarter turn) was dropped on it. It drives the page
with the same Playwright code as the tests (tests/serving/web_page_support.py), in Debian's
Chromium (`apt-get install chromium`, `pip install playwright`).

    python docs/make_screenshot.py [docs/img/web-page.png]
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "serving"))

from serving_support import running  # noqa: E402
from web_page_support import browser_missing, drop_files, open_page  # noqa: E402

from pagefix import DocPreprocessor  # noqa: E402
from pagefix.serving import create_app  # noqa: E402

# The docs show the whole page at a laptop's width.
WIDTH, HEIGHT = 1200, 900
MAX_BYTES = 300_000


def main(out: str) -> None:
    missing = browser_missing()
    if missing:
        raise SystemExit(missing)
    pipeline = DocPreprocessor(device="cpu", cpu_threads=min(2, os.cpu_count() or 1))
    photo = (REPO / "examples" / "curled_page.jpg").read_bytes()
    with running(create_app(pipeline)) as url, open_page(url, WIDTH, HEIGHT) as (page, watch):
        drop_files(page, [("curled_page.jpg", "image/jpeg", photo)])
        page.locator("[data-page] img").wait_for(timeout=300_000)
        page.wait_for_load_state("networkidle")
        shot = page.screenshot(full_page=True)
        if watch.foreign or watch.errors:
            raise SystemExit(f"the page misbehaved: {watch.foreign + watch.errors}")
    # A palette of 64 colours keeps text sharp and the file small enough for the docs.
    with Image.open(io.BytesIO(shot)) as image:
        small = image.convert("RGB").quantize(64, method=Image.Quantize.MEDIANCUT)
        buffer = io.BytesIO()
        small.save(buffer, "PNG", optimize=True)
    if buffer.tell() > MAX_BYTES:
        raise SystemExit(f"the screenshot is {buffer.tell()} bytes, over {MAX_BYTES}")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_bytes(buffer.getvalue())
    print(f"wrote {out} ({buffer.tell()} bytes)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(REPO / "docs" / "img" / "web-page.png"))
