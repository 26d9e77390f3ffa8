"""Visible-mark detector: drawn templates found in corners, scale-tolerant, weak/strong.

The marks stamped here are drawn differently from the detector's templates (another
curve, another font, translucent), so a pass is not the template finding itself.
"""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from moderation.constants import EvidenceLabel, Strength
from moderation.detectors.visible_mark import VISIBLE_MARK, VisibleMarkDetector
from moderation.internal import visible_marks as vm
from moderation.internal.imaging import load_image
from moderation.scanning import scan_bytes
from tests.mark_stamps import stamp_text

pytest.importorskip("cv2", reason="the watermark extra is not installed")

DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#: Another weight than the template's (Noto Sans CJK Regular): Debian's fonts-noto-cjk.
NOTO_CJK_BOLD = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def painting(size: tuple[int, int] = (768, 768), seed: int = 5) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((12, 12, 3)) * 200 + 20).astype(np.uint8))
    return coarse.resize(size, Image.Resampling.BICUBIC)


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def jpeg(image: Image.Image, quality: int = 85) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def detect(data: bytes):
    return VisibleMarkDetector("visible_mark").detect(load_image(data))


def stamp_dalle(image: Image.Image, square: int) -> Image.Image:
    out = image.copy()
    draw = ImageDraw.Draw(out)
    x0, y0 = out.width - 5 * square, out.height - square
    for i, colour in enumerate(vm.DALLE_COLOURS):
        shifted = tuple(max(0, c - 8) for c in colour)
        draw.rectangle((x0 + i * square, y0, x0 + (i + 1) * square - 1, y0 + square - 1),
                       fill=shifted)
    return out


def stamp_sparkle(image: Image.Image, side: int) -> Image.Image:
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    x = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 2.6
    y = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 2.6
    mask = Image.new("L", (side, side), 0)
    half = side / 2
    ImageDraw.Draw(mask).polygon([(half + half * a, half + half * b)
                                  for a, b in zip(x, y, strict=True)], fill=220)
    out = image.copy()
    out.paste(Image.new("RGB", mask.size, (245, 245, 245)),
              (image.width - side - 14, image.height - side - 14), mask)
    return out


def stamp_meta(image: Image.Image, height: int) -> Image.Image:
    """The label in DejaVu Sans, translucent white over a soft shadow."""
    font = ImageFont.truetype(DEJAVU, height)
    where = (16, image.height - 16 - height)
    shadow = Image.new("L", image.size, 0)
    ImageDraw.Draw(shadow).text((where[0] + 1, where[1] + 1), "Imagined with AI", font=font,
                                fill=160)
    out = image.copy()
    out.paste(Image.new("RGB", image.size, (0, 0, 0)), (0, 0),
              shadow.filter(ImageFilter.GaussianBlur(1)))
    ImageDraw.Draw(out, "RGBA").text(where, "Imagined with AI", font=font,
                                     fill=(255, 255, 255, 240))
    return out


@pytest.mark.parametrize("size,square", [((1024, 1024), 16), ((768, 768), 12),
                                         ((1024, 768), 14)])
def test_dalle_bar_is_strong_at_any_scale_and_after_jpeg(size, square):
    marked = stamp_dalle(painting(size), square)
    for data in (png(marked), jpeg(marked)):
        result = detect(data)
        assert result.label == EvidenceLabel.AI and result.strength == Strength.STRONG
        assert result.generator == "DALL·E 2" and result.reasons == (VISIBLE_MARK.code,)
        assert result.details["mark"] == "dalle_bar" and result.details["corner"] == "br"


def test_sparkle_is_weak_at_most():
    result = detect(png(stamp_sparkle(painting(), 40)))
    assert result.label == EvidenceLabel.AI and result.strength == Strength.WEAK
    assert result.generator == "Google Gemini"


@pytest.mark.skipif(not __import__("os").path.exists(DEJAVU), reason="DejaVu Sans missing")
def test_meta_label_in_another_font_is_found():
    result = detect(png(stamp_meta(painting((1024, 1024), seed=5), 24)))
    assert result.label == EvidenceLabel.AI
    assert result.details["mark"] == "meta_imagined"


def test_unmarked_and_small_pictures_are_none():
    result = detect(png(painting()))
    assert result.label == EvidenceLabel.NONE
    assert set(result.details["scores"]) == {m.key for m in vm.MARKS}
    assert detect(png(painting((200, 200)))).details["scores"] == {}


def test_flat_corners_do_not_match():
    flat = Image.new("RGB", (800, 600), (12, 12, 12))
    assert all(m.score == 0.0 for m in vm.find_marks(flat))


def test_templates_are_drawn_or_shipped_drawings():
    assert vm.template("dalle_bar").size == (80, 16)
    assert vm.template("gemini_sparkle").mode == "L"
    assert vm.template("meta_imagined").getbbox() is not None
    with pytest.raises(KeyError):
        vm.template("unknown")


def test_a_visible_mark_alone_is_never_proof(settings):
    settings.MODERATION = {"DETECTORS": {
        "visible_mark": {"BACKEND": "moderation.detectors.visible_mark.VisibleMarkDetector"},
    }}
    result = scan_bytes(png(stamp_dalle(painting(), 14)), use_classifier=False)
    assert result.decision is not None and result.decision.label == "ai"
    assert "provenance_proof" not in result.decision.reasons
    weak = scan_bytes(png(stamp_sparkle(painting(), 40)), use_classifier=False)
    assert weak.decision is not None and weak.decision.label == "uncertain"
    assert weak.decision.needs_review


@pytest.mark.skipif(not __import__("os").path.exists(NOTO_CJK_BOLD),
                    reason="fonts-noto-cjk missing")
