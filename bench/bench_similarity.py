#!/usr/bin/env python
"""Recall of the embedding-similarity signal on derived images, at a measured false-match rate.

Usage (``--json`` prints one object)::

    .venv/bin/python bench/bench_similarity.py --images DIR [--images DIR ...]
        [--limit 80] [--pool first|last|both] [--seed 0] [--json]

The originals are the image files under each ``--images`` folder (hand-made works, e.g.
the images the dataset builder takes from Debian packages); nothing is committed or
downloaded. Each original gets one derived copy per transform, the kinds of edits a
trace or an image-to-image pass leaves:

* ``crop``: 80 % of each side, off-centre; ``mirror_crop``: the same, mirrored
* ``colour``: hue rotated by 40 degrees and saturation x1.3
* ``blur``: Gaussian, radius 2.5 px
* ``reencode``: 0.6x resize and JPEG quality 55
* ``repaint``: a quarter of the picture painted over (a filled ellipse in a colour taken
  from the picture, with brush strokes across it)
* ``posterize``: 3 bits per channel
* ``edge_filter``: an edge-preserving (bilateral) filter, twice, as "painterly" filters do

Every image (originals and derived) is embedded by the configured classifier through
the worker's own path (``load_image`` then the detector's single forward pass). The
false-match threshold is set on unrelated pairs: every original against every other
original's derived images and against the other originals (so a transform that makes
everything alike raises the false matches too). Recall is the share of (original,
derived) pairs at or above the threshold, per transform, at the false-match rates
given by ``--fmr`` (defaults 0.1 % and 1 %). The threshold the site ships
(``SIMILARITY_THRESHOLD``) is reported with its own recall and measured false-match
rate.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

REPO = Path(__file__).resolve().parent.parent
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    cw, ch = int(w * 0.8), int(h * 0.8)
    x, y = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    return image.crop((x, y, x + cw, y + ch))


def mirror_crop(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.mirror(crop(image, rng))


def colour(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    hsv = np.asarray(image.convert("HSV"), dtype=np.int32)
    hsv[..., 0] = (hsv[..., 0] + 28) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] * 1.3, 0, 255)
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def blur(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(2.5))


def reencode(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    small = image.resize((max(1, int(image.width * 0.6)), max(1, int(image.height * 0.6))),
                         Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    small.save(buffer, "JPEG", quality=55)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def repaint(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    out = image.copy()
    w, h = out.size
    rw, rh = int(w * 0.5), int(h * 0.5)  # a quarter of the area
    x, y = int(rng.integers(0, w - rw + 1)), int(rng.integers(0, h - rh + 1))
    pixels = np.asarray(out)
    fill = tuple(int(v) for v in pixels[int(rng.integers(0, h)), int(rng.integers(0, w))])
    draw = ImageDraw.Draw(out)
    draw.ellipse((x, y, x + rw, y + rh), fill=fill)
    for _ in range(12):
        x0, y0 = int(rng.integers(x, x + rw)), int(rng.integers(y, y + rh))
        x1, y1 = int(rng.integers(x, x + rw)), int(rng.integers(y, y + rh))
        stroke = tuple(int(v) for v in rng.integers(0, 256, 3))
        draw.line((x0, y0, x1, y1), fill=stroke, width=max(2, w // 80))
    return out


def posterize(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    return ImageOps.posterize(image, 3)


def edge_filter(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    import cv2

    arr = np.asarray(image)[:, :, ::-1].copy()
    for _ in range(2):
        arr = cv2.bilateralFilter(arr, 9, 60, 9)
    return Image.fromarray(arr[:, :, ::-1].copy())


TRANSFORMS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "crop": crop, "mirror_crop": mirror_crop, "colour": colour, "blur": blur,
    "reencode": reencode, "repaint": repaint, "posterize": posterize,
    "edge_filter": edge_filter,
}


def originals(folders: list[str], limit: int, seed: int) -> list[tuple[str, Image.Image]]:
    files = sorted(p for folder in folders for p in Path(folder).rglob("*")
                   if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    rng = np.random.default_rng(seed)
    if len(files) > limit:
        files = [files[i] for i in sorted(rng.choice(len(files), limit, replace=False))]
    out = []
    for path in files:
        with Image.open(path) as image:
            image.seek(0)
            picture = _rgb(image)
        if min(picture.size) >= 64:
            out.append((path.name, picture))
    return out


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def threshold_at(unrelated: np.ndarray, rate: float) -> float:
    """The smallest similarity that at most ``rate`` of the unrelated pairs reach."""
    ordered = np.sort(unrelated)[::-1]
    allowed = int(np.floor(rate * len(ordered)))
    if allowed >= len(ordered):
        return float(ordered[-1])
    return float(np.nextafter(ordered[allowed], np.float32(np.inf)))


def measure(pool: str, images: list[tuple[str, Image.Image]], seed: int,
            rates: list[float], shipped: float) -> dict[str, object]:
    from moderation.detectors.onnx import OnnxClassifier
    from moderation.internal.imaging import load_image

    detector = OnnxClassifier("bench", {"EMBEDDING_POOL": pool})
    rng = np.random.default_rng(seed)
    started = time.perf_counter()

    def embed(picture: Image.Image) -> np.ndarray:
        vector = detector.run(load_image(png_bytes(picture))).embedding
        if vector is None:
            raise SystemExit(f"the classifier graph gave no embedding for pool {pool!r}")
        return vector

    base = np.stack([embed(p) for _, p in images])
    derived = {name: np.stack([embed(fn(p, rng)) for _, p in images])
               for name, fn in TRANSFORMS.items()}
    seconds = time.perf_counter() - started
    n = len(images)
    off_diagonal = ~np.eye(n, dtype=bool)
    unrelated = [(base @ base.T)[np.triu(off_diagonal)]]
    for vectors in derived.values():
        unrelated.append((base @ vectors.T)[off_diagonal])
    pool_of_unrelated = np.concatenate(unrelated)
    same = {name: np.einsum("ij,ij->i", base, vectors) for name, vectors in derived.items()}
    result: dict[str, object] = {
        "pool": pool, "dims": int(base.shape[1]), "originals": n,
        "unrelated_pairs": len(pool_of_unrelated),
        "embed_seconds": round(seconds, 1),
        "ms_per_image": round(seconds * 1000 / (n * (1 + len(TRANSFORMS))), 1),
        "unrelated_similarity": {
            "p50": round(float(np.percentile(pool_of_unrelated, 50)), 4),
            "p99": round(float(np.percentile(pool_of_unrelated, 99)), 4),
            "max": round(float(pool_of_unrelated.max()), 4)},
        "at_fmr": {},
    }
    for rate in rates:
        threshold = threshold_at(pool_of_unrelated, rate)
        result["at_fmr"][f"{rate:g}"] = {  # type: ignore[index]
            "threshold": round(threshold, 4),
            "measured_fmr": round(float((pool_of_unrelated >= threshold).mean()), 5),
            "recall": {name: round(float((s >= threshold).mean()), 3)
                       for name, s in same.items()},
        }
    result["at_shipped_threshold"] = {
        "threshold": shipped,
        "measured_fmr": round(float((pool_of_unrelated >= shipped).mean()), 5),
        "recall": {name: round(float((s >= shipped).mean()), 3) for name, s in same.items()},
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", action="append", required=True,
                        help="folder of original images (repeatable)")
    parser.add_argument("--limit", type=int, default=80, help="originals at most")
    parser.add_argument("--pool", choices=("first", "last", "both"), default="first")
    parser.add_argument("--fmr", type=float, action="append",
                        help="false-match rates to report (default 0.001 and 0.01)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--settings", default="tests.settings")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", args.settings)
    import django

    django.setup()
    from moderation.conf import moderation_settings

    shipped = float(moderation_settings.SIMILARITY_THRESHOLD)
    images = originals(args.images, args.limit, args.seed)
    if len(images) < 3:
        raise SystemExit("need at least 3 images")
    rates = args.fmr or [0.001, 0.01]
    pools = ["first", "last"] if args.pool == "both" else [args.pool]
    report = {"transforms": list(TRANSFORMS),
              "machine": "shared 2-core machine; times are indicative only",
              "results": [measure(pool, images, args.seed, rates, shipped) for pool in pools]}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for res in report["results"]:  # type: ignore[attr-defined]
        print(f"pool {res['pool']} ({res['dims']} dims), {res['originals']} originals, "
              f"{res['unrelated_pairs']} unrelated pairs, {res['ms_per_image']} ms/image; "
              f"unrelated similarity {res['unrelated_similarity']}")
        rows = {**res["at_fmr"], "shipped": res["at_shipped_threshold"]}
        print(f"{'FMR':>8} {'thresh':>7} " + " ".join(f"{t:>11}" for t in TRANSFORMS))
        for key, row in rows.items():
            print(f"{key:>8} {row['threshold']:>7.4f} "
                  + " ".join(f"{row['recall'][t]:>11.3f}" for t in TRANSFORMS)
                  + f"  (measured FMR {row['measured_fmr']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
