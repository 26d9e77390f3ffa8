#!/usr/bin/env python
"""Visible-mark detector: recall on marked copies made here, false positives per source.

Usage::

    .venv/bin/python bench/visible_mark_bench.py --human /work/cache/dataset \\
        --human ../shared/data/human-devset [--carriers 30] [--cache var/vm-bench.jsonl]

``--human`` folders are read as in ``bench/watermark_bench.py`` (manifest rows labelled
``human``). The marks stamped here are drawn **differently** from the detector's
templates, as a real generator's would be: the sparkle with another curve, in
translucent white; the DALL·E bar with jittered colours; the Meta label in DejaVu Sans
(the detector's template uses Pillow's bundled font) with a drop shadow; the "AI生成"
labels in Noto Sans CJK **Bold** (the templates are Regular), translucent white over a
shadow, bottom right. Each marked
copy is then saved as lossless PNG, JPEG q85 and q75, and resized to 0.75×. The tables
give recall per mark and perturbation (weak or strong, and strong alone) and, per
hand-made source, the highest score of each template and how many images reach weak
or strong (both must be 0). Results are cached per (image, mark, perturbation), so an
interrupted run resumes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
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
)

from moderation.internal import visible_marks  # noqa: E402
from tests.mark_stamps import stamp_text  # noqa: E402

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
#: Carriers as large as generators render at least.
CARRIER_MIN_SIDE = 512


def _sparkle(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    side = round(image.width * rng.uniform(0.035, 0.06))
    t = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    power = 2.6  # a rounder star than the template's cube
    x = np.sign(np.cos(t)) * np.abs(np.cos(t)) ** power
    y = np.sign(np.sin(t)) * np.abs(np.sin(t)) ** power
    mask = Image.new("L", (side, side), 0)
    half = side / 2
    ImageDraw.Draw(mask).polygon([(half + half * a, half + half * b) for a, b in
                                  zip(x, y, strict=True)], fill=round(255 * 0.85))
    margin = round(image.width * rng.uniform(0.015, 0.03))
    out = image.copy()
    out.paste(Image.new("RGB", mask.size, (245, 245, 245)),
              (image.width - side - margin, image.height - side - margin), mask)
    return out


def _dalle(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    square = max(4, round(image.width * rng.uniform(0.013, 0.018)))
    out = image.copy()
    draw = ImageDraw.Draw(out)
    x0, y0 = image.width - 5 * square, image.height - square
    for i, colour in enumerate(visible_marks.DALLE_COLOURS):
        jitter = tuple(int(np.clip(c + rng.integers(-12, 13), 0, 255)) for c in colour)
        draw.rectangle((x0 + i * square, y0, x0 + (i + 1) * square - 1, y0 + square - 1),
                       fill=jitter)
    return out


def _meta(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    height = max(10, round(image.height * rng.uniform(0.022, 0.03)))
    font = ImageFont.truetype(FONT, height)
    margin = round(image.width * 0.02)
    y = image.height - margin - height
    shadow = Image.new("L", image.size, 0)
    ImageDraw.Draw(shadow).text((margin + 1, y + 1), "Imagined with AI", font=font, fill=160)
    shadow = shadow.filter(ImageFilter.GaussianBlur(1))
    out = image.copy()
    out.paste(Image.new("RGB", image.size, (0, 0, 0)), (0, 0), shadow)
    ImageDraw.Draw(out, "RGBA").text((margin, y), "Imagined with AI", font=font,
                                     fill=(255, 255, 255, 235))
    return out


#: Another weight than the CJK templates (Noto Sans CJK Regular): fonts-noto-cjk.
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"


def _corner_text(text: str, font_path: str, index: int = 0
                 ) -> Callable[[Image.Image, np.random.Generator], Image.Image]:
    """``text`` bottom right, translucent white over a soft shadow, 1.8-3 % high."""
    def stamp(image: Image.Image, rng: np.random.Generator) -> Image.Image:
        height = max(12, round(image.height * rng.uniform(0.018, 0.03)))
        font = ImageFont.truetype(font_path, height, index=index)
        margin = round(image.width * rng.uniform(0.01, 0.025))
        return stamp_text(image, text, font, margin)
    return stamp


STAMPS: dict[str, Callable[[Image.Image, np.random.Generator], Image.Image]] = {
    "gemini_sparkle": _sparkle, "dalle_bar": _dalle, "meta_imagined": _meta,
    "cjk_ai_generated": _corner_text("AI生成", CJK_FONT, 1),
    "cjk_ai_generated_spaced": _corner_text("AI 生成", CJK_FONT, 2)}



PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "clean PNG": lambda im: roundtrip(im, "PNG"),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--human", action="append", type=Path, required=True)
    parser.add_argument("--carriers", type=int, default=30)
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "vm-bench.jsonl")
    args = parser.parse_args(argv)
    images: list[HumanImage] = [i for folder in args.human for i in human_images(folder)]
    cache = Cache(args.cache)

    eligible = [i for i in sorted(images, key=lambda i: hashlib.sha256(
        i.path.name.encode()).hexdigest()) if min(Image.open(i.path).size) >= CARRIER_MIN_SIDE]
    step = max(1, len(eligible) // max(args.carriers, 1))
    chosen = eligible[::step][: args.carriers]
    recall: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    jobs = [(c, k) for c in chosen for k in STAMPS]
    for item, key in tqdm(jobs, desc="marked copies", unit="copy"):
        digest = file_digest(item.path)
        marked: Image.Image | None = None
        for name, perturb in PERTURBATIONS.items():
            cache_key = f"vm-det2:{digest}:{key}:{name}"
            row = cache.get(cache_key)
            if row is None:
                if marked is None:
                    seed = int(digest[:8], 16)
                    marked = STAMPS[key](rgb(item.path), np.random.default_rng(seed))
                row = {"key": cache_key, **_scores(perturb(marked)).get(key, {})}
                cache.put(row)
            cell = recall[name][key]
            strength = _strength(key, row)
            cell[0] += int(strength is not None)
            cell[1] += int(strength == "strong")
            cell[2] += 1

    keys = list(STAMPS)
    print(f"Recall on {len(chosen)} hand-made carriers stamped here "
          "(weak or strong / strong alone / copies):")
    print("| perturbation | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for name in PERTURBATIONS:
        print(f"| {name} | " + " | ".join(
            f"{recall[name][k][0]} / {recall[name][k][1]} / {recall[name][k][2]}"
            for k in keys) + " |")

    per_source: dict[str, dict] = defaultdict(lambda: {"images": 0, "max": defaultdict(float),
                                                       "weak": 0, "strong": 0, "hits": []})
    for item in tqdm(images, desc="hand-made images", unit="img"):
        cache_key = f"vm-fp2:{file_digest(item.path)}"
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
    thresholds = " / ".join(f"{m.key} (weak {m.weak_at}, strong {m.strong_at or '–'})"
                            for m in visible_marks.MARKS)
    print(f"\nFalse positives on hand-made images; highest score {thresholds}:")
    print("| source | images | highest scores | weak | strong |")
    print("|---|---|---|---|---|")
    flagged = 0
    for source in sorted(per_source):
        s = per_source[source]
        flagged += s["weak"] + s["strong"]
        highest = " / ".join(f"{s['max'].get(m.key, 0):.2f}" for m in visible_marks.MARKS)
        print(f"| {source} | {s['images']} | {highest} | {s['weak']} | {s['strong']} |")
        for path, marks in s["hits"]:
            print(f"  flagged: {path} {json.dumps(marks)}")
    return 1 if flagged else 0


if __name__ == "__main__":
    raise SystemExit(main())
