"""Coverage-guided fuzzing of the decoding gate (`pages_from_bytes`), bounded in time.

    python fuzz/fuzz_gate.py --seconds 300            # atheris (pip install "pagefix[fuzz]")
    python fuzz/fuzz_gate.py --seconds 60 --hypothesis   # no atheris: Hypothesis, not coverage-guided

Seeds are the hostile corpus of tests/hostile plus a small valid file of every format. The gate may
refuse anything, but only with a `PagefixError`: any other exception is a finding, printed with
the input that caused it (atheris also writes it as crash-*). Pillow's Python plugins and pagefix
are instrumented, so new parser paths count as coverage. Not part of the test run.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "hostile"))

# Small caps keep each input fast; the limits themselves are tested elsewhere.
LIMIT_OVERRIDES = {"max_pixels": 4_000_000, "max_file_bytes": 4_000_000, "max_frames": 8, "max_pdf_pages": 4}


def seeds() -> list[bytes]:
    from hostile_corpus import corpus, drawn_pdf, sample_page
    from PIL import Image

    found = [case.data for case in corpus() if len(case.data) < 200_000]
    page = sample_page(64, 80)
    for fmt in ("PNG", "JPEG", "BMP", "TIFF", "WEBP", "GIF"):
        buffer = io.BytesIO()
        (page if fmt != "GIF" else page.convert("P")).save(buffer, fmt)
        found.append(buffer.getvalue())
    found.append(drawn_pdf(2, (60, 80)))
    buffer = io.BytesIO()
    Image.new("RGBA", (30, 20)).save(buffer, "PNG")
    found.append(buffer.getvalue())
    return found


def make_target():  # type: ignore[no-untyped-def]
    from pagefix.errors import PagefixError
    from pagefix.inputs import pages_from_bytes
    from pagefix.limits import Limits

    limits = Limits(**LIMIT_OVERRIDES)

    def one_input(data: bytes) -> None:
        try:
            for item in pages_from_bytes(data, "fuzz-input", limits):
                if hasattr(item, "image"):
                    image = item.image
                    assert image.dtype.name == "uint8" and image.ndim == 3 and image.shape[2] == 3
                    assert image.shape[0] * image.shape[1] <= limits.max_pixels
                elif not isinstance(item.error, PagefixError):
                    raise TypeError(f"failure carries {type(item.error).__name__}")
        except PagefixError:
            return  # a refusal is a right answer

    return one_input


def run_atheris(seconds: int, extra: list[str]) -> int:
    import atheris

    with atheris.instrument_imports(include=["pagefix", "PIL"]):
        from PIL import Image

        Image.init()  # Pillow imports its format plugins lazily: import them here, instrumented
        target = make_target()
    work = Path(tempfile.mkdtemp(prefix="pagefix-fuzz-"))
    for index, data in enumerate(seeds()):
        (work / f"seed{index:03d}").write_bytes(data)
    print(f"fuzzing for {seconds} s; corpus and crashes in {work}", file=sys.stderr)
    args = [sys.argv[0], f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=3072",
            f"-artifact_prefix={work}/", "-max_len=300000", *extra, str(work)]
    atheris.Setup(args, target)
    atheris.Fuzz()  # exits the process when done
    return 0


def run_hypothesis(seconds: int) -> int:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    target = make_target()
    base = seeds()

    def mutate(draw_data: tuple[int, int, int, bytes]) -> bytes:
        index, at, cut, patch = draw_data
        data = base[index % len(base)]
        at %= max(1, len(data))
        return data[:at] + patch + data[at + cut:]

    inputs = st.one_of(
        st.binary(max_size=4096),
        st.tuples(st.integers(0, 10_000), st.integers(0, 10**6), st.integers(0, 64), st.binary(max_size=16)).map(mutate),
    )

    @settings(max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(inputs)
    def check(data: bytes) -> None:
        target(data)

    end = time.monotonic() + seconds
    rounds = 0
    while time.monotonic() < end:
        check()
        rounds += 1
    print(f"hypothesis: {rounds * 500} inputs in {seconds} s, no finding", file=sys.stderr)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="how long to fuzz (default: 60)")
    parser.add_argument("--hypothesis", action="store_true", help="use Hypothesis even if atheris is installed")
    args, extra = parser.parse_known_args()
    if not args.hypothesis:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed (pip install 'pagefix[fuzz]'); using Hypothesis", file=sys.stderr)
        else:
            return run_atheris(args.seconds, extra)
    return run_hypothesis(args.seconds)


if __name__ == "__main__":
    sys.exit(main())
