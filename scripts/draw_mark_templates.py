#!/usr/bin/env python
"""Draw the shipped text-mark templates of the visible-mark detector into PNGs.

Pillow's bundled font (which draws the "Imagined with AI" template at run time) has
neither CJK glyphs nor a bold weight, so two kinds of templates are rendered here once
and shipped as small PNGs in ``moderation/data/marks/``; nothing is cropped from anyone's
pictures:

* the "AI生成" labels Chinese and Japanese platforms stamp on generated pictures, in Noto
  Sans CJK Regular (Debian's ``fonts-noto-cjk``, SIL Open Font License 1.1);
* the "Grok" wordmark xAI stamps on Grok's pictures, a heavy sans, in Liberation Sans
  Bold (Debian's ``fonts-liberation``, SIL Open Font License 1.1).

Run again (it is deterministic) after changing a text::

    apt-get install fonts-noto-cjk fonts-liberation
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
LATIN_BOLD = Path("/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")
#: Template file -> (text, font file, face index).
TEXTS = {"cjk_ai_generated.png": ("AI生成", FONT, FACE),
         "cjk_ai_generated_spaced.png": ("AI 生成", FONT, FACE),
         "grok_wordmark.png": ("Grok", LATIN_BOLD, 0)}
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
    parser.add_argument("--out", type=Path, default=REPO / "moderation" / "data" / "marks")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (text, path, face) in TEXTS.items():
        font = ImageFont.truetype(str(path), HEIGHT, index=face)
        draw(text, font).save(args.out / name, optimize=True)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
