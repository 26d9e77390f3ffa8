"""Celery tasks. Thin: ids in, the pipeline does the work."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from moderation.conf import moderation_settings
from moderation.exceptions import TransientDetectorError

logger = logging.getLogger(__name__)


# Time limits are read from settings when the worker starts (see config/celery.py and
# ``task_annotations``); the decorator values are the defaults for hosts that do not.
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
def scan_case(self, case_id: int) -> str:  # type: ignore[no-untyped-def]
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


def get_queue() -> str:
    return str(moderation_settings.QUEUE)
