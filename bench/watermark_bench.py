#!/usr/bin/env python
"""Invisible-watermark detector: detection per perturbation, false positives per source.

Usage::

    .venv/bin/python bench/watermark_bench.py --human /work/cache/dataset \\
        --human ../shared/data/human-devset [--carriers 24] [--cache var/wm-bench.jsonl] \\
        [--write-marked DIR]

``--human DIR`` is a folder of hand-made images with a manifest: ``manifest.csv`` as
``moderation_build_dataset`` writes it (``path``, ``label``, ``source_package``) or
``MANIFEST.csv`` as the dev sets carry it (``file``, ``label``, ``source``); only rows
labelled ``human`` are used. Give it as often as there are sources.

* **False positives:** every hand-made image goes through the detector's own decode
  (:func:`moderation.internal.watermark.decode`, default options); the table gives per
  source the images checked, those too small to check (under 256×256), the most agreeing
  bits seen per payload, and the images that matched (must be 0).
* **Detection:** ``--carriers`` hand-made images of 512×512 up to about a megapixel,
  cut (from the top left) to multiples of 64 pixels as generators render them (a
  deterministic sample, spread over the sources), are marked here with
  ``invisible-watermark`` itself, each with every payload, in the channel order its
  generator uses (BGR for the reference scripts, RGB for diffusers' SDXL), then
  perturbed: lossless PNG, JPEG q95, q85 and q75, resizes of 0.9×, 0.8×, 0.75×, 0.66× and
  1.25×, a centre crop to 90 % (shifts the block grid), a crop of the bottom 10 % (keeps
  it) and the centre crop saved as JPEG q95. The table says which stage found each mark
  (aligned grid or shifted grid).
* **Bit errors:** where the geometry is known (clean, JPEG, the crops) the mark is read
  at the true grid and numbering and the table gives, per perturbation, the share of
  blocks whose hard vote is wrong, the share of payload bits wrong when every bit's mean
  soft score is cut at 0, and the mean best-cut agreement: what any decoder of this
  embedding has to work with. ``--write-marked DIR``
  also writes the clean marked PNGs, for ``manage.py moderation_scan --json
  --no-classifier DIR``.

Results are cached per (image, payload, perturbation) in ``--cache`` (JSON lines), so an
interrupted run resumes where it stopped. Files under ``--human`` are never copied into
the repository.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from moderation.internal import watermark  # noqa: E402  (after the path insert)

Image.MAX_IMAGE_PIXELS = 200_000_000
#: Carriers as large as a generator renders (SDXL's 1024×1024 and its siblings).
CARRIER_MAX_PIXELS = 1_100_000


@dataclass(frozen=True)
class HumanImage:
    path: Path
    source: str


def human_images(folder: Path) -> Iterator[HumanImage]:
    """Rows labelled human in the folder's manifest."""
    for name, path_key, source_key in (("manifest.csv", "path", "source_package"),
                                       ("MANIFEST.csv", "file", "source")):
        manifest = folder / name
        if manifest.exists():
            with manifest.open(newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    if row.get("label") == "human":
                        yield HumanImage(folder / row[path_key],
                                         f"{folder.name}/{row.get(source_key) or '?'}")
            return
    raise SystemExit(f"{folder}: no manifest.csv or MANIFEST.csv")


def rgb(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.load()
        if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA")
            flat = Image.new("RGB", rgba.size, (255, 255, 255))
            flat.paste(rgba, mask=rgba.getchannel("A"))
            return flat
        return im.convert("RGB")


def embed(image: Image.Image, payload: watermark.Payload) -> Image.Image:
    """Mark ``image`` the way the payload's generator does."""
    from imwatermark import WatermarkEncoder  # optional extra, as in the detector

    encoder = WatermarkEncoder()
    encoder.set_watermark("bits", list(payload.bits))
    pixels = np.asarray(image)
    # diffusers' SDXL watermarker passes RGB where the encoder expects BGR.
    as_given = pixels if payload.key == "sdxl" else pixels[:, :, ::-1]
    marked = encoder.encode(np.ascontiguousarray(as_given), "dwtDct")
    back = marked if payload.key == "sdxl" else marked[:, :, ::-1]
    return Image.fromarray(np.ascontiguousarray(back))


def roundtrip(image: Image.Image, fmt: str, **kwargs: object) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    buf.seek(0)
    with Image.open(buf) as im:
        return im.convert("RGB")


def _centre_box(image: Image.Image) -> tuple[int, int, int, int]:
    w, h = image.size
    dx, dy = w // 20, h // 20
    return dx, dy, w - dx, h - dy


def _bottom_box(image: Image.Image) -> tuple[int, int, int, int]:
    return 0, 0, image.width, image.height - image.height // 10


def _scale(factor: float) -> Callable[[Image.Image], Image.Image]:
    def scaled(im: Image.Image) -> Image.Image:
        return im.resize((round(im.width * factor), round(im.height * factor)),
                         Image.Resampling.LANCZOS)
    return scaled


PERTURBATIONS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "clean PNG": lambda im: roundtrip(im, "PNG"),
    "JPEG q95": lambda im: roundtrip(im, "JPEG", quality=95),
    "JPEG q85": lambda im: roundtrip(im, "JPEG", quality=85),
    "JPEG q75": lambda im: roundtrip(im, "JPEG", quality=75),
    "resize 0.9×": _scale(0.9),
    "resize 0.8×": _scale(0.8),
    "resize 0.75×": _scale(0.75),
    "resize 0.66×": _scale(0.66),
    "resize 1.25×": _scale(1.25),
    "crop centre 90 %": lambda im: im.crop(_centre_box(im)),
    "crop bottom 10 %": lambda im: im.crop(_bottom_box(im)),
    "crop centre + JPEG q95": lambda im: roundtrip(im.crop(_centre_box(im)), "JPEG",
                                                   quality=95),
}
#: Perturbations whose geometry is known, with the crop box (None: the whole picture).
KNOWN_GEOMETRY: dict[str, Callable[[Image.Image], tuple[int, int, int, int]] | None] = {
    "clean PNG": None, "JPEG q95": None, "JPEG q85": None, "JPEG q75": None,
    "crop centre 90 %": _centre_box, "crop bottom 10 %": _bottom_box,
    "crop centre + JPEG q95": _centre_box,
}
#: Bumped when the decoder changes, so cached rows of an older decoder are not reused.
DECODER_VERSION = "2"


def bit_errors(image: Image.Image, payload: watermark.Payload, order: str,
               original_width: int, left: int, top: int) -> dict[str, float]:
    """Errors of the mark read at its true grid and numbering (crop at ``left, top`` of a
    picture ``original_width`` wide)."""
    rgb_pixels = np.asarray(image.convert("RGB"))
    phase = ((-top) % watermark.BLOCK, (-left) % watermark.BLOCK)
    blocks = watermark.read_blocks(watermark.chroma_plane(rgb_pixels, order),
                                   watermark.saturated_pixels(rgb_pixels), phase)
    n, columns = payload.length, original_width // watermark.BLOCK
    first_row, first_col = -(-top // watermark.BLOCK), -(-left // watermark.BLOCK)
    delta, shift = columns % n, (first_row * columns + first_col) % n
    rows, cols = blocks.shape
    i, j = np.indices((rows, cols))
    bits = np.asarray(payload.bits)[(j + i * delta + shift) % n]
    usable = blocks.usable if blocks.usable.sum() >= 4 * n else np.ones_like(blocks.usable)
    hard = (blocks.soft() > 0).astype(int)
    shares = watermark.fold(blocks, n, delta, shift)
    return {
        "block_error": float((hard != bits)[usable].mean()),
        "bit_error": float(((shares > 0).astype(int) != np.asarray(payload.bits)).mean()),
        "agreement": watermark.best_agreement(shares, payload.bits) / n,
    }


class Cache:
    """JSON lines keyed by a string; appended as results come in."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: dict[str, dict] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[row["key"]] = row
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = path.open("a", encoding="utf-8")

    def get(self, key: str) -> dict | None:
        return self.rows.get(key)

    def put(self, row: dict) -> None:
        self.rows[row["key"]] = row
        self.fh.write(json.dumps(row) + "\n")
        self.fh.flush()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:20]


def _summary(matches: list[watermark.Match]) -> dict:
    # The gap to the threshold of the stage that got closest (negative: no match).
    return {"agreeing": {m.payload.key: m.agreeing - (m.needed or m.payload.length + 1)
                         for m in matches},
            "detected": [m.payload.key for m in matches if m.detected],
            "checked": bool(matches)}


def false_positives(images: list[HumanImage], cache: Cache) -> dict[str, dict]:
    per_source: dict[str, dict] = defaultdict(lambda: {
        "images": 0, "checked": 0, "too_small": 0, "matched": 0,
        "max": defaultdict(lambda: -10**6), "matched_files": []})
    for item in tqdm(images, desc="hand-made images", unit="img"):
        key = f"fp{DECODER_VERSION}:{file_digest(item.path)}"
        row = cache.get(key)
        if row is None:
            image = rgb(item.path)
            row = {"key": key, "size": list(image.size), **_summary(watermark.decode(image))}
            cache.put(row)
        stats = per_source[item.source]
        stats["images"] += 1
        if not row["checked"]:
            stats["too_small"] += 1
            continue
        stats["checked"] += 1
        for payload, agreeing in row["agreeing"].items():
            stats["max"][payload] = max(stats["max"][payload], agreeing)
        if row["detected"]:
            stats["matched"] += 1
            stats["matched_files"].append(str(item.path))
    return per_source


def spread_over_sources(images: list[HumanImage], count: int,
                        keep: Callable[[HumanImage], bool]) -> list[HumanImage]:
    """``count`` of the ``images`` that ``keep`` accepts, taken from each source in turn,
    in a fixed order (sha256 of the file name), so every source is represented."""
    by_source: dict[str, list[HumanImage]] = defaultdict(list)
    for item in sorted(images, key=lambda i: hashlib.sha256(i.path.name.encode()).hexdigest()):
        if keep(item):
            by_source[item.source].append(item)
    chosen: list[HumanImage] = []
    while len(chosen) < count and any(by_source.values()):
        for source in sorted(by_source):
            if by_source[source] and len(chosen) < count:
                chosen.append(by_source[source].pop(0))
    return chosen


def carriers(images: list[HumanImage], count: int) -> list[HumanImage]:
    """``count`` images of at least 512×512, spread over the sources, in a fixed order."""
    def big_enough(item: HumanImage) -> bool:
        with Image.open(item.path) as im:
            return min(im.size) >= 512 and im.width * im.height <= CARRIER_MAX_PIXELS

    return spread_over_sources(images, count, big_enough)


def generator_sized(image: Image.Image) -> Image.Image:
    """The top-left part whose sides are multiples of 64, as generators render."""
    return image.crop((0, 0, image.width // 64 * 64, image.height // 64 * 64))


Table = dict[str, dict[str, list[int]]]


def detection(chosen: list[HumanImage], cache: Cache, write_marked: Path | None
              ) -> tuple[Table, dict[str, dict[str, int]], dict[str, list[dict[str, float]]]]:
    table: Table = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    stages: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    errors: dict[str, list[dict[str, float]]] = defaultdict(list)
    jobs = [(c, p) for c in chosen for p in watermark.PAYLOADS]
    for item, payload in tqdm(jobs, desc="marked copies", unit="copy"):
        digest = file_digest(item.path)
        order = "rgb" if payload.key == "sdxl" else "bgr"
        marked: Image.Image | None = None
        for name, perturb in PERTURBATIONS.items():
            key = f"det{DECODER_VERSION}:{digest}:{payload.key}:{name}"
            row = cache.get(key)
            if row is None or (write_marked and name == "clean PNG"):
                if marked is None:
                    marked = embed(generator_sized(rgb(item.path)), payload)
                    if write_marked is not None:
                        write_marked.mkdir(parents=True, exist_ok=True)
                        marked.save(write_marked / f"{digest}_{payload.key}.png")
                if row is None:
                    perturbed = perturb(marked)
                    found = watermark.decode(perturbed)
                    best = next((m for m in found if m.payload.key == payload.key), None)
                    row = {"key": key, "agreeing": best.agreeing if best else None,
                           "detected": bool(best and best.detected),
                           "stage": best.stage if best and best.detected else None,
                           "other": [m.payload.key for m in found
                                     if m.detected and m.payload.key != payload.key]}
                    box_of = KNOWN_GEOMETRY.get(name, False)
                    if box_of is not False:
                        left, top = box_of(marked)[:2] if box_of is not None else (0, 0)
                        row["errors"] = bit_errors(perturbed, payload, order, marked.width,
                                                   left, top)
                    cache.put(row)
            cell = table[name][payload.key]
            cell[0] += int(row["detected"])
            cell[1] += 1
            if row["detected"]:
                stages[name][row["stage"]] += 1
            if "errors" in row:
                errors[name].append(row["errors"])
            if row["other"]:
                stages[name]["wrong payload"] += 1
    return table, stages, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--human", action="append", type=Path, required=True,
                        help="folder of hand-made images with a manifest (repeatable)")
    parser.add_argument("--carriers", type=int, default=24,
                        help="hand-made images to mark for the detection table")
    parser.add_argument("--cache", type=Path, default=REPO / "var" / "wm-bench.jsonl")
    parser.add_argument("--write-marked", type=Path, default=None,
                        help="also write the clean marked PNGs here")
    parser.add_argument("--only", choices=("detection", "fp"), default=None,
                        help="run one of the two tables")
    args = parser.parse_args(argv)

    images = [i for folder in args.human for i in human_images(folder)]
    cache = Cache(args.cache)
    print("Thresholds (agreeing bits needed; chance per unmarked image at that threshold; "
          f"aligned: {watermark.ALIGNED_TESTS} tests in "
          f"{watermark.stage_alpha(watermark.ALIGNED):.0e}, shifted: payloads × orders × L² "
          f"tests in {watermark.stage_alpha(watermark.SHIFTED):.0e}):")
    for stage, table_ in watermark.thresholds().items():
        for key, entry in table_.items():
            if entry is None:
                print(f"  {stage:8} {key:5} cannot reach the budget (not searched)")
            else:
                k, n, chance = entry
                print(f"  {stage:8} {key:5} {k}/{n}  P < {chance:.2e}")

    keys = [p.key for p in watermark.PAYLOADS]
    if args.only != "fp":
        chosen = carriers(images, args.carriers)
        table, stages, errors = detection(chosen, cache, args.write_marked)
        print(f"\nDetection on {len(chosen)} hand-made carriers marked here "
              "(detected / marked copies; stage that found them):")
        print("| perturbation | " + " | ".join(keys) + " | all | aligned / shifted |")
        print("|---" * (len(keys) + 3) + "|")
        for name in PERTURBATIONS:
            cells = [table[name][k] for k in keys]
            total = [sum(c[0] for c in cells), sum(c[1] for c in cells)]
            print(f"| {name} | " + " | ".join(f"{d}/{n}" for d, n in cells)
                  + f" | {total[0]}/{total[1]} ({100 * total[0] / max(total[1], 1):.0f} %) | "
                  f"{stages[name].get('aligned', 0)} / {stages[name].get('shifted', 0)} |")
        wrong = sum(s.get("wrong payload", 0) for s in stages.values())
        print(f"Copies where another payload also matched: {wrong}")
        print("\nErrors at the true grid (mean over copies; median in brackets):")
        print("| perturbation | block votes wrong | payload bits wrong (cut at 0) | "
              "best-cut agreement |")
        print("|---|---|---|---|")
        for name, rows in errors.items():
            cols = []
            for field in ("block_error", "bit_error", "agreement"):
                values = np.asarray([r[field] for r in rows])
                cols.append(f"{100 * values.mean():.1f} % ({100 * np.median(values):.1f} %)")
            print(f"| {name} | " + " | ".join(cols) + " |")

    if args.only == "detection":
        return 0
    fps = false_positives(images, cache)
    print("\nFalse positives on hand-made images (matched must be 0):")
    print("| source | images | checked | under 256² | closest approach (agreeing bits "
          "minus bits needed, best stage) " + " / ".join(keys) + " | matched |")
    print("|---|---|---|---|---|---|")
    total_matched = 0
    for source in sorted(fps):
        s = fps[source]
        total_matched += s["matched"]
        maxima = " / ".join(str(s["max"].get(k, "–")) for k in keys)
        print(f"| {source} | {s['images']} | {s['checked']} | {s['too_small']} | {maxima} | "
              f"{s['matched']} |")
    for s in fps.values():
        for path in s["matched_files"]:
            print(f"  matched: {path}")
    return 1 if total_matched else 0


if __name__ == "__main__":
    raise SystemExit(main())
