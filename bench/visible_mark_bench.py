#!/usr/bin/env python
"""Visible-mark detector: recall on marked copies made here, false positives per source.

Usage::

    .venv/bin/python bench/visible_mark_bench.py --human /work/cache/dataset \\
        --human ../shared/data/human-devset [--small 12] [--large 12] \\
        [--small-from ../shared/data/human-devset] [--large-from /work/cache/dataset] \\
        [--cache var/vm-bench.jsonl] [--timing]

``--human`` folders are read as in ``bench/watermark_bench.py`` (manifest rows labelled
``human``). Carriers are hand-made images from them, in a fixed order: ``--small`` with a
short side of 300 to 1023 px (the human dev set's pictures), ``--large`` with a short
side of at least 1200 px (the training sources' wallpapers, 2000-5000 px);
``--small-from`` / ``--large-from`` restrict either group to some of the folders.

Every carrier is stamped with every mark twice, as generators size their marks:

* **fixed** pixel size: Gemini's own rule (a 48 px sparkle 32 px in, or 96 px 64 px in on
  pictures over 1024 px both ways), DALL·E squares of 12-20 px, text 14-28 px high;
* **relative** to the short side: sparkle 3.5-7 %, DALL·E squares 1.3-1.8 %, text
  1.8-3 % (margins in proportion).

The marks are drawn **differently** from the detector's templates, as a real generator's
would be: the sparkle with another curve, in translucent white; the DALL·E bar with
jittered colours; the Meta label in DejaVu Sans (the template uses Pillow's bundled font)
with a drop shadow; the "AI生成" labels in Noto Sans CJK **Bold** (the templates are
Regular) and "Grok" in DejaVu Sans Bold (the template is Liberation Sans Bold),
translucent white over a shadow. Each marked copy is then saved as lossless PNG, JPEG
q85 and q75, and resized to 0.75×. The tables give recall per mark and perturbation
(weak or strong / strong alone / copies, for each sizing) and, per hand-made source, the
highest score of each template and how many images reach weak or strong (both must be
0). ``--timing`` also prints both pixel-mark decoders' CPU milliseconds on a 1 MP PNG and
a 12 MP JPEG. Results
are cached per (image, mark, sizing, perturbation), so an interrupted run resumes; the
strength is judged from the cached score with the current thresholds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from watermark_bench import (  # noqa: E402
    Cache,
    HumanImage,
    file_digest,
    human_images,
    rgb,
    roundtrip,
    spread_over_sources,
)

from moderation.internal import visible_marks  # noqa: E402
from tests.mark_stamps import stamp_text  # noqa: E402

Image.MAX_IMAGE_PIXELS = 200_000_000
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BOLD_FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
#: Another weight than the CJK templates (Noto Sans CJK Regular): fonts-noto-cjk.
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
#: Short sides of the two carrier groups (pixels).
SMALL_SIDES = (300, 1023)
LARGE_MIN_SIDE = 1200
#: Larger carriers are left out (openclipart's 170 MP posters): 6000 px a side at most.
CARRIER_MAX_SIDE = 6000
SIZINGS = ("fixed", "relative")
#: Bumped when the stamps or the detector change, so cached rows are not reused.
VERSION = "4"

Stamp = Callable[[Image.Image, np.random.Generator, str], Image.Image]


def _gemini_size(image: Image.Image) -> tuple[int, int]:
    """Gemini's rule: 96 px, 64 px in, when both sides exceed 1024 px; else 48 px, 32 in."""
    return (96, 64) if min(image.size) > 1024 else (48, 32)


