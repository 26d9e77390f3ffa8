"""An in-memory index of PDQ hashes for Hamming range search, saved to one file.

Small banks (under ``flat_max`` hashes) are searched exhaustively: XOR and popcount over
every hash, a few microseconds per thousand. Larger ones get a **multi-index hash**
(Norouzi, Punjani and Fleet's MIH, the scheme behind FAISS's ``IndexBinaryMultiHash``
and HMA's index) over ``m`` disjoint slices of the 256 bits, each slice a bucket table
in compressed form (bucket offsets + positions, NumPy arrays; no Python object per hash).
Written here rather than taken from FAISS because FAISS's multi-hash keeps each bucket
as a ``std::unordered_map`` entry holding a vector and gathers candidates in an
``unordered_set``: with the same slices and probes it was four times slower per lookup
and took nearly twice the memory (figures in ``docs/fingerprints.md``). Searches:

* **Exact probing** (``max_flips=None``, the default). Write the threshold as
  ``r = s*m + a`` (``a < m``). Two hashes at most ``r`` bits apart differ in at most ``s``
  bits of one of the first ``a + 1`` slices, or in at most ``s - 1`` bits of one of the
  others (pigeonhole: otherwise they differ in at least ``(a+1)(s+1) + (m-a-1)s > r``
  bits). Probing every bucket that many flips away from the query's slices finds every
  match: exact at any size.
* **Capped probing** (``max_flips=1``): no slice is probed with more than one flip. Exact
  up to ``r = 2m - 1`` (21 bits with 11 slices) and approximate above; the recall
  measured at each distance is in ``docs/fingerprints.md`` and ``bench_fingerprints.py``
  measures it again. It cuts the buckets read per lookup by ten (the memory reads, not
  the arithmetic, are what a lookup costs at 10M hashes).
* ``search(..., mode="exhaustive")`` always remains: the flat scan over every hash, for
  checking the index against (``manage.py moderation_fingerprint_index --verify``).

The number of slices follows the size (``m ≈ 256 / log2(n)``, 11-16: about one hash per
bucket). Hashes added after the tables were built sit in a short tail scanned
exhaustively; once it passes :data:`TAIL_MAX` it is merged into the tables in one pass
over each (no re-sort), and a tail larger than a quarter of the tables rebuilds them.

``ids`` maps positions to the caller's ids (bank entry primary keys; an entry owns one
position per hash it carries). Removal marks positions dead and searches skip them;
:meth:`HashIndex.compact` (or a rebuild) drops them. Nothing here touches Django: the
bank layer (:mod:`moderation.fingerprints.store`) decides what goes in, and the
benchmark drives this class directly.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from moderation.fingerprints.pdq import BITS, BYTES
from moderation.internal.npzfile import write_npz_atomically

#: Format of the saved file; a file of another format is ignored (rebuilt).
FILE_FORMAT = 2
#: Hashes added after the tables were built that are scanned exhaustively before they are
#: merged into the tables (each merge is one pass over the tables).
TAIL_MAX = 8192
#: Hashes compared at once by the exhaustive scan (bounds its temporary memory).
SCAN_BLOCK = 65536
#: Fewest and most slices of the multi-index hash.
MIN_SLICES, MAX_SLICES = 11, 16
#: Search modes: the index's own, every flip the pigeonhole needs, the flat scan.
MODES = (None, "exact", "exhaustive")

_WORDS = BITS // 64


def available() -> bool:
    """The index needs NumPy only (kept for callers that ask before using it)."""
    return True


@dataclass(frozen=True)
class Hit:
    """One indexed hash within the threshold of one query."""

    query: int
    id: int
    distance: int


def as_words(codes: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 hashes as (n, 4) uint64 words, most significant bits first."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, BYTES)
    words: np.ndarray = codes.view(">u8").astype(np.uint64)
    return words


def _slice_keys(words: np.ndarray, start: int, width: int) -> np.ndarray:
    """Bits ``start .. start + width`` of each hash as an int64 bucket number."""
    word, off = divmod(start, 64)
    if off + width <= 64:
        keys = (words[:, word] >> np.uint64(64 - off - width)) & np.uint64((1 << width) - 1)
    else:
        high = 64 - off
        low = width - high
        keys = ((words[:, word] & np.uint64((1 << high) - 1)) << np.uint64(low)) \
            | (words[:, word + 1] >> np.uint64(64 - low))
    return keys.astype(np.int64)


@lru_cache(maxsize=64)
def _flip_masks(width: int, flips: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``flips`` bits set (the probes of a slice)."""
    masks = [0]
    for k in range(1, max(0, flips) + 1):
        masks += [sum(1 << b for b in combo) for combo in itertools.combinations(range(width), k)]
    return np.asarray(masks if flips >= 0 else [], dtype=np.int64)


