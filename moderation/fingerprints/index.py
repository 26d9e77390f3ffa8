"""An in-memory FAISS binary index of PDQ hashes, exact at every size, saved to one file.

Small banks are searched exhaustively (``IndexBinaryFlat``: a popcount over every hash,
microseconds per thousand hashes). From ``flat_max`` hashes on, the index turns into an
``IndexBinaryMultiHash`` of 16 hash tables over 16-bit slices of the hash (the layout
Hasher-Matcher-Actioner uses): two hashes at most ``threshold`` bits apart differ in at
most ``threshold // 16`` bits of at least one slice (pigeonhole), so probing every
slice with that many bits flipped finds every match -- the multi-hash search is exact
too, only faster on large banks.

FAISS numbers hashes by position; ``ids`` maps positions to the caller's ids (bank
entry primary keys). FAISS's binary hash indexes cannot delete, so removal marks the
position dead and searches skip it; :meth:`HashIndex.compact` (or a rebuild) drops them.
Nothing here touches Django: the bank layer (:mod:`moderation.fingerprints.store`)
decides what goes in, and the benchmark drives this class directly.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from moderation.fingerprints.pdq import BITS, BYTES

#: Hash tables of the multi-hash index (16 slices of 16 bits, as HMA).
NHASH = 16
#: Format of the saved file; a file of another format is ignored (rebuilt).
FILE_FORMAT = 1


def _faiss() -> Any:
    return importlib.import_module("faiss")  # the ``match`` extra; loaded on first use


def available() -> bool:
    """Whether ``faiss-cpu`` is installed (the ``match`` extra)."""
    try:
        _faiss()
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class Hit:
    """One indexed hash within the threshold of one query."""

    query: int
    id: int
    distance: int


class HashIndex:
    """PDQ hashes with caller ids; add, discard, range-search, save and load.

    Thread-safe: one lock covers every operation (a worker process shares one index
    between its threads).
    """

    def __init__(self, *, flat_max: int = 100_000, meta: dict[str, Any] | None = None) -> None:
        self.flat_max = int(flat_max)
        self._lock = threading.RLock()
        self._index: Any = _faiss().IndexBinaryFlat(BITS)
        self._ids = np.zeros(0, dtype=np.int64)
        self._dead = np.zeros(0, dtype=bool)
        #: Free-form state the owner keeps with the index (sync watermarks); saved with it.
        self.meta: dict[str, Any] = dict(meta or {})

    # -- contents ------------------------------------------------------------------------
    def __len__(self) -> int:
        """Live hashes (dead positions left out)."""
        return int(self._ids.size - int(self._dead.sum()))

    @property
    def positions(self) -> int:
        """Hashes stored, dead ones included (what memory and search time follow)."""
        return int(self._ids.size)

    @property
    def kind(self) -> str:
        """"flat" (exhaustive) or "multihash"."""
        return "multihash" if self._is_multi() else "flat"

    def _is_multi(self) -> bool:
        return type(self._index).__name__ == "IndexBinaryMultiHash"

    def ids(self) -> np.ndarray:
        """Live ids, in insertion order."""
        with self._lock:
            return self._ids[~self._dead].copy()

    def add(self, ids: Any, codes: np.ndarray) -> None:
        """Append hashes (an (n, 32) uint8 array) under ``ids``."""
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        codes = np.ascontiguousarray(codes, dtype=np.uint8).reshape(-1, BYTES)
        if ids_arr.size != codes.shape[0]:
            raise ValueError("one id per hash")
        if not ids_arr.size:
            return
        with self._lock:
            self._index.add(codes)
            self._ids = np.concatenate([self._ids, ids_arr])
            self._dead = np.concatenate([self._dead, np.zeros(ids_arr.size, dtype=bool)])
            if not self._is_multi() and self._ids.size >= self.flat_max:
                self._index = self._to_multi(self._codes())

    def discard(self, ids: Any) -> int:
        """Mark every position holding one of ``ids`` dead; return how many were live."""
        wanted = np.asarray(list(ids), dtype=np.int64)
        if not wanted.size:
            return 0
        with self._lock:
            hit = np.isin(self._ids, wanted) & ~self._dead
            self._dead |= hit
            return int(hit.sum())

    def contains(self, entry_id: int) -> bool:
        with self._lock:
            return bool(np.any((self._ids == entry_id) & ~self._dead))

    # -- search --------------------------------------------------------------------------
    def search(self, queries: np.ndarray, threshold: int) -> list[Hit]:
        """Every live hash at most ``threshold`` bits from each query row."""
        queries = np.ascontiguousarray(queries, dtype=np.uint8).reshape(-1, BYTES)
        if not queries.shape[0]:
            return []
        with self._lock:
            if not self._ids.size:
                return []
            if self._is_multi():
                self._index.nflip = int(threshold) // NHASH
            # FAISS's binary range search keeps distances strictly below the radius.
            lims, dist, pos = self._index.range_search(queries, int(threshold) + 1)
            hits: list[Hit] = []
            for q in range(queries.shape[0]):
                for k in range(int(lims[q]), int(lims[q + 1])):
                    p = int(pos[k])
                    if not self._dead[p]:
                        hits.append(Hit(q, int(self._ids[p]), int(dist[k])))
            return hits

    # -- maintenance ---------------------------------------------------------------------
    def _codes(self) -> np.ndarray:
        storage = self._index.storage if self._is_multi() else self._index
        n = int(storage.ntotal)
        if not n:
            return np.zeros((0, BYTES), dtype=np.uint8)
        return np.asarray(storage.reconstruct_n(0, n), dtype=np.uint8).reshape(n, BYTES)

    def _to_multi(self, codes: np.ndarray) -> Any:
        faiss = _faiss()
        index = faiss.IndexBinaryMultiHash(BITS, NHASH, BITS // NHASH)
        if codes.shape[0]:
            index.add(codes)
        return index

    def compact(self) -> int:
        """Drop dead positions (rebuilds the FAISS index); return how many were dropped."""
        with self._lock:
            dead = int(self._dead.sum())
            if not dead:
                return 0
            keep = ~self._dead
            codes, ids = self._codes()[keep], self._ids[keep]
            fresh = HashIndex(flat_max=self.flat_max, meta=self.meta)
            fresh.add(ids, codes)
            self._index, self._ids, self._dead = fresh._index, fresh._ids, fresh._dead
            return dead

    def memory_bytes(self) -> int:
        """Bytes the serialised index takes (about what it holds in memory)."""
        with self._lock:
            return len(_faiss().serialize_index_binary(self._index)) + self._ids.nbytes \
                + self._dead.nbytes

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (a reader never sees half a file)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            blob = np.asarray(_faiss().serialize_index_binary(self._index), dtype=np.uint8)
            header = json.dumps({"format": FILE_FORMAT, "flat_max": self.flat_max,
                                 "meta": self.meta}).encode()
            buf = io.BytesIO()
            np.savez(buf, header=np.frombuffer(header, dtype=np.uint8), index=blob,
                     ids=self._ids, dead=self._dead)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, flat_max: int | None = None) -> HashIndex:
        """Read an index :meth:`save` wrote; raise FileNotFoundError when there is none
        and ValueError if the file is not one."""
        if not Path(path).exists():
            raise FileNotFoundError(str(path))
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                if header.get("format") != FILE_FORMAT:
                    raise ValueError(f"unknown index file format {header.get('format')!r}")
                index = _faiss().deserialize_index_binary(np.array(data["index"]))
                ids = np.array(data["ids"], dtype=np.int64)
                dead = np.array(data["dead"], dtype=bool)
        except (OSError, KeyError, json.JSONDecodeError, RuntimeError) as exc:
            raise ValueError(f"not a fingerprint index file: {exc}") from exc
        if int(index.ntotal) != ids.size or dead.size != ids.size:
            raise ValueError("index file is inconsistent (hash and id counts differ)")
        made = cls(flat_max=flat_max if flat_max is not None else header["flat_max"],
                   meta=header.get("meta") or {})
        made._index, made._ids, made._dead = index, ids, dead
        if not made._is_multi() and ids.size >= made.flat_max:
            made._index = made._to_multi(made._codes())
        return made
