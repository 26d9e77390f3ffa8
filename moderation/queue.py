"""The review queue: which cases wait for a moderator, highest risk first, and filters.

Shared by the HTML queue and the API so both list exactly the same rows. Order is
``review_priority`` (set by the policy from :class:`moderation.reasons.Priority`), then
oldest first. A case is filed under the queue category its reason codes name in the
reason table, so a detector's own codes file cases where it declared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Exists, F, FloatField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation.models import (
    Appeal,
    AppealStatus,
    Evidence,
    ModerationCase,
    Report,
    ReportStatus,
)
from moderation.reasons import APPEAL, QUEUE_CATEGORIES, QueueCategory, category_for, reason_table

#: The queue's filter menu: every category in filing order, then appeals.
CATEGORIES: tuple[QueueCategory, ...] = (*QUEUE_CATEGORIES, APPEAL)
AGE_CHOICES = (("1", _("Last 24 hours")), ("7", _("Last 7 days")), ("30", _("Last 30 days")))


def category_of(case: ModerationCase, has_open_appeal: bool = False) -> QueueCategory:
    """The queue category a case is shown under (appeals win: the uploader is waiting)."""
    if has_open_appeal:
        return APPEAL
    return category_for(str(code) for code in case.reasons or ())


@dataclass(frozen=True)
class QueueFilters:
    """Validated filters; unknown values are ignored rather than raising (they come from URLs)."""

    category: str = ""
    detector: str = ""
    uploader: str = ""
    age_days: int | None = None
    mine: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> QueueFilters:
        """Read filters from query parameters. NUL characters (which PostgreSQL refuses
        in text) become U+FFFD, so such a filter simply matches nothing."""
        category = str(params.get("reason") or "")
        valid = {c.key for c in CATEGORIES}
        age = str(params.get("age") or "")
        return cls(
            category=category if category in valid else "",
            detector=_text(params.get("detector"), 64),
            uploader=_text(params.get("uploader"), 150),
            age_days=int(age) if age in {a for a, _l in AGE_CHOICES} else None,
            mine=str(params.get("mine") or "") in {"1", "true", "on"},
        )


def _text(value: Any, limit: int) -> str:
    return str(value or "")[:limit].replace("\x00", "\ufffd")


def open_appeal_exists() -> Exists:
    return Exists(Appeal.objects.filter(case=OuterRef("pk"), status=AppealStatus.OPEN))


def open_appeal_since() -> Subquery:
    """When the case's open appeal was sent (None without one)."""
    return Subquery(Appeal.objects.filter(case=OuterRef("pk"), status=AppealStatus.OPEN)
                    .order_by("created_at").values("created_at")[:1])


def report_score() -> Coalesce:
    """The weighted score of the case's open viewer reports (0 without any)."""
    total = (Report.objects.filter(case=OuterRef("pk"), status=ReportStatus.OPEN)
             .order_by().values("case").annotate(total=Sum("weight")).values("total")[:1])
    return Coalesce(Subquery(total, output_field=FloatField()), Value(0.0),
                    output_field=FloatField())


def review_queue(filters: QueueFilters | None = None, *, user: Any = None) -> QuerySet[Any]:
    """Cases needing review, annotated with ``has_open_appeal``, ``waiting_since`` (the
    open appeal's date for an appealed case, else the upload's), ``report_score``
    (viewers' weighted reports) and ``report_burst`` (a burst against the artist is
    among them), highest priority first; within one priority, the higher report score
    first, then the longest-waiting."""
    f = filters or QueueFilters()
    qs = (ModerationCase.objects.filter(needs_review=True)
          .annotate(has_open_appeal=open_appeal_exists(),
                    waiting_since=Coalesce(open_appeal_since(), F("created_at")),
                    report_score=report_score(),
                    report_burst=Exists(Report.objects.filter(
                        case=OuterRef("pk"), status=ReportStatus.OPEN, in_burst=True)))
          .select_related("owner", "claimed_by", "content_type"))
    if f.category == APPEAL.key:
        qs = qs.filter(has_open_appeal=True)
    elif f.category:
        qs = qs.filter(_has_any_reason(reason_table.codes_in(f.category)))
    if f.detector:
        qs = qs.filter(Exists(Evidence.objects.filter(
            case=OuterRef("pk"), detector=f.detector).exclude(label="none")))
    if f.uploader:
        qs = qs.filter(owner__username=f.uploader)
    if f.age_days is not None:
        qs = qs.filter(created_at__gte=timezone.now() - timedelta(days=f.age_days))
    if f.mine and user is not None:
        qs = qs.filter(claimed_by=user)
    return qs.order_by("-review_priority", "-report_score", "waiting_since", "pk")


def _has_any_reason(codes: tuple[str, ...]) -> Q:
    """Cases carrying one of ``codes``; no codes (a category nothing files under yet)
    matches no case."""
    if not codes:
        return Q(pk__in=[])
    q = Q()
    for code in codes:
        q |= Q(reasons__contains=[code]) if _json_contains_supported() else Q(
            reasons__icontains=f'"{code}"')
    return q


def _json_contains_supported() -> bool:
    """``JSONField`` ``contains`` is unavailable on SQLite; fall back to a text match there."""
    from django.db import connection

    return bool(connection.features.supports_json_field_contains)


def detectors_seen() -> list[str]:
    """Detector aliases that have recorded evidence (for the filter menu)."""
    return sorted(set(Evidence.objects.values_list("detector", flat=True).distinct()))
