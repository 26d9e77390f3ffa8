"""Celery tasks and their publishing: the one module where scan messages are sent and run.

Publishing lives next to the task it publishes so the upload's path runs one way:
``services`` (host code and receivers) → ``tasks`` (publish, consume, sweep) →
``pipeline`` (the work). Nothing below this module publishes.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init
from django.utils import timezone

from moderation import pipeline
from moderation.audit import chain_head, verify_chain
from moderation.conf import moderation_settings
from moderation.exceptions import TransientDetectorError
from moderation.models import ModerationCase

logger = logging.getLogger(__name__)


# The decorator's time limits are fallbacks: ``_apply_time_limits`` replaces them with
# MODERATION's TASK_SOFT_TIME_LIMIT / TASK_TIME_LIMIT when a worker starts.
@shared_task(
    name="moderation.scan_case",
    bind=True,
    acks_late=True,  # safe: the pipeline is idempotent per (case, detector, version, sha)
    reject_on_worker_lost=True,  # kill -9 of the child: redeliver, the attempt counter caps it
    ignore_result=True,
    max_retries=None,
    soft_time_limit=120,
    time_limit=150,
)
def scan_case(self: Any, case_id: int) -> str:
    """Scan one case. Failures are retried until ``MAX_ATTEMPTS``, then quarantined."""
    try:
        return pipeline.scan(case_id)
    except SoftTimeLimitExceeded:
        error = "soft time limit exceeded"
    except TransientDetectorError as exc:
        error = f"transient: {exc}"
    except Exception as exc:  # a bug or a crashing parser: count it, never loop forever
        logger.exception("scan of case %s failed", case_id)
        error = f"{type(exc).__name__}: {exc}"
    if pipeline.record_failure(case_id, error):
        enqueue_scan(case_id, countdown=min(2 ** self.request.retries, 60))
    return "failed"


def enqueue_scan(case_id: int, *, countdown: float | None = None) -> bool:
    """Publish ``scan_case``; return False (and rely on the sweeper) if the broker is down.

    Called from ``on_commit`` hooks, so the case row is visible to the worker. A broker
    outage must not turn into a 500 for the uploader: the case stays pending and the
    periodic sweeper re-queues it.
    """
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


def sweep(older_than_seconds: int | None = None) -> int:
    """Queue a scan for each case still pending or running after the sweep delay.

    Running cases are included: a worker that died without its message being
    redelivered leaves one behind. The pipeline's attempt counter stops a case that
    keeps killing workers from being swept forever.
    """
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


@shared_task(name="moderation.sweep_stuck_cases", ignore_result=True)
def sweep_stuck_cases() -> int:
    """Re-queue cases left pending/running too long (broker outage, lost message)."""
    return sweep()


@shared_task(name="moderation.verify_audit_chain", ignore_result=True)
def verify_audit_chain() -> int:
    """Nightly check of the audit log's hash chain; returns the number of problems.

    A break is logged at CRITICAL, naming the first broken row, so that log alerting
    (not a human remembering to run ``moderation_verify_audit``) surfaces an edit made
    past the append-only triggers.
    """
    problems = verify_chain()
    if problems:
        logger.critical("audit log hash chain broken (%d problem(s)); first broken row "
                        "id %s: %s", len(problems), problems[0].row_id, problems[0])
    else:
        logger.info("audit log hash chain intact, head %s", chain_head())
    return len(problems)


@worker_init.connect(dispatch_uid="moderation.tasks.time_limits", weak=False)
def _apply_time_limits(sender: Any = None, **kwargs: Any) -> None:
    """Give ``scan_case`` the operator's time limits before the pool forks its children."""
    app = getattr(sender, "app", None)
    if app is None:
        return
    task = app.tasks.get("moderation.scan_case")
    if task is not None:
        task.soft_time_limit = moderation_settings.TASK_SOFT_TIME_LIMIT
        task.time_limit = moderation_settings.TASK_TIME_LIMIT
