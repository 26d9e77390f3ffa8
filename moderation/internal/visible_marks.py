"""Find the visible marks generators stamp into a corner of their pictures.

Templates are drawn, never cropped from anyone's images: Pillow's bundled font (the same
on every machine, no system font needed) for Latin text, polygons for logos, and PNGs in
``moderation/data/marks/`` drawn by ``scripts/draw_mark_templates.py`` (committed,
deterministic) from openly licensed fonts where Pillow's font lacks the glyphs or the
weight.

* ``gemini_sparkle`` — the four-pointed sparkle Gemini / Nano Banana put in the bottom-right
  corner (drawn as a concave four-point star). Sparkles are also a common drawing motif,
  so this template alone never gives more than weak evidence.
* ``dalle_bar`` — DALL·E 2's row of five coloured squares, bottom right (matched in colour).
* ``meta_imagined`` — Meta AI's "Imagined with AI" label, bottom left.
* ``cjk_ai_generated`` / ``cjk_ai_generated_spaced`` — the "AI生成" / "AI 生成" ("AI
  generated") labels Chinese and Japanese platforms stamp in a corner (Noto Sans CJK).
* ``grok_wordmark`` — the "Grok" wordmark xAI's Grok stamps bottom right (Liberation
  Sans Bold: the wordmark is a heavy sans).

**Sizes.** A generator stamps its mark either at a fixed pixel size (Gemini: 48 px with a
32 px margin, 96 px with 64 px on pictures over 1024 px both ways; DALL·E 2: 16 px squares)
or at a fixed fraction of the picture. Every mark therefore has two size ranges, one in
pixels and one as a fraction of the short side, and the heights searched are the steps of
a geometric ladder (:data:`STEP`) inside either range, so the same mark is found on a 300 px
thumbnail and on a 6000 px wallpaper, and a 0.75× re-scaling of either stays in range.

**Where it is searched.** Only the corner regions a mark can sit in: the mark's own size
plus :attr:`MarkSpec.margin` template heights in from each edge. Each corner is cropped
from the picture once and converted to grey once; every template height is matched on a
copy of that crop reduced by a power of two (:func:`level_of`), chosen so that the template
is between ``min_height`` and twice that many pixels high there. The cost therefore
depends on the number of heights tried, not on the size of the upload: a 12 MP photo
costs about as much as a 1 MP render.

**Matching** is OpenCV's normalised cross-correlation (``TM_CCOEFF_NORMED``). Text is
matched band-passed (a light blur forgives another font's strokes, subtracting a heavy one
takes away the background's slow gradients) and in three widths (:data:`STRETCHES`:
another font sets the same words wider or narrower). A light mark on a dark picture and
a dark one on a light picture correlate with opposite signs; both count. Windows flatter
than :data:`MIN_WINDOW_STD` are not compared. A text match's score is the geometric mean
of that correlation and the *stroke* correlation (horizontal derivatives) at the same
place: band-passed small text is mostly a bright bar, and the letters' vertical strokes
are what a frame's edge lacks. The search is two-pass: every height of a
coarse ladder (:data:`COARSE_STEP`) first, then the fine ladder and every stretch around
the best coarse match of each corner whose score reaches :data:`REFINE_AT`; the score
reported is the best of both passes.

Thresholds: above the highest score any hand-made image of the training sources and the
human dev set reaches (``bench/visible_mark_bench.py`` prints both tables; the figures are
in ``docs/provenance-marks.md``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Ratio between neighbouring template heights of the fine ladder.
STEP = 1.05
#: Ratio between neighbouring template heights of the first, coarse pass.
COARSE_STEP = STEP ** 2
#: Height-to-width stretches tried for text: another font sets the same words wider or
#: narrower. The coarse pass tries the middle one only.
STRETCHES = (0.85, 1.0, 1.15)
#: A corner's best coarse score from which the fine pass runs around it.
REFINE_AT = 0.45
#: Pictures whose short side is smaller are not searched (no generator renders them).
MIN_SIDE = 256
#: Windows flatter than this (grey-level standard deviation) are not compared: normalised
#: correlation of a near-constant window with anything is noise, often ±1.
MIN_WINDOW_STD = 8.0


@dataclass(frozen=True)
class MarkSpec:
    """One generator mark: where it sits, how large it is, and how sure a match can make us.

    Heights are the drawn template's height (ink plus its padding) in the picture's pixels.
    """

    key: str
    generator: str
    corners: tuple[str, ...]
    #: Template heights as fractions of the picture's short side (min, max).
    relative: tuple[float, float]
    #: Template heights in pixels (min, max), for marks stamped at a fixed size.
    pixels: tuple[float, float]
    #: How far in from both edges the mark may sit, in template heights.
    margin: float
    weak_at: float
    strong_at: float | None  # None: weak at most
    colour: bool = False
    #: Text is matched band-passed and stretched, so a different font still lines up.
    text: bool = False
    #: The template is matched between this many pixels high and twice that (on a copy of
    #: the corner reduced by a power of two); smaller heights are not searched.
    min_height: int = 12

    def height_ranges(self, short: int) -> list[tuple[float, float]]:
        return [(self.relative[0] * short, self.relative[1] * short), self.pixels]


MARKS: tuple[MarkSpec, ...] = (
    # Gemini: 48 px (32 px margin) or 96 px (64 px margin); the relative range covers
    # tools that scale the same sparkle with the picture.
    MarkSpec("gemini_sparkle", "Google Gemini", ("br",), relative=(0.025, 0.10),
             pixels=(24, 200), margin=1.5, weak_at=0.88, strong_at=None, min_height=12),
    # Five colours in a row are distinctive even a few pixels high: DALL·E 2's squares
    # are 16 px on its 1024 px renders, flush with the corner.
    MarkSpec("dalle_bar", "DALL·E 2", ("br",), relative=(0.007, 0.03), pixels=(5, 32),
             margin=1.0, weak_at=0.80, strong_at=0.90, colour=True, min_height=6),
    MarkSpec("meta_imagined", "Meta AI", ("bl",), relative=(0.012, 0.045), pixels=(10, 48),
             margin=3.0, weak_at=0.65, strong_at=0.80, text=True, min_height=10),
    # An explicit "AI generated" label, small, bottom right as the platforms stamp it.
    MarkSpec("cjk_ai_generated", "AI-generated label (AI生成)", ("br",),
             relative=(0.012, 0.045), pixels=(10, 48), margin=3.0, weak_at=0.72,
             strong_at=None, text=True, min_height=10),
    MarkSpec("cjk_ai_generated_spaced", "AI-generated label (AI生成)", ("br",),
             relative=(0.012, 0.045), pixels=(10, 48), margin=3.0, weak_at=0.72,
             strong_at=None, text=True, min_height=10),
    # Four short letters: less shape than a label, so never more than weak.
    MarkSpec("grok_wordmark", "Grok (xAI)", ("br",), relative=(0.012, 0.045),
             pixels=(10, 48), margin=3.0, weak_at=0.68, strong_at=None, text=True,
             min_height=10),
)
#: Drawn templates shipped as PNGs (see ``scripts/draw_mark_templates.py``).
TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "data" / "marks"
#: Marks whose template is a shipped PNG.
SHIPPED = ("cjk_ai_generated", "cjk_ai_generated_spaced", "grok_wordmark")


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
    image = Image.new("L", (right - left + 8, bottom - top + 8), 0)
    ImageDraw.Draw(image).text((4 - left, 4 - top), text, font=font, fill=255)
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
    if key in SHIPPED:
        with Image.open(TEMPLATE_DIR / f"{key}.png") as drawn:
            return drawn.convert("L")
    raise KeyError(key)


@dataclass(frozen=True)
class MarkMatch:
    spec: MarkSpec
    score: float
    corner: str
    box: tuple[int, int, int, int]  # x, y, width, height in the picture's own pixels

    @property
    def strength(self) -> str | None:
        """"strong", "weak" or None (no match)."""
        return strength_of(self.spec, self.score)


def strength_of(spec: MarkSpec, score: float) -> str | None:
    """"strong", "weak" or None for a score of ``spec``'s template."""
    if spec.strong_at is not None and score >= spec.strong_at:
        return "strong"
    if score >= spec.weak_at:
        return "weak"
    return None


