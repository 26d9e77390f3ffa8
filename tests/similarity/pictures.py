"""Pictures the similarity tests make: unrelated compositions and "seeds" of one.

A composition is a seeded random scene (a two-colour gradient sky, a ground band and a
dozen shapes of several kinds); a "seed" of it redraws the same scene with every shape
moved, resized and recoloured a little and fresh grain, as one prompt sampled with
another seed keeps the layout and changes the details.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (320, 256)


STYLES = ("scene", "stripes", "plaid", "rings", "scribble", "clouds")


def _scene(rng: np.random.Generator) -> dict[str, object]:
    shapes = []
    for _ in range(int(rng.integers(8, 16))):
        kind = str(rng.choice(["ellipse", "rectangle", "polygon", "line"]))
        cx, cy = rng.uniform(0, SIZE[0]), rng.uniform(0, SIZE[1])
        r = rng.uniform(10, 70)
        points = rng.uniform(-1, 1, (int(rng.integers(3, 7)), 2))
        colour = rng.integers(0, 256, 3)
        shapes.append((kind, cx, cy, r, points, colour))
    return {"style": str(rng.choice(STYLES)), "freq": rng.uniform(0.02, 0.2),
            "angle": rng.uniform(0, np.pi),
            "top": rng.integers(0, 256, 3), "bottom": rng.integers(0, 256, 3),
            "horizon": rng.uniform(0.4, 0.8), "ground": rng.integers(0, 256, 3),
            "shapes": shapes, "blur": rng.uniform(0, 1.5)}


def _draw(scene: dict[str, object], rng: np.random.Generator, jitter: float) -> Image.Image:
    w, h = SIZE
    t = np.linspace(0, 1, h)[:, None, None]
    top = np.asarray(scene["top"], float)
    bottom = np.asarray(scene["bottom"], float)
    sky = (top * (1 - t) + bottom * t) * np.ones((h, w, 3))
    horizon = int(h * float(scene["horizon"]))  # type: ignore[arg-type]
    sky[horizon:] = np.asarray(scene["ground"], float)
    style, freq, angle = scene["style"], float(scene["freq"]), float(scene["angle"])  # type: ignore[arg-type]
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    ground = np.asarray(scene["ground"], float)
    if style == "stripes":
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * freq)[..., None]
        sky = sky * (0.5 + 0.5 * wave) + ground * (0.5 - 0.5 * wave)
    elif style == "plaid":
        wave = (np.sin(xx * freq) * np.sin(yy * freq * 1.7))[..., None]
        sky = np.where(wave > 0, sky, 255 - ground)
    elif style == "rings":
        radius = np.hypot(xx - w * 0.5, yy - h * 0.5)
        sky = sky * (0.5 + 0.5 * np.cos(radius * freq))[..., None]
    elif style == "clouds":
        coarse = np.random.default_rng(int(freq * 1e6)).uniform(0, 1, (8, 10))
        field = np.asarray(Image.fromarray((coarse * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC), float)[..., None] / 255
        sky = sky * field + (255 - top) * (1 - field)
    image = Image.fromarray(np.clip(sky, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    if style == "scribble":
        for _kind, cx, cy, r, points, colour in scene["shapes"]:  # type: ignore[attr-defined]
            draw.line([(cx + px * r * 2, cy + py * r * 2) for px, py in points],
                      fill=tuple(int(v) for v in colour), width=3)
    for kind, cx, cy, r, points, colour in scene["shapes"]:  # type: ignore[attr-defined]
        cx += rng.normal(0, 4 * jitter)
        cy += rng.normal(0, 4 * jitter)
        r *= 1 + rng.normal(0, 0.06 * jitter)
        fill = tuple(int(v) for v in np.clip(colour + rng.normal(0, 14 * jitter, 3), 0, 255))
        box = (cx - r, cy - r * 0.7, cx + r, cy + r * 0.7)
        if kind == "ellipse":
            draw.ellipse(box, fill=fill)
        elif kind == "rectangle":
            draw.rectangle(box, fill=fill)
        elif kind == "polygon":
            draw.polygon([(cx + px * r, cy + py * r) for px, py in points], fill=fill)
        else:
            draw.line([(cx + px * r, cy + py * r) for px, py in points], fill=fill,
                      width=max(2, int(r / 8)))
    image = image.filter(ImageFilter.GaussianBlur(float(scene["blur"])))  # type: ignore[arg-type]
    grain = rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(np.asarray(image, float) + grain, 0, 255).astype(np.uint8))


def composition(seed: int) -> Image.Image:
    """An unrelated work: its own scene, in style ``seed % 6`` (neighbouring seeds never
    share a style)."""
    rng = np.random.default_rng(seed)
    scene = _scene(rng)
    scene["style"] = STYLES[seed % len(STYLES)]
    return _draw(scene, rng, jitter=0.0)


def seeds(seed: int, count: int) -> list[Image.Image]:
    """``count`` variations of composition ``seed``, as other sampler seeds would give."""
    scene = _scene(np.random.default_rng(seed))
    return [_draw(scene, np.random.default_rng(seed * 1000 + i + 1), jitter=1.0)
            for i in range(count)]


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()
