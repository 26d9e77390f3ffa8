"""What the case page's "similar works" panel shows: each bank entry the case's current
content matched, with the distance, the other work's owner, links and times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.urls import NoReverseMatch, reverse

from moderation.models import FingerprintBank, FingerprintMatch, ModerationCase
from moderation.registry import registry


@dataclass(frozen=True)
class SimilarWork:
    bank: str
    bank_label: str
    distance: int
    variant: str
    owner: str
    case_id: int | None
    case_url: str
    work_url: str
    title: str
    source_url: str
    source: str
    created_at: datetime
    removed: bool


def _work_url(other: ModerationCase | None) -> str:
    if other is None:
        return ""
    instance = other.host_instance()
    if instance is None:
        return ""
    try:
        return registry.get_options(type(instance)).get_url(instance)
    except NoReverseMatch:
        return ""


def _case_url(other: ModerationCase | None) -> str:
    if other is None:
        return ""
    try:
        return reverse("moderation:case", args=[other.pk])
    except NoReverseMatch:
        return ""


def similar_works(case: ModerationCase) -> list[SimilarWork]:
    """The matches of the case's current content, closest first."""
    rows = (FingerprintMatch.objects.filter(case=case, content_sha256=case.content_sha256)
            .select_related("entry", "entry__owner", "entry__case",
                            "entry__case__content_type").order_by("distance", "pk"))
    found = []
    for row in rows:
        entry = row.entry
        other: Any = entry.case
        found.append(SimilarWork(
            bank=entry.bank, bank_label=str(FingerprintBank(entry.bank).label),
            distance=row.distance, variant=row.variant,
            owner=entry.owner.get_username() if entry.owner is not None else "",
            case_id=other.pk if other is not None else None, case_url=_case_url(other),
            work_url=_work_url(other), title=entry.title, source_url=entry.source_url,
            source=entry.source,
            created_at=other.created_at if other is not None else entry.created_at,
            removed=entry.removed_at is not None))
    return found
