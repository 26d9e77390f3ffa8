#!/usr/bin/env python
"""Which crops of a banked work a repost is matched through, and what the crops cost in
false matches.

For every image under the ``--images`` folders (read from the command line; nothing is
committed or downloaded) the bank side is hashed as the site hashes a published work
(``pdq.compute``: the whole picture and its crops, ``pdq.CROPS``). Each image is then
edited the way reposts are -- trimmed from one side, from two adjacent sides (a corner
kept) or around, by several amounts, mirrored half the time -- resized to 60% and
re-encoded as JPEG quality 75, and looked up as an upload is: its eight dihedral hashes
against the bank hashes, matched at ``--threshold`` (31) bits. Recall is the share of
copies matched, with the central crops only (before the one-sided crops were added)
and with every crop.

False matches: every image's upload hashes against every *other* image's bank hashes
(ordered pairs), counted at the threshold, with the central crops only and with every
crop, and the pairs listed so a reader can see whether they are in fact related.

    python bench/bench_fingerprint_crops.py --images DATA/human-devset \\
        --images DATA/ai-devset [--json]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.fingerprints import pdq

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
#: Bank hashes before the one-sided crops: the whole picture and the two central crops.
CENTRAL = 3
EDITS: dict[str, list[tuple[float, float, float, float]]] = {}
for share in (0.05, 0.08, 0.10, 0.12, 0.15):
    EDITS[f"one side {share:.0%}"] = [(share, 0, 0, 0), (0, share, 0, 0), (0, 0, share, 0),
                                      (0, 0, 0, share)]
for share in (0.05, 0.10, 0.15):
    EDITS[f"corner kept, {share:.0%} off two sides"] = [
        (share, share, 0, 0), (0, share, share, 0), (0, 0, share, share), (share, 0, 0, share)]
EDITS["around 10%"] = [(0.05, 0.05, 0.05, 0.05)]
EDITS["around 20%"] = [(0.1, 0.1, 0.1, 0.1)]
EDITS["none (re-encoded)"] = [(0, 0, 0, 0)]


def rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    return image.convert("RGB")


def edited(picture: Image.Image, trim: tuple[float, float, float, float],
           mirror: bool) -> Image.Image:
    w, h = picture.size
    left, top, right, bottom = trim
    out = picture.crop((round(w * left), round(h * top), w - round(w * right),
                        h - round(h * bottom)))
    if mirror:
        out = ImageOps.mirror(out)
    out = out.resize((max(16, round(out.width * 0.6)), max(16, round(out.height * 0.6))),
                     Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=75)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def bits(hexes: list[str]) -> np.ndarray:
    return np.unpackbits(pdq.hex_to_array(hexes), axis=1).astype(np.float32)


def min_distance(queries: np.ndarray, bank: np.ndarray) -> int:
    d = queries.sum(1)[:, None] + bank.sum(1)[None, :] - 2 * (queries @ bank.T)
    return int(d.min())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", action="append", required=True)
    parser.add_argument("--limit", type=int, default=0, help="Images at most (0: all).")
    parser.add_argument("--threshold", type=int, default=31)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    paths = sorted(p for d in args.images for p in Path(d).rglob("*")
                   if p.suffix.lower() in SUFFIXES)
    if args.limit:
        paths = paths[:args.limit]
    names, uploads, banked = [], [], []
    matched: dict[str, list[tuple[int, int]]] = {name: [] for name in EDITS}
    cpu = time.process_time()
    for path in paths:
        try:
            with Image.open(path) as img:
                picture = rgb(img)
        except (OSError, UnidentifiedImageError):
            continue
        if min(picture.size) < 64:
            continue
        fp = pdq.compute(picture)
        if fp.quality < 50:
            continue
        names.append(f"{path.parent.name}/{path.name}")
        uploads.append(bits(list(fp.dihedral)))
        bank = bits([fp.pdq, *fp.crops])
        banked.append(bank)
        for name, trims in EDITS.items():
            trim = trims[int(rng.integers(len(trims)))]
            hashes, _ = pdq.dihedral(edited(picture, trim, bool(rng.random() < 0.5)))
            query = bits(list(hashes))
            matched[name].append((min_distance(query, bank[:CENTRAL]),
                                  min_distance(query, bank)))
    n = len(names)
    recall = {name: {
        "central_only": round(float(np.mean([a <= args.threshold for a, _ in rows])), 3),
        "every_crop": round(float(np.mean([b <= args.threshold for _, b in rows])), 3),
        "median_distance": int(np.median([b for _, b in rows]))}
        for name, rows in matched.items()}
    up = np.stack(uploads).reshape(-1, 256)
    false: dict[str, object] = {}
    for label, k in (("central_only", CENTRAL), ("every_crop", banked[0].shape[0])):
        bank = np.stack([b[:k] for b in banked]).reshape(-1, 256)
        d = up.sum(1)[:, None] + bank.sum(1)[None, :] - 2 * (up @ bank.T)
        d = d.reshape(n, 8, n, k).min(axis=(1, 3))
        np.fill_diagonal(d, 10**6)
        pairs = [(names[i], names[j], int(d[i, j]))
                 for i, j in np.argwhere(d <= args.threshold)]
        false[label] = {"pairs_within_threshold": len(pairs),
                        "within_40": int((d <= 40).sum()), "within_50": int((d <= 50).sum()),
                        "pairs": pairs}
    result = {"images": n, "ordered_pairs": n * (n - 1), "threshold": args.threshold,
              "hashes_per_entry": {"central_only": CENTRAL, "every_crop": banked[0].shape[0]},
              "recall": recall, "false_matches": false,
              "cpu_s": round(time.process_time() - cpu, 1)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{n} images, {n * (n - 1):,} ordered unrelated pairs, threshold {args.threshold}")
    for name, row in recall.items():
        print(f"  {name:34} central only {row['central_only']:.2f}  every crop "
              f"{row['every_crop']:.2f}  (median distance {row['median_distance']})")
    for label, row in false.items():
        assert isinstance(row, dict)
        print(f"  false matches, {label}: {row['pairs_within_threshold']} pairs "
              f"(<=40: {row['within_40']}, <=50: {row['within_50']})")
        for a, b, dist in row["pairs"]:
            print(f"    {a} -> {b}: {dist}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
