"""Drawing a generator's text label onto a picture, as platforms stamp them.

Shared by the visible-mark tests and ``bench/visible_mark_bench.py`` so both measure the
detector on the same kind of stamp.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFilter, ImageFont


def stamp_text(image: Image.Image, text: str, font: ImageFont.FreeTypeFont,
               margin: int = 16) -> Image.Image:
    """``text`` bottom right, ``margin`` px in, translucent white over a soft shadow."""
    left, top, right, bottom = font.getbbox(text)
    x = image.width - margin - (right - left) - left
    y = image.height - margin - (bottom - top) - top
    shadow = Image.new("L", image.size, 0)
    ImageDraw.Draw(shadow).text((x + 1, y + 1), text, font=font, fill=150)
    out = image.copy()
    out.paste(Image.new("RGB", image.size, (0, 0, 0)), (0, 0),
              shadow.filter(ImageFilter.GaussianBlur(1)))
    ImageDraw.Draw(out, "RGBA").text((x, y), text, font=font, fill=(255, 255, 255, 230))
    return out
