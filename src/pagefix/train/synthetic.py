"""Generated upright text pages, for fine-tuning the classifier on a script it does not know.

A page is white-ish paper with a title and justified-looking paragraphs, set right-aligned for
right-to-left scripts (so the ragged edge falls on the left, as in print). The words come from a
small generator per script (letters drawn with rough frequencies, plus a few common words written
for this module) or from lines of a text file the user supplies. Clean pages only: scale, blur,
colour and JPEG damage are added by the training augmentation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["SCRIPTS", "PageStyle", "render_page", "word_source"]

_HEBREW_LETTERS = "אבגדהוזחטיכלמנסעפצקרשת"
_HEBREW_FINAL = {"כ": "ך", "מ": "ם", "נ": "ן", "פ": "ף", "צ": "ץ"}
# Rough weights: the common letters of running text come up more often.
_HEBREW_WEIGHTS = [9, 5, 1, 3, 9, 12, 1, 3, 2, 11, 4, 7, 7, 5, 1, 3, 2, 1, 2, 6, 5, 5]
# Everyday words, written for this generator.
_HEBREW_WORDS = (
    "של את על עם זה גם אבל כי לא כן יש אין הוא היא הם אנחנו הזה הזאת כל עוד רק אז כך "
    "בית ספר עיר יום שנה עבודה מכתב דוח חשבון מחיר תשלום לקוח חברה כתובת טלפון תאריך "
    "שלום תודה בבקשה מספר סכום הזמנה משלוח שירות מידע תנאים פרטים הערות חתימה מסמך "
    "ישיבה החלטה ועדה מנהל עובדים תקציב פרויקט תוכנית שלב סיכום נושא בעיה פתרון"
).split()
_LATIN_WORDS = (
    "the of and to in is for on with as by at from this that be are was it or an not "
    "invoice total date amount page report section table figure number account payment"
).split()
_LATIN_LETTERS = "etaoinshrdlcumwfgypbvkjxqz"
_LATIN_WEIGHTS = [127, 91, 82, 75, 70, 67, 63, 61, 60, 43, 40, 28, 28, 24, 24, 22, 20, 20, 19, 15, 10, 8, 2, 2, 1, 1]
_CYRILLIC_LETTERS = "оеаинтсрвлкмдпуяызбгчйхжшюцщэфъё"
_GREEK_LETTERS = "αοιετσνυρπκμλωδγηχθφβξζψ"


@dataclass(frozen=True)
class ScriptSpec:
    letters: str
    weights: Sequence[float] | None
    words: Sequence[str]
    rtl: bool


SCRIPTS: dict[str, ScriptSpec] = {
    "hebrew": ScriptSpec(_HEBREW_LETTERS, _HEBREW_WEIGHTS, _HEBREW_WORDS, rtl=True),
    "latin": ScriptSpec(_LATIN_LETTERS, _LATIN_WEIGHTS, _LATIN_WORDS, rtl=False),
    "cyrillic": ScriptSpec(_CYRILLIC_LETTERS, None, (), rtl=False),
    "greek": ScriptSpec(_GREEK_LETTERS, None, (), rtl=False),
}


def _pseudo_word(spec: ScriptSpec, rng: np.random.Generator) -> str:
    weights = None
    if spec.weights is not None:
        weights = np.asarray(spec.weights, dtype=np.float64)
        weights /= weights.sum()
    length = int(rng.integers(2, 9))
    word = "".join(rng.choice(list(spec.letters), size=length, p=weights))
    if spec is SCRIPTS["hebrew"] and word[-1] in _HEBREW_FINAL:
        word = word[:-1] + _HEBREW_FINAL[word[-1]]
    return word


def word_source(script: str, rng: np.random.Generator, lines: Sequence[str] | None = None):
    """A function giving the next word: from the user's `lines` when given, else generated."""
    if lines:
        words = [w for line in lines for w in line.split()]
        if not words:
            raise ValueError("the text file has no words")
        return lambda: words[int(rng.integers(len(words)))]
    if script not in SCRIPTS:
        raise ValueError(f"unknown script {script!r}; known: {', '.join(sorted(SCRIPTS))}")
    spec = SCRIPTS[script]

    def next_word() -> str:
        word = spec.words[int(rng.integers(len(spec.words)))] if spec.words and rng.random() < 0.5 else _pseudo_word(spec, rng)
        if spec.rtl:
            # No digits or Latin punctuation: many Hebrew fonts lack them, and numbers would need
            # the bidi algorithm (they run left to right inside the line).
            return word
        if rng.random() < 0.08:
            word += rng.choice([",", ".", ":"])
        if rng.random() < 0.04:
            word = str(int(rng.integers(1, 10000)))
        if rng.random() < 0.1:
            word = word.capitalize()
        return word

    return next_word