# ---------------------------------------------------------------------- sizes


def ladder(ranges: list[tuple[float, float]], step: float = STEP) -> list[float]:
    """The heights ``step**k`` that fall in any of ``ranges`` (the same ladder for every
    picture, so results do not depend on where a range happens to start)."""
    out = []
    for lo, hi in ranges:
        if hi < lo:
            continue
        k = math.ceil(math.log(max(lo, 1.0)) / math.log(step) - 1e-9)
        while step ** k <= hi + 1e-9:
            out.append(step ** k)
            k += 1
    return sorted({round(h, 6) for h in out})


def level_of(height: float, min_height: int) -> int:
    """The power of two a picture is reduced by so that ``height`` lands in
    ``[min_height, 2·min_height)``; -1 when it is too small to search."""
    if height < min_height:
        return -1
    return math.floor(math.log2(height / min_height) + 1e-9)


def template_width(spec: MarkSpec, height: float, stretch: float = 1.0) -> float:
    base = template(spec.key)
    return height * base.width / base.height / stretch


def heights_for(spec: MarkSpec, size: tuple[int, int], step: float = STEP) -> list[float]:
    """Template heights (picture pixels) searched for ``spec`` in a picture of ``size``."""
    width, height = size
    widest = max(STRETCHES) if spec.text else 1.0
    return [h for h in ladder(spec.height_ranges(min(size)), step)
            if h >= spec.min_height and h <= height
            and template_width(spec, h, 1 / widest) <= width]


