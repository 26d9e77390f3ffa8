"""Shortcut removal: the identical random processing every training image goes through.

The registry data carries shortcuts a network learns before anything else: AI images are
lossy WebP thumbnails, hand-made ones are RGBA PNGs or huge wallpapers. Every image, of
either class, is therefore flattened on a random background, optionally resized, pushed
through the same random JPEG/WebP re-encodes and cropped at native resolution the way
:mod:`moderation.internal.preprocess` crops at inference.
"""

from __future__ import annotations

import io
import random

import numpy as np
from PIL import Image

from moderation.internal.preprocess import reduce_factor

#: Probability of a random (downscaling) resize; inference never resizes small images,
#: but re-uploads often were resized somewhere before reaching the site.
RESIZE_P = 0.3
#: Probability of a lossy re-encode, and the quality range used for JPEG and WebP alike.
REENCODE_P = 0.75
QUALITY = (65, 95)


def flatten_alpha(image: Image.Image, rng: random.Random) -> Image.Image:
    """Composite transparency onto a random flat colour (never always-white)."""
    if image.mode in {"RGBA", "LA", "PA"} or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        colour = tuple(rng.randrange(256) for _ in range(3))
        background = Image.new("RGBA", rgba.size, (*colour, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def reencode(image: Image.Image, rng: random.Random) -> Image.Image:
    """Re-encode through JPEG or WebP at a random quality (metadata is dropped too)."""
    fmt = rng.choice(("JPEG", "WEBP"))
    buf = io.BytesIO()
    image.save(buf, format=fmt, quality=rng.randint(*QUALITY))
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert("RGB")


def random_crop(arr: np.ndarray, size: int, rng: random.Random) -> np.ndarray:
    """Return one ``size`` x ``size`` crop, mirror-padding small images like inference."""
    pad_h, pad_w = max(0, size - arr.shape[0]), max(0, size - arr.shape[1])
    if pad_h or pad_w:
        arr = np.pad(arr, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2),
                           (0, 0)), mode="symmetric")
    y = rng.randint(0, arr.shape[0] - size)
    x = rng.randint(0, arr.shape[1] - size)
    return arr[y:y + size, x:x + size]


def views(image: Image.Image, count: int, size: int, max_side: int,
          rng: random.Random) -> list[np.ndarray]:
    """Return ``count`` independently processed uint8 crops of one image."""
    factor = reduce_factor(image.width, image.height, max_side)
    base = image.reduce(factor) if factor > 1 else image
    out = []
    for _ in range(count):
        view = flatten_alpha(base, rng)
        if rng.random() < RESIZE_P:
            scale = rng.uniform(0.5, 0.9)
            w, h = max(size, round(view.width * scale)), max(size, round(view.height * scale))
            if w < view.width and h < view.height:
                view = view.resize((w, h), rng.choice((Image.Resampling.BILINEAR,
                                                        Image.Resampling.BICUBIC,
                                                        Image.Resampling.LANCZOS)))
        if rng.random() < REENCODE_P:
            view = reencode(view, rng)
        out.append(random_crop(np.asarray(view, dtype=np.uint8), size, rng))
    return out


def perturb(image: Image.Image, kind: str) -> Image.Image:
    """Apply one named evaluation perturbation: ``jpegNN`` or ``resizeF`` (e.g. resize0.75)."""
    image = image.convert("RGB")
    if kind.startswith("jpeg"):
        buf = io.BytesIO()
        image.save(buf, format="JPEG", quality=int(kind[4:]))
        buf.seek(0)
        with Image.open(buf) as decoded:
            return decoded.convert("RGB")
    if kind.startswith("webp"):
        buf = io.BytesIO()
        image.save(buf, format="WEBP", quality=int(kind[4:]))
        buf.seek(0)
        with Image.open(buf) as decoded:
            return decoded.convert("RGB")
    if kind.startswith("resize"):
        scale = float(kind[6:])
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        return image.resize(size, Image.Resampling.BICUBIC)
    raise ValueError(f"unknown perturbation {kind!r} (use jpegNN, webpNN or resizeF)")
