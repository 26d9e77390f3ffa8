"""Adding a detector takes its class and a settings entry: its reasons then read with
their own text on the work's label, the case page, the queue and the API."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template import Context, Template
from django.test import Client
from rest_framework.test import APIClient

from moderation import pipeline
from moderation.constants import Label, ProcessingState, Route
from moderation.models import ModerationCase
from moderation.reasons import get_reason, reason_table
from tests.factories import png_bytes
from tests.testapp.models import Artwork
from tests.tiny_detector import MAGENTA, TINY_MARK

MODERATOR_TEXT = "The tiny detector found its magenta mark."
VIEWER_TEXT = "a magenta test mark in the pixels"


@pytest.fixture
def tiny_only(settings):
    """The settings entry, and nothing else: no table, template or serializer touched."""
    settings.MODERATION = {"DETECTORS": {
        "tiny": {"BACKEND": "tests.tiny_detector.TinyMarkDetector"}}}


def scanned(owner, color: tuple[int, int, int]) -> tuple[Artwork, ModerationCase]:
    art = Artwork.objects.create(owner=owner, declaration="none", image=SimpleUploadedFile(
        "w.png", png_bytes(color=color), content_type="image/png"))
    case = ModerationCase.objects.for_instance(art).get()
    assert pipeline.scan(case.pk) == ProcessingState.DONE
    case.refresh_from_db()
    return art, case


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def web(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_settings_entry_registers_the_detectors_reasons(tiny_only):
    assert TINY_MARK.code in reason_table
    assert get_reason(TINY_MARK.code) == TINY_MARK


def test_the_detector_decides_through_the_policy(tiny_only, uploader):
    _art, clean = scanned(uploader, (10, 200, 10))
    assert (clean.label, clean.route, clean.reasons) == (Label.HUMAN, Route.MAIN,
                                                        ["no_ai_evidence"])
    _art, marked = scanned(uploader, MAGENTA)
    assert (marked.label, marked.route, marked.undisclosed_ai) == (Label.AI, Route.HELD, True)
    assert marked.reasons == ["undisclosed_ai", "provenance_strong", TINY_MARK.code]


def test_the_work_label_names_the_detectors_own_family(tiny_only, uploader):
    art, _case = scanned(uploader, MAGENTA)
    html = Template("{% load moderation_tags %}{% moderation_label work %}").render(
        Context({"work": art, "user": uploader}))
    assert VIEWER_TEXT in html
    assert "AI evidence in a work declared hand-made" in html
    assert "generation data in the file" not in html


def test_the_case_page_shows_the_detectors_text(tiny_only, uploader, moderator):
    _art, case = scanned(uploader, MAGENTA)
    html = web(moderator).get(f"/moderation/case/{case.pk}/").content.decode()
    assert f'<li data-reason="{TINY_MARK.code}">{MODERATOR_TEXT}</li>' in html
    assert "Deepfake risk" in html  # the queue category the detector declared


def test_the_queue_files_and_explains_the_case_by_the_detectors_category(
        tiny_only, uploader, moderator):
    _art, case = scanned(uploader, MAGENTA)
    c = web(moderator)
    html = c.get("/moderation/?reason=deepfake").content.decode()
    assert f"/moderation/case/{case.pk}/" in html and MODERATOR_TEXT in html
    assert f"/moderation/case/{case.pk}/" not in c.get(
        "/moderation/?reason=uncertain").content.decode()


def test_the_api_returns_the_detectors_text(tiny_only, uploader, moderator):
    _art, case = scanned(uploader, MAGENTA)
    expected = {"code": TINY_MARK.code, "text": MODERATOR_TEXT, "category": "deepfake"}
    detail = api(moderator).get(f"/api/moderation/{case.pk}/").json()
    assert expected in detail["reason_details"]
    assert [r["code"] for r in detail["reason_details"]] == detail["reasons"]
    queue = api(moderator).get("/api/queue/?reason=deepfake").json()["results"]
    assert [row["id"] for row in queue] == [case.pk]
    assert expected in queue[0]["reason_details"]
    own = api(uploader).get(f"/api/moderation/{case.pk}/").json()
    assert expected in own["reason_details"]


def test_a_code_nobody_declared_is_named_as_such_and_never_given_a_family():
    reason = get_reason("made_up_code")
    assert str(reason.text) == "Undeclared reason code: made_up_code"
    assert (reason.why, reason.category) == (None, "")


def test_one_code_cannot_mean_two_things():
    from moderation.reasons import Reason, ReasonConflict, ReasonTable

    table = ReasonTable([TINY_MARK])
    table.register(TINY_MARK)  # the same declaration again, e.g. after a settings reload
    with pytest.raises(ReasonConflict, match="tiny_magenta_mark"):
        table.register(Reason(TINY_MARK.code, "Something else entirely."))