def region_size(spec: MarkSpec, height: float, size: tuple[int, int]) -> tuple[int, int]:
    """The corner region (width, height in picture pixels) a mark of ``height`` may sit in."""
    widest = max(STRETCHES) if spec.text else 1.0
    w = template_width(spec, height) * widest + spec.margin * height
    h = height * (1 + spec.margin)
    return min(size[0], math.ceil(w) + 2), min(size[1], math.ceil(h) + 2)


# ---------------------------------------------------------------------- search


def _box(corner: str, size: tuple[int, int], region: tuple[int, int]
         ) -> tuple[int, int, int, int]:
    """``region`` anchored at ``corner`` of a picture of ``size``: (x0, y0, x1, y1)."""
    (w, h), (rw, rh) = size, region
    x0 = w - rw if corner.endswith("r") else 0
    y0 = h - rh if corner.startswith("b") else 0
    return x0, y0, x0 + rw, y0 + rh


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


def _band_sigmas(min_height: int) -> tuple[float, float]:
    """Blur sigmas of the text band-pass at a level (heights ``min_height``..2×)."""
    mid = min_height * math.sqrt(2)
    return max(0.8, mid / 20), max(2.0, mid / 2)


@functools.lru_cache(maxsize=4096)
def _template_pixels(key: str, width: int, height: int, band: tuple[float, float] | None
                     ) -> np.ndarray:
    import cv2

    pixels = np.asarray(template(key).resize((width, height), Image.Resampling.LANCZOS),
                        dtype=np.float32)
    if band is not None:
        pixels = cv2.GaussianBlur(pixels, (0, 0), band[0]) - cv2.GaussianBlur(
            pixels, (0, 0), band[1])
    return pixels


@dataclass
class _Level:
    """One corner crop reduced by ``2**level``: grey, and lazily band-passed / colour."""

    box: tuple[int, int, int, int]  # in the picture
    grey: np.ndarray
    fx: float
    fy: float
    rgb_source: np.ndarray
    band: dict[tuple[float, float], np.ndarray] = field(default_factory=dict)
    colour: np.ndarray | None = None

    def band_passed(self, sigmas: tuple[float, float]) -> np.ndarray:
        import cv2

        if sigmas not in self.band:
            self.band[sigmas] = cv2.GaussianBlur(self.grey, (0, 0), sigmas[0]) - \
                cv2.GaussianBlur(self.grey, (0, 0), sigmas[1])
        return self.band[sigmas]

    def rgb(self) -> np.ndarray:
        import cv2

        if self.colour is None:
            shape = self.grey.shape
            src = self.rgb_source
            self.colour = (src if src.shape[:2] == shape else cv2.resize(
                src, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)).astype(np.float32)
        return self.colour


