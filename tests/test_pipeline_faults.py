"""The upload path under faults: lost connections, outages, lost attempts, failed publishes.

Regression tests of the hardening issue's defects 3 (a dropped PostgreSQL connection left
cases ``running`` with their message acked), 4 (retry backoff was always 1 s and short
outages quarantined healthy uploads), 6 (a failed publish waited the full sweep delay),
7 (a crashed attempt left no trace in the audit log; quarantine without a reason) and the
case-creation half of 8 (a host object left without a case after ``database is
locked``). The task body runs in this process; the real worker runs them in
``tests/integration`` and ``make reliability``.
"""

from __future__ import annotations

from unittest import mock

import kombu.exceptions
import psycopg
import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, connection

from moderation import pipeline, tasks
from moderation.constants import ProcessingState
from moderation.exceptions import TransientDetectorError
from moderation.models import ModerationAction, ModerationCase
from tests.factories import png_bytes
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db


def make_case(user) -> ModerationCase:
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = Artwork(owner=user)
        art.image.save("a.png", ContentFile(png_bytes()), save=True)
    return ModerationCase.objects.for_instance(art).get()


def run_task(case_id: int, failure: BaseException | None = None) -> mock.MagicMock:
    """Run ``scan_case`` once (its attempt failing with ``failure``); return the publisher."""
    with mock.patch("moderation.tasks.enqueue_scan") as enqueue:
        if failure is None:
            tasks.scan_case(case_id)
        else:
            with mock.patch("moderation.pipeline.run_attempt", side_effect=failure):
                tasks.scan_case(case_id)
    return enqueue


# --- defect 4: backoff from the case's failures; transient ones do not count ------------


def test_backoff_grows_with_the_cases_failures(user, settings):
    settings.MODERATION = {"MAX_ATTEMPTS": 3}
    case = make_case(user)
    delays = [run_task(case.pk, RuntimeError("parser crashed")).call_args.kwargs["countdown"]
              for _ in range(2)]
    assert delays == [2, 4]
    last = run_task(case.pk, RuntimeError("parser crashed"))
    last.assert_not_called()
    case.refresh_from_db()
    assert case.state == ProcessingState.QUARANTINED
    assert "parser crashed" in case.last_error


def test_transient_failures_do_not_quarantine_a_healthy_upload(user, settings):
    settings.MODERATION = {"MAX_ATTEMPTS": 3, "RETRY_BACKOFF_MAX": 60}
    case = make_case(user)
    delays = []
    for _ in range(6):  # six outages in a row, twice MAX_ATTEMPTS
        enqueue = run_task(case.pk, TransientDetectorError("model server restarting"))
        delays.append(enqueue.call_args.kwargs["countdown"])
        case.refresh_from_db()
        assert case.state == ProcessingState.PENDING and case.attempts == 0
    assert delays == [2, 4, 8, 16, 32, 60]
    assert case.transient_failures == 6
    run_task(case.pk)
    case.refresh_from_db()
    assert case.state == ProcessingState.DONE and case.attempts == 1


def test_endless_transient_failures_end_quarantined(user, settings):
    settings.MODERATION = {"MAX_TRANSIENT_FAILURES": 2}
    case = make_case(user)
    for _ in range(3):
        run_task(case.pk, TransientDetectorError("down"))
    case.refresh_from_db()
    assert case.state == ProcessingState.QUARANTINED
    assert "3 transient failures" in case.actions.get(action="quarantined").note


# --- defect 3: a dead database connection is replaced, the case is re-queued ------------


@pytest.mark.django_db(transaction=True)
def test_dropped_database_connection_leaves_no_case_running(user):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: closing SQLite's in-memory test database loses it")
    case = make_case(user)

    def connection_dies(_case: ModerationCase) -> str:
        connection.connection.close()  # the server went away under Django's feet
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # raises, as the scan's next query would
        return "unreachable"

    with mock.patch("moderation.tasks.enqueue_scan") as enqueue, \
            mock.patch("moderation.pipeline.run_attempt", side_effect=connection_dies):
        assert tasks.scan_case(case.pk) == "failed"
    case.refresh_from_db()
    assert case.state == ProcessingState.PENDING, "left running with its message acked"
    assert (case.attempts, case.transient_failures) == (0, 1)
    enqueue.assert_called_once_with(case.pk, countdown=2)


def test_failure_is_retried_even_when_the_database_stays_down(user, settings):
    settings.MODERATION = {"RETRY_BACKOFF_MAX": 90}
    case = make_case(user)
    with mock.patch("moderation.pipeline.record_failure",
                    side_effect=OperationalError("connection refused")), \
            mock.patch("moderation.tasks._drop_dead_connections"):
        enqueue = run_task(case.pk, OperationalError("terminating connection"))
    enqueue.assert_called_once_with(case.pk, countdown=90)


# --- defect 6: the outbox re-sends a failed publish on the next beat ---------------------


