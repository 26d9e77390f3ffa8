"""Opening cases: one per registered object, with its scan put in the outbox.

Below :mod:`moderation.tasks` so that both the host's path (``services``, from the
``post_save`` receiver) and the sweeper (``tasks``, on beat) open cases the same way;
publishing the scan message is left to the caller, after commit. The outbox column
``publish_due_at`` is set in the same transaction as the case, so a scan that becomes due
is never forgotten: if the process dies or the broker is down before the message is
published, the next sweep sends it.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import Exists
from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.constants import ProcessingState
from moderation.models import ModerationAction, ModerationCase
from moderation.policy import get_policy
from moderation.registry import registry
from moderation.visibility import case_for_outer

logger = logging.getLogger(__name__)


def open_case(instance: models.Model, *, force: bool = False) -> tuple[ModerationCase, bool]:
    """Create or refresh ``instance``'s case; return ``(case, scan_due)``.

    A scan is due when the case is new, when the file, declaration or tool changed, or
    when ``force`` is set (a moderator's rescan). Evidence already recorded for the
    same content and detector version is reused by the pipeline, so re-deciding after a
    declaration change costs no detector time. When a scan is due, ``publish_due_at``
    is set in this transaction: the caller publishes after commit and clears it.
    """
    options = registry.get_options(type(instance))
    file = options.get_file(instance)
    owner = options.get_owner(instance)
    fields: dict[str, Any] = {
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
            defaults={**fields, "route": pending_route, "publish_due_at": timezone.now()},
        )
        changed = [k for k, v in fields.items() if getattr(case, k) != v]
        if created:
            return case, True
        if not (changed or force):
            return case, False
        before = case.snapshot()
        for key, value in fields.items():
            setattr(case, key, value)
        if "file_name" in changed:
            # New content: a moderator's verdict on the old file no longer applies,
            # and the new file must not be shown where the old one was until it
            # has been scanned.
            case.decided_by = None
            case.decided_at = None
            case.route = pending_route
        case.state = ProcessingState.PENDING
        case.attempts = 0
        case.transient_failures = 0
        case.rejection_reason = ""
        case.last_error = ""
        case.publish_due_at = timezone.now()
        case.save()
        ModerationAction.objects.create(
            case=case, action="resubmitted", before=before, after=case.snapshot(),
            note=("forced rescan" if force and not changed
                  else "changed: " + ", ".join(sorted(changed))),
        )
    return case, True


def objects_without_case(limit: int) -> list[models.Model]:
    """Registered objects that have no case at all, oldest primary key first.

    Their case could not be opened when they were saved (``database is locked`` on
    SQLite after the host's row had committed, a crash between the two writes); the
    sweeper opens it, so no object stays "checking" forever and invisible.
    """
    found: list[models.Model] = []
    for model in registry.registered_models():
        if len(found) >= limit:
            break
        qs = model._default_manager.all()
        found.extend(qs.filter(~Exists(case_for_outer(qs))).order_by("pk")[: limit - len(found)])
    return found