class _Corners:
    """Corner crops of one picture, converted once and reduced per level on demand."""

    def __init__(self, image: Image.Image, plan: dict[tuple[str, int], tuple[int, int]]):
        import cv2

        self.size = image.size
        self.plan = plan  # (corner, level) -> region size in picture pixels
        self.crops: dict[str, tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]] = {}
        for corner in sorted({c for c, _level in plan}):
            region = (max(r[0] for (c, _l), r in plan.items() if c == corner),
                      max(r[1] for (c, _l), r in plan.items() if c == corner))
            box = _box(corner, self.size, region)
            crop = image.crop(box)
            rgb = np.asarray(crop if crop.mode == "RGB" else crop.convert("RGB"))
            # Kept in 8 bits until reduced: OpenCV's area reduction is fastest there.
            self.crops[corner] = (box, rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))
        self.levels: dict[tuple[str, int], _Level] = {}

    def level(self, corner: str, level: int) -> _Level:
        import cv2

        key = (corner, level)
        if key not in self.levels:
            outer, rgb, grey = self.crops[corner]
            factor = 2 ** level
            # Whole cells of factor × factor pixels (OpenCV's fast path), trimmed on the
            # side away from the corner.
            width, height = self.plan[key]
            width, height = max(factor, width // factor * factor), max(
                factor, height // factor * factor)
            box = _box(corner, self.size, (width, height))
            x0, y0 = box[0] - outer[0], box[1] - outer[1]
            sub_rgb = rgb[y0:y0 + height, x0:x0 + width]
            sub = grey[y0:y0 + height, x0:x0 + width]
            reduced = sub if level == 0 else cv2.resize(
                sub, (width // factor, height // factor), interpolation=cv2.INTER_AREA)
            self.levels[key] = _Level(box, reduced.astype(np.float32), 1 / factor,
                                      1 / factor, sub_rgb)
        return self.levels[key]


@dataclass(frozen=True)
class _Try:
    """One template size tried: score and where (level pixels)."""

    score: float
    height: float
    stretch: float
    level: int
    at: tuple[int, int]


def _match(corners: _Corners, spec: MarkSpec, corner: str, height: float, stretch: float,
           window: tuple[int, int, int, int] | None = None) -> _Try | None:
    """Best score of ``spec`` at ``height`` (picture pixels) and ``stretch`` in ``corner``,
    within ``window`` (x0, y0, x1, y1 in level pixels) when given."""
    import cv2

    level = level_of(height, spec.min_height)
    lv = corners.level(corner, level)
    scale = 0.5 ** level
    th = round(height * scale)
    tw = round(template_width(spec, height, stretch) * scale)
    rw, rh = region_size(spec, height, corners.size)
    rw, rh = min(lv.grey.shape[1], math.ceil(rw * lv.fx)), min(lv.grey.shape[0],
                                                               math.ceil(rh * lv.fy))
    x0 = lv.grey.shape[1] - rw if corner.endswith("r") else 0
    y0 = lv.grey.shape[0] - rh if corner.startswith("b") else 0
    x1, y1 = x0 + rw, y0 + rh
    if window is not None:
        x0, y0 = max(x0, window[0]), max(y0, window[1])
        x1, y1 = min(x1, window[2]), min(y1, window[3])
    if th < 2 or tw < 2 or x1 - x0 < tw or y1 - y0 < th:
        return None
    grey = lv.grey[y0:y1, x0:x1]
    if spec.colour:
        searched = lv.rgb()[y0:y1, x0:x1]
        tpl = _template_pixels(spec.key, tw, th, None)
    elif spec.text:
        sigmas = _band_sigmas(spec.min_height)
        searched = lv.band_passed(sigmas)[y0:y1, x0:x1]
        tpl = _template_pixels(spec.key, tw, th, sigmas)
    else:
        searched, tpl = grey, _template_pixels(spec.key, tw, th, None)
    scores = cv2.matchTemplate(searched, tpl, cv2.TM_CCOEFF_NORMED)
    scores = np.abs(scores)
    scores[~np.isfinite(scores)] = 0.0
    scores[_window_std(grey, (tw, th)) < MIN_WINDOW_STD] = 0.0
    _lo, high, _lo_at, at = cv2.minMaxLoc(scores)
    return _Try(float(min(high, 1.0)), height, stretch, level, (x0 + at[0], y0 + at[1]))


def _stroke_score(corners: _Corners, spec: MarkSpec, corner: str, tried: _Try) -> float:
    """Correlation of the horizontal derivatives of the best window and the template.

    A band-passed line of small text is mostly a bright bar, so a plain bar (a frame's
    edge, a horizon) correlates with it; the letters' vertical strokes are what a bar
    lacks, and they show in the horizontal derivative only."""
    import cv2

    lv = corners.level(corner, tried.level)
    sigmas = _band_sigmas(spec.min_height)
    th = round(tried.height * lv.fy)
    tw = round(template_width(spec, tried.height, tried.stretch) * lv.fx)
    x, y = tried.at
    window = lv.band_passed(sigmas)[y:y + th, x:x + tw]
    tpl = _template_pixels(spec.key, tw, th, sigmas)
    if window.shape != tpl.shape:
        return 0.0
    score = cv2.matchTemplate(cv2.Sobel(window, cv2.CV_32F, 1, 0, ksize=3),
                              cv2.Sobel(tpl, cv2.CV_32F, 1, 0, ksize=3),
                              cv2.TM_CCOEFF_NORMED)[0, 0]
    return float(abs(score)) if np.isfinite(score) else 0.0


def _plan(size: tuple[int, int]) -> tuple[dict[tuple[str, int], tuple[int, int]],
                                          dict[str, list[float]]]:
    """Per (corner, level) the region to crop, and per mark the heights it is tried at."""
    plan: dict[tuple[str, int], tuple[int, int]] = {}
    heights: dict[str, list[float]] = {}
    for spec in MARKS:
        heights[spec.key] = heights_for(spec, size)
        for h in heights[spec.key]:
            region = region_size(spec, h, size)
            for corner in spec.corners:
                key = (corner, level_of(h, spec.min_height))
                old = plan.get(key, (0, 0))
                plan[key] = (max(old[0], region[0]), max(old[1], region[1]))
    return plan, heights


def _refine_window(best: _Try, spec: MarkSpec, corners: _Corners, corner: str, height: float
                   ) -> tuple[int, int, int, int]:
    """A window around ``best`` in the pixels of the level ``height`` is matched at."""
    found = corners.level(corner, best.level)
    x = found.box[0] + best.at[0] / found.fx  # picture pixels
    y = found.box[1] + best.at[1] / found.fy
    lv = corners.level(corner, level_of(height, spec.min_height))
    x, y = (x - lv.box[0]) * lv.fx, (y - lv.box[1]) * lv.fy
    th = height * lv.fy
    tw = template_width(spec, height, min(STRETCHES) if spec.text else 1.0) * lv.fx
    pad = max(3.0, 0.4 * th)
    return (math.floor(x - pad), math.floor(y - pad), math.ceil(x + tw + pad),
            math.ceil(y + th + pad))


def _searches(spec: MarkSpec, heights: list[float]) -> Iterator[tuple[float, float]]:
    """The coarse pass: every other height of the fine ladder, middle stretch."""
    for h in heights[::2] if len(heights) > 2 else heights:
        yield h, 1.0


def find_marks(image: Image.Image, *, refine: bool = True) -> list[MarkMatch]:
    """The best match of every mark in ``image`` (RGB), best first."""
    if min(image.size) < MIN_SIDE:
        return []
    plan, heights = _plan(image.size)
    corners = _Corners(image, plan)
    results: list[MarkMatch] = []
    for spec in MARKS:
        best: tuple[_Try, str] | None = None
        for corner in spec.corners:
            corner_best: _Try | None = None
            for h, stretch in _searches(spec, heights[spec.key]):
                tried = _match(corners, spec, corner, h, stretch)
                if tried is not None and (corner_best is None or tried.score > corner_best.score):
                    corner_best = tried
            if corner_best is None:
                continue
            if refine and corner_best.score >= REFINE_AT:
                near = [h for h in heights[spec.key]
                        if abs(math.log(h / corner_best.height)) <= math.log(COARSE_STEP) + 1e-6]
                for h in near:
                    window = _refine_window(corner_best, spec, corners, corner, h)
                    for stretch in STRETCHES if spec.text else (1.0,):
                        tried = _match(corners, spec, corner, h, stretch, window)
                        if tried is not None and tried.score > corner_best.score:
                            corner_best = tried
            if spec.text:
                # Letters, not a bar: the band-pass score weighed by the strokes' score.
                stroke = _stroke_score(corners, spec, corner, corner_best)
                corner_best = replace(corner_best,
                                      score=math.sqrt(corner_best.score * stroke))
            if best is None or corner_best.score > best[0].score:
                best = (corner_best, corner)
        if best is None:
            continue
        tried, corner = best
        lv = corners.level(corner, tried.level)
        box = (round(lv.box[0] + tried.at[0] / lv.fx), round(lv.box[1] + tried.at[1] / lv.fy),
               round(template_width(spec, tried.height, tried.stretch)),
               round(tried.height))
        results.append(MarkMatch(spec, tried.score, corner, box))
    return sorted(results, key=lambda m: m.score, reverse=True)


def describe_search(size: tuple[int, int]) -> dict[str, Any]:
    """What :func:`find_marks` searches in a picture of ``size`` (for the docs and tests)."""
    plan, heights = _plan(size)
    return {"regions": {f"{c}/{lvl}": r for (c, lvl), r in sorted(plan.items())},
            "heights": {k: [round(h, 1) for h in v] for k, v in heights.items()}}
