"""Another account's work too close to a new upload: a possible trace or i2i copy.

PDQ catches re-encoded, resized and mirrored reposts; a traced or image-to-image copy
changes too many pixels for it. The embedding survives those edits better (see
``bench/bench_similarity.py`` for the measured recall and false-match rate). A match
only sends the upload to moderators with the other work named; it never labels it,
since two works can be this close for innocent reasons (a shared reference photo, a
commissioned pair).

Only earlier works of other accounts count: the older work is the candidate original.
An upload whose owner is unknown is never matched (no "other account" to speak of).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from moderation.conf import moderation_settings
from moderation.models import WorkEmbedding
from moderation.similarity.index import index_for
from moderation.similarity.vectors import unpack

#: Nearest rows read per match wanted: same-account and later works are skipped.
OVERFETCH = 8


@dataclass(frozen=True)
class SimilarWork:
    case_id: int
    owner_id: int | None
    owner_name: str
    similarity: float
    created_at: datetime


def nearest_other_works(embedding: WorkEmbedding, *, limit: int | None = None
                        ) -> list[SimilarWork]:
    """Other accounts' earlier works nearest to ``embedding``, most similar first."""
    limit = int(moderation_settings.SIMILARITY_MAX_MATCHES if limit is None else limit)
    if embedding.owner_id is None or limit <= 0:
        return []
    vector = unpack(embedding.vector)
    index = index_for(embedding.model, embedding.dims)
    hits = index.search(vector, limit * OVERFETCH + 1)
    rows = {r.pk: r for r in WorkEmbedding.objects.filter(
        pk__in=[pk for pk, _ in hits]).exclude(owner_id=embedding.owner_id)
        .exclude(owner__isnull=True).exclude(case_id=embedding.case_id)
        .filter(case_created_at__lt=embedding.case_created_at)
        .select_related("owner")}
    found = []
    for pk, _ in hits:
        row = rows.get(pk)
        if row is None:
            continue
        # The stored vector is the truth (the index may hold a row since replaced).
        similarity = float(np.dot(vector, unpack(row.vector)))
        owner = row.owner
        found.append(SimilarWork(row.case_id, row.owner_id,
                                 owner.get_username() if owner is not None else "",
                                 round(similarity, 4), row.case_created_at))
    found.sort(key=lambda m: m.similarity, reverse=True)
    return found[:limit]
