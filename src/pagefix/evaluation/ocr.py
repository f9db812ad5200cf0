"""Text from page images with the `tesseract` command, when it is installed (Debian: tesseract-ocr).

The image goes to tesseract's standard input as PNG and the text comes back on standard output;
one thread per call (OMP_THREAD_LIMIT=1) so several pages can be read side by side.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import cv2
import numpy as np

from ..errors import OcrError

__all__ = ["OcrError", "ocr_text", "tesseract_path"]


def tesseract_path() -> str | None:
    return shutil.which("tesseract")


def ocr_text(image: np.ndarray, language: str = "eng", timeout: float = 120.0) -> str:
    executable = tesseract_path()
    if executable is None:
        raise OcrError("tesseract is not installed (Debian/Ubuntu: apt-get install tesseract-ocr)")
    ok, png = cv2.imencode(".png", image)
    if not ok:
        raise OcrError("could not encode the page for tesseract")
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    try:
        done = subprocess.run(
            [executable, "stdin", "stdout", "-l", language, "--psm", "3"], input=png.tobytes(),
            capture_output=True, timeout=timeout, env=env, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise OcrError(f"tesseract failed: {exc}") from exc
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise OcrError(f"tesseract exited with {done.returncode}: {detail[-1] if detail else 'no message'}")
    return done.stdout.decode("utf-8", "replace")
