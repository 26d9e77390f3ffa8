"""Celery and Redis faults on a real worker: nothing committed is ever lost.

* The worker child is ``kill -9``ed mid-scan: the message is redelivered
  (acks_late + reject_on_worker_lost) and the case finishes on the second attempt.
* The broker is down when the upload commits: the upload still succeeds, the case
  waits as pending, and the sweeper queues it once the broker is back.
* A file kills the worker child on every delivery: the case is quarantined after
  ``MAX_ATTEMPTS`` instead of looping forever, with the reason in the case and the log.
* PostgreSQL drops the worker's connection mid-scan (``pg_terminate_backend``): the
  worker opens a new one and retries; the outage does not count as an attempt.
* A detector's service fails twice and then recovers: retried with growing delays, done
  without any attempt counted against the file.
* The broker is stopped and restarted while a scan runs: the case still ends done.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest
from django.db import connection

from moderation.constants import ProcessingState, Route
from moderation.models import Evidence, ModerationAction
from moderation.services import get_case
from moderation.tasks import sweep
from tests.celery_publisher import publishing_to
from tests.integration.conftest import RunConfig, launch_worker
from tests.integration.services import PrivateRedis, free_port, wait_for
from tests.integration.uploads import png, upload, wait_terminal

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 3  # tests/integration/worker_settings.py


def _markers(marker_dir: Path, sha256: str) -> list[Path]:
    return sorted(marker_dir.glob(f"{sha256}.*"), key=lambda p: p.stat().st_mtime)


def test_worker_child_killed_mid_scan_is_redelivered_and_finishes(live: RunConfig):
    data = png(color=(250, 10, 10))
    sha = hashlib.sha256(data).hexdigest()
    work = upload("slow-kill.png", data)

    # The fault detector writes its pid, then sleeps: the scan is provably mid-flight.
    first = wait_for(lambda: _markers(live.marker_dir, sha), timeout=60,
                     what="the first scan attempt to start")[0]
    child_pid = int(first.read_text())
    running = get_case(work)
    assert running is not None
    assert (running.state, running.attempts) == (ProcessingState.RUNNING, 1)
    os.kill(child_pid, signal.SIGKILL)

    case = wait_terminal(work, timeout=90)

    assert (case.state, case.route) == (ProcessingState.DONE, Route.MAIN)
    assert case.attempts == 2, "the attempt counter must record the killed attempt"
    pids = {int(p.read_text()) for p in _markers(live.marker_dir, sha)}
    assert child_pid in pids and len(pids) == 2, "redelivered to a new child process"
    assert ModerationAction.objects.filter(case=case, action="scan").count() == 1
    lost = ModerationAction.objects.filter(case=case, action="attempt_lost")
    assert lost.count() == 1, "the killed attempt must be in the audit log"
    keys = list(Evidence.objects.filter(case=case).values_list("detector", "detector_version"))
    assert len(keys) == len(set(keys))


def test_broker_down_at_upload_then_sweeper_recovers(live: RunConfig, tmp_path: Path):
    broker = PrivateRedis(port=free_port(), data_dir=tmp_path / "redis")
    broker.start()
    broker.stop()  # the broker this site publishes to is now down
    try:
        with publishing_to(broker.url):
            started = time.monotonic()
            work = upload("outage.png", png(color=(0, 128, 255)))
            elapsed = time.monotonic() - started
        # The upload committed and did not hang on the dead broker.
        assert elapsed < 5, f"upload took {elapsed:.1f}s with the broker down"
        case = get_case(work)
        assert case is not None
        assert (case.state, case.attempts) == (ProcessingState.PENDING, 0)
        assert case.publish_due_at is not None, "the unsent scan must stay in the outbox"
        time.sleep(1.0)
        case.refresh_from_db()
        assert case.state == ProcessingState.PENDING, "nothing can have scanned it"

        broker.start()
        worker = launch_worker(live, broker_url=broker.url, name="it-outage")
        try:
            with publishing_to(broker.url):
                # What the beat task ``moderation.sweep_stuck_cases`` runs every minute.
                assert sweep(older_than_seconds=0) == 1
            case = wait_terminal(work, timeout=60)
            assert (case.state, case.route, case.attempts) == (ProcessingState.DONE,
                                                               Route.MAIN, 1)
            with publishing_to(broker.url):
                assert sweep(older_than_seconds=0) == 0, "a finished case is never re-queued"
        finally:
            worker.stop()
    finally:
        broker.stop()


def test_file_that_always_crashes_the_worker_is_quarantined(live: RunConfig):
    work = upload("crash-poison.png", png(color=(66, 66, 66)))

    case = wait_terminal(work, timeout=120)

    assert case.state == ProcessingState.QUARANTINED
    assert case.attempts == MAX_ATTEMPTS
    assert case.needs_review and case.route == Route.HELD
    quarantine = ModerationAction.objects.get(case=case, action="quarantined")
    assert "did not finish" in quarantine.note and "did not finish" in case.last_error
    assert ModerationAction.objects.filter(case=case, action="attempt_lost").count() == \
        MAX_ATTEMPTS, "every crashed attempt is in the audit log"
    # The pool replaced its dead children and keeps working.
    after = wait_terminal(upload("after-poison.png", png(color=(7, 7, 7))), timeout=60)
    assert after.state == ProcessingState.DONE


def _terminate_worker_backends(db_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                       "WHERE datname = %s AND pid <> pg_backend_pid()", [db_name])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def test_database_connection_terminated_mid_scan_is_retried(live: RunConfig):
    data = png(color=(10, 250, 10))
    sha = hashlib.sha256(data).hexdigest()
    work = upload("slow-pgterm.png", data)
    wait_for(lambda: _markers(live.marker_dir, sha), timeout=60,
             what="the scan to be mid-flight")
    assert _terminate_worker_backends(live.db_name) >= 1, "no worker connection to drop"

    # Before the fix the failure handler reused the dead connection, raised, and the
    # message was acked with the case left running until the sweeper (minutes).
    case = wait_terminal(work, timeout=45)

    assert (case.state, case.route) == (ProcessingState.DONE, Route.MAIN)
    assert (case.attempts, case.transient_failures) == (1, 1)
    failed = ModerationAction.objects.get(case=case, action="scan_failed")
    assert failed.note.startswith("transient, not counted")
    assert ModerationAction.objects.filter(case=case, action="scan").count() == 1


def test_transient_failures_back_off_and_never_count_as_attempts(live: RunConfig):
    started = time.monotonic()
    work = upload("flaky-service.png", png(color=(1, 99, 199)))

    case = wait_terminal(work, timeout=60)

    elapsed = time.monotonic() - started
    assert case.state == ProcessingState.DONE
    assert (case.attempts, case.transient_failures) == (1, 2)
    assert elapsed >= 2 + 4, f"retried after {elapsed:.1f}s: the backoff is not 2 s, 4 s"
    notes = list(ModerationAction.objects.filter(case=case, action="scan_failed")
                 .values_list("note", flat=True))
    assert len(notes) == 2 and all(n.startswith("transient, not counted") for n in notes)


def test_broker_stopped_and_restarted_mid_scan(live: RunConfig, tmp_path: Path):
    broker = PrivateRedis(port=free_port(), data_dir=tmp_path / "redis")
    broker.start()
    worker = launch_worker(live, broker_url=broker.url, name="it-broker-restart")
    try:
        data = png(color=(123, 45, 67))
        sha = hashlib.sha256(data).hexdigest()
        with publishing_to(broker.url):
            work = upload("slow-broker-restart.png", data)
        wait_for(lambda: _markers(live.marker_dir, sha), timeout=60,
                 what="the scan to be mid-flight")
        broker.stop()
        time.sleep(2)
        broker.start()  # empty: the restarted Redis kept nothing (no persistence)
        with publishing_to(broker.url):
            # What the next beat does: the case is left running with no message.
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                case = get_case(work)
                assert case is not None
                if case.state in (ProcessingState.DONE, ProcessingState.QUARANTINED,
                                  ProcessingState.REJECTED):
                    break
                sweep(older_than_seconds=5)
                time.sleep(3)
        case = wait_terminal(work, timeout=5)
        assert case.state == ProcessingState.DONE
        keys = list(Evidence.objects.filter(case=case)
                    .values_list("detector", "detector_version", "content_sha256"))
        assert len(keys) == len(set(keys))
        assert worker.alive(), worker.log()[-4000:]
    finally:
        worker.stop()
        broker.stop()
