"""Tell uploaders what happened to their work: in-app notices and email.

A :class:`~moderation.models.Notification` row is kept for each event (held, decided,
appeal decided) and shown on the uploader's own works page; its sentence is written
when it is shown (:func:`notice_text`), in the reader's language. Email goes to users
who have an address, in the site's language. Mail goes through Django's configured
backend after the transaction commits, so a rolled-back decision never sends a message;
failures are logged, never raised, because a mail outage must not undo a moderator's
decision.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.utils import translation
from django.utils.translation import gettext as _

from moderation.conf import moderation_settings
from moderation.constants import Label, Route
from moderation.models import AppealStatus, ModerationCase, Notification, NotificationKind

logger = logging.getLogger(__name__)


def _send(user: Any, subject: str, body: str) -> bool:
    email = getattr(user, "email", "") if user is not None else ""
    if not email:
        return False
    sender = moderation_settings.NOTIFY_FROM_EMAIL or settings.DEFAULT_FROM_EMAIL
    try:
        send_mail(subject, body, sender, [email])
    except Exception:  # any backend error: log it, the decision stands
        logger.exception("could not email user %s", getattr(user, "pk", None))
        return False
    return True


def appeal_decided(appeal: Any) -> bool:
    """Email the uploader the outcome of their appeal, in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        if appeal.status == AppealStatus.OVERTURNED:
            outcome = _("Your appeal was accepted. The label is now: %(label)s.") % {
                "label": Label(appeal.case.label).label if appeal.case.label else "-"}
        else:
            outcome = _("Your appeal was reviewed and the label stays.")
        subject = _("Your appeal about work #%(id)s was decided") % {"id": appeal.case.object_id}
        body = outcome
        if appeal.decision_note:
            body += "\n\n" + _("Moderator's note:") + "\n" + appeal.decision_note
    return _send(appeal.user, subject, body)


def notice_text(notice: Notification) -> str:
    """The notice as a sentence in the active language."""
    if notice.kind == NotificationKind.PROTECTED_MATCH:
        # Written to the protecting creator about someone else's upload: its number and
        # status page are the uploader's, so the notice names neither.
        return _("A new upload matches one of the works you protect. Moderators are "
                 "reviewing it; see your protected works.")
    number = notice.case.object_id if notice.case_id and notice.case else "?"
    if notice.kind == NotificationKind.HELD:
        return _("Work #%(id)s is held for review: only you can see it until a moderator "
                 "has looked at it.") % {"id": number}
    if notice.kind == NotificationKind.APPEAL_DECIDED:
        if notice.outcome == AppealStatus.OVERTURNED:
            return _("Your appeal about work #%(id)s was accepted: the label was "
                     "corrected.") % {"id": number}
        return _("Your appeal about work #%(id)s was reviewed: the label stays.") % {
            "id": number}
    if notice.outcome == Route.HIDDEN:
        return _("A moderator hid work #%(id)s.") % {"id": number}
    label = Label(notice.outcome).label if notice.outcome in Label.values else "-"
    return _("A moderator reviewed work #%(id)s: %(label)s.") % {"id": number, "label": label}


def record(user: Any, case: ModerationCase | None, kind: str, outcome: str = "") -> Notification:
    """Keep one in-app notice and email it where the user has an address."""
    notice = Notification.objects.create(user=user, case=case, kind=kind, outcome=outcome)
    if kind != NotificationKind.APPEAL_DECIDED:  # appeal_decided() mails those
        with translation.override(settings.LANGUAGE_CODE):
            subject = _("News about your work #%(id)s") % {
                "id": case.object_id if case else "?"}
            body = notice_text(notice) + "\n\n" + _(
                "Open “My works” on the site to see what was found and how to appeal.")
            if kind == NotificationKind.PROTECTED_MATCH:  # about someone else's upload
                subject = _("An upload matches a work you protect")
                body = notice_text(notice)
        _send(user, subject, body)
    return notice


def strike_recorded(strike: Any, level: str) -> bool:
    """Email the uploader that a strike was recorded and what it means for the account."""
    with translation.override(settings.LANGUAGE_CODE):
        meaning = {
            "warn": _("This is a warning; nothing else changes for now."),
            "hold": _("Your new uploads will be held for review for %(days)s days.") % {
                "days": moderation_settings.STRIKE_HOLD_DAYS},
            "suspend": _("Your uploads are suspended until a moderator reviews your account."),
        }.get(level, "")
        subject = _("A strike was recorded on your account")
        body = _("A moderator confirmed that a work declared hand-made was made with AI.")
        body += "\n" + meaning + "\n" + _("You can appeal from the work's page.")
    return _send(strike.user, subject, body)
