"""What the report pages show: the moderator's reports panel and the reporter's list.

The reporter's list never reveals a work the reporter may no longer see (held or
hidden since): its title and link are left out and the row says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from moderation.conf import moderation_settings
from moderation.models import ModerationCase, Report, ReportStatus
from moderation.reasons import get_reason
from moderation.reports.forms import REASON_CHOICES
from moderation.reports.outcomes import REJECTED_EVENT, UPHELD_EVENT
from moderation.reports.reputation import Reputation, reputation, track_records
from moderation.reports.scoring import HOLD_EVENT, REVIEW_EVENT, Score, case_score
from moderation.reports.submit import REPORT_EVENT
from moderation.visibility import can_view

VIEWER_REASONS = dict(REASON_CHOICES)
#: The report events of the audit log, as the case page's timeline names them.
REPORT_EVENTS: dict[str, Any] = {
    REPORT_EVENT: gettext_lazy("Report received"),
    REVIEW_EVENT: gettext_lazy("Reports put the work in the review queue"),
    HOLD_EVENT: gettext_lazy("Reports held the work for review"),
    UPHELD_EVENT: gettext_lazy("Report upheld"),
    REJECTED_EVENT: gettext_lazy("Report not upheld"),
}


def viewer_reason(code: str) -> str:
    """The reason as the report form offered it, in the active language."""
    return str(VIEWER_REASONS.get(code) or get_reason(code).text)


@dataclass(frozen=True)
class ReportRow:
    """One report on the case page, with its reporter's track record."""

    report: Report
    reporter: str
    reason: str
    account_days: int | None
    record: Reputation
    others: list[Reputation]
    parts: dict[str, Any]
    shared_cluster: bool


@dataclass(frozen=True)
class BurstView:
    artist: str
    size: int
    hours: float


@dataclass(frozen=True)
class ReportsPanel:
    score: Score
    review_threshold: float
    hold_threshold: float | None
    rows: list[ReportRow]
    burst: BurstView | None


def _days(joined: datetime | None, now: datetime) -> int | None:
    return None if joined is None else max(0, (now - joined).days)


def reports_panel(case: ModerationCase) -> ReportsPanel:
    now = timezone.now()
    reports = list(case.reports.select_related("reporter").order_by("-created_at", "-id"))
    records = track_records(r.reporter_id for r in reports if r.reporter_id)
    rows = []
    for r in reports:
        mine = records.get(r.reporter_id or 0, {})
        rows.append(ReportRow(
            report=r,
            reporter=r.reporter.get_username() if r.reporter else _("Anonymous viewer"),
            reason=str(get_reason(r.reason).text),
            account_days=_days(r.reporter.date_joined if r.reporter else None, now),
            record=mine.get(r.reason) or reputation(r.reason),
            others=[rep for code, rep in sorted(mine.items()) if code != r.reason],
            parts=dict(r.weight_parts or {}),
            shared_cluster=float((r.weight_parts or {}).get("cluster", 1.0)) < 1.0))
    burst = None
    in_burst = [r for r in reports if r.in_burst]
    if in_burst:
        size = max(int((r.weight_parts or {}).get("burst_size", 0)) for r in in_burst)
        burst = BurstView(case.owner.get_username() if case.owner else "—", size,
                          int(moderation_settings.REPORT_BURST_WINDOW_SECONDS) / 3600)
    hold = moderation_settings.REPORT_HOLD_THRESHOLD
    return ReportsPanel(case_score(case.pk), float(moderation_settings.REPORT_REVIEW_THRESHOLD),
                        None if hold is None else float(hold), rows, burst)


@dataclass(frozen=True)
class MyReportRow:
    """One of the reporter's own reports: the work only while they may still see it."""

    report: Report
    reason: str
    status: str
    work_title: str
    work_url: str


def my_report_rows(user: Any, reports: list[Report]) -> list[MyReportRow]:
    rows = []
    for r in reports:
        work = r.case.host_instance()
        visible = work is not None and can_view(work, user)
        url = ""
        if visible and hasattr(work, "get_absolute_url"):
            url = str(work.get_absolute_url())
        rows.append(MyReportRow(r, viewer_reason(r.reason), str(r.get_status_display()),
                                str(work) if visible else "", url))
    return rows


def my_record(user: Any) -> dict[str, int]:
    """How many of the user's reports were upheld, not upheld, and still open."""
    counts = {s: 0 for s in ReportStatus.values}
    for status in Report.objects.filter(reporter=user).values_list("status", flat=True):
        counts[status] += 1
    return counts
