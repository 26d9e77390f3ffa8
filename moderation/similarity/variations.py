"""Variation sets: one account's recent uploads grouped into series of near-identical works.

The commonest AI flood is one prompt run with many seeds: dozens of pictures that differ
in details only. No pixel classifier is needed to see it. Two uploads of one account are
linked when their embeddings are at least ``VARIATION_SET_THRESHOLD`` similar, or, when
a PDQ distance is available, when their PDQ hashes are at most
``VARIATION_SET_PDQ_DISTANCE`` apart; a set is a connected group of links. Every member
of a set of two or more carries the set's key (the smallest case id in it, or the key an
earlier member already had), which feeds fold into one tile; from
``VARIATION_SET_FLOOD_SIZE`` members the new upload is queued for review with a raised
priority, never labelled.

PDQ distances come from ``VARIATION_SET_PDQ_LOADER``: called with the case ids being
compared, it returns ``distance(case_a, case_b) -> int | None`` (None when either has no
usable hash). :func:`cluster` itself takes that function, so it works without any store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from moderation.conf import moderation_settings
from moderation.models import WorkEmbedding
from moderation.similarity.vectors import unpack_many

#: (case id, case id) -> PDQ Hamming distance, or None when either has no usable hash.
PdqDistance = Callable[[int, int], "int | None"]
#: Case ids -> a :data:`PdqDistance` over them (loads their hashes once).
PdqLoader = Callable[[Sequence[int]], PdqDistance]


def cluster(case_ids: Sequence[int], vectors: np.ndarray, *, threshold: float,
            pdq_distance: PdqDistance | None = None,
            pdq_max: int = 31) -> list[list[int]]:
    """Connected groups of ``case_ids`` (rows of the unit-vector matrix ``vectors``),
    linked by cosine similarity >= ``threshold`` or PDQ distance <= ``pdq_max``.

    Groups are lists of case ids, largest first; singletons included.
    """
    n = len(case_ids)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def link(i: int, j: int) -> None:
        parent[find(i)] = find(j)

    if n:
        sims = vectors @ vectors.T
        for i, j in zip(*np.nonzero(np.triu(sims >= threshold, k=1)), strict=True):
            link(int(i), int(j))
    if pdq_distance is not None:
        for i in range(n):
            for j in range(i + 1, n):
                if find(i) == find(j):
                    continue
                distance = pdq_distance(case_ids[i], case_ids[j])
                if distance is not None and distance <= pdq_max:
                    link(i, j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(case_ids[i])
    return sorted(groups.values(), key=len, reverse=True)


@dataclass(frozen=True)
class VariationSet:
    """The set a work belongs to: its key (None for a work alone), size and members."""

    key: int | None
    size: int
    case_ids: tuple[int, ...]
    days: int

    @property
    def is_flood(self) -> bool:
        flood = moderation_settings.VARIATION_SET_FLOOD_SIZE
        return flood is not None and self.size >= int(flood)


def recent_embeddings(embedding: WorkEmbedding) -> list[WorkEmbedding]:
    """The owner's uploads compared with ``embedding``'s (itself included)."""
    if embedding.owner_id is None:
        return [embedding]
    since = embedding.case_created_at - timedelta(
        days=int(moderation_settings.VARIATION_SET_WINDOW_DAYS))
    rows = list(WorkEmbedding.objects.filter(
        owner_id=embedding.owner_id, model=embedding.model, dims=embedding.dims,
        case_created_at__gte=since, case_created_at__lte=embedding.case_created_at)
        .exclude(pk=embedding.pk)
        .order_by("-case_created_at", "-pk")[:int(moderation_settings.VARIATION_SET_RECENT)])
    return [embedding, *rows]


def update_variation_set(embedding: WorkEmbedding,
                         pdq_loader: PdqLoader | None = None) -> VariationSet:
    """Find the set ``embedding``'s work belongs to and key every member with it."""
    days = int(moderation_settings.VARIATION_SET_WINDOW_DAYS)
    rows = recent_embeddings(embedding)
    case_ids = [r.case_id for r in rows]
    loader = pdq_loader if pdq_loader is not None else (
        moderation_settings.VARIATION_SET_PDQ_LOADER)
    groups = cluster(case_ids, unpack_many([r.vector for r in rows], embedding.dims),
                     threshold=float(moderation_settings.VARIATION_SET_THRESHOLD),
                     pdq_distance=loader(case_ids) if loader is not None else None,
                     pdq_max=int(moderation_settings.VARIATION_SET_PDQ_DISTANCE))
    members = next(g for g in groups if embedding.case_id in g)
    if len(members) < 2:
        return VariationSet(None, 1, (embedding.case_id,), days)
    by_case = {r.case_id: r for r in rows}
    keys = [k for k in (by_case[c].variation_key for c in members) if k is not None]
    key = min(keys) if keys else min(members)
    WorkEmbedding.objects.filter(case_id__in=members).update(variation_key=key,
                                                              variation_size=len(members))
    # Sets this one swallowed (a new work bridging two series) take the same key.
    merged = set(keys) - {key}
    if merged:
        WorkEmbedding.objects.filter(variation_key__in=merged).update(variation_key=key)
    embedding.variation_key, embedding.variation_size = key, len(members)
    return VariationSet(key, len(members), tuple(sorted(members)), days)
