"""Pipeline unit tests: the task body called directly (no eager mode), on SQLite/PostgreSQL."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.core.files.base import ContentFile
from django.db import DatabaseError, IntegrityError, transaction

from moderation import pipeline
from moderation.constants import ProcessingState, Route
from moderation.models import Evidence, ModerationAction, ModerationCase
from tests.factories import png_bytes, upload
from tests.testapp.models import UUIDArtwork

pytestmark = pytest.mark.django_db



def test_upload_opens_case_and_enqueues_on_commit(user, django_capture_on_commit_callbacks):
    with (mock.patch("moderation.tasks.enqueue_scan") as enqueue,
          django_capture_on_commit_callbacks(execute=True)):
        art = upload(user)
    case = ModerationCase.objects.for_instance(art).get()
    assert case.state == ProcessingState.PENDING
    assert case.route == Route.HELD
    assert case.owner == user
    enqueue.assert_called_once_with(case.pk)


def test_scan_labels_plain_png_human(user, django_capture_on_commit_callbacks):
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = upload(user)
    case = ModerationCase.objects.for_instance(art).get()
    assert pipeline.scan(case.pk) == ProcessingState.DONE
    case.refresh_from_db()
    assert (case.state, case.label, case.route, case.attempts) == ("done", "human", "main", 1)
    assert len(case.content_sha256) == 64
    # Idempotent: a second delivery of the same message does nothing.
    assert pipeline.scan(case.pk) == "skipped"
    assert Evidence.objects.filter(case=case).count() >= 1


def test_uuid_pk_models_work(user):
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = UUIDArtwork(owner=user)
        art.picture.save("u.png", ContentFile(png_bytes()), save=True)
    case = ModerationCase.objects.for_instance(art).get()
    assert uuid.UUID(case.object_id) == art.pk
    pipeline.scan(case.pk)
    case.refresh_from_db()
    assert case.state == ProcessingState.DONE


def test_audit_log_is_append_only_in_database(user):
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = upload(user)
    case = ModerationCase.objects.for_instance(art).get()
    pipeline.scan(case.pk)
    entry = ModerationAction.objects.filter(case=case).first()
    assert entry is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        ModerationAction.objects.filter(pk=entry.pk).update(note="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        ModerationAction.objects.filter(pk=entry.pk).delete()
    assert ModerationAction.objects.get(pk=entry.pk).note == entry.note


def test_attempts_exhausted_quarantines(user, settings):
    settings.MODERATION = {"MAX_ATTEMPTS": 2}
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = upload(user)
    case = ModerationCase.objects.for_instance(art).get()
    ModerationCase.objects.filter(pk=case.pk).update(attempts=2, state="running")
    assert pipeline.scan(case.pk) == "skipped"
    case.refresh_from_db()
    assert case.state == ProcessingState.QUARANTINED
    assert case.route == Route.HELD and case.needs_review


def test_evidence_key_unique(user):
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = upload(user)
    case = ModerationCase.objects.for_instance(art).get()
    kw = dict(case=case, detector="x", detector_version="1", content_sha256="a" * 64,
              label="none", strength="weak")
    Evidence.objects.create(**kw)
    with pytest.raises(IntegrityError), transaction.atomic():
        Evidence.objects.create(**kw)


def test_replaced_file_is_held_until_rescanned(user):
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = upload(user)
        case = ModerationCase.objects.for_instance(art).get()
        pipeline.scan(case.pk)
        case.refresh_from_db()
        assert case.route == Route.MAIN
        art.image.save("b.png", ContentFile(png_bytes(color=(1, 2, 3))), save=True)
    case.refresh_from_db()
    assert (case.state, case.route) == (ProcessingState.PENDING, Route.HELD)
    assert case.actions.filter(action="resubmitted").exists()
    pipeline.scan(case.pk)
    case.refresh_from_db()
    assert (case.state, case.route) == (ProcessingState.DONE, Route.MAIN)


def test_unchanged_save_does_not_requeue(user, django_capture_on_commit_callbacks):
    with mock.patch("moderation.tasks.enqueue_scan"):
        art = upload(user)
    with django_capture_on_commit_callbacks() as callbacks:
        art.save()
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        art.tool = "Krita"
        art.save()
    assert len(callbacks) == 1  # the tool changed: re-decide
    case = ModerationCase.objects.for_instance(art).get()
    assert case.actions.get(action="resubmitted").note == "changed: declared_tool"