def _sparkle(image: Image.Image, rng: np.random.Generator, sizing: str) -> Image.Image:
    short = min(image.size)
    if sizing == "fixed":
        side, margin = _gemini_size(image)
    else:
        side = round(short * rng.uniform(0.035, 0.07))
        margin = round(short * rng.uniform(0.015, 0.03))
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    power = 2.6  # a rounder star than the template's cube
    x = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** power
    y = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** power
    mask = Image.new("L", (side, side), 0)
    half = side / 2
    ImageDraw.Draw(mask).polygon([(half + half * a, half + half * b) for a, b in
                                  zip(x, y, strict=True)], fill=round(255 * 0.85))
    out = image.copy()
    out.paste(Image.new("RGB", mask.size, (245, 245, 245)),
              (image.width - side - margin, image.height - side - margin), mask)
    return out


def _dalle(image: Image.Image, rng: np.random.Generator, sizing: str) -> Image.Image:
    if sizing == "fixed":
        square = int(rng.integers(12, 21))
    else:
        square = max(4, round(min(image.size) * rng.uniform(0.013, 0.018)))
    out = image.copy()
    draw = ImageDraw.Draw(out)
    x0, y0 = image.width - 5 * square, image.height - square
    for i, colour in enumerate(visible_marks.DALLE_COLOURS):
        jitter = tuple(int(np.clip(c + rng.integers(-12, 13), 0, 255)) for c in colour)
        draw.rectangle((x0 + i * square, y0, x0 + (i + 1) * square - 1, y0 + square - 1),
                       fill=jitter)
    return out


def _text_size(image: Image.Image, rng: np.random.Generator, sizing: str) -> tuple[int, int]:
    """Font size and margin (pixels) of a text label."""
    if sizing == "fixed":
        return int(rng.integers(14, 29)), int(rng.integers(8, 41))
    short = min(image.size)
    return (max(12, round(short * rng.uniform(0.018, 0.03))),
            round(short * rng.uniform(0.01, 0.025)))


def _meta(image: Image.Image, rng: np.random.Generator, sizing: str) -> Image.Image:
    """The label bottom left in DejaVu Sans, white over a soft shadow."""
    height, margin = _text_size(image, rng, sizing)
    font = ImageFont.truetype(FONT, height)
    y = image.height - margin - height
    shadow = Image.new("L", image.size, 0)
    ImageDraw.Draw(shadow).text((margin + 1, y + 1), "Imagined with AI", font=font, fill=160)
    shadow = shadow.filter(ImageFilter.GaussianBlur(1))
    out = image.copy()
    out.paste(Image.new("RGB", image.size, (0, 0, 0)), (0, 0), shadow)
    ImageDraw.Draw(out, "RGBA").text((margin, y), "Imagined with AI", font=font,
                                     fill=(255, 255, 255, 235))
    return out


def _corner_text(text: str, font_path: str, index: int = 0) -> Stamp:
    """``text`` bottom right, translucent white over a soft shadow."""
    def stamp(image: Image.Image, rng: np.random.Generator, sizing: str) -> Image.Image:
        height, margin = _text_size(image, rng, sizing)
        return stamp_text(image, text, ImageFont.truetype(font_path, height, index=index),
                          margin)
    return stamp


STAMPS: dict[str, Stamp] = {
    "gemini_sparkle": _sparkle, "dalle_bar": _dalle, "meta_imagined": _meta,
    "cjk_ai_generated": _corner_text("AI生成", CJK_FONT, 1),
    "cjk_ai_generated_spaced": _corner_text("AI 生成", CJK_FONT, 2),
    "grok_wordmark": _corner_text("Grok", BOLD_FONT)}

PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    # A PNG round trip changes no pixel: the stamped pixels themselves (encoding a 20 MP
    # PNG takes seconds).
    "clean PNG": lambda im: im,
    "JPEG q85": lambda im: roundtrip(im, "JPEG", quality=85),
    "JPEG q75": lambda im: roundtrip(im, "JPEG", quality=75),
    "resize 0.75×": lambda im: im.resize((round(im.width * 0.75), round(im.height * 0.75)),
                                         Image.Resampling.LANCZOS),
}
SPECS = {m.key: m for m in visible_marks.MARKS}


def _scores(image: Image.Image) -> dict[str, dict]:
    return {m.spec.key: {"score": round(m.score, 4)} for m in visible_marks.find_marks(image)}


