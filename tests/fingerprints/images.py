"""Pictures the fingerprint tests make themselves, and the edits a reposter applies."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageOps


def artwork(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A textured picture: a smooth colour field with discs on it (PDQ quality 100)."""
    rng = np.random.default_rng(seed)
    low = rng.random((6, 8, 3))
    picture = Image.fromarray((low * 255).astype(np.uint8)).resize(
        size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(12):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        r = int(rng.integers(20, 120))
        draw.ellipse([x - r, y - r, x + r, y + r],
                     fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    return picture


def encode(picture: Image.Image, fmt: str = "PNG", **kwargs: object) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, fmt, **kwargs)
    return buf.getvalue()


def repost(picture: Image.Image) -> bytes:
    """What a reposter uploads: mirrored, 10% trimmed (5% a side), resized to 60%,
    re-encoded as JPEG quality 75."""
    w, h = picture.size
    edited = ImageOps.mirror(picture).crop((w // 20, h // 20, w - w // 20, h - h // 20))
    edited = edited.resize((edited.width * 3 // 5, edited.height * 3 // 5),
                           Image.Resampling.LANCZOS)
    return encode(edited, "JPEG", quality=75)


def mirrored_copy(picture: Image.Image) -> bytes:
    """A lighter edit: mirrored, resized to 60% and re-encoded, not trimmed (a shared
    list carries one hash per work, without the centre crops a local bank entry has)."""
    edited = ImageOps.mirror(picture)
    edited = edited.resize((edited.width * 3 // 5, edited.height * 3 // 5),
                           Image.Resampling.LANCZOS)
    return encode(edited, "JPEG", quality=75)


def trimmed(picture: Image.Image, left: float = 0.0, top: float = 0.0, right: float = 0.0,
            bottom: float = 0.0) -> Image.Image:
    """``picture`` with those shares of its width or height cut from each side."""
    w, h = picture.size
    return picture.crop((round(w * left), round(h * top), w - round(w * right),
                         h - round(h * bottom)))


def _reencoded(picture: Image.Image, scale: float = 0.6, quality: int = 75) -> Image.Image:
    small = picture.resize((max(16, round(picture.width * scale)),
                            max(16, round(picture.height * scale))), Image.Resampling.LANCZOS)
    return Image.open(io.BytesIO(encode(small, "JPEG", quality=quality))).convert("RGB")


def one_side_repost(picture: Image.Image, side: str = "top") -> bytes:
    """A repost cropped 10% from one side only (``left``, ``top``, ``right`` or
    ``bottom``), resized to 60% and re-encoded as JPEG quality 75."""
    edited = trimmed(picture, **{side: 0.1})
    edited = edited.resize((edited.width * 3 // 5, edited.height * 3 // 5),
                           Image.Resampling.LANCZOS)
    return encode(edited, "JPEG", quality=75)


def transforms(picture: Image.Image) -> list[tuple[str, Image.Image]]:
    """The edits the benchmarks look a banked picture up by: each is resized to 60% and
    re-encoded as JPEG quality 75 after the edit named."""
    return [
        ("reencode", _reencoded(picture)),
        ("mirror", _reencoded(ImageOps.mirror(picture))),
        ("rotate90", _reencoded(picture.transpose(Image.Transpose.ROTATE_90))),
        ("centre_90", _reencoded(trimmed(picture, 0.05, 0.05, 0.05, 0.05))),
        ("trim_top_10", _reencoded(trimmed(picture, top=0.1))),
        ("trim_left_10_mirror", _reencoded(ImageOps.mirror(trimmed(picture, left=0.1)))),
        ("corner_10", _reencoded(trimmed(picture, right=0.1, bottom=0.1))),
        ("trim_bottom_5", _reencoded(trimmed(picture, bottom=0.05))),
    ]
