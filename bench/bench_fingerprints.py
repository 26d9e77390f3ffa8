"""Scale benchmark of the fingerprint index: synthetic PDQ hashes at 1M and 10M.

For each size: build time (adding every hash at once), the time one incremental merge of
new hashes into the tables takes, memory (what the index holds, and the process's peak
RSS growth), then lookups at the match threshold (31 bits) in each search mode:

* ``exact``: every bucket the pigeonhole needs (finds every match);
* ``fast``: at most one flip per slice (``FINGERPRINT_INDEX_MAX_FLIPS = 1``).

Per mode: p50/p95 of single lookups (one hash each, as HMA counts them) and lookups per
second; then the per-upload cost, an upload's eight dihedral hashes looked up in one
batch. Half the single queries are planted near-duplicates, a stored hash with ``d`` bits
flipped, ``d`` spread evenly over 0-31; recall is reported per distance band, and an
exhaustive scan of every hash checks a sample of the answers (``exhaustive_checked``:
the queries whose hits equal the flat scan's). Synthetic hashes are uniform random bits.

``--images DIR`` (repeatable) adds real transformed images: each image's bank hashes
(whole picture and crops) are added to the index, and each transformed copy's dihedral
hashes are looked up in fast mode and by the exhaustive scan; ``real_recall`` is the
share of the copies an exhaustive comparison matches (the copy's hashes against every
hash of its original) that the fast search matched too. Images are read
from the command line only (nothing is committed).

Wall-clock figures include waiting for a CPU on a shared machine; the ``cpu_*`` figures
(process time) do not; ``load`` is the 1-minute load average before and after.

    python bench/bench_fingerprints.py --sizes 1000000 10000000 --queries 1000 --json

``--json`` prints one JSON object per size, each as soon as that size is measured.
The benchmark fails (exit 1) if exact mode misses a planted near-duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, UnidentifiedImageError

from moderation.fingerprints import pdq
from moderation.fingerprints.index import TAIL_MAX, HashIndex
from tests.fingerprints.images import transforms

THRESHOLD = 31
BANDS = ((0, 15), (16, 21), (22, 26), (27, 31))
#: Hashes per upload looked up together (the eight dihedral variants).
PER_UPLOAD = 8


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load() -> float:
    return round(os.getloadavg()[0], 1)


def flipped(rng: np.random.Generator, code: np.ndarray, bits: int) -> np.ndarray:
    unpacked = np.unpackbits(code)
    unpacked[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked)


def timed_lookups(index: HashIndex, queries: np.ndarray, mode: str | None, batch: int
                  ) -> tuple[list[set[int]], np.ndarray, np.ndarray]:
    """Per query its hit ids; per batch its wall and CPU seconds."""
    found: list[set[int]] = [set() for _ in range(queries.shape[0])]
    wall, cpu = [], []
    for lo in range(0, queries.shape[0], batch):
        t, c = time.perf_counter(), time.process_time()
        hits = index.search(queries[lo:lo + batch], THRESHOLD, mode=mode)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        for h in hits:
            found[lo + h.query].add(h.id)
    return found, np.array(wall), np.array(cpu)


def mode_figures(index: HashIndex, queries: np.ndarray, planted: np.ndarray,
                 distances: np.ndarray, mode: str) -> dict:
    found, wall, cpu = timed_lookups(index, queries, mode, 1)
    ms, cpu_ms = wall * 1000, cpu * 1000
    hit = np.array([int(src) in found[k] for k, src in enumerate(planted)])
    recall = {}
    for lo, hi in BANDS:
        band = (distances >= lo) & (distances <= hi)
        recall[f"{lo}-{hi}"] = f"{int(hit[band].sum())}/{int(band.sum())}"
    _, _, bcpu = timed_lookups(index, queries, mode, PER_UPLOAD)
    return {
        "planted_missed": int((~hit).sum()), "recall": recall,
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "lookups_per_s": round(len(ms) / float(np.sum(wall))),
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 3),
        "cpu_p95_ms": round(float(np.percentile(cpu_ms, 95)), 3),
        "cpu_lookups_per_s": round(len(cpu) / max(float(np.sum(cpu)), 1e-9)),
        # Eight hashes in one search: an upload's cost, and the hashes per second it gives.
        "cpu_upload_p50_ms": round(float(np.percentile(bcpu * 1000, 50)), 3),
        "cpu_upload_p95_ms": round(float(np.percentile(bcpu * 1000, 95)), 3),
        "cpu_batched_lookups_per_s": round(len(cpu) / max(float(np.sum(bcpu)), 1e-9)),
    }


def real_images(index: HashIndex, dirs: list[str], limit: int, first_id: int) -> dict:
    """Bank real images in ``index`` and look their transformed copies up."""
    paths = sorted(p for d in dirs for p in Path(d).rglob("*")
                   if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"})[:limit]
    queries, owners, truth = [], [], []
    banked = 0
    for n, path in enumerate(paths):
        try:
            with Image.open(path) as img:
                picture = img.convert("RGB")
        except (OSError, UnidentifiedImageError):
            continue
        fp = pdq.compute(picture)
        if fp.quality < 50:
            continue
        hashes = [fp.pdq, *fp.crops]
        index.add([first_id + n] * len(hashes), pdq.hex_to_array(hashes))
        banked += 1
        for _name, copy in transforms(picture):
            dihedral = list(pdq.dihedral(copy)[0])
            queries.append(pdq.hex_to_array(dihedral))
            owners.append(first_id + n)
            # What an exhaustive scan finds for this pair: the closest of its hashes.
            truth.append(min(pdq.distance(a, b) for a in dihedral for b in hashes))
    caught_fast = caught_scan = both = 0
    for q, owner, closest in zip(queries, owners, truth, strict=True):
        fast = {h.id for h in index.search(q, THRESHOLD)}
        caught_fast += owner in fast
        caught_scan += closest <= THRESHOLD
        both += owner in fast and closest <= THRESHOLD
    return {"real_images": banked, "real_copies": len(queries),
            "real_matched_by_scan": caught_scan, "real_matched_fast": caught_fast,
            "real_recall": round(both / max(caught_scan, 1), 4)}


def run(size: int, *, queries: int, flat_max: int, seed: int, images: list[str],
        image_limit: int) -> dict:
    rng = np.random.default_rng(seed)
    load_before = load()
    codes = rng.integers(0, 256, (size, 32), dtype=np.uint8)
    index = HashIndex(flat_max=flat_max, max_flips=1)
    rss0 = rss_mib()
    started, cpu_started = time.perf_counter(), time.process_time()
    index.add(np.arange(size), codes)
    build_s = time.perf_counter() - started
    build_cpu_s = time.process_time() - cpu_started
    extra = rng.integers(0, 256, (TAIL_MAX + 1, 32), dtype=np.uint8)
    started, cpu_started = time.perf_counter(), time.process_time()
    index.add(np.arange(size, size + extra.shape[0]), extra)
    merge_s, merge_cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
    n_planted = queries // 2
    planted = rng.integers(0, size, n_planted)
    distances = np.arange(n_planted) % (THRESHOLD + 1)
    near = np.stack([flipped(rng, codes[p], int(d)) for p, d in zip(planted, distances,
                                                                     strict=True)])
    randoms = rng.integers(0, 256, (queries - n_planted, 32), dtype=np.uint8)
    qs = np.concatenate([near, randoms])
    result: dict = {
        "size": size, "kind": index.kind, "slices": index.slices, "load_before": load_before,
        "build_s": round(build_s, 2), "build_cpu_s": round(build_cpu_s, 2),
        "merge_hashes": int(extra.shape[0]), "merge_cpu_s": round(merge_cpu_s, 2),
        "merge_s": round(merge_s, 2),
        "index_mib": round(index.memory_bytes() / 2**20, 1),
        "rss_growth_mib": round(rss_mib() - rss0, 1), "queries": int(qs.shape[0]),
    }
    del codes
    every = np.concatenate([planted, np.full(queries - n_planted, -1)])
    for mode, name in (("exact", "exact"), (None, "fast")):
        result[name] = mode_figures(index, qs, every[:n_planted], distances, mode)
        # The lookups' answers against the exhaustive scan, on a sample (a scan of 10M
        # hashes takes a second of its own).
    sample = np.concatenate([np.arange(0, n_planted, max(1, n_planted // 24)),
                             [queries - 1]])
    same = 0
    for k in sample:
        scan = {(h.id, h.distance) for h in index.search(qs[k:k + 1], THRESHOLD,
                                                         mode="exhaustive")}
        exact = {(h.id, h.distance) for h in index.search(qs[k:k + 1], THRESHOLD,
                                                          mode="exact")}
        same += scan == exact
    result["exhaustive_checked"] = f"{same}/{len(sample)}"
    if images:
        result.update(real_images(index, images, image_limit, size + extra.shape[0]))
    result["load_after"] = load()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--flat-max", type=int, default=20_000)
    parser.add_argument("--images", action="append", default=[],
                        help="Folder of real images to bank and look up transformed copies.")
    parser.add_argument("--image-limit", type=int, default=60)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        result = run(size, queries=args.queries, flat_max=args.flat_max, seed=args.seed,
                     images=args.images, image_limit=args.image_limit)
        results.append(result)
        if args.json:  # one JSON line per size as soon as it is measured
            print(json.dumps({"threshold": THRESHOLD, **result}), flush=True)
        else:
            print(f"{result['size']:>10,} hashes ({result['kind']}, {result['slices']} slices):"
                  f" build {result['build_cpu_s']} s CPU, index {result['index_mib']} MiB,"
                  f" RSS +{result['rss_growth_mib']} MiB (load {result['load_before']})",
                  flush=True)
            for name in ("exact", "fast"):
                r = result[name]
                print(f"  {name}: p50 {r['cpu_p50_ms']} ms p95 {r['cpu_p95_ms']} ms CPU, "
                      f"{r['cpu_lookups_per_s']:,}/s single, {r['cpu_batched_lookups_per_s']:,}"
                      f"/s batched; upload {r['cpu_upload_p50_ms']} ms; recall {r['recall']}",
                      flush=True)
    return 1 if any(r["exact"]["planted_missed"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
