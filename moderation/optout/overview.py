"""The creator's page in one call: each work's label and why, the opt-out setting,
AI-crawler fetches, strikes and appeals, with a bounded number of queries.

Host wiring: call :func:`creator_overview` in the "my works" view and render its rows;
the setting forms post to ``moderation.optout.creator_urls``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from moderation.constants import TrainingChoice
from moderation.labels import LabelInfo, label_for_case, prefetch_cases
from moderation.models import Appeal, ModerationCase, Strike
from moderation.optout import crawlers
from moderation.optout.policy import Reservation, creator_choice, resolve_many


@dataclass
class WorkRow:
    work: Any
    case: ModerationCase | None
    label: LabelInfo
    reservation: Reservation


@dataclass
class CreatorOverview:
    training: str
    rows: list[WorkRow]
    crawler_hits: int
    crawler_hits_by_crawler: list[tuple[str, int]]
    strikes: list[Strike] = field(default_factory=list)
    appeals: list[Appeal] = field(default_factory=list)


def creator_overview(user: Any, works: Sequence[Any]) -> CreatorOverview:
    """Everything the creator's page shows about ``user`` and their ``works``.

    The creator always sees the why of their own works, whatever
    ``SHOW_EVIDENCE_TO_VIEWERS`` says for other viewers.
    """
    works = list(works)
    prefetch_cases(works)
    reservations = resolve_many(works)
    rows = [WorkRow(w, getattr(w, "_moderation_case", None),
                    label_for_case(getattr(w, "_moderation_case", None)),
                    reservations[(type(w), str(w.pk))]) for w in works]
    training = creator_choice(user.pk) or TrainingChoice.DEFAULT
    return CreatorOverview(
        training=training, rows=rows, crawler_hits=crawlers.hit_count(user),
        crawler_hits_by_crawler=crawlers.hit_counts_by_crawler(user),
        strikes=list(Strike.objects.filter(user_id=user.pk).order_by("-created_at")),
        appeals=list(Appeal.objects.filter(user_id=user.pk).order_by("-created_at")),
    )

