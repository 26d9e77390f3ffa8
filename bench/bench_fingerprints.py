"""Scale benchmark of the fingerprint index: synthetic PDQ hashes at 1M and 10M.

For each size: build time (adding every hash), memory (the serialised index, and the
process's peak RSS growth), and single-query lookups at the match threshold (31 bits):
p50/p95 latency and lookups per second. Half the queries are planted near-duplicates
(a stored hash with 1-31 bits flipped), which each lookup must find; the benchmark
fails if one is missed. Synthetic hashes are uniform random bits, the worst case for
the multi-hash tables' balance is real, clustered hashes, so treat these as a lower
bound on candidates per lookup, not an upper one. Wall-clock figures include waiting for
a CPU on a shared machine; the ``cpu_*`` figures (process time) do not.

    python bench/bench_fingerprints.py --sizes 1000000 10000000 --json

``--json`` prints one JSON object per size, each as soon as that size is measured.

Bounded: ``--max-build-seconds`` stops adding once exceeded (the size reached is
reported) and ``--queries`` caps the lookups. FAISS threads: ``--threads`` (1 = one core).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from moderation.fingerprints.index import HashIndex

THRESHOLD = 31
CHUNK = 250_000


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flip(code: np.ndarray, bits: np.ndarray) -> np.ndarray:
    out = code.copy()
    for b in bits:
        out[b // 8] ^= np.uint8(1 << (b % 8))
    return out


def run(size: int, *, queries: int, flat_max: int, max_build: float, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    index = HashIndex(flat_max=flat_max)
    rss0 = rss_mib()
    started = time.perf_counter()
    cpu_started = time.process_time()
    added = 0
    sample = np.zeros((0, 32), dtype=np.uint8)
    while added < size:
        n = min(CHUNK, size - added)
        codes = rng.integers(0, 256, (n, 32), dtype=np.uint8)
        if not sample.size:
            sample = codes[:queries].copy()
        index.add(np.arange(added, added + n), codes)
        added += n
        if time.perf_counter() - started > max_build:
            break
    build_s = time.perf_counter() - started
    build_cpu_s = time.process_time() - cpu_started
    planted = [flip(sample[i], rng.choice(256, int(rng.integers(1, THRESHOLD + 1)),
                                          replace=False)) for i in range(queries // 2)]
    randoms = list(rng.integers(0, 256, (queries - len(planted), 32), dtype=np.uint8))
    lat = []
    cpu = []
    missed = 0
    for k, q in enumerate(planted + randoms):
        t, c = time.perf_counter(), time.process_time()
        hits = index.search(q.reshape(1, 32), THRESHOLD)
        lat.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        if k < len(planted) and k not in {h.id for h in hits}:
            missed += 1
    ms = np.array(lat) * 1000
    cpu_ms = np.array(cpu) * 1000
    return {
        "size_requested": size, "size": added, "kind": index.kind,
        "build_s": round(build_s, 2), "build_per_s": round(added / build_s),
        "build_cpu_s": round(build_cpu_s, 2),
        "index_mib": round(index.memory_bytes() / 2**20, 1),
        "rss_growth_mib": round(rss_mib() - rss0, 1),
        "queries": len(lat), "planted_missed": missed,
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p95_ms": round(float(np.percentile(ms, 95)), 3),
        "lookups_per_s": round(len(lat) / float(np.sum(lat))),
        # CPU time, which a machine shared with other jobs does not inflate.
        "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 3),
        "cpu_p95_ms": round(float(np.percentile(cpu_ms, 95)), 3),
        "cpu_lookups_per_s": round(len(cpu) / max(float(np.sum(cpu)), 1e-9)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--flat-max", type=int, default=100_000)
    parser.add_argument("--max-build-seconds", type=float, default=900)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import faiss

    faiss.omp_set_num_threads(args.threads)
    results = []
    for size in args.sizes:
        result = run(size, queries=args.queries, flat_max=args.flat_max,
                     max_build=args.max_build_seconds, seed=args.seed)
        results.append(result)
        if args.json:  # one JSON line per size as soon as it is measured
            print(json.dumps({"threshold": THRESHOLD, "threads": args.threads, **result}),
                  flush=True)
        else:
            print(f"{result['size']:>10,} hashes ({result['kind']}): build "
                  f"{result['build_s']} s ({result['build_per_s']:,}/s), index "
                  f"{result['index_mib']} MiB, RSS +{result['rss_growth_mib']} MiB; lookup "
                  f"p50 {result['p50_ms']} ms p95 {result['p95_ms']} ms, "
                  f"{result['lookups_per_s']:,}/s; planted missed {result['planted_missed']}",
                  flush=True)
    return 1 if any(r["planted_missed"] for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
