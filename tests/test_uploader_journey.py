"""The uploader's journey: honest labels, the status page, notices, appeal errors, and
the migration that turned stored evidence sentences into codes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.template import Context, Template
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from moderation import actions
from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.evidence import EvidenceResult
from moderation.labels import human_established, label_for_case, uploader_why
from moderation.models import Appeal, ModerationCase, Notification, NotificationKind
from moderation.policy import DefaultPolicy
from moderation.reasons import reason_table
from moderation.signals import case_scanned
from tests.factories import make_case

pytest_plugins = ["tests.moderators_fixtures"]

pytestmark = pytest.mark.usefixtures("bilingual")


def web(user: Any, lang: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(user)
    return client


def api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def status_url(case: ModerationCase) -> str:
    return f"/moderation/my/work/testapp.artwork/{case.object_id}/"


def visible_text(page: str) -> str:
    """What a person reads: the page without tags, attributes, scripts or styles."""
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


# -- honest public labels ---------------------------------------------------------------
@pytest.mark.django_db
def test_no_ai_signal_is_not_hand_made(uploader, moderator):
    case = make_case(uploader, label=Label.HUMAN, route=Route.MAIN, needs_review=False,
                     evidence=False)
    ModerationCase.objects.filter(pk=case.pk).update(reasons=["no_ai_evidence"])
    case.refresh_from_db()
    assert not human_established(case)
    info = label_for_case(case)
    assert (info.label, info.text, info.why) == ("", "", ())
    assert [w.code for w in uploader_why(case)] == ["no_ai_evidence"]
    # A moderator's decision establishes it.
    actions.MarkHuman(moderator, case).run()
    case.refresh_from_db()
    assert human_established(case)
    with translation.override("en"):
        decided = label_for_case(case)
    assert (decided.label, decided.text) == ("human", "Hand-made")
    assert [w.code for w in decided.why] == ["moderator"]


def test_signed_capture_establishes_hand_made_and_is_said_so():
    capture = EvidenceResult(detector="provenance", version="1", label="human",
                             strength="proof", message="c2pa_trusted_capture",
                             reasons=("c2pa_trusted_capture",))
    decision = DefaultPolicy().decide(Declaration.NONE, [capture], moderation_settings)
    assert decision.label == Label.HUMAN
    assert decision.reasons == ("provenance_not_ai", "c2pa_trusted_capture")
    nothing = DefaultPolicy().decide(Declaration.NONE, [], moderation_settings)
    assert nothing.reasons == ("no_ai_evidence",)
    case = ModerationCase(label=Label.HUMAN, reasons=list(decision.reasons))
    assert human_established(case)
    assert [w.code for w in label_for_case(case).why] == ["signed_capture"]


@pytest.mark.django_db
def test_the_public_widget_shows_nothing_for_a_work_without_ai_evidence(uploader):
    case = make_case(uploader, label=Label.HUMAN, route=Route.MAIN, evidence=False)
    ModerationCase.objects.filter(pk=case.pk).update(reasons=["no_ai_evidence"])
    work = case.host_instance()
    html = Template("{% load moderation_tags %}[{% moderation_label work %}]").render(
        Context({"work": work}))
    assert html == "[]"


# -- the status page --------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_status_page_explains_a_held_work_in_plain_words(uploader, other_user, lang):
    case = make_case(uploader, label=Label.AI, route=Route.HELD, undisclosed=True)
    ModerationCase.objects.filter(pk=case.pk).update(
        reasons=["undisclosed_ai", "provenance_strong", "a1111_parameters"])
    assert web(other_user, lang).get(status_url(case)).status_code == 404
    assert Client().get(status_url(case)).status_code == 302  # to the login page
    page = web(uploader, lang).get(status_url(case))
    assert page.status_code == 200
    text = visible_text(page.content.decode())
    with translation.override(lang):
        expected = [str(translation.gettext("Held for review")),
                    str(translation.gettext("What happens next:")),
                    str(translation.gettext("AI evidence in a work declared hand-made")),
                    str(translation.gettext("Send appeal"))]
    for sentence in expected:
        assert sentence in text or sentence.capitalize() in text, sentence
    # No raw reason code where a person reads ("moderator" is also a word; codes with an
    # underscore are not).
    for reason in (r for r in reason_table if "_" in r.code):
        assert re.search(rf"\b{re.escape(reason.code)}\b", text) is None, reason.code


@pytest.mark.django_db
def test_a_refused_appeal_keeps_what_was_typed_and_says_why(uploader):
    case = make_case(uploader, label=Label.AI, route=Route.AI_FEED, needs_review=False)
    c = web(uploader, "ja")
    res = c.post(status_url(case), {"message": "", "kind": "layered"})
    assert res.status_code == 400
    assert translation_of("Tell the moderators why the label is wrong.", "ja") in (
        res.content.decode())
    assert not Appeal.objects.exists()
    assert c.post(status_url(case), {"message": "PSD を添付します", "kind": "layered",
                                      "proof": SimpleUploadedFile("a.psd", b"8BPS")},
                  ).status_code == 302
    # A second appeal while one is open: a translated refusal, the text kept on the page.
    res = c.post(status_url(case), {"message": "もう一度", "kind": "wip"})
    assert res.status_code == 400
    body = res.content.decode()
    assert translation_of("An appeal for this work is already open.", "ja") in body
    assert "もう一度" in body  # what was typed is still in the form
    assert Appeal.objects.count() == 1
    page = c.get(status_url(case)).content.decode()
    assert "PSD を添付します" in page and "a.psd" in page


@pytest.mark.django_db
def test_api_second_appeal_is_a_translated_409(uploader):
    case = make_case(uploader, label=Label.AI, route=Route.AI_FEED, needs_review=False)
    client = APIClient(HTTP_ACCEPT_LANGUAGE="ja")
    client.force_authenticate(uploader)
    first = client.post("/api/appeals/", {"case": case.pk, "message": "描きました"},
                        format="json")
    assert first.status_code == 201
    second = client.post("/api/appeals/", {"case": case.pk, "message": "再度"}, format="json")
    assert second.status_code == 409
    detail = second.json()["detail"]
    assert "一意" not in detail and detail == translation_of(
        "An appeal for this work is already open.", "ja")


def translation_of(text: str, lang: str) -> str:
    with translation.override(lang):
        return str(translation.gettext(text))


# -- notices ----------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_notices_for_hold_decision_and_appeal_with_email(uploader, moderator):
    case = make_case(uploader, label=Label.AI, route=Route.HELD)
    case_scanned.send(sender=ModerationCase, case=case, decision=None, evidence=[])
    case_scanned.send(sender=ModerationCase, case=case, decision=None, evidence=[])
    assert list(Notification.objects.values_list("kind", flat=True)) == [NotificationKind.HELD]
    actions.MarkAI(moderator, case, strike=False).run()
    actions.SubmitAppeal(uploader, case, message="I painted it").run()
    appeal = case.appeals.get()
    actions.DecideAppeal(moderator, case, appeal=appeal, outcome="overturned",
                         label=Label.HUMAN).run()
    kinds = list(Notification.objects.order_by("created_at", "id")
                 .values_list("kind", "outcome"))
    assert kinds == [(NotificationKind.HELD, Route.HELD), (NotificationKind.DECIDED, Label.AI),
                     (NotificationKind.APPEAL_DECIDED, "overturned")]
    assert len(mail.outbox) == 3 and all(m.to == ["uploader@example.com"] for m in mail.outbox)
    # Shown with links to the status page; opening it marks them read.
    with translation.override("en"):
        html = Template("{% load moderation_tags %}{% moderation_notices user %}").render(
            Context({"user": uploader}))
    assert html.count(f'href="{status_url(case)}"') == 3
    assert "was accepted: the label was corrected" in html
    web(uploader).get(status_url(case))
    assert not Notification.objects.filter(read_at__isnull=True).exists()


@pytest.mark.django_db
def test_status_link_only_for_the_uploader(uploader, other_user):
    case = make_case(uploader)
    work = case.host_instance()
    tag = Template("{% load moderation_tags %}{% moderation_status_url work %}")
    assert tag.render(Context({"work": work, "user": uploader})) == status_url(case)
    assert tag.render(Context({"work": work, "user": other_user})) == ""


# -- the data migration -----------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_migration_turns_stored_sentences_into_codes(uploader):
    executor = MigrationExecutor(connection)
    executor.migrate([("moderation", "0006_classifier_version")])
    old = executor.loader.project_state([("moderation", "0006_classifier_version")]).apps
    OldCase = old.get_model("moderation", "ModerationCase")
    OldEvidence = old.get_model("moderation", "Evidence")
    ct = ContentType.objects.get(app_label="testapp", model="artwork")
    case = OldCase.objects.create(content_type_id=ct.pk, object_id="1", state="done")
    OldEvidence.objects.create(
        case=case, detector="provenance", detector_version="1", content_sha256="a",
        label="ai", strength="strong", summary="Stable Diffusion WebUI が書き込んだ…",
        generator="Stable Diffusion WebUI", reasons=["a1111_parameters"],
        details={"findings": [{"reason": "a1111_parameters", "label": "ai",
                               "generator": "Stable Diffusion WebUI",
                               "summary": "Generation parameters written by …"}]})
    OldEvidence.objects.create(
        case=case, detector="classifier", detector_version="1", content_sha256="a",
        label="none", strength="weak", score=0.95, summary="classifier v1: P(AI) 0.95",
        details={"kind": "classifier", "threshold": 0.99, "fpr_meaning": "at most …",
                 "thresholds": {"fpr_0.01": 0.9}})
    OldEvidence.objects.create(
        case=case, detector="watermark", detector_version="1", content_sha256="a",
        label="none", strength="weak", summary="watermark failed: OSError", error="OSError")
    OldEvidence.objects.create(
        case=case, detector="provenance", detector_version="2", content_sha256="a",
        label="none", strength="weak", summary="No provenance metadata found",
        details={"findings": []})

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    rows = {(e.detector, e.detector_version): e
            for e in ModerationCase.objects.get(pk=case.pk).evidence.all()}
    a1111 = rows[("provenance", "1")]
    assert (a1111.message, a1111.message_params) == (
        "a1111_parameters", {"app": "Stable Diffusion WebUI"})
    assert a1111.details["findings"][0]["params"] == {"app": "Stable Diffusion WebUI"}
    assert "summary" not in a1111.details["findings"][0]
    classifier = rows[("classifier", "1")]
    assert (classifier.message, classifier.message_params) == (
        "classifier_below_threshold", {"score": "0.95", "threshold": "0.99", "one_in": "100"})
    assert "fpr_meaning" not in classifier.details
    assert (rows[("watermark", "1")].message, rows[("watermark", "1")].message_params) == (
        "detector_failed", {"detector": "watermark"})
    assert rows[("provenance", "2")].message == "no_provenance"
    assert not hasattr(a1111, "summary")
    assert ProcessingState.DONE == "done"
