"""Find the visible marks generators stamp into a corner of their pictures.

Templates are drawn here, never cropped from anyone's images: Pillow's bundled font
(the same on every machine, no system font needed) for text marks, polygons for logos.

* ``gemini_sparkle`` — the four-pointed sparkle Gemini / Nano Banana put in the bottom-right
  corner (drawn as a concave four-point star). Sparkles are also a common drawing motif,
  so this template alone never gives more than weak evidence.
* ``dalle_bar`` — DALL·E 2's row of five coloured squares, bottom right (matched in colour).
* ``meta_imagined`` — Meta AI's "Imagined with AI" label, bottom left.
* ``cjk_ai_generated`` / ``cjk_ai_generated_spaced`` — the "AI生成" / "AI 生成" ("AI
  generated") labels Chinese and Japanese platforms stamp in a corner. Pillow's font has
  no CJK glyphs, so these two are PNGs in ``moderation/data/marks/`` drawn with Noto Sans
  CJK by ``scripts/draw_mark_templates.py`` (committed, deterministic).

Matching is OpenCV's normalised cross-correlation (``TM_CCOEFF_NORMED``) in the corner
regions, over a range of template sizes relative to the picture (scale-tolerant), on a
copy reduced to at most :data:`WORK_SIDE` pixels so the cost does not grow with the
upload. A light mark on a dark picture and a dark one on a light picture correlate with
opposite signs; both count.

Thresholds: set above the highest score any of the 649 hand-made images of the training
sources and the human dev set reach (sparkle 0.82, colour bar 0.65, text 0.80; see
``bench/visible_mark_bench.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: The long side of the working copy.
WORK_SIDE = 1024
#: Template widths tried, as fractions of the picture's width (geometric steps of 5 %).
WIDTH_FRACTIONS = tuple(float(x) for x in np.geomspace(0.025, 0.30, 52))
#: Height-to-width stretches tried: another font sets the same words wider or narrower.
STRETCHES = (0.85, 1.0, 1.15)
#: Template heights under this many pixels carry too little shape to match.
MIN_TEMPLATE_HEIGHT = 8
#: Text templates need more pixels: a blurred line of small text is just a bar.
MIN_TEXT_HEIGHT = 12
#: Pictures whose short side is smaller are not searched (no generator renders them).
MIN_SIDE = 256
#: Windows flatter than this (grey-level standard deviation) are not compared: normalised
#: correlation of a near-constant window with anything is noise, often ±1.
MIN_WINDOW_STD = 8.0


@dataclass(frozen=True)
class MarkSpec:
    """One generator mark: where it sits and how sure a match can make us."""

    key: str
    generator: str
    corners: tuple[str, ...]
    #: Corner region searched, as fractions of the picture (width, height).
    region: tuple[float, float]
    #: Template widths relative to the picture width (min, max).
    widths: tuple[float, float]
    weak_at: float
    strong_at: float | None  # None: weak at most
    colour: bool = False
    #: Text is matched blurred (and stretched), so a different font still lines up.
    text: bool = False
    #: Smallest template height tried, in pixels of the working copy.
    min_height: int = MIN_TEMPLATE_HEIGHT


MARKS: tuple[MarkSpec, ...] = (
    MarkSpec("gemini_sparkle", "Google Gemini", ("br",), (0.2, 0.2), (0.025, 0.09),
             weak_at=0.88, strong_at=None),
    # Five colours in a row are distinctive even a few pixels high.
    MarkSpec("dalle_bar", "DALL·E 2", ("br",), (0.3, 0.15), (0.06, 0.2),
             weak_at=0.80, strong_at=0.90, colour=True, min_height=5),
    MarkSpec("meta_imagined", "Meta AI", ("bl",), (0.5, 0.15), (0.12, 0.30),
             weak_at=0.82, strong_at=0.88, text=True, min_height=MIN_TEXT_HEIGHT),
    # An explicit "AI generated" label, small, bottom right as the platforms stamp it.
    # Weak at most until bench/visible_mark_bench.py has measured these two templates on
    # the hand-made sets (their false-positive table is not in yet).
    MarkSpec("cjk_ai_generated", "AI-generated label (AI生成)", ("br",), (0.25, 0.12),
             (0.04, 0.14), weak_at=0.88, strong_at=None, text=True,
             min_height=MIN_TEXT_HEIGHT),
    MarkSpec("cjk_ai_generated_spaced", "AI-generated label (AI生成)", ("br",),
             (0.25, 0.12), (0.045, 0.16), weak_at=0.88, strong_at=None, text=True,
             min_height=MIN_TEXT_HEIGHT),
)
#: Drawn templates shipped as PNGs (see ``scripts/draw_mark_templates.py``).
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "data" / "marks"


def _sparkle(size: int = 96) -> Image.Image:
    """A concave four-pointed star (|x|^p + |y|^p = 1 with p = 2/3 drawn as a polygon)."""
    t = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    x, y = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 3, np.sign(np.sin(t)) * np.abs(
        np.sin(t)) ** 3
    half = size / 2
    points = [(half + 0.96 * half * a, half + 0.96 * half * b) for a, b in zip(x, y,
                                                                                strict=True)]
    image = Image.new("L", (size, size), 0)
    ImageDraw.Draw(image).polygon(points, fill=255)
    return image


#: DALL·E 2's five squares, left to right.
DALLE_COLOURS = ((255, 255, 102), (66, 255, 255), (81, 218, 76), (255, 110, 60),
                 (60, 70, 255))


def _dalle_bar(square: int = 16) -> Image.Image:
    image = Image.new("RGB", (square * 5, square), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    for i, colour in enumerate(DALLE_COLOURS):
        draw.rectangle((i * square, 0, (i + 1) * square - 1, square - 1), fill=colour)
    return image


def _text(text: str, height: int = 48) -> Image.Image:
    font = ImageFont.load_default(size=height)
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    box = (left, top, right, bottom)
    image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(image).text((4 - box[0], 4 - box[1]), text, font=font, fill=255)
    return image


@functools.cache
def template(key: str) -> Image.Image:
    """The drawn template of a mark (L, or RGB for colour marks)."""
    if key == "gemini_sparkle":
        return _sparkle()
    if key == "dalle_bar":
        return _dalle_bar()
    if key == "meta_imagined":
        return _text("Imagined with AI")
    if key in ("cjk_ai_generated", "cjk_ai_generated_spaced"):
        with Image.open(TEMPLATE_DIR / f"{key}.png") as drawn:
            return drawn.convert("L")
    raise KeyError(key)


@dataclass(frozen=True)
class MarkMatch:
    spec: MarkSpec
    score: float
    corner: str
    box: tuple[int, int, int, int]  # in the picture's own pixels

    @property
    def strength(self) -> str | None:
        """"strong", "weak" or None (no match)."""
        return strength_of(self.spec, self.score)


def _region(array: np.ndarray, corner: str, fw: float, fh: float) -> tuple[np.ndarray, int, int]:
    h, w = array.shape[:2]
    rw, rh = max(1, round(w * fw)), max(1, round(h * fh))
    x0 = w - rw if corner.endswith("r") else 0
    y0 = h - rh if corner.startswith("b") else 0
    return array[y0:y0 + rh, x0:x0 + rw], x0, y0


def _blur(plane: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(plane, (0, 0), sigma)


def _window_std(grey: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Standard deviation of every ``size`` window, laid out like matchTemplate's result."""
    import cv2

    tw, th = size
    mean = cv2.boxFilter(grey, -1, (tw, th), normalize=True, anchor=(0, 0),
                         borderType=cv2.BORDER_CONSTANT)
    square = cv2.boxFilter(grey * grey, -1, (tw, th), normalize=True, anchor=(0, 0),
                           borderType=cv2.BORDER_CONSTANT)
    rows, cols = grey.shape[0] - th + 1, grey.shape[1] - tw + 1
    var = square[:rows, :cols] - mean[:rows, :cols] ** 2
    return np.sqrt(np.maximum(var, 0.0))