@dataclass(frozen=True)
class PageStyle:
    """The ranges a page's look is drawn from."""

    width: tuple[int, int] = (900, 1300)
    aspect: tuple[float, float] = (1.25, 1.5)  # height / width
    font_px: tuple[int, int] = (18, 34)
    line_gap: tuple[float, float] = (1.25, 1.8)
    margin: tuple[float, float] = (0.06, 0.14)


def render_page(
    next_word, font_paths: Sequence[str | os.PathLike[str] | None], rtl: bool, rng: np.random.Generator,
    style: PageStyle = PageStyle(),
) -> np.ndarray:
    """One upright page (BGR uint8). A `None` font is Pillow's built-in one (Latin only)."""
    width = int(rng.integers(*style.width))
    height = int(width * rng.uniform(*style.aspect))
    paper = tuple(int(v) for v in rng.integers(225, 256, size=3))
    ink = tuple(int(v) for v in rng.integers(0, 70, size=3))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    font_path = font_paths[int(rng.integers(len(font_paths)))]
    size = int(rng.integers(*style.font_px))
    body = _font(font_path, size)
    title = _font(font_path, int(size * rng.uniform(1.4, 2.2)))
    margin_x = int(width * rng.uniform(*style.margin))
    y = int(height * rng.uniform(*style.margin))
    bottom = height - int(height * rng.uniform(*style.margin))
    text_width = width - 2 * margin_x
    if rng.random() < 0.8:
        y = _draw_line(draw, _fill_line(next_word, title, text_width * rng.uniform(0.3, 0.8), draw),
                       title, margin_x, y, text_width, rtl, ink, centre=rng.random() < 0.4)
        y += size
    gap = rng.uniform(*style.line_gap)
    while y + size * gap < bottom:
        for line_index in range(int(rng.integers(2, 9))):
            if y + size * gap >= bottom:
                break
            last = line_index > 0 and rng.random() < 0.25
            target = text_width * (rng.uniform(0.2, 0.8) if last else rng.uniform(0.92, 1.0))
            _draw_line(draw, _fill_line(next_word, body, target, draw), body, margin_x, y, text_width, rtl, ink)
            y += int(size * gap)
            if last:
                break
        y += int(size * rng.uniform(0.5, 1.5))
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def _font(path: str | os.PathLike[str] | None, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    # BASIC layout with the string reversed by us: the same visual order with or without libraqm.
    return ImageFont.truetype(str(Path(path)), size=size, layout_engine=ImageFont.Layout.BASIC)


def _fill_line(next_word, font, target: float, draw: ImageDraw.ImageDraw) -> list[str]:
    words: list[str] = []
    while True:
        word = next_word()
        if words and draw.textlength(" ".join(words + [word]), font=font) > target:
            return words
        words.append(word)
        if len(words) > 200:
            return words


def _draw_line(draw, words: list[str], font, left: int, y: int, width: int, rtl: bool, ink, centre: bool = False) -> int:
    text = " ".join(words)
    if rtl:
        text = text[::-1]  # logical to visual order for a line of one right-to-left script
    length = draw.textlength(text, font=font)
    x = left + (width - length) / 2 if centre else (left + width - length if rtl else left)
    draw.text((x, y), text, font=font, fill=ink)
    bbox = draw.textbbox((x, y), text, font=font)
    return int(bbox[3])
