"""Evidence is stored as codes and parameters and rendered in the reader's language.

Every page and API response that shows evidence is fetched in English and in Japanese;
each must show its own language's sentences and none of the other language's (the bug
this guards: sentences written in the worker's language when the scan ran).
"""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from moderation import pipeline
from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.models import Evidence, ModerationCase
from moderation.reasons import describe, reason_table
from tests.factories import make_case
from tests.fixtures.generator_fixtures import png_with_text
from tests.testapp.models import Artwork

pytest_plugins = ["tests.moderators_fixtures"]
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("bilingual")]

A1111 = ("Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x48, "
         "Model: sd_xl_base_1.0")
#: Every (code, params) the case below stores, as rows or as findings inside details.
STORED: list[tuple[str, dict[str, str]]] = [
    ("a1111_parameters", {"app": "Stable Diffusion"}),
    ("classifier_score", {"score": "0.90", "threshold": "0.50", "one_in": "100"}),
    ("novelai_signature_verified", {}),
    ("xmp_ai_tool_string", {"field": "CreatorTool"}),
    ("detector_failed", {"detector": "watermark"}),
]


@pytest.fixture
def case(uploader: Any) -> ModerationCase:
    case = make_case(uploader, label=Label.AI, route=Route.HELD, undisclosed=True)
    ModerationCase.objects.filter(pk=case.pk).update(
        reasons=["undisclosed_ai", "provenance_proof", "novelai_signature_verified"])
    Evidence.objects.create(
        case=case, detector="provenance2", detector_version="1", content_sha256="b" * 64,
        label="ai", strength="proof", message="novelai_signature_verified",
        details={"findings": [
            {"source": "png:Comment", "reason": "novelai_signature_verified", "label": "ai",
             "params": {}},
            {"source": "xmp:CreatorTool", "reason": "xmp_ai_tool_string", "label": "ai",
             "params": {"field": "CreatorTool"}}]})
    Evidence.objects.create(
        case=case, detector="watermark", detector_version="1", content_sha256="c" * 64,
        label="none", strength="weak", message="detector_failed",
        message_params={"detector": "watermark"}, error="RuntimeError: boom")
    case.refresh_from_db()
    return case


def rendered(lang: str) -> set[str]:
    """Every sentence the reason table can give, and the stored ones, in ``lang``."""
    with translation.override(lang):
        texts = {str(r.text) for r in reason_table}
        texts |= {str(r.why.text) for r in reason_table if r.why is not None}
        texts |= {describe(code, params) for code, params in STORED}
    return texts


def foreign(lang: str) -> set[str]:
    other = "ja" if lang == "en" else "en"
    return rendered(other) - rendered(lang)


def assert_only(lang: str, body: str, expected: list[str], where: str) -> None:
    for text in expected:
        assert text in body or html.escape(text) in body, f"{where} ({lang}) lacks {text!r}"
    for text in foreign(lang):
        assert text not in body and html.escape(text) not in body, (
            f"{where} ({lang}) shows the other language's evidence text {text!r}")


def web(user: Any, lang: str) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_login(user)
    return client


def api(user: Any, lang: str) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=lang)
    client.force_authenticate(user)
    return client


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_every_page_and_response_speaks_the_readers_language(case, uploader, moderator, lang):
    with translation.override(lang):
        a1111 = describe(*STORED[0])
        classifier = describe(*STORED[1])
        novelai = describe("novelai_signature_verified")
        xmp = describe(*STORED[3])
        failed = describe(*STORED[4])
    assert len({a1111, classifier, novelai, xmp, failed}) == 5

    mod = web(moderator, lang)
    assert_only(lang, mod.get("/moderation/").content.decode(), [a1111], "queue")
    page = mod.get(f"/moderation/case/{case.pk}/").content.decode()
    assert_only(lang, page, [a1111, classifier, novelai, xmp, failed], "case page")

    status = f"/moderation/my/work/testapp.artwork/{case.object_id}/"
    own = web(uploader, lang).get(status).content.decode()
    assert_only(lang, own, [a1111, novelai], "status page")

    for user, url, expected in [
        (moderator, f"/api/moderation/{case.pk}/", []),
        (moderator, f"/api/moderation/{case.pk}/evidence/", [a1111, classifier, xmp, failed]),
        (moderator, "/api/queue/", [a1111]),
        (uploader, f"/api/moderation/{case.pk}/", []),
        (uploader, f"/api/moderation/{case.pk}/evidence/", [a1111, novelai]),
    ]:
        res = api(user, lang).get(url)
        assert res.status_code == 200, url
        assert_only(lang, res.content.decode(), expected, f"API {url}")


def test_a_scan_stores_a_code_and_parameters_never_a_sentence(uploader):
    """The worker's language does not matter: the row holds no sentence at all."""
    art = Artwork.objects.create(owner=uploader, declaration=Declaration.AI, image=(
        SimpleUploadedFile("w.png", png_with_text({"parameters": "a girl\n" + A1111}),
                           content_type="image/png")))
    case = ModerationCase.objects.for_instance(art).get()
    with translation.override("ja"):
        assert pipeline.scan(case.pk) == ProcessingState.DONE
    row = case.evidence.get(detector="provenance")
    assert (row.message, row.message_params) == (
        "a1111_parameters", {"app": "Stable Diffusion WebUI (A1111)"})
    assert all("summary" not in f and f["params"] == {"app": "Stable Diffusion WebUI (A1111)"}
               for f in row.details["findings"] if f["reason"] == "a1111_parameters")
    app = "Stable Diffusion WebUI (A1111)"
    for lang, sentence in [("en", f"Generation parameters written by {app}."),
                           ("ja", f"{app} が書き込んだ生成パラメータがあります。")]:
        with translation.override(lang):
            assert describe(row.message, row.message_params) == sentence


def test_describe_falls_back_to_the_short_text_and_never_interprets_values():
    with translation.override("en"):
        assert describe("a1111_parameters") == "Stable Diffusion WebUI generation parameters."
        assert describe("a1111_parameters", {"other": "x"}) == (
            "Stable Diffusion WebUI generation parameters.")
        assert describe("a1111_parameters", {"app": "{app.__class__}"}) == (
            "Generation parameters written by {app.__class__}.")
        assert describe("") == ""
