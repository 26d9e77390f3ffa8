"""Thin programmatic API host code and receivers use: open a case, queue its scan.

The top of the upload's path: ``services`` → ``tasks`` → ``pipeline``; nothing below
imports this module.
"""

from __future__ import annotations

import logging

from django.db import models, transaction

from moderation import tasks
from moderation.intake import open_case
from moderation.models import ModerationCase

logger = logging.getLogger(__name__)


def submit_for_moderation(instance: models.Model, *, force: bool = False) -> ModerationCase:
    """Create or refresh ``instance``'s case; queue a scan after commit when one is due.

    A scan is due when the case is new, when the file, declaration or tool changed, or
    when ``force`` is set (a moderator's rescan); see :func:`moderation.intake.open_case`.
    The case carries the scan in its outbox until the message is out, so a broker
    outage or a crash after commit delays the scan by one sweep, never loses it.
    """
    with transaction.atomic():
        case, due = open_case(instance, force=force)
        if due:
            case_id = case.pk
            transaction.on_commit(lambda: tasks.enqueue_scan(case_id))
    return case


def get_case(instance: models.Model) -> ModerationCase | None:
    """Return the case for ``instance`` or None."""
    return ModerationCase.objects.for_instance(instance).first()


def rescan(instance: models.Model) -> ModerationCase:
    """Force a new scan of ``instance`` after commit."""
    return submit_for_moderation(instance, force=True)
