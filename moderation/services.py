"""Thin programmatic API host code and receivers use: open a case, queue a scan."""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction

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
        transaction.on_commit(lambda: enqueue_scan(case.pk))
    return case


def enqueue_scan(case_id: int, *, countdown: float | None = None) -> bool:
    """Publish ``scan_case``; return False (and rely on the sweeper) if the broker is down.

    Called from ``on_commit`` hooks, so the case row is visible to the worker. A broker
    outage must not turn into a 500 for the uploader: the case stays pending and the
    periodic sweeper re-queues it.
    """
    from moderation.tasks import scan_case

    try:
        scan_case.apply_async(args=[case_id], queue=moderation_settings.QUEUE,
                              countdown=countdown, retry=True,
                              retry_policy={"max_retries": 2, "interval_start": 0,
                                            "interval_step": 0.2, "interval_max": 0.5})
    except Exception as exc:  # kombu raises several unrelated types for "broker down"
        logger.warning("could not queue scan of case %s (%s); the sweeper will retry",
                       case_id, exc)
        return False
    return True


def get_case(instance: models.Model) -> ModerationCase | None:
    """Return the case for ``instance`` or None."""
    return ModerationCase.objects.for_instance(instance).first()


def rescan(instance: models.Model) -> ModerationCase:
    """Force a new scan of ``instance`` after commit."""
    return submit_for_moderation(instance, force=True)


def resolve_instance(case: ModerationCase) -> Any:
    """Return the host object behind ``case`` or None if it was deleted."""
    model = case.content_type.model_class()
    if model is None:
        return None
    return model._default_manager.filter(pk=case.object_id).first()
