"""A case's report score and what it does: queue the work, or hold it for review.

:func:`rescore` sums the weights of the case's open reports and asks the policy
(``route_for_reports``) where that sends the work. A change is written under the case's
row lock with an audit row (``reports_review`` or ``reports_hold``, by no one: the
system); a hold tells the uploader as any hold does, never who reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q

from moderation import notify
from moderation.conf import moderation_settings
from moderation.models import (
    ModerationAction,
    ModerationCase,
    NotificationKind,
    Report,
    ReportStatus,
)
from moderation.policy import get_policy
from moderation.reasons import REPORT_REAL_PERSON, REPORTS_THRESHOLD
from moderation.reports.weighting import reweigh_case
from moderation.signals import verdict_changed

#: Audit codes of the system's own report events (the case page names them).
REVIEW_EVENT = "reports_review"
HOLD_EVENT = "reports_hold"


@dataclass(frozen=True)
class Score:
    """The weighted score of a case's open reports and whether a burst is among them."""

    value: float
    reports: int
    burst: bool


def case_score(case_id: int) -> Score:
    open_reports = Report.objects.filter(case_id=case_id, status=ReportStatus.OPEN)
    weights = list(open_reports.values_list("weight", "in_burst"))
    return Score(round(sum(w for w, _b in weights), 6), len(weights),
                 any(b for _w, b in weights))


def rescore(case_id: int) -> Score:
    """Reweigh the case's open reports and apply what the policy makes of the score."""
    with transaction.atomic():
        case = ModerationCase.objects.select_for_update().get(pk=case_id)
        reweigh_case(case_id)
        score = case_score(case_id)
        reasons = list(Report.objects.filter(case_id=case_id, status=ReportStatus.OPEN)
                       .values_list("reason", flat=True).distinct())
        routing = get_policy().route_for_reports(
            case.route, score.value, moderation_settings,
            deepfake=REPORT_REAL_PERSON.code in reasons, burst=score.burst)
        if routing is None:
            return score
        before = case.snapshot()
        held = routing.route != case.route
        changed = held or not case.needs_review or routing.review_priority > (
            case.review_priority or 0)
        if not changed:
            return score
        case.route = routing.route
        case.needs_review = True
        case.review_priority = max(case.review_priority or 0, routing.review_priority)
        codes = [str(c) for c in case.reasons or ()]
        for code in sorted(reasons) + ([REPORTS_THRESHOLD.code] if held else []):
            if code not in codes:
                codes.append(code)
        case.reasons = codes
        case.save(update_fields=["route", "needs_review", "review_priority", "reasons",
                                 "updated_at"])
        after = case.snapshot()
        ModerationAction.objects.create(
            case=case, actor=None, action=HOLD_EVENT if held else REVIEW_EVENT,
            before=before, after={**after, "report_score": score.value,
                                  "reports": score.reports, "burst": score.burst},
            note=f"{score.value:.2f}")
        if held:
            transaction.on_commit(lambda: _held(case, before, after))
    return score


def _held(case: ModerationCase, before: dict[str, Any], after: dict[str, Any]) -> None:
    verdict_changed.send(sender=ModerationCase, case=case, before=before, after=after,
                         actor=None)
    if case.owner_id is not None:
        notify.record(case.owner, case, NotificationKind.HELD, case.route)


def rescore_many(case_ids: set[int]) -> None:
    for case_id in sorted(case_ids):
        rescore(case_id)


def cases_with_open_reports_by(user_ids: set[int]) -> set[int]:
    """Cases where any of ``user_ids`` has an open report (their weights follow them)."""
    if not user_ids:
        return set()
    return set(Report.objects.filter(Q(reporter_id__in=user_ids), status=ReportStatus.OPEN)
               .values_list("case_id", flat=True))
