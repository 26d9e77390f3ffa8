"""Taking one report: refuse what must be refused, store it, audit it, rescore the case.

Callers (the report page and the API) check first that the viewer may see the work
(``moderation.visibility``); this module never reveals a work the viewer cannot see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.translation import gettext_lazy as _

from moderation.models import ModerationAction, ModerationCase, Report
from moderation.reasons import REPORT_REASONS
from moderation.reports import limits
from moderation.reports.originals import check_original_against_fingerprint_bank
from moderation.reports.scoring import Score, rescore, rescore_many
from moderation.reports.weighting import refresh_burst

#: Audit code of a report as it arrives (actor: the reporter; moderators only see it).
REPORT_EVENT = "report"


class ReportRefused(Exception):
    """The report cannot be taken; ``status`` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class OwnWork(ReportRefused):
    status = 403


class AlreadyReported(ReportRefused):
    status = 409


class RateLimited(ReportRefused):
    status = 429


@dataclass(frozen=True)
class Reporter:
    """Who sends the report: an account, or an anonymous session (``anonymous_key``), the
    request's address for the rate limit, and the host hook's cluster keys (hashed)."""

    user: Any = None
    anonymous_key: str = ""
    ip: str = ""
    cluster_keys: tuple[str, ...] = ()

    @property
    def signed_in(self) -> bool:
        return bool(self.user is not None and getattr(self.user, "pk", None))


def already_reported(case: ModerationCase, who: Reporter) -> bool:
    if who.signed_in:
        return Report.objects.filter(case=case, reporter_id=who.user.pk).exists()
    return bool(who.anonymous_key) and Report.objects.filter(
        case=case, anonymous_key=who.anonymous_key).exists()


def submit_report(case: ModerationCase, who: Reporter, *, reason: str, note: str = "",
                  original_url: str = "", original_file: UploadedFile | None = None
                  ) -> tuple[Report, Score]:
    """Store one report and rescore the case (and the artist's other cases in a burst)."""
    if reason not in {r.code for r in REPORT_REASONS}:
        raise ReportRefused(_("Choose a reason."))
    if not who.signed_in and not who.anonymous_key:
        raise ReportRefused(_("Sign in to report a work."))
    if who.signed_in and case.owner_id == who.user.pk:
        raise OwnWork(_("You cannot report your own work."))
    if already_reported(case, who):
        raise AlreadyReported(_("You have already reported this work."))
    if not limits.allow(who.user if who.signed_in else None, who.ip):
        raise RateLimited(_("You have sent many reports in a short time. Please try again "
                            "in an hour."))
    try:
        with transaction.atomic():
            first = (not who.signed_in) or not Report.objects.filter(
                reporter_id=who.user.pk).exists()
            report = Report.objects.create(
                case=case, reporter=who.user if who.signed_in else None,
                anonymous_key="" if who.signed_in else who.anonymous_key,
                artist_id=case.owner_id, reason=reason, note=note,
                original_url=original_url, label_at_report=case.label,
                cluster_keys=list(who.cluster_keys), first_report=first)
            if original_file is not None:
                check_original_against_fingerprint_bank(report, original_file)
            ModerationAction.objects.create(
                case=case, actor=who.user if who.signed_in else None, action=REPORT_EVENT,
                after={"report": report.pk, "reason": reason,
                       "anonymous": not who.signed_in}, note=reason)
            # Cases whose reports newly joined a burst are rescored too (the burst puts
            # them in the queue); the rest of the artist's reports only lost weight.
            others = refresh_burst(case.owner_id) - {case.pk}
            score = rescore(case.pk)
            rescore_many(others)
    except IntegrityError:  # a parallel request stored the same reporter's report first
        raise AlreadyReported(_("You have already reported this work.")) from None
    report.refresh_from_db()
    return report, score