def strength_of(spec: MarkSpec, score: float) -> str | None:
    """"strong", "weak" or None for a score of ``spec``'s template."""
    if spec.strong_at is not None and score >= spec.strong_at:
        return "strong"
    if score >= spec.weak_at:
        return "weak"
    return None


def find_marks(image: Image.Image) -> list[MarkMatch]:
    """The best match of every mark in ``image`` (RGB), best first."""
    # cv2 comes with the watermark extra: imported where it is used.
    import cv2

    if min(image.size) < MIN_SIDE:
        return []
    scale = min(1.0, WORK_SIDE / max(image.size))
    work = image if scale == 1.0 else image.resize(
        (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
        Image.Resampling.BILINEAR)
    rgb = np.asarray(work.convert("RGB"), dtype=np.float32)
    grey = np.asarray(work.convert("L"), dtype=np.float32)
    results: list[MarkMatch] = []
    for spec in MARKS:
        base = template(spec.key)
        best: MarkMatch | None = None
        for corner in spec.corners:
            plane = rgb if spec.colour else grey
            region, x0, y0 = _region(plane, corner, *spec.region)
            grey_region = _region(grey, corner, *spec.region)[0]
            for fraction in WIDTH_FRACTIONS:
                if not spec.widths[0] <= fraction <= spec.widths[1]:
                    continue
                tw = round(work.width * fraction)
                for stretch in STRETCHES if spec.text else (1.0,):
                    th = round(tw * stretch * base.height / base.width)
                    if th < spec.min_height or tw > region.shape[1] or th > region.shape[0]:
                        continue
                    tpl = np.asarray(base.resize((tw, th), Image.Resampling.LANCZOS),
                                     dtype=np.float32)
                    searched = region
                    if spec.text:
                        # Band-pass: the blur forgives another font's strokes, and taking
                        # away the background's slow gradients leaves the letters alone.
                        fine, coarse = max(0.8, th / 20), max(2.0, th / 2)
                        tpl = _blur(tpl, fine) - _blur(tpl, coarse)
                        searched = _blur(region, fine) - _blur(region, coarse)
                    scores = cv2.matchTemplate(searched, tpl, cv2.TM_CCOEFF_NORMED)
                    scores = np.nan_to_num(np.abs(scores), nan=0.0, posinf=0.0, neginf=0.0)
                    scores[_window_std(grey_region, (tw, th)) < MIN_WINDOW_STD] = 0.0
                    _lo, high, _lo_at, at = cv2.minMaxLoc(scores)
                    if best is None or high > best.score:
                        box = (round((x0 + at[0]) / scale), round((y0 + at[1]) / scale),
                               round(tw / scale), round(th / scale))
                        best = MarkMatch(spec, float(min(high, 1.0)), corner, box)
        if best is not None:
            results.append(best)
    return sorted(results, key=lambda m: m.score, reverse=True)
