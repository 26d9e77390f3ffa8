"""A FAISS inner-product index of the stored embeddings, one per model, per process.

Vectors are unit length, so the inner product is the cosine similarity. The index is
exact (``IndexFlatIP``): a few hundred thousand 192-dimension works search in
milliseconds on one core, and an exact index never misses a copy the threshold would
have caught. It is built from :class:`~moderation.models.WorkEmbedding` on first use and
kept in sync incrementally: every search first adds the rows stored since (their
primary keys only grow; a case whose content changes gets a new row). Rows deleted since
they were added stay in the index and are dropped when a hit is looked up in the
table, so every answer is checked against the database; when the newest row is older
than the index (a rolled-back transaction), the index is rebuilt.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from moderation.models import WorkEmbedding
from moderation.similarity.vectors import unpack_many

#: Rows read from the table per batch when the index catches up.
SYNC_BATCH = 5000


@dataclass
class EmbeddingIndex:
    """The embeddings of one model; ``synced_pk`` is the last row added."""

    model: str
    dims: int
    index: Any = None
    synced_pk: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        import faiss  # C extension: loaded where an index is first built

        self.index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dims))

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def sync(self, using: str = "default") -> int:
        """Add the rows stored since the last sync; return how many were added."""
        added = 0
        with self.lock:
            rows_of_model = WorkEmbedding.objects.using(using).filter(model=self.model,
                                                                      dims=self.dims)
            latest = rows_of_model.order_by("-pk").values_list("pk", flat=True).first() or 0
            if latest < self.synced_pk:  # rows were rolled back or deleted: start again
                self.index.reset()
                self.synced_pk = 0
            while True:
                rows = list(WorkEmbedding.objects.using(using)
                            .filter(model=self.model, dims=self.dims, pk__gt=self.synced_pk)
                            .order_by("pk").values_list("pk", "vector")[:SYNC_BATCH])
                if not rows:
                    return added
                ids = np.asarray([pk for pk, _ in rows], dtype=np.int64)
                self.index.add_with_ids(unpack_many([v for _, v in rows], self.dims), ids)
                self.synced_pk = int(ids[-1])
                added += len(rows)

    def search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest rows to ``vector`` as (embedding pk, cosine similarity)."""
        with self.lock:
            if not self.size:
                return []
            query = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            sims, ids = self.index.search(query, min(k, self.size))
        return [(int(i), float(s)) for i, s in zip(ids[0], sims[0], strict=True) if i >= 0]


_INDEXES: dict[tuple[str, int, str], EmbeddingIndex] = {}
_INDEXES_PID = os.getpid()
_INDEXES_LOCK = threading.Lock()


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
            found = _INDEXES[key] = EmbeddingIndex(model, dims)
    found.sync(using)
    return found


def reset() -> None:
    """Forget every index (tests that flush the table; a new process starts empty)."""
    with _INDEXES_LOCK:
        _INDEXES.clear()