def _strength(key: str, value: dict) -> str | None:
    """Judged now, from the cached score, so changed thresholds need no re-run."""
    return visible_marks.strength_of(SPECS[key], value.get("score", 0.0))


def _short_side(path: Path) -> int:
    with Image.open(path) as im:
        return min(im.size)


def _long_side(path: Path) -> int:
    with Image.open(path) as im:
        return max(im.size)


def pick_carriers(images: list[HumanImage], count: int, lo: int, hi: int
                  ) -> list[HumanImage]:
    """``count`` images with a short side in [lo, hi], spread over the sources, in a fixed
    order (sha256 of the file name)."""
    return spread_over_sources(
        images, count,
        lambda item: lo <= _short_side(item.path) <= hi
        and _long_side(item.path) <= CARRIER_MAX_SIDE)


Recall = dict[str, dict[str, dict[str, list[int]]]]  # perturbation -> mark -> sizing


def recall(chosen: list[HumanImage], cache: Cache, group: str) -> Recall:
    table: Recall = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [0, 0, 0])))
    jobs = [(c, k, s) for c in chosen for k in STAMPS for s in SIZINGS]
    loaded: tuple[Path, Image.Image] | None = None
    for item, key, sizing in tqdm(jobs, desc=f"marked copies ({group})", unit="copy"):
        digest = file_digest(item.path)
        marked: Image.Image | None = None
        for name, perturb in PERTURBATIONS.items():
            cache_key = f"vm{VERSION}:{digest}:{key}:{sizing}:{name}"
            row = cache.get(cache_key)
            if row is None:
                if marked is None:
                    if loaded is None or loaded[0] != item.path:
                        loaded = (item.path, rgb(item.path))  # once per carrier
                    seed = int(digest[:8], 16) + SIZINGS.index(sizing)
                    marked = STAMPS[key](loaded[1], np.random.default_rng(seed), sizing)
                row = {"key": cache_key, **_scores(perturb(marked)).get(key, {})}
                cache.put(row)
            cell = table[name][key][sizing]
            strength = _strength(key, row)
            cell[0] += int(strength is not None)
            cell[1] += int(strength == "strong")
            cell[2] += 1
    return table


