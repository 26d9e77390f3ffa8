"""Scaling out: two worker processes on separate queues, one Redis, one PostgreSQL.

A second worker host is another ``celery worker`` on the same broker and database; each
host may consume its own queue (per-site or per-priority queues). Uploads are spread
over both queues and every case is then published once more on the *other* queue (what
the sweeper or a retry on another host does), so both workers race for every case. The
pipeline's row lock and idempotent evidence must still leave exactly one verdict each.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings

from moderation.constants import ProcessingState
from moderation.models import Evidence, ModerationAction
from moderation.services import get_case
from moderation.tasks import enqueue_scan
from tests.integration.conftest import RunConfig
from tests.integration.services import WorkerProcess, drop_queue, start_worker
from tests.integration.uploads import A1111_PARAMETERS, png, upload, wait_terminal

pytestmark = pytest.mark.integration

UPLOADS = 12


@pytest.fixture
def second_queue(run_config: RunConfig, celery_worker: WorkerProcess) -> Iterator[str]:
    """A second worker, consuming a queue of its own, on the same Redis and database."""
    queue = f"{run_config.queue}-b"
    worker = start_worker(
        broker_url=run_config.broker_url, queue=queue, db_name=run_config.db_name,
        media_root=str(django_settings.MEDIA_ROOT), marker_dir=run_config.marker_dir,
        log_dir=run_config.log_dir, name="it-second")
    try:
        yield queue
    finally:
        worker.stop()
        with contextlib.suppress(Exception):
            drop_queue(run_config.broker_url, queue)


def on_queue(settings, queue: str) -> None:
    settings.MODERATION = {**settings.MODERATION, "QUEUE": queue}


def test_two_workers_on_separate_queues_give_one_verdict_per_upload(live, settings,
                                                                     second_queue,
                                                                     celery_worker):
    queues = (live.queue, second_queue)
    works = []
    for i in range(UPLOADS):
        on_queue(settings, queues[i % 2])
        text = {"parameters": A1111_PARAMETERS} if i % 3 == 0 else None
        works.append(upload(f"two-{i}.png", png(color=(i * 9, 40, 200 - i), text=text)))
    for i, work in enumerate(works):  # the same case once more, on the other queue
        case = get_case(work)
        assert case is not None
        on_queue(settings, queues[(i + 1) % 2])
        assert enqueue_scan(case.pk)

    cases = [wait_terminal(work) for work in works]
    # Each worker has one child consuming its queue in order: once a later upload on
    # that queue is finished, the duplicates ahead of it have been delivered too.
    for i, queue in enumerate(queues):
        on_queue(settings, queue)
        wait_terminal(upload(f"sentinel-{i}.png", png(color=(7, 7, i))))

    for case in cases:
        case.refresh_from_db()
        assert case.state == ProcessingState.DONE, (case.pk, case.state, case.last_error)
        assert ModerationAction.objects.filter(case=case, action="scan").count() == 1
        rows = list(Evidence.objects.filter(case=case)
                    .values_list("detector", "detector_version", "content_sha256"))
        assert rows and len(rows) == len(set(rows))
    labels = {case.label for case in cases}
    assert labels == {"ai", "human"}, labels  # both paths decided, not just one
    # Both hosts did real work: each worker's log shows scans it finished.
    second_log = (live.log_dir / "it-second.log").read_text(errors="replace")
    assert "scanned" in celery_worker.log() and "scanned" in second_log