def test_cjk_ai_label_in_another_weight_is_found():
    font = ImageFont.truetype(NOTO_CJK_BOLD, 18, index=1)  # the Korean face's glyph forms
    result = detect(png(stamp_text(painting((1024, 1024)), "AI生成", font)))
    assert result.label == EvidenceLabel.AI
    assert result.details["mark"].startswith("cjk_ai_generated")
    assert result.generator == "AI-generated label (AI生成)"
    assert result.strength == Strength.WEAK  # a label anyone can type: weak at most


def test_shipped_templates_are_the_committed_drawings():
    for key in vm.SHIPPED:
        drawn = vm.template(key)
        assert drawn.mode == "L" and drawn.getbbox() is not None
        # The text's ink plus 4 pixels each side, about 48 pixels high, wider than high.
        assert 40 <= drawn.height <= 64 and drawn.width > 2 * drawn.height


@pytest.mark.skipif(not __import__("os").path.exists(DEJAVU_BOLD), reason="DejaVu missing")
def test_grok_wordmark_in_another_font_is_weak_at_most():
    font = ImageFont.truetype(DEJAVU_BOLD, 24)
    result = detect(png(stamp_text(painting((1024, 1024)), "Grok", font)))
    assert result.label == EvidenceLabel.AI and result.strength == Strength.WEAK
    assert result.details["mark"] == "grok_wordmark" and result.generator == "Grok (xAI)"


def gemini(image: Image.Image) -> Image.Image:
    """Gemini's rule: 96 px, 64 px in, on pictures over 1024 px both ways; else 48 px."""
    side, margin = (96, 64) if min(image.size) > 1024 else (48, 32)
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    x = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** 2.6
    y = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** 2.6
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).polygon([(side / 2 * (1 + a), side / 2 * (1 + b))
                                  for a, b in zip(x, y, strict=True)], fill=220)
    out = image.copy()
    out.paste(Image.new("RGB", mask.size, (245, 245, 245)),
              (image.width - side - margin, image.height - side - margin), mask)
    return out


@pytest.mark.parametrize("size", [(320, 320), (1024, 768), (3000, 2000), (6000, 4000)])
def test_marks_at_a_fixed_pixel_size_are_found_on_any_picture_size(size):
    picture = painting(size, seed=11)
    assert vm.find_marks(gemini(picture))[0].spec.key == "gemini_sparkle"
    font = ImageFont.truetype(NOTO_CJK_BOLD, 18, index=1) if __import__("os").path.exists(
        NOTO_CJK_BOLD) else None
    if font is not None:
        best = vm.find_marks(stamp_text(picture, "AI生成", font))[0]
        assert best.spec.key.startswith("cjk_ai_generated") and best.strength == "weak"
        # The box is where the label is, in the picture's own pixels.
        assert best.box[0] > size[0] - 120 and best.box[1] > size[1] - 60


@pytest.mark.parametrize("size", [(1024, 768), (2048, 1536), (5000, 3000)])
def test_marks_in_proportion_to_the_picture_are_found(size):
    picture = painting(size, seed=12)
    height = round(min(size) * 0.025)
    marked = stamp_meta(picture, height)
    best = next(m for m in vm.find_marks(marked) if m.spec.key == "meta_imagined")
    assert best.strength is not None and best.corner == "bl"
    assert abs(best.box[3] - height * 1.2) < height * 0.5


def test_heights_cover_fixed_and_relative_sizes_and_regions_stay_small():
    meta = next(m for m in vm.MARKS if m.key == "meta_imagined")
    heights = vm.heights_for(meta, (6000, 4000))
    assert min(heights) <= 10.5 and max(heights) >= 0.045 * 4000 / vm.STEP
    # Consecutive heights one ladder step apart (or a gap between the two ranges).
    steps = [b / a for a, b in itertools.pairwise(heights)]
    assert all(abs(s - vm.STEP) < 1e-6 or s > vm.STEP for s in steps)
    # Every level matches the template between min_height and twice that.
    for h in heights:
        level = vm.level_of(h, meta.min_height)
        assert meta.min_height <= h / 2 ** level < 2 * meta.min_height
    search = vm.describe_search((6000, 4000))
    # Only the corners are read (the regions of one corner are nested) ...
    read = sum(max(w for key, (w, _h) in search["regions"].items() if key.startswith(c))
               * max(h for key, (_w, h) in search["regions"].items() if key.startswith(c))
               for c in ("bl", "br"))
    assert read < 0.12 * 6000 * 4000
    # ... and matched reduced: every level's region holds under a third of a megapixel.
    for key, (w, h) in search["regions"].items():
        level = int(key.split("/")[1])
        assert w * h / 4 ** level < 330_000


def test_a_small_mark_is_not_searched_below_its_smallest_height():
    dalle = next(m for m in vm.MARKS if m.key == "dalle_bar")
    assert all(h >= dalle.min_height for h in vm.heights_for(dalle, (300, 300)))
    assert vm.level_of(dalle.min_height - 1, dalle.min_height) == -1


def test_a_bar_along_the_bottom_is_not_a_line_of_text():
    """A frame's edge correlates with blurred text; the letters' strokes tell them apart."""
    picture = Image.new("RGB", (450, 450), (255, 255, 255))
    ImageDraw.Draw(picture).rectangle((10, 395, 440, 418), fill=(0, 120, 0))
    scores = {m.spec.key: m.score for m in vm.find_marks(picture)}
    # The long label sees a bar only; the short words see the bar's end, still far off.
    assert scores["meta_imagined"] < 0.3
    assert all(scores[m.key] < 0.6 for m in vm.MARKS if m.text)
    labelled = stamp_meta(painting((450, 450), seed=5), 14)
    assert {m.spec.key: m.score for m in vm.find_marks(labelled)}["meta_imagined"] > 0.6
