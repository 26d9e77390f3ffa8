"""A FAISS inner-product index of the stored embeddings, one per model, per process.

Vectors are unit length, so the inner product is the cosine similarity. The index is
exact: a flat scan of every vector, kept as float16 (FAISS's ``IndexScalarQuantizer``
``QT_fp16``, the precision the table stores them in): 384 bytes per work at 192
dimensions, 0.37 GiB per million works, and a scan of a million in some 30 ms on one core.
An exact index never misses a copy the threshold would have caught.

It is kept in sync with :class:`~moderation.models.WorkEmbedding` incrementally: every
search first adds the rows stored since (primary keys only grow; a case whose content
changes gets a new row). A primary key below the highest seen that was missing (its
transaction had not committed yet) is asked for again on later syncs, within
:data:`GAP_WINDOW` ids, so an out-of-order commit is not lost. Rows deleted since they
were added stay in the index and are dropped when a hit is looked up in the table, so
every answer is checked against the database; when the newest row is older than the
index (a rolled-back transaction), the index is rebuilt.

With ``SIMILARITY_INDEX_PATH`` (a folder) set, each model's index is saved there as one
file, written atomically, after ``SIMILARITY_INDEX_SAVE_EVERY`` new rows; a process
loads it on first use and catches up from there. ``manage.py moderation_similarity_index``
rebuilds and saves every model's index with a progress bar.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from moderation.conf import moderation_settings
from moderation.internal.npzfile import write_npz_atomically
from moderation.models import WorkEmbedding
from moderation.similarity.vectors import unpack_many

logger = logging.getLogger(__name__)

#: Rows read from the table per batch when the index catches up.
SYNC_BATCH = 5000
#: How far below the highest primary key seen a missing one is still waited for.
GAP_WINDOW = 10_000
#: Format of the saved file; a file of another format is ignored (rebuilt).
FILE_FORMAT = 1


def _faiss() -> Any:
    return importlib.import_module("faiss")  # C extension: loaded where an index is built


def _flat(dims: int) -> Any:
    faiss = _faiss()
    return faiss.IndexIDMap(faiss.IndexScalarQuantizer(
        dims, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT))


@dataclass
class EmbeddingIndex:
    """The embeddings of one model; ``synced_pk`` is the highest row seen, ``missing`` the
    ids below it not seen yet (perhaps still uncommitted), ``unsaved`` rows added since
    the last save."""

    model: str
    dims: int
    index: Any = None
    synced_pk: int = 0
    missing: list[int] = field(default_factory=list)
    unsaved: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.index is None:
            self.index = _flat(self.dims)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def memory_bytes(self) -> int:
        """Bytes the vectors and ids take (float16 vectors, int64 ids)."""
        return self.size * (self.dims * 2 + 8)

    def _rows(self, using: str) -> Any:
        return WorkEmbedding.objects.using(using).filter(model=self.model, dims=self.dims)

    def _add(self, rows: list[tuple[int, bytes]]) -> None:
        ids = np.asarray([pk for pk, _ in rows], dtype=np.int64)
        self.index.add_with_ids(unpack_many([v for _, v in rows], self.dims), ids)

    def sync(self, using: str = "default",
             progress: Callable[[int], None] | None = None) -> int:
        """Add the rows stored since the last sync; return how many were added."""
        added = 0
        with self.lock:
            latest = self._rows(using).order_by("-pk").values_list("pk", flat=True).first() or 0
            if latest < self.synced_pk:  # rows were rolled back or deleted: start again
                self.index.reset()
                self.synced_pk, self.missing = 0, []
            if self.missing:
                late = list(self._rows(using).filter(pk__in=self.missing)
                            .values_list("pk", "vector"))
                if late:
                    self._add(late)
                    added += len(late)
                seen = {pk for pk, _ in late} | set(WorkEmbedding.objects.using(using).filter(
                    pk__in=self.missing).values_list("pk", flat=True))
                self.missing = [i for i in self.missing if i not in seen
                                and i > self.synced_pk - GAP_WINDOW]
            while True:
                rows = list(self._rows(using).filter(pk__gt=self.synced_pk)
                            .order_by("pk").values_list("pk", "vector")[:SYNC_BATCH])
                if not rows:
                    break
                self._note_gaps(using, rows[-1][0])
                self._add(rows)
                self.synced_pk = int(rows[-1][0])
                added += len(rows)
                if progress is not None:
                    progress(len(rows))
            self.missing = [i for i in self.missing if i > self.synced_pk - GAP_WINDOW]
            self.unsaved += added
        return added

    def _note_gaps(self, using: str, upto: int) -> None:
        """Remember the ids in (synced_pk, upto] that no row of any model holds yet."""
        low = max(self.synced_pk, upto - GAP_WINDOW)
        present = set(WorkEmbedding.objects.using(using).filter(pk__gt=low, pk__lte=upto)
                      .values_list("pk", flat=True))
        self.missing += [i for i in range(low + 1, upto + 1) if i not in present]

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest rows to ``vector`` as (embedding pk, cosine similarity)."""
        with self.lock:
            if not self.size:
                return []
            query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            sims, ids = self.index.search(query, min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to ``path`` atomically (a reader never sees half a file)."""
        with self.lock:
            header = json.dumps({"format": FILE_FORMAT, "model": self.model, "dims": self.dims,
                                 "synced_pk": self.synced_pk, "missing": self.missing}).encode()
            blob = np.asarray(_faiss().serialize_index(self.index), dtype=np.uint8)
            write_npz_atomically(Path(path), {"header": np.frombuffer(header, dtype=np.uint8),
                                              "index": blob})
            self.unsaved = 0

    @classmethod
    def load(cls, path: str | os.PathLike[str], model: str, dims: int) -> EmbeddingIndex:
        """Read an index :meth:`save` wrote for ``model``; FileNotFoundError when there is
        none, ValueError when the file is not one (or of another model or format)."""
        if not Path(path).exists():
            raise FileNotFoundError(str(path))
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                header = json.loads(bytes(data["header"]).decode())
                blob = np.array(data["index"], dtype=np.uint8)
            index = _faiss().deserialize_index(blob)
        except (OSError, KeyError, ValueError, EOFError, RuntimeError,
                json.JSONDecodeError) as exc:
            raise ValueError(f"not an embedding index file: {exc}") from exc
        if not isinstance(header, dict) or header.get("format") != FILE_FORMAT or \
                header.get("model") != model or header.get("dims") != dims or index.d != dims:
            raise ValueError("the embedding index file is of another model or format")
        return cls(model, dims, index=index, synced_pk=int(header.get("synced_pk", 0)),
                   missing=[int(i) for i in header.get("missing", [])])


def file_for(model: str, dims: int) -> Path | None:
    """Where ``model``'s index is saved (None: not saved)."""
    folder = moderation_settings.SIMILARITY_INDEX_PATH
    if not folder:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.") or "model"
    return Path(folder) / f"{slug}-{dims}.npz"


_INDEXES: dict[tuple[str, int, str], EmbeddingIndex] = {}
_INDEXES_PID = os.getpid()
_INDEXES_LOCK = threading.Lock()


def _load_or_new(model: str, dims: int) -> EmbeddingIndex:
    path = file_for(model, dims)
    if path is not None:
        try:
            return EmbeddingIndex.load(path, model, dims)
        except FileNotFoundError:
            pass  # nothing saved yet: the first sync builds it from the table
        except ValueError as exc:
            # A damaged file or one of another model: rebuilt from the table by the first
            # sync and saved over, so the operator only needs to know it happened.
            logger.warning("embedding index %s ignored and rebuilt: %s", path, exc)
    return EmbeddingIndex(model, dims)


def save(found: EmbeddingIndex) -> None:
    """Write ``found`` to its file (nothing when ``SIMILARITY_INDEX_PATH`` is unset)."""
    path = file_for(found.model, found.dims)
    if path is not None:
        found.save(path)


def index_for(model: str, dims: int, using: str = "default") -> EmbeddingIndex:
    """This process's index of ``model``'s embeddings, synced with the table."""
    global _INDEXES_PID
    with _INDEXES_LOCK:
        if os.getpid() != _INDEXES_PID:  # a forked worker builds its own
            _INDEXES.clear()
            _INDEXES_PID = os.getpid()
        key = (model, dims, using)
        found = _INDEXES.get(key)
        if found is None:
            found = _INDEXES[key] = _load_or_new(model, dims) if using == "default" \
                else EmbeddingIndex(model, dims)
    found.sync(using)
    if using == "default" and found.unsaved and (
            found.unsaved >= moderation_settings.SIMILARITY_INDEX_SAVE_EVERY
            or (found.synced_pk and found.unsaved == found.size)):
        save(found)  # a fresh build is saved at once, so the next process loads it
    return found


def build(model: str, dims: int, progress: Callable[[int], None] | None = None
          ) -> EmbeddingIndex:
    """A fresh index of every stored row of ``model``; ``progress(n)`` per batch."""
    fresh = EmbeddingIndex(model, dims)
    fresh.sync(progress=progress)
    return fresh


def install(found: EmbeddingIndex) -> None:
    """Make ``found`` this process's index of its model (after a rebuild)."""
    with _INDEXES_LOCK:
        _INDEXES[(found.model, found.dims, "default")] = found


def reset() -> None:
    """Forget every index (tests that flush the table; a new process starts empty)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()