def print_recall(table: Recall, chosen: list[HumanImage], group: str) -> None:
    sides = sorted(_short_side(c.path) for c in chosen)
    print(f"\nRecall on {len(chosen)} {group} hand-made carriers (short side "
          f"{sides[0] if sides else 0}-{sides[-1] if sides else 0} px), each stamped at a "
          "fixed size and at a size relative to the picture (weak or strong / strong alone "
          "/ copies; fixed · relative):")
    keys = list(STAMPS)
    print("| perturbation | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name in PERTURBATIONS:
        cells = []
        for k in keys:
            cells.append(" · ".join("{}/{}/{}".format(*table[name][k][s]) for s in SIZINGS))
        print(f"| {name} | " + " | ".join(cells) + " |")


def false_positives(images: list[HumanImage], cache: Cache) -> int:
    per_source: dict[str, dict] = defaultdict(lambda: {"images": 0, "max": defaultdict(float),
                                                       "weak": 0, "strong": 0, "hits": []})
    for item in tqdm(images, desc="hand-made images", unit="img"):
        cache_key = f"vm-fp{VERSION}:{file_digest(item.path)}"
        row = cache.get(cache_key)
        if row is None:
            row = {"key": cache_key, "marks": _scores(rgb(item.path))}
            cache.put(row)
        stats = per_source[item.source]
        stats["images"] += 1
        strengths = [s for s in (_strength(k, m) for k, m in row["marks"].items()) if s]
        stats["weak"] += int("weak" in strengths and "strong" not in strengths)
        stats["strong"] += int("strong" in strengths)
        if strengths:
            stats["hits"].append((str(item.path), row["marks"]))
        for mark, value in row["marks"].items():
            stats["max"][mark] = max(stats["max"][mark], value["score"])
    thresholds = " / ".join(f"{m.key} {m.weak_at}" for m in visible_marks.MARKS)
    print(f"\nFalse positives on hand-made images; highest score per template (weak at: "
          f"{thresholds}):")
    print("| source | images | highest scores | weak | strong |")
    print("|---|---|---|---|---|")
    flagged = 0
    overall: dict[str, float] = defaultdict(float)
    for source in sorted(per_source):
        s = per_source[source]
        flagged += s["weak"] + s["strong"]
        for m in visible_marks.MARKS:
            overall[m.key] = max(overall[m.key], s["max"].get(m.key, 0))
        highest = " / ".join(f"{s['max'].get(m.key, 0):.2f}" for m in visible_marks.MARKS)
        print(f"| {source} | {s['images']} | {highest} | {s['weak']} | {s['strong']} |")
        for path, marks in s["hits"]:
            print(f"  flagged: {path} {json.dumps(marks)}")
    print("| all | {} | {} | | |".format(sum(s["images"] for s in per_source.values()),
                                       " / ".join(f"{overall[m.key]:.2f}"
                                                  for m in visible_marks.MARKS)))
    return flagged


def timing(repeat: int) -> None:
    """CPU ms of both pixel-mark decoders on ``bench_detectors.py``'s pictures (1 MP PNG,
    12 MP JPEG, decoded at full size as the scan does for them), one OpenCV thread: pin
    the process to one core (``taskset -c 1``) to read it as one core's time."""
    import io

    import cv2
    from bench_detectors import picture

    from moderation.internal import watermark

    cv2.setNumThreads(1)
    print(f"\nCPU ms per picture (median of {repeat}, one thread):")
    print("| picture | visible marks | invisible watermark |")
    print("|---|---|---|")
    for label, (width, height, seed), fmt in (("1 MP PNG", (1152, 868, 1), "PNG"),
                                              ("12 MP JPEG q90", (4000, 3000, 2), "JPEG")):
        buf = io.BytesIO()
        picture(width, height, seed).save(buf, fmt, **({"quality": 90} if fmt == "JPEG"
                                                       else {}))
        buf.seek(0)
        with Image.open(buf) as decoded:
            image = decoded.convert("RGB")
        cells = []
        for run in (visible_marks.find_marks, watermark.decode):
            run(image)
            times = []
            for _ in range(repeat):
                started = time.process_time()
                run(image)
                times.append((time.process_time() - started) * 1000)
            cells.append(f"{statistics.median(times):.0f}")
        print(f"| {label} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--human", action="append", type=Path, required=True)
    parser.add_argument("--small", type=int, default=12,
                        help="carriers with a short side of 300-1023 px")
    parser.add_argument("--large", type=int, default=12,
                        help="carriers with a short side of 1200 px or more")
    parser.add_argument("--small-from", type=Path, action="append", default=None,
                        help="take the small carriers from these --human folders only")
    parser.add_argument("--large-from", type=Path, action="append", default=None,
                        help="take the large carriers from these --human folders only")
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "vm-bench.jsonl")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--only", choices=("recall", "fp"), default=None)
    args = parser.parse_args(argv)
    images: list[HumanImage] = [i for folder in args.human for i in human_images(folder)]
    cache = Cache(args.cache)
    if args.timing:
        timing(5)
    def from_(folders: list[Path] | None) -> list[HumanImage]:
        return images if not folders else [i for f in folders for i in human_images(f)]

    if args.only != "fp":
        for group, chosen in (
                ("small", pick_carriers(from_(args.small_from), args.small, *SMALL_SIDES)),
                ("large", pick_carriers(from_(args.large_from), args.large, LARGE_MIN_SIDE,
                                        10 ** 6))):
            if not chosen:
                continue
            print_recall(recall(chosen, cache, group), chosen, group)
    if args.only == "recall":
        return 0
    return 1 if false_positives(images, cache) else 0


if __name__ == "__main__":
    raise SystemExit(main())
