"""Generated upright text pages, for fine-tuning the classifier on a script it does not know.

A page is white-ish paper in one of a few layouts (`LAYOUTS`): running text (a title and
paragraphs, ragged on the reading end, justified or centred), a receipt (a narrow slip of centred
header lines and item lines with the amounts set against the far edge), a table with rules, or
two columns. Right-to-left scripts are set from the right. The layouts vary so that where the
ragged edge falls is not a cue to the page's orientation: a classifier trained on one layout only
learns "ragged left = upright" for Hebrew and then turns every receipt and table that fits that
rule. The words come from a small generator per script (letters drawn with rough frequencies,
plus a few common words written for this module) or from lines of a text file the user supplies.
Clean pages only: scale, blur, colour and JPEG damage are added by the training augmentation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

__all__ = ["ALIGNMENTS", "LAYOUTS", "SCRIPTS", "PageStyle", "render_page", "word_source"]

LAYOUTS = ("text", "receipt", "table", "columns")
# How the lines of running text are set: "ragged" (flush with the reading start), "justify" or
# "centre". Drawn at random per page unless the caller fixes it.
ALIGNMENTS = ("ragged", "justify", "centre")

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
# Frequent simplified Chinese characters; "words" of them are set with spaces, which real Chinese
# text has not, but the page keeps the look the classifier reads: square glyphs on straight lines.
_CHINESE_LETTERS = (
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对"
    "可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公"
    "同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正"
    "名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并"
    "内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表"
)


# Devanagari is written in syllables (pseudo-words are consonants, most followed by a vowel sign)
# and Arabic in joined letters: both need a shaping engine (libraqm, which Pillow's wheels carry)
# to place the signs and join the letters as a reader sees them.
_DEVANAGARI_CONSONANTS = "कखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह"
_DEVANAGARI_SIGNS = "ािीुूेैोौंः"
_DEVANAGARI_WORDS = (
    "और का की के में है हैं यह वह से को पर भी नहीं एक कि जो लिए साथ तक था थे गया कर "
    "सरकार भारत शहर दिन वर्ष काम पत्र रिपोर्ट खाता मूल्य भुगतान ग्राहक कंपनी पता तारीख"
).split()
_ARABIC_LETTERS = "ابتثجحخدذرزسشصضطظعغفقكلمنهوي"
_ARABIC_WEIGHTS = [14, 4, 4, 1, 2, 2, 1, 3, 1, 5, 1, 3, 2, 1, 1, 1, 1, 4, 1, 3, 3, 3, 10, 7, 6, 5, 7, 8]
_ARABIC_WORDS = (
    "في من على إلى هذا هذه التي الذي عن مع كان أن لا ما هو هي كل بين بعد قبل عند "
    "مدينة يوم سنة عمل رسالة تقرير حساب سعر دفع شركة عنوان هاتف تاريخ مبلغ طلب خدمة"
).split()

_PERSIAN_LETTERS = "ابپتثجچحخدذرزژسشصضطظعغفقکگلمنوهی"
_PERSIAN_WORDS = (
    "و در به از که این را با است برای آن یک خود تا کرد شده بود می شود هم نیز "
    "شهر روز سال کار نامه گزارش حساب قیمت پرداخت شرکت نشانی تلفن تاریخ مبلغ سفارش"
).split()
# Hebrew points (niqqud), one of which follows most letters in pointed text (poetry, children's
# books, prayer books); placed by the shaping engine.
_NIQQUD = "\u05b0\u05b4\u05b5\u05b6\u05b7\u05b8\u05b9\u05bb\u05bc"
_BENGALI_CONSONANTS = "কখগঘচছজঝটঠডঢণতথদধনপফবভমযরলশষসহ"
_BENGALI_SIGNS = "ািীুূেৈোৌং"
_TAMIL_CONSONANTS = "கஙசஞடணதநபமயரலவழளறன"
_TAMIL_SIGNS = "ாிீுூெேைொோ்"
_THAI_CONSONANTS = "กขคงจฉชซญดตถทธนบปผพฟภมยรลวศษสหอฮ"
_THAI_SIGNS = "ะาิีึืุู่้็ั"
# Kana with a share of kanji (the common characters shared with Chinese).
_JAPANESE_LETTERS = (
    "のにはをたがでてとしれさいるかなもあうこっりまくよすおらつきんけせそちねへほみむめやゆわ"
    "アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン"
    "日一国人年大十二本中長出三同時行生会上事自社者地業方新場員立開手力問代明動京目通言理体田主"
)
# Frequent Hangul syllables.
_KOREAN_SYLLABLES = (
    "이의는을에가하고다서로한지기사자대도수리정시인적일어아나보있해요고것들그내없만면게우전"
    "부여국주상생결제문원회관장성경중계공동학방무구소비신연선식업발미모실물세개화마조"
)
_GERMAN_LETTERS = "enirstadhulgcombfwkzpvüäößjy"
_GERMAN_WORDS = (
    "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch "
    "Stadt Jahr Tag Haus Brief Bericht Rechnung Preis Zahlung Kirche Gemeinde König Zeitung"
).split()


@dataclass(frozen=True)
class ScriptSpec:
    letters: str
    weights: Sequence[float] | None
    words: Sequence[str]
    rtl: bool
    # Signs that follow a letter (Devanagari's vowel signs): pseudo-words are made of syllables.
    signs: str = ""
    # Needs a shaping engine: drawn with libraqm, which also orders right-to-left text itself.
    shaped: bool = False


SCRIPTS: dict[str, ScriptSpec] = {
    "hebrew": ScriptSpec(_HEBREW_LETTERS, _HEBREW_WEIGHTS, _HEBREW_WORDS, rtl=True),
    "latin": ScriptSpec(_LATIN_LETTERS, _LATIN_WEIGHTS, _LATIN_WORDS, rtl=False),
    "cyrillic": ScriptSpec(_CYRILLIC_LETTERS, None, (), rtl=False),
    "greek": ScriptSpec(_GREEK_LETTERS, None, (), rtl=False),
    "chinese": ScriptSpec(_CHINESE_LETTERS, None, (), rtl=False),
    "devanagari": ScriptSpec(_DEVANAGARI_CONSONANTS, None, _DEVANAGARI_WORDS, rtl=False,
                             signs=_DEVANAGARI_SIGNS, shaped=True),
    "arabic": ScriptSpec(_ARABIC_LETTERS, _ARABIC_WEIGHTS, _ARABIC_WORDS, rtl=True, shaped=True),
    "persian": ScriptSpec(_PERSIAN_LETTERS, None, _PERSIAN_WORDS, rtl=True, shaped=True),
    "hebrew_niqqud": ScriptSpec(_HEBREW_LETTERS, _HEBREW_WEIGHTS, (), rtl=True, signs=_NIQQUD, shaped=True),
    "bengali": ScriptSpec(_BENGALI_CONSONANTS, None, (), rtl=False, signs=_BENGALI_SIGNS, shaped=True),
    "tamil": ScriptSpec(_TAMIL_CONSONANTS, None, (), rtl=False, signs=_TAMIL_SIGNS, shaped=True),
    "thai": ScriptSpec(_THAI_CONSONANTS, None, (), rtl=False, signs=_THAI_SIGNS, shaped=True),
    "japanese": ScriptSpec(_JAPANESE_LETTERS, None, (), rtl=False),
    "korean": ScriptSpec(_KOREAN_SYLLABLES, None, (), rtl=False),
    # Latin words with the letters of German print: for blackletter (Fraktur) and old-style fonts.
    "german": ScriptSpec(_GERMAN_LETTERS, None, _GERMAN_WORDS, rtl=False),
}


def _pseudo_word(spec: ScriptSpec, rng: np.random.Generator) -> str:
    weights = None
    if spec.weights is not None:
        weights = np.asarray(spec.weights, dtype=np.float64)
        weights /= weights.sum()
    if spec.signs:  # syllables: a letter, often followed by one sign
        syllables = []
        for _ in range(int(rng.integers(1, 5))):
            letter = str(rng.choice(list(spec.letters)))
            syllables.append(letter + (str(rng.choice(list(spec.signs))) if rng.random() < 0.6 else ""))
        return "".join(syllables)
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
    style: PageStyle = PageStyle(), layout: str = "text", align: str | None = None, shaped: bool = False,
) -> np.ndarray:
    """One upright page (BGR uint8). A `None` font is Pillow's built-in one (Latin only).
    `layout` is one of `LAYOUTS`; `align` one of `ALIGNMENTS` (None: drawn at random); `shaped`:
    draw with the shaping engine (the script's `ScriptSpec.shaped`)."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    if align is not None and align not in ALIGNMENTS:
        raise ValueError(f"unknown alignment {align!r}; known: {', '.join(ALIGNMENTS)}")
    width = int(rng.integers(*style.width))
    height = int(width * rng.uniform(*style.aspect))
    if layout == "receipt":  # a narrow slip, two to four times as long as it is wide
        width = int(width * rng.uniform(0.35, 0.55))
        height = int(width * rng.uniform(2.0, 4.0))
    paper = tuple(int(v) for v in rng.integers(225, 256, size=3))
    ink = tuple(int(v) for v in rng.integers(0, 70, size=3))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    font_path = font_paths[int(rng.integers(len(font_paths)))]
    size = int(rng.integers(*style.font_px))
    # Drawn before the margins whether or not a title is set: with layout "text" and a fixed
    # `align` a seed gives the same page as before layouts existed (the Hebrew evaluation set of docs/fine-tuning.md).
    title_size = int(size * rng.uniform(1.4, 2.2))
    if layout in ("receipt", "columns"):  # narrow measures take smaller type
        size = max(10, int(size * 0.75))
    page = _Page(draw, next_word, _font(font_path, size, shaped), size, rtl, ink, rng)
    page.left = int(width * rng.uniform(*style.margin))
    page.top = int(height * rng.uniform(*style.margin) * (0.4 if layout == "receipt" else 1.0))
    page.width = width - 2 * page.left
    page.bottom = height - int(height * rng.uniform(*style.margin) * (0.4 if layout == "receipt" else 1.0))
    if layout == "receipt":
        page.receipt()
    else:
        if rng.random() < 0.8:
            title = _font(font_path, title_size, shaped)
            words = _fill_line(next_word, title, page.width * rng.uniform(0.3, 0.8), draw)
            page.y = _draw_line(draw, words, title, page.left, page.y_start(), page.width, rtl, ink,
                                "centre" if rng.random() < 0.4 else "ragged") + size
        page.gap = rng.uniform(1.25, 1.8)
        chosen = align or ALIGNMENTS[int(rng.choice(len(ALIGNMENTS), p=[0.5, 0.35, 0.15]))]
        if layout == "text":
            page.paragraphs(page.left, page.width, chosen)
        elif layout == "columns":
            gap = int(page.width * rng.uniform(0.04, 0.08))
            column = (page.width - gap) // 2
            top = page.y
            # Columns are read from the reading start: the right column first for right-to-left.
            for left in ((page.left + column + gap, page.left) if rtl else (page.left, page.left + column + gap)):
                page.y = top
                page.paragraphs(left, column, chosen)
        else:
            page.table()
            page.paragraphs(page.left, page.width, chosen)
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


class _Page:
    """Drawing state of one page: the writing area and the current line."""

    def __init__(self, draw, next_word, body, size: int, rtl: bool, ink, rng: np.random.Generator) -> None:
        self.draw, self.next_word, self.body, self.size, self.rtl, self.ink, self.rng = (
            draw, next_word, body, size, rtl, ink, rng)
        self.left = self.top = self.width = self.bottom = 0
        self.y: int | None = None
        self.gap = 1.35  # line spacing as a multiple of the type size; running text draws its own

    def y_start(self) -> int:
        return self.top if self.y is None else self.y

    def _room(self) -> bool:
        return self.y_start() + self.size * self.gap < self.bottom

    def paragraphs(self, left: int, width: int, align: str) -> None:
        rng = self.rng
        self.y = self.y_start()
        while self._room():
            for line_index in range(int(rng.integers(2, 9))):
                if not self._room():
                    break
                last = line_index > 0 and rng.random() < 0.25
                full = align != "centre" and not last
                target = width * (rng.uniform(0.92, 1.0) if full else rng.uniform(0.2, 0.8))
                words = _fill_line(self.next_word, self.body, target, self.draw)
                line_align = "justify" if align == "justify" and not last else ("centre" if align == "centre" else "ragged")
                _draw_line(self.draw, words, self.body, left, self.y, width, self.rtl, self.ink, line_align)
                self.y += int(self.size * self.gap)
                if last:
                    break
            self.y += int(self.size * rng.uniform(0.5, 1.5))

    def _number(self) -> str:
        value = int(self.rng.integers(1, 100_000))
        return f"{value // 100}.{value % 100:02d}"

    def _words(self, count: int) -> list[str]:
        return [self.next_word() for _ in range(count)]

    def _pair(self, first: list[str], second: list[str], left: int, width: int, y: int) -> None:
        """`first` at the reading start of the line, `second` against its far end; words of `first`
        are dropped until both fit with a gap (long words, as in Chinese, would overlap)."""
        gap = self.draw.textlength("  ", font=self.body)
        room = width - self.draw.textlength(" ".join(second), font=self.body) - gap
        while len(first) > 1 and self.draw.textlength(" ".join(first), font=self.body) > room:
            first = first[:-1]
        _draw_line(self.draw, first, self.body, left, y, width, self.rtl, self.ink, "ragged")
        _draw_line(self.draw, second, self.body, left, y, width, self.rtl, self.ink, "far")

    def receipt(self) -> None:
        """Centred header, item lines with amounts on the far edge, a rule, a total, a centred footer."""
        rng, step = self.rng, int(self.size * 1.35)
        self.y = self.top
        for _ in range(int(rng.integers(2, 5))):
            _draw_line(self.draw, self._words(int(rng.integers(1, 4))), self.body, self.left, self.y, self.width,
                       self.rtl, self.ink, "centre")
            self.y += step
        self.y += step // 2
        numbers = not self.rtl  # amounts in digits only where the script runs the same way
        footer = int(rng.integers(2, 5)) * step + 2 * step
        while self.y + footer < self.bottom:
            amount = [self._number()] if numbers else self._words(1)
            self._pair(self._words(int(rng.integers(1, 4))), amount, self.left, self.width, self.y)
            self.y += step
            if rng.random() < 0.08:
                self._rule(self.left, self.width)
        self._rule(self.left, self.width)
        self._pair(self._words(1), [self._number()] if numbers else self._words(1), self.left, self.width, self.y)
        self.y += step * 2
        while self.y + step < self.bottom:
            _draw_line(self.draw, self._words(int(rng.integers(1, 5))), self.body, self.left, self.y, self.width,
                       self.rtl, self.ink, "centre")
            self.y += step

    def _rule(self, left: int, width: int) -> None:
        top = self.y_start()
        y = top + self.size // 3
        self.draw.line([(left, y), (left + width, y)], fill=self.ink, width=max(1, self.size // 12))
        self.y = top + self.size // 2 + 2

    def table(self) -> None:
        """A ruled table: a header row, text cells at the reading start, amounts at the far end."""
        rng = self.rng
        columns = int(rng.integers(2, 6))
        shares = rng.uniform(0.6, 1.6, size=columns)
        edges = np.concatenate([[0], np.cumsum(shares / shares.sum())]) * self.width
        if self.rtl:
            edges = self.width - edges  # the first column on the right
        bounds = [(int(self.left + min(a, b)), int(abs(b - a))) for a, b in zip(edges[:-1], edges[1:])]
        numeric = [index > 0 and rng.random() < 0.6 for index in range(columns)]
        rows = int(rng.integers(4, 16))
        step, pad = int(self.size * 1.6), max(3, self.size // 3)
        self.y = self.y_start()
        top = self.y
        ruled_columns = rng.random() < 0.6
        for row in range(rows):
            if self.y + step >= self.bottom:
                break
            self.draw.line([(self.left, self.y), (self.left + self.width, self.y)], fill=self.ink, width=1)
            for index, (left, width) in enumerate(bounds):
                inner_left, inner_width = left + pad, max(1, width - 2 * pad)
                if numeric[index] and row > 0 and not self.rtl:
                    _draw_line(self.draw, [self._number()], self.body, inner_left, self.y + pad // 2, inner_width,
                               self.rtl, self.ink, "far")
                else:
                    words = _fill_line(self.next_word, self.body, inner_width * rng.uniform(0.3, 0.95), self.draw)
                    _draw_line(self.draw, words, self.body, inner_left, self.y + pad // 2, inner_width, self.rtl,
                               self.ink, "centre" if row == 0 else "ragged")
            self.y += step
        self.draw.line([(self.left, self.y), (self.left + self.width, self.y)], fill=self.ink, width=1)
        if ruled_columns:
            for edge in edges:
                x = int(self.left + edge)
                self.draw.line([(x, top), (x, self.y)], fill=self.ink, width=1)
        self.y += 2 * self.size


def _font(path: str | os.PathLike[str] | None, size: int, shaped: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if path is None:
        return ImageFont.load_default(size=size)
    if shaped:
        if not features.check("raqm"):
            raise ValueError("this script needs Pillow with libraqm (text shaping), which this Pillow lacks")
        return ImageFont.truetype(str(Path(path)), size=size, layout_engine=ImageFont.Layout.RAQM)
    # BASIC layout with the string reversed by us: the same visual order with or without libraqm.
    return ImageFont.truetype(str(Path(path)), size=size, layout_engine=ImageFont.Layout.BASIC)


def _is_shaped(font) -> bool:
    return getattr(font, "layout_engine", None) == ImageFont.Layout.RAQM


def _fill_line(next_word, font, target: float, draw: ImageDraw.ImageDraw) -> list[str]:
    words: list[str] = []
    while True:
        word = next_word()
        if words and draw.textlength(" ".join(words + [word]), font=font) > target:
            return words
        words.append(word)
        if len(words) > 200:
            return words


def _draw_line(draw, words: list[str], font, left: int, y: int, width: int, rtl: bool, ink, align: str = "ragged") -> int:
    """Draw one line in `left .. left + width`; returns the bottom of its ink. `align`: "ragged"
    (flush with the reading start: left, or right for right-to-left), "far" (flush with the other
    end), "centre" or "justify" (both ends, the space shared between the words)."""
    text = " ".join(words)
    shaped = _is_shaped(font)
    if rtl and not shaped:
        text = text[::-1]  # logical to visual order for a line of one right-to-left script
    if align == "justify" and len(words) > 1:
        # Pieces from left to right; libraqm orders the letters inside each word itself.
        pieces = words[::-1] if rtl and shaped else text.split(" ")
        lengths = [draw.textlength(piece, font=font) for piece in pieces]
        space = (width - sum(lengths)) / (len(pieces) - 1)
        x, bottom = float(left), y
        for piece, length in zip(pieces, lengths):
            draw.text((x, y), piece, font=font, fill=ink)
            bottom = max(bottom, draw.textbbox((x, y), piece, font=font)[3])
            x += length + space
        return int(bottom)
    length = draw.textlength(text, font=font)
    flush_right = rtl if align != "far" else not rtl
    if align == "centre":
        x = left + (width - length) / 2
    else:
        x = left + width - length if flush_right else left
    draw.text((x, y), text, font=font, fill=ink)
    bbox = draw.textbbox((x, y), text, font=font)
    return int(bbox[3])
