"""Moderators' verdicts settle the open reports on a case, and reporters learn from it.

The verdict actions (relabel, hide, route) call :func:`resolve_reports` inside their
transaction. A report is upheld when the verdict does what it asked for:

* any reason, when the work is hidden;
* undisclosed AI, when the work is now labelled AI or AI-assisted;
* wrong label, when the label now differs from the one the viewer saw.

Every other verdict leaves it "not upheld". Each outcome is an audit row
(``report_upheld`` / ``report_rejected``, actor: the moderator) and one count in the
reporter's reputation for that reason; the weights of the reporter's other open reports
then follow the new reputation.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.utils import timezone

from moderation.constants import Label, Route
from moderation.models import ModerationAction, ModerationCase, Report, ReportStatus
from moderation.reasons import REPORT_UNDISCLOSED_AI, REPORT_WRONG_LABEL
from moderation.reports.reputation import record_outcome
from moderation.reports.scoring import cases_with_open_reports_by, rescore_many

UPHELD_EVENT = "report_upheld"
REJECTED_EVENT = "report_rejected"


def upheld(report: Report, case: ModerationCase) -> bool:
    """Whether the case's current verdict does what ``report`` asked for."""
    if case.route == Route.HIDDEN:
        return True
    if report.reason == REPORT_UNDISCLOSED_AI.code:
        return case.label in {Label.AI, Label.AI_ASSISTED}
    if report.reason == REPORT_WRONG_LABEL.code:
        return bool(case.label) and case.label != report.label_at_report
    return False


def resolve_reports(case: ModerationCase, actor: Any) -> list[Report]:
    """Settle every open report on ``case`` by its current verdict (call under the lock)."""
    now = timezone.now()
    settled = list(Report.objects.select_for_update().filter(case=case,
                                                             status=ReportStatus.OPEN))
    reporters: set[int] = set()
    for report in settled:
        ok = upheld(report, case)
        report.status = ReportStatus.UPHELD if ok else ReportStatus.REJECTED
        report.resolved_by = actor if getattr(actor, "pk", None) else None
        report.resolved_at = now
        report.save(update_fields=["status", "resolved_by", "resolved_at"])
        if report.reporter_id is not None:
            record_outcome(report.reporter_id, report.reason, upheld=ok)
            reporters.add(report.reporter_id)
        ModerationAction.objects.create(
            case=case, actor=report.resolved_by, action=UPHELD_EVENT if ok else REJECTED_EVENT,
            after={"report": report.pk, "reason": report.reason, "status": report.status},
            note=report.reason)
    rescore_many(cases_with_open_reports_by(reporters) - {case.pk})
    return settled


def reassess_reports(case: ModerationCase, actor: Any) -> list[Report]:
    """After an appeal corrected the verdict, turn the case's settled reports whose
    outcome the new verdict reverses, moving their reporters' reputation back.

    A report the moderators first upheld and then overturned on appeal was wrong; one
    the first verdict rejected but the corrected verdict bears out was right.
    """
    flipped = []
    reporters: set[int] = set()
    rows = Report.objects.select_for_update().filter(
        case=case, status__in=[ReportStatus.UPHELD, ReportStatus.REJECTED])
    for report in rows:
        ok = upheld(report, case)
        if ok == (report.status == ReportStatus.UPHELD):
            continue
        report.status = ReportStatus.UPHELD if ok else ReportStatus.REJECTED
        report.resolved_by = actor if getattr(actor, "pk", None) else None
        report.resolved_at = timezone.now()
        report.save(update_fields=["status", "resolved_by", "resolved_at"])
        if report.reporter_id is not None:
            record_outcome(report.reporter_id, report.reason, upheld=ok, reverse=True)
            reporters.add(report.reporter_id)
        ModerationAction.objects.create(
            case=case, actor=report.resolved_by, action=UPHELD_EVENT if ok else REJECTED_EVENT,
            after={"report": report.pk, "reason": report.reason, "status": report.status,
                   "appeal": True}, note=report.reason)
        flipped.append(report)
    rescore_many(cases_with_open_reports_by(reporters) - {case.pk})
    return flipped


def confirmed_ai_cases() -> set[int]:
    """Cases a moderator confirmed AI through an upheld "undisclosed AI" report and that
    no later verdict published as hand-made (marked hand-made, or restored with a
    hand-made label): training labels for the site-adaptive loop."""
    return set(Report.objects.filter(reason=REPORT_UNDISCLOSED_AI.code,
                                     status=ReportStatus.UPHELD)
               .filter(Q(case__route=Route.HIDDEN) | ~Q(case__label=Label.HUMAN))
               .values_list("case_id", flat=True))
