"""Celery tasks and their publishing: the one module where scan messages are sent and run.

Publishing lives next to the task it publishes so the upload's path runs one way:
``services`` (host code and receivers) → ``tasks`` (publish, consume, sweep) →
``pipeline`` (the work). Nothing below this module publishes.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import kombu.exceptions
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init
from django import db
from django.utils import timezone

from moderation import pipeline
from moderation.audit import (
    chain_head,
    current_checkpoint,
    latest_checkpoint,
    verify_chain,
    verify_checkpoint,
    write_checkpoint,
)
from moderation.conf import moderation_settings
from moderation.exceptions import TransientDetectorError
from moderation.intake import objects_without_case, open_case
from moderation.models import ModerationCase

logger = logging.getLogger(__name__)


#: Exceptions that say "try again later", not "this file is bad": they do not count
#: toward MAX_ATTEMPTS (see ``pipeline.record_failure``).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientDetectorError, db.OperationalError, db.InterfaceError,
    kombu.exceptions.OperationalError,
)


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
    """Scan one case. Failures are retried with growing delays, then quarantined."""
    counted = False
    try:
        with pipeline.live_attempt(case_id) as mine:
            if not mine:
                return "skipped"  # a duplicate delivery while another worker scans it
            case = pipeline.begin_attempt(case_id)
            if case is None:
                return "skipped"
            counted = True
            return pipeline.run_attempt(case)
    except SoftTimeLimitExceeded:
        error, transient = "soft time limit exceeded", False
    except TRANSIENT_ERRORS as exc:
        logger.warning("scan of case %s hit a transient failure: %s", case_id, exc)
        error, transient = f"transient: {type(exc).__name__}: {exc}", True
    except Exception as exc:  # a bug or a crashing parser: count it, never loop forever
        logger.exception("scan of case %s failed", case_id)
        error, transient = f"{type(exc).__name__}: {exc}", False
    fail(case_id, error, transient=transient, counted=counted)
    return "failed"


def fail(case_id: int, error: str, *, transient: bool, counted: bool) -> None:
    """Record a failed attempt and publish the retry, even when the database just died.

    The connection the attempt used may be dead (PostgreSQL restarted, the backend
    terminated): Django would hand the same broken connection to the failure handler,
    which would raise, and Celery would ack the message with the case left ``running``.
    So every connection is closed first and the next query opens a fresh one. If the
    database is still unreachable, the retry is published anyway with the longest
    delay: the case is still ``running`` then, and the next attempt records this one as
    lost.
    """
    countdown: int | None = None
    for last_try in (False, True):
        _drop_dead_connections(force=last_try)
        try:
            countdown = pipeline.record_failure(case_id, error, transient=transient,
                                                counted=counted)
            break
        except db.DatabaseError as exc:
            if not last_try:
                continue
            _drop_dead_connections(force=True)
            logger.warning("could not record the failure of case %s (%s); retrying it "
                           "later", case_id, exc)
            enqueue_scan(case_id, countdown=moderation_settings.RETRY_BACKOFF_MAX)
            return
    if countdown is not None:
        enqueue_scan(case_id, countdown=countdown)


def _drop_dead_connections(*, force: bool = False) -> None:
    """Close database connections that failed (or all of them with ``force``).

    The next query then opens a fresh connection. A connection inside an atomic block
    (a test's transaction) is left alone: closing it would doom the block.
    """
    for conn in db.connections.all(initialized_only=True):
        if conn.in_atomic_block:
            continue
        if force:
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()


def enqueue_scan(case_id: int, *, countdown: float | None = None) -> bool:
    """Publish ``scan_case`` and clear the case's outbox mark; False if the broker is down.

    Called from ``on_commit`` hooks, so the case row is visible to the worker. A broker
    outage must not turn into a 500 for the uploader: the case keeps its outbox mark
    (``publish_due_at``) and the next sweep publishes it.
    """
    try:
        scan_case.apply_async(args=[case_id], queue=moderation_settings.QUEUE,
                              countdown=countdown, retry=True,
                              retry_policy={"max_retries": 2, "interval_start": 0,
                                            "interval_step": 0.2, "interval_max": 0.5})
    except Exception as exc:  # kombu raises several unrelated types for "broker down"
        logger.warning("could not queue scan of case %s (%s); the next sweep will send it",
                       case_id, exc)
        _mark_outbox(case_id)
        return False
    try:
        ModerationCase.objects.filter(pk=case_id, publish_due_at__isnull=False).update(
            publish_due_at=None)
    except db.DatabaseError as exc:  # sent all the same; the sweep may send a duplicate
        logger.warning("case %s queued, but its outbox mark stays (%s)", case_id, exc)
    return True


def _mark_outbox(case_id: int) -> None:
    """Keep (or set) the case's outbox mark so the next sweep publishes its scan."""
    try:
        ModerationCase.objects.filter(pk=case_id, publish_due_at__isnull=True).update(
            publish_due_at=timezone.now())
    except db.DatabaseError as exc:  # the stuck-case sweep still finds it
        logger.warning("could not mark case %s for the outbox (%s)", case_id, exc)


def sweep(older_than_seconds: int | None = None) -> int:
    """Publish what is due; return how many scans were queued.

    Three kinds of case, oldest first:

    * the outbox: cases whose scan message was never published (broker down at upload
      or at a retry, a process that died between commit and publish), sent on the first
      sweep after ``OUTBOX_GRACE_SECONDS``;
    * registered objects without any case (the post_save receiver failed after the
      host's row had committed): their case is opened here;
    * cases still pending or running ``SWEEP_AFTER_SECONDS`` after their last write: a
      message lost by the broker, or a worker that died without its message being
      redelivered. The pipeline's attempt counter stops a case that keeps killing
      workers from being swept forever.
    """
    delay = (moderation_settings.SWEEP_AFTER_SECONDS if older_than_seconds is None
             else older_than_seconds)
    batch = int(moderation_settings.SWEEP_BATCH)
    grace = timezone.now() - timedelta(seconds=moderation_settings.OUTBOX_GRACE_SECONDS)
    outbox = list(ModerationCase.objects.pending().filter(publish_due_at__lte=grace)
                  .order_by("publish_due_at").values_list("pk", flat=True)[:batch])
    opened = [open_case(obj)[0].pk for obj in objects_without_case(batch - len(outbox))]
    stuck = list(ModerationCase.objects.stuck(delay).exclude(pk__in=outbox)
                 .order_by("updated_at").values_list("pk", flat=True)[: batch - len(outbox)])
    queued = 0
    for pk in dict.fromkeys([*outbox, *opened, *stuck]):
        if enqueue_scan(pk):
            queued += 1
            # Touch the row so the next sweep waits a full delay before queueing it again
            # (otherwise a dead worker pool would collect one duplicate per sweep).
            ModerationCase.objects.filter(pk=pk).update(updated_at=timezone.now())
    if outbox or opened or stuck:
        logger.info("sweeper queued %s scans (outbox %s, objects without a case %s, "
                    "stuck %s)", queued, len(outbox), len(opened), len(stuck))
    return queued


@shared_task(name="moderation.sweep_stuck_cases", ignore_result=True)
def sweep_stuck_cases() -> int:
    """On every beat: the outbox, objects without a case, and cases left too long."""
    return sweep()


@shared_task(name="moderation.verify_audit_chain", ignore_result=True)
def verify_audit_chain() -> int:
    """Nightly check of the audit log's hash chain; returns the number of problems.

    Besides the links between rows, the log must still reach the last checkpoint in
    ``AUDIT_CHECKPOINT_FILE`` (rows deleted from its end show up only that way). A break
    is logged at CRITICAL, naming the first broken row, so that log alerting (not a
    human remembering to run ``moderation_verify_audit``) surfaces an edit made past the
    append-only triggers.
    """
    problems = verify_chain()
    path = moderation_settings.AUDIT_CHECKPOINT_FILE
    checkpoint = latest_checkpoint(path) if path else None
    if checkpoint is not None:
        problems += verify_checkpoint(checkpoint)
    if problems:
        logger.critical("audit log hash chain broken (%d problem(s)); first broken row "
                        "id %s: %s", len(problems), problems[0].row_id, problems[0])
    else:
        logger.info("audit log hash chain intact, head %s%s", chain_head(),
                    f", reaches checkpoint {checkpoint}" if checkpoint else "")
    return len(problems)


@shared_task(name="moderation.checkpoint_audit", ignore_result=True)
def checkpoint_audit() -> str:
    """Record the audit log's head and row count outside the database (hourly on beat).

    Appended to ``AUDIT_CHECKPOINT_FILE`` when set, and always logged, so shipped logs
    hold it too; ``moderation_verify_audit --expect-head HEAD:COUNT`` checks one.
    """
    path = moderation_settings.AUDIT_CHECKPOINT_FILE
    checkpoint = write_checkpoint(path) if path else current_checkpoint()
    logger.info("audit checkpoint %s (%s rows, head %s)", checkpoint, checkpoint.count,
                checkpoint.head)
    return str(checkpoint)


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