def test_failed_publish_is_sent_by_the_next_sweep(user, settings,
                                                  django_capture_on_commit_callbacks):
    settings.MODERATION = {"OUTBOX_GRACE_SECONDS": 0, "SWEEP_AFTER_SECONDS": 300}
    broker_down = kombu.exceptions.OperationalError("Error 111 connecting to redis")
    with mock.patch.object(tasks.scan_case, "apply_async", side_effect=broker_down), \
            django_capture_on_commit_callbacks(execute=True):
        art = Artwork(owner=user)
        art.image.save("a.png", ContentFile(png_bytes()), save=True)
    case = ModerationCase.objects.for_instance(art).get()
    assert case.publish_due_at is not None
    with mock.patch.object(tasks.scan_case, "apply_async") as publish:
        assert tasks.sweep() == 1
    publish.assert_called_once()
    assert publish.call_args.kwargs["args"] == [case.pk]
    case.refresh_from_db()
    assert case.publish_due_at is None
    with mock.patch.object(tasks.scan_case, "apply_async") as publish:
        assert tasks.sweep() == 0  # sent once; nothing left in the outbox


def test_published_scan_leaves_nothing_in_the_outbox(user,
                                                     django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.scan_case, "apply_async"), \
            django_capture_on_commit_callbacks(execute=True):
        art = Artwork(owner=user)
        art.image.save("a.png", ContentFile(png_bytes()), save=True)
    assert ModerationCase.objects.for_instance(art).get().publish_due_at is None


# --- defect 7: every attempt is in the audit log, lost ones too --------------------------


def test_a_lost_attempt_is_audited(user):
    case = make_case(user)
    # What kill -9 of the child leaves: the attempt counted, the case still running.
    ModerationCase.objects.filter(pk=case.pk).update(state=ProcessingState.RUNNING,
                                                     attempts=1)
    assert pipeline.scan(case.pk) == ProcessingState.DONE
    case.refresh_from_db()
    attempts = list(case.actions.filter(action__in=["attempt_lost", "scan", "scan_failed"])
                    .values_list("action", flat=True))
    assert attempts == ["attempt_lost", "scan"]
    assert len(attempts) == case.attempts == 2
    assert "did not finish" in case.actions.get(action="attempt_lost").note


def test_quarantine_after_crashes_names_the_reason(user, settings):
    settings.MODERATION = {"MAX_ATTEMPTS": 3}
    case = make_case(user)
    ModerationCase.objects.filter(pk=case.pk).update(state=ProcessingState.RUNNING,
                                                     attempts=3, last_error="")
    assert pipeline.scan(case.pk) == "skipped"
    case.refresh_from_db()
    assert case.state == ProcessingState.QUARANTINED
    assert "did not finish" in case.last_error
    note = case.actions.get(action="quarantined").note
    assert note.startswith("quarantined after 3 attempts: previous attempt did not finish")


def test_failed_attempts_are_audited(user):
    case = make_case(user)
    run_task(case.pk, RuntimeError("boom"))
    run_task(case.pk, TransientDetectorError("lock"))
    notes = list(ModerationAction.objects.filter(case=case, action="scan_failed")
                 .order_by("id").values_list("note", flat=True))
    assert notes == ["attempt 1: RuntimeError: boom",
                     "transient, not counted: transient: TransientDetectorError: lock"]


# --- defect 8: a host object is never left without a case -------------------------------


def test_locked_database_in_post_save_does_not_fail_the_upload(user, settings):
    settings.MODERATION = {"OUTBOX_GRACE_SECONDS": 0}
    locked = OperationalError("database is locked")
    with mock.patch("moderation.signal_handlers.submit_for_moderation", side_effect=locked):
        art = Artwork(owner=user)
        art.image.save("a.png", ContentFile(png_bytes()), save=True)  # no 500 for the host
    assert not ModerationCase.objects.for_instance(art).exists()
    with mock.patch.object(tasks.scan_case, "apply_async") as publish:
        assert tasks.sweep() == 1
    case = ModerationCase.objects.for_instance(art).get()
    assert publish.call_args.kwargs["args"] == [case.pk]
    assert (case.state, case.owner_id, case.file_name) == (
        ProcessingState.PENDING, user.pk, art.image.name)


@pytest.mark.django_db
def test_a_live_attempt_keeps_a_duplicate_delivery_out() -> None:
    """A case found running may be alive on another worker: its session lock says so,
    and the lock goes with a dead worker's connection."""
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; the demo's SQLite runs one worker")
    params = connection.get_connection_params()
    other = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"},
                            autocommit=True)
    other.execute("SELECT pg_advisory_lock(%s, %s)", (pipeline.ATTEMPT_LOCK_CLASS, 424242))
    with pipeline.live_attempt(424242) as mine:
        assert mine is False
    other.close()  # the other worker dies: its lock is released with its connection
    with pipeline.live_attempt(424242) as mine:
        assert mine is True
    with pipeline.live_attempt(424242) as again:  # released after each attempt
        assert again is True
