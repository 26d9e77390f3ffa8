#!/usr/bin/env python
"""Draw the CJK text-mark templates of the visible-mark detector into PNGs.

The "AI生成" labels Chinese and Japanese platforms stamp on generated pictures need CJK
glyphs, which Pillow's bundled font lacks, so they are rendered here once with Noto Sans
CJK (Debian's ``fonts-noto-cjk``, SIL Open Font License) and shipped as small PNGs in
``moderation/data/marks/``; nothing is cropped from anyone's pictures. Run again (it is
deterministic) after changing a text::

    apt-get install fonts-noto-cjk
    .venv/bin/python scripts/draw_mark_templates.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
#: Face index 2 of the collection: Simplified Chinese glyph forms (生 and 成 look the
#: same in the Japanese face).
FACE = 2
#: Template file -> text.
TEXTS = {"cjk_ai_generated.png": "AI生成", "cjk_ai_generated_spaced.png": "AI 生成"}
HEIGHT = 48
PAD = 4


def draw(text: str, font: ImageFont.FreeTypeFont) -> Image.Image:
    """White text on black, cut to its ink plus :data:`PAD` pixels."""
    left, top, right, bottom = (int(v) for v in font.getbbox(text))
    image = Image.new("L", (right - left + 2 * PAD, bottom - top + 2 * PAD), 0)
    ImageDraw.Draw(image).text((PAD - left, PAD - top), text, font=font, fill=255)
    return image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--font", type=Path, default=FONT)
    parser.add_argument("--out", type=Path, default=REPO / "moderation" / "data" / "marks")
    args = parser.parse_args()
    font = ImageFont.truetype(str(args.font), HEIGHT, index=FACE)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in TEXTS.items():
        draw(text, font).save(args.out / name, optimize=True)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
