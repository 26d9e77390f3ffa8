"""Uploads scanned end to end by a real Celery worker over Redis, stored in PostgreSQL."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from moderation.constants import Label, ProcessingState, RejectionReason, Route
from moderation.models import Evidence, ModerationAction
from moderation.services import get_case
from moderation.tasks import enqueue_scan
from tests.integration.uploads import (
    A1111_MODEL,
    A1111_PARAMETERS,
    artist,
    png,
    upload,
    wait_terminal,
)
from tests.testapp.models import UUIDArtwork

pytestmark = pytest.mark.integration


def test_plain_png_is_labelled_human_and_lands_in_new_arrivals(live):
    work = upload("plain.png", png())

    case = wait_terminal(work)

    assert (case.state, case.label, case.route) == (ProcessingState.DONE, Label.HUMAN,
                                                    Route.MAIN)
    assert case.attempts == 1
    assert case.content_sha256 and case.scanned_at is not None
    detectors = set(Evidence.objects.filter(case=case).values_list("detector", flat=True))
    assert {"provenance", "faults"} <= detectors
    assert list(case.actions.values_list("action", flat=True)) == ["scan"]


def test_uuid_primary_key_host_model_is_scanned(live):
    work = UUIDArtwork.objects.create(owner=artist(),
                                      picture=ContentFile(png(color=(20, 40, 200)), "u.png"))

    case = wait_terminal(work)

    assert case.object_id == str(work.pk)
    assert (case.state, case.route) == (ProcessingState.DONE, Route.MAIN)


def test_a1111_parameters_chunk_lands_in_ai_feed_with_its_model(live):
    # No declaration given: the provenance evidence alone decides.
    work = upload("a1111.png", png(text={"parameters": A1111_PARAMETERS}), declaration="")

    case = wait_terminal(work)

    assert case.state == ProcessingState.DONE
    assert (case.label, case.route) == (Label.AI, Route.AI_FEED)
    assert A1111_MODEL in case.model_name
    provenance = Evidence.objects.get(case=case, detector="provenance")
    assert provenance.strength in {"strong", "proof"}


def test_a1111_upload_declared_hand_made_is_held_as_undisclosed(live):
    work = upload("a1111-declared.png", png(text={"parameters": A1111_PARAMETERS}),
                  declaration="none")

    case = wait_terminal(work)

    assert (case.label, case.route) == (Label.AI, Route.HELD)
    assert case.undisclosed_ai and case.needs_review


def test_truncated_png_is_rejected_once_without_retries(live):
    data = png(size=(256, 256), color=(10, 200, 90))
    work = upload("truncated.png", data[: len(data) // 2])

    case = wait_terminal(work)

    assert case.state == ProcessingState.REJECTED
    assert case.rejection_reason == RejectionReason.CORRUPT
    assert case.attempts == 1
    assert case.route == Route.HIDDEN


def test_duplicate_deliveries_leave_one_verdict(live):
    work = upload("dup.png", png(color=(1, 2, 3)))
    case = get_case(work)
    assert case is not None
    # Two extra publishes of the same case: redelivery (acks_late) and double clicks.
    assert enqueue_scan(case.pk) and enqueue_scan(case.pk)

    case = wait_terminal(work)
    # One worker child consumes the queue in order: once a later upload is finished, the
    # duplicates ahead of it have been delivered too (and must have been no-ops).
    wait_terminal(upload("sentinel.png", png(color=(4, 5, 6))))
    case.refresh_from_db()

    assert case.state == ProcessingState.DONE
    rows = list(Evidence.objects.filter(case=case).values_list("detector", "detector_version",
                                                               "content_sha256"))
    assert len(rows) == len(set(rows))
    assert ModerationAction.objects.filter(case=case, action="scan").count() == 1