def slices_for(n: int) -> int:
    """Slices for ``n`` hashes: about one hash per bucket, 11 to 16."""
    return int(min(MAX_SLICES, max(MIN_SLICES, round(BITS / math.log2(max(n, 2 ** 16))))))


def popcount_distances(words: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Hamming distances of each row of ``words`` ((n, 4) uint64) to ``query`` ((4,))."""
    x = np.bitwise_count(words ^ query)
    out: np.ndarray = x[:, 0].astype(np.int16) + x[:, 1] + x[:, 2] + x[:, 3]
    return out


class _Tables:
    """The multi-index hash tables over positions ``0 .. n``: per slice, the bucket offsets
    (``2**width + 1`` of them, uint32) into that slice's positions sorted by bucket."""

    def __init__(self, m: int, n: int, off: np.ndarray, pos: np.ndarray) -> None:
        self.m, self.n = m, n
        base, extra = divmod(BITS, m)
        # The wider slices last: they are the ones probed with a flip less.
        self.widths = [base] * (m - extra) + [base + 1] * extra
        self.starts = [0, *itertools.accumulate(self.widths[:-1])]
        self.obase = [0, *itertools.accumulate((1 << w) + 1 for w in self.widths[:-1])]
        self.off, self.pos = off, pos
        # Bit j of a hash (most significant first) is worth this much in its slice's key.
        self._weights = np.zeros((BITS, m), dtype=np.float64)
        for t, (start, width) in enumerate(zip(self.starts, self.widths, strict=True)):
            for j in range(start, start + width):
                self._weights[j, t] = float(1 << (start + width - 1 - j))
        self._plans: dict[tuple[int, int | None],
                          tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def build(cls, words: np.ndarray, m: int) -> _Tables:
        n = words.shape[0]
        made = cls(m, n, np.zeros(0, np.uint32), np.zeros(0, np.uint32))
        off = np.empty(made.obase[-1] + (1 << made.widths[-1]) + 1, dtype=np.uint32)
        pos = np.empty(m * n, dtype=np.uint32)
        for t, (start, width) in enumerate(zip(made.starts, made.widths, strict=True)):
            keys = _slice_keys(words, start, width)
            order = np.argsort(keys, kind="stable")
            counts = np.bincount(keys, minlength=1 << width)
            local = np.zeros((1 << width) + 1, dtype=np.int64)
            np.cumsum(counts, out=local[1:])
            off[made.obase[t]:made.obase[t] + (1 << width) + 1] = local + t * n
            pos[t * n:(t + 1) * n] = order
        made.off, made.pos = off, pos
        return made

    def merged(self, words: np.ndarray, first: int) -> _Tables:
        """These tables with positions ``first .. first + len(words)`` added (``first`` is
        ``self.n``): each bucket keeps its order and gains the new hashes at its end, so
        each slice is one insertion pass, with no sort of the old hashes."""
        n_old, tail = self.n, words.shape[0]
        n_new = n_old + tail
        off = np.empty_like(self.off)
        pos = np.empty(self.m * n_new, dtype=np.uint32)
        for t, (start, width) in enumerate(zip(self.starts, self.widths, strict=True)):
            nb = 1 << width
            span = slice(self.obase[t], self.obase[t] + nb + 1)
            local = self.off[span].astype(np.int64) - t * n_old
            keys = _slice_keys(words, start, width)
            order = np.argsort(keys, kind="stable")
            keys = keys[order]
            # A new hash goes after the last old one of its bucket; np.insert keeps the
            # order of equal insertion points, so a bucket's new hashes stay in order.
            pos[t * n_new:(t + 1) * n_new] = np.insert(
                self.pos[t * n_old:(t + 1) * n_old], local[keys + 1],
                (order + first).astype(np.uint32))
            before = np.zeros(nb + 1, dtype=np.int64)  # new hashes in the buckets below
            np.cumsum(np.bincount(keys, minlength=nb), out=before[1:])
            off[span] = local + before + t * n_new
        return _Tables(self.m, n_new, off, pos)

    def plan(self, threshold: int, max_flips: int | None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The probes for ``threshold`` (see the module docstring), flattened over the
        slices: each probe's slice, flip mask and offset of its slice's buckets."""
        key = (int(threshold), max_flips)
        found = self._plans.get(key)
        if found is not None:
            return found
        s, a = divmod(int(threshold), self.m)
        slices, masks, bases = [], [], []
        for t, width in enumerate(self.widths):
            flips = s if t <= a else s - 1
            if max_flips is not None:
                flips = min(flips, max_flips)
            found_masks = _flip_masks(width, flips)
            slices.append(np.full(found_masks.size, t, dtype=np.int64))
            masks.append(found_masks)
            bases.append(np.full(found_masks.size, self.obase[t], dtype=np.int64))
        found = (np.concatenate(slices), np.concatenate(masks), np.concatenate(bases))
        self._plans[key] = found
        return found

    def keys(self, words: np.ndarray) -> np.ndarray:
        """(q, m) bucket numbers of each query in each slice (as :func:`_slice_keys`)."""
        bits = np.unpackbits(words.astype(">u8").view(np.uint8).reshape(-1, BYTES), axis=1)
        keys: np.ndarray = (bits.astype(np.float64) @ self._weights).astype(np.int64)
        return keys

    def candidates(self, queries: np.ndarray, threshold: int, max_flips: int | None
                   ) -> tuple[np.ndarray, np.ndarray]:
        """(query row, position) of every hash in a probed bucket (with repeats)."""
        slices, masks, bases = self.plan(threshold, max_flips)
        if not slices.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        buckets = (self.keys(queries)[:, slices] ^ masks) + bases
        begin = self.off[buckets]
        sizes = self.off[buckets + 1] - begin
        rows, cols = np.nonzero(sizes)
        begin = begin[rows, cols].astype(np.int64)
        sizes = sizes[rows, cols].astype(np.int64)
        if not sizes.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        if int(sizes.max()) == 1:
            at = begin
        else:
            ends = np.cumsum(sizes)
            at = np.repeat(begin - ends + sizes, sizes) + np.arange(int(ends[-1]))
            rows = np.repeat(rows, sizes)
        return rows.astype(np.int64), self.pos[at].astype(np.int64)

    @property
    def nbytes(self) -> int:
        return int(self.off.nbytes + self.pos.nbytes)


class HashIndex:
    """PDQ hashes with caller ids; add, discard, range-search, save and load.

    ``flat_max``: from this many hashes on, the multi-index tables are built (below it
    every search is the flat scan). ``max_flips``: None for exact probing, or the most
    flips probed per slice (1 = the fast, approximate setting; see the module docstring).

    Thread-safe: one lock covers every operation (a worker process shares one index
    between its threads).
    """

    def __init__(self, *, flat_max: int = 20_000, max_flips: int | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.flat_max = int(flat_max)
        self.max_flips = None if max_flips is None else int(max_flips)
        self._lock = threading.RLock()
        self._words = np.zeros((0, _WORDS), dtype=np.uint64)
        self._ids = np.zeros(0, dtype=np.int64)
        self._dead = np.zeros(0, dtype=bool)
        self._n = 0
        self._tables: _Tables | None = None
        #: Free-form state the owner keeps with the index (sync watermarks); saved with it.
        self.meta: dict[str, Any] = dict(meta or {})

    # -- contents ------------------------------------------------------------------------
    def __len__(self) -> int:
        """Live hashes (dead positions left out)."""
        return int(self._n - int(self._dead[:self._n].sum()))

    @property
    def positions(self) -> int:
        """Hashes stored, dead ones included (what memory and search time follow)."""
        return self._n

    @property
    def kind(self) -> str:
        """"flat" (exhaustive) or "multihash"."""
        return "flat" if self._tables is None else "multihash"

    @property
    def slices(self) -> int:
        """Slices of the multi-index tables (0 while flat)."""
        return 0 if self._tables is None else self._tables.m

    @property
    def tail(self) -> int:
        """Hashes added since the tables were built or merged (scanned exhaustively)."""
        return self._n - (self._tables.n if self._tables is not None else 0)

    def ids(self) -> np.ndarray:
        """Live ids, in insertion order."""
        with self._lock:
            return self._ids[:self._n][~self._dead[:self._n]].copy()

    def _grow(self, extra: int) -> None:
        need = self._n + extra
        if need <= self._ids.size:
            return
        cap = max(need, int(self._ids.size * 1.25) + 1024)
        for name in ("_words", "_ids", "_dead"):
            old = getattr(self, name)
            new = np.zeros((cap, *old.shape[1:]), dtype=old.dtype)
            new[:self._n] = old[:self._n]
            setattr(self, name, new)

    def add(self, ids: Any, codes: np.ndarray) -> None:
        """Append hashes (an (n, 32) uint8 array) under ``ids``."""
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        words = as_words(codes)
        if ids_arr.size != words.shape[0]:
            raise ValueError("one id per hash")
        if not ids_arr.size:
            return
        with self._lock:
            self._grow(ids_arr.size)
            end = self._n + ids_arr.size
            self._words[self._n:end] = words
            self._ids[self._n:end] = ids_arr
            self._dead[self._n:end] = False
            self._n = end
            self._reindex()

    def _reindex(self) -> None:
        """Build, merge or rebuild the tables as the size asks."""
        if self._n < self.flat_max:
            self._tables = None
            return
        tables = self._tables
        if tables is None or self.tail > max(TAIL_MAX, tables.n // 4) \
                or (slices_for(self._n) != tables.m and self.tail > TAIL_MAX):
            self._tables = _Tables.build(self._words[:self._n], slices_for(self._n))
        elif self.tail > TAIL_MAX:
            self._tables = tables.merged(self._words[tables.n:self._n], tables.n)

    def discard(self, ids: Any) -> int:
        """Mark every position holding one of ``ids`` dead; return how many were live."""
        wanted = np.asarray(list(ids), dtype=np.int64)
        if not wanted.size:
            return 0
        with self._lock:
            hit = np.isin(self._ids[:self._n], wanted) & ~self._dead[:self._n]
            self._dead[:self._n] |= hit
            return int(hit.sum())

    def contains(self, entry_id: int) -> bool:
        with self._lock:
            return bool(np.any((self._ids[:self._n] == entry_id) & ~self._dead[:self._n]))

    # -- search --------------------------------------------------------------------------
    def exact_for(self, threshold: int) -> bool:
        """Whether a search at ``threshold`` finds every match (always, unless capped
        probing leaves out flips the pigeonhole needs)."""
        tables = self._tables
        return tables is None or self.max_flips is None or \
            int(threshold) // tables.m <= self.max_flips

    def search(self, queries: np.ndarray, threshold: int, *, mode: str | None = None
               ) -> list[Hit]:
        """Every live hash at most ``threshold`` bits from each query row (a batch of
        queries costs less per query than one at a time).

        ``mode``: None searches as the index is set up, ``"exact"`` probes every flip the
        pigeonhole needs whatever ``max_flips`` says, ``"exhaustive"`` scans every hash.
        """
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}")
        words = as_words(queries)
        if not words.shape[0]:
            return []
        with self._lock:
            if not self._n:
                return []
            rows, found, dist = self._search(words, int(threshold), mode)
            ids = self._ids[found]
        return [Hit(int(q), int(i), int(d)) for q, i, d in zip(rows, ids, dist, strict=True)]

    def _search(self, words: np.ndarray, threshold: int, mode: str | None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tables = None if mode == "exhaustive" else self._tables
        parts = []
        if tables is not None and tables.n:
            flips = None if mode == "exact" else self.max_flips
            rows, pos = tables.candidates(words, threshold, flips)
            if pos.size:
                rows32 = self._words.view(np.dtype((np.void, BYTES))).reshape(-1)
                x = np.bitwise_count(rows32[pos].view(np.uint64).reshape(-1, _WORDS)
                                     ^ words[rows])
                dist = x[:, 0].astype(np.int16) + x[:, 1] + x[:, 2] + x[:, 3]
                keep = dist <= threshold
                parts.append((rows[keep], pos[keep], dist[keep]))
        if self._n > (tables.n if tables is not None else 0):
            parts.append(self._scan(words, threshold, tables.n if tables is not None else 0))
        if not parts:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int16)
        if len(parts) == 1:
            rows, pos, dist = parts[0]
        else:
            rows = np.concatenate([p[0] for p in parts])
            pos = np.concatenate([p[1] for p in parts])
            dist = np.concatenate([p[2] for p in parts])
        live = ~self._dead[pos]
        rows, pos, dist = rows[live], pos[live], dist[live]
        # A hash found through several slices is one hit.
        _, first = np.unique(rows * self._n + pos, return_index=True)
        return rows[first], pos[first], dist[first]

    def _scan(self, words: np.ndarray, threshold: int, start: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The flat scan of positions ``start ..``: every hash compared with every query."""
        rows, pos, dist = [], [], []
        for lo in range(start, self._n, SCAN_BLOCK):
            block = self._words[lo:min(lo + SCAN_BLOCK, self._n)]
            for q in range(words.shape[0]):
                d = popcount_distances(block, words[q])
                near = np.flatnonzero(d <= threshold)
                if near.size:
                    rows.append(np.full(near.size, q, dtype=np.int64))
                    pos.append(near + lo)
                    dist.append(d[near])
        if not rows:
            empty = np.zeros(0, np.int64)
            return empty, empty, np.zeros(0, np.int16)
        return np.concatenate(rows), np.concatenate(pos), np.concatenate(dist)

    # -- maintenance ---------------------------------------------------------------------
    def compact(self) -> int:
        """Drop dead positions (rebuilds the tables); return how many were dropped."""
        with self._lock:
            dead = int(self._dead[:self._n].sum())
            if not dead:
                return 0
            keep = ~self._dead[:self._n]
            words, ids = self._words[:self._n][keep], self._ids[:self._n][keep]
            self._n = 0
            self._tables = None
            self._words = np.zeros((0, _WORDS), dtype=np.uint64)
            self._ids = np.zeros(0, dtype=np.int64)
            self._dead = np.zeros(0, dtype=bool)
            self.add(ids, words.astype(">u8").view(np.uint8).reshape(-1, BYTES))
            return dead

    def memory_bytes(self) -> int:
        """Bytes the index holds (hashes, ids, tables; spare capacity left out)."""
        with self._lock:
            tables = self._tables.nbytes if self._tables is not None else 0
            return self._n * (_WORDS * 8 + 8 + 1) + tables

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (a reader never sees half a file)."""
        target = Path(path)
        with self._lock:
            tables = self._tables
            header = json.dumps({
                "format": FILE_FORMAT, "flat_max": self.flat_max, "max_flips": self.max_flips,
                "meta": self.meta, "slices": tables.m if tables is not None else 0,
                "indexed": tables.n if tables is not None else 0}).encode()
            arrays: dict[str, np.ndarray] = {
                "header": np.frombuffer(header, dtype=np.uint8),
                "words": self._words[:self._n], "ids": self._ids[:self._n],
                "dead": self._dead[:self._n]}
            if tables is not None:
                arrays.update(off=tables.off, pos=tables.pos)
            write_npz_atomically(target, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, flat_max: int | None = None,
             max_flips: int | str | None = "saved") -> HashIndex:
        """Read an index :meth:`save` wrote; raise FileNotFoundError when there is none
        and ValueError if the file is not one (or of an older format)."""
        if not Path(path).exists():
            raise FileNotFoundError(str(path))
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                arrays = {name: np.array(data[name]) for name in data.files if name != "header"}
        except (OSError, KeyError, ValueError, EOFError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a fingerprint index file: {exc}") from exc
        if not isinstance(header, dict) or header.get("format") != FILE_FORMAT:
            raise ValueError("not a fingerprint index file of format "
                             f"{FILE_FORMAT} (rebuild it)")
        try:
            words = arrays["words"].astype(np.uint64, copy=False).reshape(-1, _WORDS)
            ids = arrays["ids"].astype(np.int64, copy=False)
            dead = arrays["dead"].astype(bool, copy=False)
            tables = None
            if header.get("slices"):
                tables = _Tables(int(header["slices"]), int(header["indexed"]),
                                 arrays["off"].astype(np.uint32, copy=False),
                                 arrays["pos"].astype(np.uint32, copy=False))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"not a fingerprint index file: {exc}") from exc
        if words.shape[0] != ids.size or dead.size != ids.size or (
                tables is not None and (tables.n > ids.size
                                        or tables.pos.size != tables.m * tables.n)):
            raise ValueError("index file is inconsistent (hash and id counts differ)")
        saved = header.get("max_flips")
        flips = (None if saved is None else int(saved)) if max_flips == "saved" \
            else None if max_flips is None else int(max_flips)
        made = cls(flat_max=flat_max if flat_max is not None else header["flat_max"],
                   max_flips=flips,
                   meta=header.get("meta") or {})
        made._words, made._ids, made._dead, made._n = words, ids, dead, int(ids.size)
        made._tables = tables
        made._reindex()
        return made


#: Distance bands :func:`verify` reports recall in.
BANDS = ((0, 15), (16, 21), (22, 26), (27, 31))


def verify(index: HashIndex, samples: int, threshold: int, *, seed: int = 0
           ) -> dict[str, tuple[int, int]]:
    """Check ``index``'s own search against the exhaustive scan: ``samples`` stored hashes,
    each with ``d`` random bits flipped (``d`` spread evenly over 0..threshold), looked up
    both ways. Returns, per distance band, (queries whose hits equal the scan's, queries)."""
    rng = np.random.default_rng(seed)
    with index._lock:
        live = np.flatnonzero(~index._dead[:index._n])
        if not live.size:
            return {}
        picked = index._words[rng.choice(live, size=min(samples, live.size), replace=False)]
    bands = [(lo, min(hi, threshold)) for lo, hi in BANDS if lo <= threshold]
    if threshold > BANDS[-1][1]:
        bands.append((BANDS[-1][1] + 1, threshold))
    out = {f"{lo}-{hi}": [0, 0] for lo, hi in bands}
    for k, words in enumerate(picked):
        d = k * (threshold + 1) // picked.shape[0]
        bits = np.unpackbits(words.astype(">u8").view(np.uint8))
        bits[rng.choice(BITS, d, replace=False)] ^= 1
        query = np.packbits(bits).reshape(1, BYTES)
        own = {(h.id, h.distance) for h in index.search(query, threshold)}
        scan = {(h.id, h.distance) for h in index.search(query, threshold, mode="exhaustive")}
        band = next(f"{lo}-{hi}" for lo, hi in bands if lo <= d <= hi)
        out[band][0] += own == scan
        out[band][1] += 1
    return {band: (same, total) for band, (same, total) in out.items()}
