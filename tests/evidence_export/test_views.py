"""Who may export: moderators any case (case page, API), the uploader their own work's case
(status page, API) in its redacted form; everyone else is refused without learning
whether the case exists."""

from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from moderation.evidence_export import EXPORT_ACTION, MODERATOR, UPLOADER
from moderation.models import ModerationAction
from tests.evidence_export.conftest import MOD_NOTE, Scenario, unzip
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


def status_path(scenario: Scenario) -> str:
    ct = scenario.case.content_type
    return f"/moderation/my/work/{ct.app_label}.{ct.model}/{scenario.case.object_id}/"


def exports() -> int:
    return ModerationAction.objects.filter(action=EXPORT_ACTION).count()


def document_of(response) -> dict:
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    return json.loads(unzip(b"".join(response.streaming_content)
                            if response.streaming else response.content)["case.json"])


def test_moderator_exports_any_case_from_the_case_page(scenario):
    client = Client()
    client.force_login(scenario.moderator)
    page = client.get(f"/moderation/case/{scenario.case.pk}/")
    assert b'id="export-form"' in page.content
    res = client.post(f"/moderation/case/{scenario.case.pk}/export/", {"language": "ja"})
    assert res.status_code == 200
    document = document_of(res)
    assert document["audience"] == MODERATOR and document["language"] == "ja"
    assert MOD_NOTE in json.dumps(document, ensure_ascii=False)
    assert res["X-Content-Type-Options"] == "nosniff"
    entry = ModerationAction.objects.filter(action=EXPORT_ACTION).latest("id")
    assert entry.actor_id == scenario.moderator.pk and entry.after["via"] == "case_page"


def test_export_is_post_only(scenario):
    client = Client()
    client.force_login(scenario.moderator)
    assert client.get(f"/moderation/case/{scenario.case.pk}/export/").status_code == 405
    client.force_login(scenario.uploader)
    assert client.get(status_path(scenario) + "export/").status_code == 405
    assert exports() == 0


def test_uploader_exports_their_own_work_redacted(scenario):
    client = Client()
    client.force_login(scenario.uploader)
    page = client.get(status_path(scenario))
    assert b'id="evidence-export"' in page.content
    res = client.post(status_path(scenario) + "export/")
    assert res.status_code == 200
    document = document_of(res)
    assert document["audience"] == UPLOADER
    assert MOD_NOTE not in json.dumps(document, ensure_ascii=False)
    entry = ModerationAction.objects.filter(action=EXPORT_ACTION).latest("id")
    assert entry.actor_id == scenario.uploader.pk and entry.after["audience"] == UPLOADER


def test_uploader_of_another_work_gets_404(scenario):
    stranger = make_user("stranger")
    client = Client()
    client.force_login(stranger)
    assert client.post(status_path(scenario) + "export/").status_code == 404
    # Not a moderator: the moderators' export is refused outright.
    assert client.post(f"/moderation/case/{scenario.case.pk}/export/").status_code == 403
    # The uploader cannot reach the full export through the case page either.
    client.force_login(scenario.uploader)
    assert client.post(f"/moderation/case/{scenario.case.pk}/export/").status_code == 403
    assert exports() == 0


def test_anonymous_is_sent_to_sign_in(scenario):
    client = Client()
    for path in (f"/moderation/case/{scenario.case.pk}/export/",
                 status_path(scenario) + "export/"):
        res = client.post(path)
        assert res.status_code == 302 and "login" in res["Location"]
    assert exports() == 0


def test_csrf_is_required(scenario):
    client = Client(enforce_csrf_checks=True)
    client.force_login(scenario.uploader)
    assert client.post(status_path(scenario) + "export/").status_code == 403
    assert exports() == 0


@pytest.mark.parametrize(("role", "status", "audience"), [
    ("anon", 403, None), ("stranger", 404, None), ("uploader", 200, UPLOADER),
    ("moderator", 200, MODERATOR),
])
def test_api_export_has_the_same_permissions(scenario, role, status, audience):
    users = {"anon": None, "stranger": make_user("stranger"), "uploader": scenario.uploader,
             "moderator": scenario.moderator}
    client = APIClient()
    if users[role] is not None:
        client.force_authenticate(users[role])
    res = client.post(f"/api/moderation/{scenario.case.pk}/export/")
    assert res.status_code == status, res.content[:300]
    if audience is None:
        assert exports() == 0
        return
    assert document_of(res)["audience"] == audience
    entry = ModerationAction.objects.filter(action=EXPORT_ACTION).latest("id")
    assert entry.after["via"] == "api"


def test_export_shows_on_the_case_pages_timeline(scenario):
    client = Client()
    client.force_login(scenario.moderator)
    client.post(f"/moderation/case/{scenario.case.pk}/export/")
    page = client.get(f"/moderation/case/{scenario.case.pk}/").content.decode()
    assert "Evidence exported" in page


def test_a_loop_of_exports_is_refused(scenario, monkeypatch):
    from moderation.views import export

    monkeypatch.setitem(export.EXPORT_LIMITS, UPLOADER, (2, 3600))
    client = Client()
    client.force_login(scenario.uploader)
    codes = [client.post(status_path(scenario) + "export/").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert exports() == 2


def test_api_takes_the_language_from_the_body(scenario):
    client = APIClient()
    client.force_authenticate(scenario.uploader)
    res = client.post(f"/api/moderation/{scenario.case.pk}/export/", {"language": "ja"},
                      format="json")
    assert res.status_code == 200 and document_of(res)["language"] == "ja"
    broken = client.generic("POST", f"/api/moderation/{scenario.case.pk}/export/",
                            b"--x\r\nbroken", content_type="multipart/form-data; boundary=x")
    assert broken.status_code in (200, 400)  # parsed by DRF: never a server error
    res = client.post(f"/api/moderation/{scenario.case.pk}/export/", ["ja"], format="json")
    assert res.status_code == 200 and document_of(res)["language"] == "en"
