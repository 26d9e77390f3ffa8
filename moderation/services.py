"""Thin programmatic API host code and receivers use: open a case, queue its scan.

The top of the upload's path: ``services`` → ``tasks`` → ``pipeline``; nothing below
imports this module.
"""

from __future__ import annotations

import logging

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

from moderation import tasks
from moderation.conf import moderation_settings
from moderation.constants import ProcessingState
from moderation.models import ModerationAction, ModerationCase
from moderation.policy import get_policy
from moderation.registry import registry

logger = logging.getLogger(__name__)


def submit_for_moderation(instance: models.Model, *, force: bool = False) -> ModerationCase:
    """Create or refresh ``instance``'s case; queue a scan after commit when needed.

    A scan is queued when the case is new, when the file, declaration or tool changed,
    or when ``force`` is set (a moderator's rescan). Evidence already recorded for the
    same content and detector version is reused by the pipeline, so re-deciding after a
    declaration change costs no detector time.
    """
    options = registry.get_options(type(instance))
    file = options.get_file(instance)
    owner = options.get_owner(instance)
    fields = {
        "file_name": getattr(file, "name", "") or "",
        "declaration": options.get_declaration(instance) or "",
        "declared_tool": options.get_tool(instance)[:200],
        "owner": owner if owner is None or isinstance(owner, models.Model) else None,
    }
    ct = ContentType.objects.get_for_model(instance, for_concrete_model=False)
    pending_route = get_policy().pending_route(moderation_settings)
    with transaction.atomic():
        case, created = ModerationCase.objects.select_for_update().get_or_create(
            content_type=ct, object_id=str(instance.pk),
            defaults={**fields, "route": pending_route},
        )
        changed = [k for k, v in fields.items() if getattr(case, k) != v]
        if not (created or changed or force):
            return case
        before = case.snapshot()
        for key, value in fields.items():
            setattr(case, key, value)
        if not created:
            if "file_name" in changed:
                # New content: a moderator's verdict on the old file no longer applies,
                # and the new file must not be shown where the old one was until it
                # has been scanned.
                case.decided_by = None
                case.decided_at = None
                case.route = pending_route
            case.state = ProcessingState.PENDING
            case.attempts = 0
            case.rejection_reason = ""
            case.last_error = ""
            case.save()
            ModerationAction.objects.create(
                case=case, action="resubmitted", before=before, after=case.snapshot(),
                note=("forced rescan" if force and not changed
                      else "changed: " + ", ".join(sorted(changed))),
            )
        transaction.on_commit(lambda: tasks.enqueue_scan(case.pk))
    return case


def get_case(instance: models.Model) -> ModerationCase | None:
    """Return the case for ``instance`` or None."""
    return ModerationCase.objects.for_instance(instance).first()


def rescan(instance: models.Model) -> ModerationCase:
    """Force a new scan of ``instance`` after commit."""
    return submit_for_moderation(instance, force=True)
