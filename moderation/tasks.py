"""Celery tasks. Thin: ids in, the pipeline does the work."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import worker_init

from moderation.conf import moderation_settings
from moderation.exceptions import TransientDetectorError

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
    from moderation import pipeline

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
        from moderation.services import enqueue_scan

        enqueue_scan(case_id, countdown=min(2 ** self.request.retries, 60))
    return "failed"


@shared_task(name="moderation.sweep_stuck_cases", ignore_result=True)
def sweep_stuck_cases() -> int:
    """Re-queue cases left pending/running too long (broker outage, lost message)."""
    from moderation.sweeper import sweep

    return sweep()


@shared_task(name="moderation.verify_audit_chain", ignore_result=True)
def verify_audit_chain() -> int:
    """Nightly check of the audit log's hash chain; returns the number of problems.

    A break is logged at CRITICAL, naming the first broken row, so that log alerting
    (not a human remembering to run ``moderation_verify_audit``) surfaces an edit made
    past the append-only triggers.
    """
    from moderation.audit import chain_head, verify_chain

    problems = verify_chain()
    if problems:
        logger.critical("audit log hash chain broken (%d problem(s)); first broken row "
                        "id %s: %s", len(problems), problems[0].row_id, problems[0])
    else:
        logger.info("audit log hash chain intact, head %s", chain_head())
    return len(problems)


def get_queue() -> str:
    return str(moderation_settings.QUEUE)


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
