"""Recover cases whose scan message was never delivered or was lost."""

from __future__ import annotations

import logging

from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.models import ModerationCase

logger = logging.getLogger(__name__)


def sweep(older_than_seconds: int | None = None) -> int:
    """Queue a scan for each case still pending or running after the sweep delay.

    Running cases are included: a worker that died without its message being
    redelivered leaves one behind. The pipeline's attempt counter stops a case that
    keeps killing workers from being swept forever.
    """
    from moderation.services import enqueue_scan

    delay = (moderation_settings.SWEEP_AFTER_SECONDS if older_than_seconds is None
             else older_than_seconds)
    ids = list(ModerationCase.objects.stuck(delay).order_by("updated_at")
               .values_list("pk", flat=True)[: moderation_settings.SWEEP_BATCH])
    queued = 0
    for pk in ids:
        if enqueue_scan(pk):
            queued += 1
            # Touch the row so the next sweep waits a full delay before queueing it again
            # (otherwise a dead worker pool would collect one duplicate per sweep).
            ModerationCase.objects.filter(pk=pk).update(updated_at=timezone.now())
    if ids:
        logger.info("sweeper re-queued %s of %s stuck cases", queued, len(ids))
    return queued
