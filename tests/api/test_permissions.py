"""Who may read and change what through the moderation API: scoping, roles, CSRF,
throttles, private evidence, the audit log, SSRF, safe file serving, settings."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings
from rest_framework.test import APIClient

from moderation import actions
from moderation.constants import Declaration, Label, Route
from moderation.models import Appeal, AppealFile, ModerationAction, ModerationCase
from tests.factories import make_case, make_user

pytestmark = pytest.mark.django_db

ROLES = ("anon", "uploader", "other", "staff", "moderator", "admin")


@pytest.fixture(autouse=True)
def _fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def people(uploader, other_user, staff, moderator, site_admin):
    return {"anon": None, "uploader": uploader, "other": other_user, "staff": staff,
            "moderator": moderator, "admin": site_admin}


def client_for(user) -> APIClient:
    c = APIClient()
    if user is not None:
        c.force_authenticate(user)
    return c


# -- objects outside the user's scope are 404 and lists hold only permitted rows (IDOR) ----
@pytest.mark.parametrize("role", ROLES)
def test_case_detail_matrix(people, case, role):
    res = client_for(people[role]).get(f"/api/moderation/{case.pk}/")
    expected = {"anon": 403, "uploader": 200, "other": 404, "staff": 404, "moderator": 200,
                "admin": 200}[role]
    assert res.status_code == expected, res.content


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("method", ["patch", "put", "delete"])
def test_cases_cannot_be_written_or_deleted(people, case, role, method):
    res = getattr(client_for(people[role]), method)(f"/api/moderation/{case.pk}/",
                                                   {"label": "human"}, format="json")
    assert res.status_code in {403, 404, 405}
    assert ModerationCase.objects.filter(pk=case.pk, label=Label.UNCERTAIN).exists()


@pytest.mark.parametrize("role", ROLES)
def test_lists_only_permitted_rows(people, uploader, other_user, role):
    mine = make_case(uploader)
    theirs = make_case(other_user)
    res = client_for(people[role]).get("/api/moderation/")
    if role == "anon":
        assert res.status_code == 403
        return
    ids = {row["id"] for row in res.json()["results"]}
    expected = {"uploader": {mine.pk}, "other": {theirs.pk}, "staff": set(),
                "moderator": {mine.pk, theirs.pk}, "admin": {mine.pk, theirs.pk}}[role]
    assert ids == expected


def test_appeals_scoped(uploader, other_user, moderator):
    case = make_case(uploader)
    appeal = actions.SubmitAppeal(uploader, case, message="I drew it").run().extra["appeal"]
    assert client_for(other_user).get(f"/api/appeals/{appeal.pk}/").status_code == 404
    assert client_for(other_user).get("/api/appeals/").json()["results"] == []
    assert client_for(uploader).get(f"/api/appeals/{appeal.pk}/").status_code == 200
    assert client_for(moderator).get(f"/api/appeals/{appeal.pk}/").status_code == 200
    # Appealing someone else's case: the case "does not exist" for them (400, no oracle).
    res = client_for(other_user).post("/api/appeals/", {"case": case.pk, "message": "mine!"},
                                      format="json")
    assert res.status_code == 400 and Appeal.objects.count() == 1


def test_evidence_scoped(case, other_user, staff):
    for user in (other_user, staff):
        assert client_for(user).get(f"/api/moderation/{case.pk}/evidence/").status_code == 404


# -- mass assignment: the uploader cannot set their own verdict ---------------------------
def test_uploader_cannot_set_own_verdict(uploader, moderator):
    case = make_case(uploader)
    appeal = actions.SubmitAppeal(uploader, case, message="please").run().extra["appeal"]
    c = client_for(uploader)
    payload = {"verdict": "approved", "status": "overturned", "label": "human",
               "route": "main", "reviewed_by": moderator.pk, "decided_by": moderator.pk,
               "nsfw_score": 0, "quarantined": False, "case": 999999, "user": moderator.pk,
               "message": "edited message"}
    # Refused as a whole, naming each field the uploader may not write (never a silent 200).
    res = c.patch(f"/api/appeals/{appeal.pk}/", payload, format="json")
    assert res.status_code == 400
    errors = res.json()
    assert set(errors) == set(payload) - {"message"}
    assert "Only a moderator decides an appeal" in errors["status"][0]
    appeal.refresh_from_db()
    case.refresh_from_db()
    assert appeal.status == "open" and appeal.decided_by is None
    assert appeal.case_id == case.pk and appeal.user_id == uploader.pk
    assert appeal.message == "please"
    res = c.patch(f"/api/appeals/{appeal.pk}/", {"message": "edited message"}, format="json")
    assert res.status_code == 200
    appeal.refresh_from_db()
    assert appeal.message == "edited message"
    assert (case.label, case.route) == (Label.UNCERTAIN, Route.HELD)
    res = c.patch(f"/api/moderation/{case.pk}/", payload, format="json")
    assert res.status_code == 405
    case.refresh_from_db()
    assert (case.label, case.route, case.decided_by) == (Label.UNCERTAIN, Route.HELD, None)
    # The verdict changes only through the moderator-only decide endpoint.
    assert c.post(f"/api/moderation/{case.pk}/decide/", {"label": "human"},
                  format="json").status_code == 403


def test_serializers_use_explicit_fields():
    from moderation.api import serializers as S

    for name in dir(S):
        obj = getattr(S, name)
        meta = getattr(obj, "Meta", None)
        if meta is not None and hasattr(meta, "model"):
            assert isinstance(meta.fields, tuple), name
            assert not hasattr(meta, "exclude"), name


# -- moderator-only endpoints (function-level authorization) ------------------------------
@pytest.mark.parametrize("role", ["anon", "uploader", "other", "staff"])
def test_decide_is_moderator_only(people, case, role):
    res = client_for(people[role]).post(f"/api/moderation/{case.pk}/decide/",
                                        {"label": "human"}, format="json")
    assert res.status_code == 403
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN


def test_moderator_cannot_decide_own_upload(moderator):
    own = make_case(moderator)
    res = client_for(moderator).post(f"/api/moderation/{own.pk}/decide/", {"label": "human"},
                                     format="json")
    assert res.status_code in {403, 409}
    own.refresh_from_db()
    assert own.label == Label.UNCERTAIN


def test_moderator_decides(case, moderator):
    res = client_for(moderator).post(f"/api/moderation/{case.pk}/decide/",
                                     {"label": "ai", "tool": "NovelAI", "strike": False},
                                     format="json")
    assert res.status_code == 200, res.content
    assert res.json()["label"] == "ai" and res.json()["route"] == "ai_feed"


def test_claim_conflict_is_409(case, moderator, moderator2):
    assert client_for(moderator).post(f"/api/moderation/{case.pk}/claim/").status_code == 200
    res = client_for(moderator2).post(f"/api/moderation/{case.pk}/decide/",
                                      {"label": "human"}, format="json")
    assert res.status_code == 409


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback


def test_every_api_view_declares_permission_classes():
    from rest_framework.views import APIView

    seen = 0
    for route, callback in _walk(get_resolver().url_patterns):
        cls = getattr(callback, "cls", None)
        if cls is None or not issubclass(cls, APIView):
            continue
        seen += 1
        declared = cls.permission_classes
        assert declared is not APIView.permission_classes, route
        assert declared, route
        if AllowAny in declared:
            # Only the pages that describe the API: its root, schema and docs.
            assert route.endswith(("api/", "schema/", "docs/")), f"{route} allows anyone"
    assert seen >= 5


def test_default_permission_is_not_allow_any():
    assert AllowAny not in api_settings.DEFAULT_PERMISSION_CLASSES


# -- CSRF: session-authenticated writes need a token --------------------------------------
def test_session_post_without_csrf_is_refused(case, moderator):
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(moderator)
    res = c.post(f"/api/moderation/{case.pk}/decide/", {"label": "human"}, format="json")
    assert res.status_code == 403
    res = c.post(f"/api/moderation/{case.pk}/decide/", {"label": "human"}, format="json",
                 HTTP_ORIGIN="https://evil.example", HTTP_X_CSRFTOKEN="forged")
    assert res.status_code == 403
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN


def test_session_post_with_csrf_token_works(case, moderator):
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(moderator)
    c.get("/moderation/")  # sets the csrftoken cookie
    token = c.cookies["csrftoken"].value
    res = c.post(f"/api/moderation/{case.pk}/decide/", {"label": "human"}, format="json",
                 HTTP_X_CSRFTOKEN=token)
    assert res.status_code == 200, res.content


def test_appeal_upload_needs_csrf(uploader):
    case = make_case(uploader)
    appeal = actions.SubmitAppeal(uploader, case, message="x").run().extra["appeal"]
    c = APIClient(enforce_csrf_checks=True)
    c.force_login(uploader)
    res = c.post(f"/api/appeals/{appeal.pk}/files/",
                 {"kind": "wip", "file": SimpleUploadedFile("wip.png", b"\x89PNG....")},
                 format="multipart")
    assert res.status_code == 403
    assert not AppealFile.objects.exists()


def test_html_actions_need_csrf(case, moderator):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(moderator)
    res = c.post(f"/moderation/case/{case.pk}/actions/mark_human/")
    assert res.status_code == 403


# -- throttling: 429 with Retry-After, a hard quota, no X-Forwarded-For evasion -----------
def test_write_throttle_returns_429_with_retry_after(case, moderator, settings):
    rf = dict(settings.REST_FRAMEWORK)
    rf["DEFAULT_THROTTLE_RATES"] = {**rf["DEFAULT_THROTTLE_RATES"], "moderation_write": "3/min"}
    settings.REST_FRAMEWORK = rf
    c = client_for(moderator)
    codes = [c.post(f"/api/moderation/{case.pk}/note/", {"note": f"n{i}"},
                    format="json").status_code for i in range(6)]
    assert codes[:3] == [200, 200, 200]
    assert set(codes[3:]) == {429}
    res = c.post(f"/api/moderation/{case.pk}/note/", {"note": "again"}, format="json")
    assert res.status_code == 429 and int(res["Retry-After"]) > 0


def test_appeal_files_have_a_hard_quota(uploader, settings):
    settings.MODERATION = {"APPEAL_MAX_FILES": 2}
    case = make_case(uploader)
    appeal = actions.SubmitAppeal(uploader, case, message="x").run().extra["appeal"]
    c = client_for(uploader)
    codes = [c.post(f"/api/appeals/{appeal.pk}/files/",
                    {"kind": "wip", "file": SimpleUploadedFile(f"w{i}.png", b"data")},
                    format="multipart").status_code for i in range(4)]
    assert codes == [201, 201, 409, 409]
    assert AppealFile.objects.count() == 2


def test_spoofed_forwarded_for_does_not_reset_the_throttle(monkeypatch):
    import uuid

    from rest_framework.throttling import AnonRateThrottle

    # DRF binds THROTTLE_RATES at import time, so patch the class attribute itself.
    monkeypatch.setattr(AnonRateThrottle, "THROTTLE_RATES", {"anon": "3/min"})
    assert api_settings.NUM_PROXIES == 0
    c = APIClient()
    codes = [c.get("/api/schema/", HTTP_X_FORWARDED_FOR=f"10.{i}.0.1, {uuid.uuid4().hex}"
                   ).status_code for i in range(4)]
    assert codes[-1] == 429, codes


# -- private evidence: prompts only for the assigned moderator ----------------------------
def test_prompts_only_for_the_assigned_moderator(case, uploader, moderator, moderator2):
    url = f"/api/moderation/{case.pk}/evidence/"
    owner_view = client_for(uploader).get(url)
    assert owner_view.status_code == 200
    assert "secret prompt" not in owner_view.content.decode()
    assert "private" not in owner_view.json()[0] and "details" not in owner_view.json()[0]
    unassigned = client_for(moderator).get(url).json()
    assert all("private" not in row for row in unassigned)
    actions.Claim(moderator, case).run()
    assigned = client_for(moderator).get(url).json()
    assert any(row.get("private", {}).get("prompt") == "secret prompt text" for row in assigned)
    assert "secret prompt" not in client_for(moderator2).get(url).content.decode()
    detail = client_for(uploader).get(f"/api/moderation/{case.pk}/").content.decode()
    assert "secret prompt" not in detail and "claimed_by" not in detail


def test_deleting_the_upload_deletes_evidence(case):
    from moderation.models import Evidence

    assert Evidence.objects.filter(case=case).exists()
    case.content_object.delete()
    assert not Evidence.objects.filter(case_id=case.pk).exists()
    assert not ModerationCase.objects.filter(pk=case.pk).exists()


# -- XSS (server side; the browser test checks no alert fires) ----------------------------
def test_metadata_is_escaped_on_the_case_page(case, moderator):
    from moderation.models import Evidence

    Evidence.objects.filter(case=case, detector="provenance").update(
        message="a1111_parameters", message_params={"app": '"><img src=x onerror=alert(1)>'},
        details={"Artist": "</script><script>alert(2)</script>"})
    c = client_for(moderator)
    c.force_login(moderator)
    res = c.get(f"/moderation/case/{case.pk}/")
    html = res.content.decode()
    assert res.status_code == 200
    assert "<img src=x onerror" not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "script-src 'self'" in res["Content-Security-Policy"]


# -- immutable audit log through the API and admin ----------------------------------------
def test_audit_has_no_write_route(case, moderator):
    actions.AddNote(moderator, case, note="first").run()
    c = client_for(moderator)
    url = f"/api/moderation/{case.pk}/audit/"
    assert c.get(url).status_code == 200
    for method in ("put", "patch", "delete"):
        assert getattr(c, method)(url, {"note": "x"}, format="json").status_code == 405
    assert c.post(url, {"note": "x"}, format="json").status_code == 405
    assert ModerationAction.objects.get(action="note").note == "first"


@pytest.mark.urls("tests.moderators_urls")
def test_admin_is_read_only_for_the_audit_log(case, site_admin):
    from django.test import Client

    entry = actions.AddNote(site_admin, case, note="kept").run().entry
    c = Client()
    c.force_login(site_admin)
    assert c.get(f"/admin/moderation/moderationaction/{entry.pk}/change/").status_code == 200
    c.post(f"/admin/moderation/moderationaction/{entry.pk}/change/", {"note": "edited"})
    res = c.post(f"/admin/moderation/moderationaction/{entry.pk}/delete/", {"post": "yes"})
    assert res.status_code == 403
    assert ModerationAction.objects.get(pk=entry.pk).note == "kept"


# -- no SSRF: URL-looking input is never fetched ------------------------------------------
def test_url_fields_are_never_fetched(uploader, moderator, monkeypatch):
    import socket

    def refuse(*a, **kw):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    case = make_case(uploader)
    c = client_for(moderator)
    res = c.post(f"/api/moderation/{case.pk}/decide/",
                 {"label": "ai", "tool": "http://169.254.169.254/latest/meta-data/",
                  "note": "https://canary.example/x", "strike": False}, format="json")
    assert res.status_code == 200
    res = client_for(moderator).get(f"/moderation/case/{case.pk}/")


# -- proof files are private and served safely -------------------------------------------
def test_proof_files_are_private(uploader, other_user, moderator, settings):
    case = make_case(uploader)
    result = actions.SubmitAppeal(
        uploader, case, message="see my layers",
        kind="layered", proof=[SimpleUploadedFile("my layers.psd", b"8BPS layered",
                                                  content_type="image/vnd.adobe.photoshop")]).run()
    proof = result.extra["appeal"].files.get()
    assert proof.file.name.startswith("appeals/") and "layers" not in proof.file.name
    with pytest.raises(ValueError):
        proof.file.url  # noqa: B018  (no public URL at all)
    media = str(settings.MEDIA_ROOT).rstrip("/") + "/"
    assert not proof.file.path.startswith(media)
    url = f"/api/appeals/{proof.appeal_id}/files/{proof.pk}/"
    assert client_for(uploader).get(url).status_code == 403
    assert client_for(other_user).get(url).status_code == 403
    assert client_for(None).get(url).status_code == 403
    res = client_for(moderator).get(url)
    assert res.status_code == 200
    assert b"".join(res.streaming_content) == b"8BPS layered"
    # Served as an opaque attachment that cannot render.
    assert res["Content-Type"] == "application/octet-stream"
    assert res["Content-Disposition"].startswith("attachment")
    assert res["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in res["Content-Security-Policy"]


# -- settings: closed, throttled and paginated by default ---------------------------------
def test_drf_settings_are_closed_throttled_and_paginated():
    assert api_settings.DEFAULT_AUTHENTICATION_CLASSES
    assert AllowAny not in api_settings.DEFAULT_PERMISSION_CLASSES
    assert api_settings.DEFAULT_THROTTLE_CLASSES
    assert api_settings.DEFAULT_PAGINATION_CLASS is not None


def test_queue_is_paginated_and_bounded(uploader, moderator, settings):
    settings.MODERATION = {"QUEUE_PAGE_SIZE": 3}
    for _ in range(5):
        make_case(uploader, evidence=False)
    res = client_for(moderator).get("/api/queue/?page_size=1000")
    body = res.json()
    assert res.status_code == 200 and body["count"] == 5 and len(body["results"]) == 3
    assert body["next"]


def test_queue_is_moderators_only(uploader, staff):
    for user in (None, uploader, staff):
        assert client_for(user).get("/api/queue/").status_code == 403


# -- 202 while a scan runs ------------------------------------------------------------------
def test_scanning_case_returns_202(uploader, moderator):
    case = make_case(uploader, state="running")
    assert client_for(uploader).get(f"/api/moderation/{case.pk}/").status_code == 202
    assert client_for(moderator).get(f"/api/moderation/{case.pk}/").status_code == 202
    done = make_case(uploader)
    assert client_for(uploader).get(f"/api/moderation/{done.pk}/").status_code == 200


def test_appeal_decide_through_api(uploader, moderator):
    case = make_case(uploader, declaration=Declaration.NONE, label=Label.AI)
    c = client_for(uploader)
    res = c.post("/api/appeals/", {"case": case.pk, "message": "timelapse attached"},
                 format="json")
    assert res.status_code == 201, res.content
    appeal_id = res.json()["id"]
    assert client_for(uploader).post(f"/api/appeals/{appeal_id}/decide/",
                                     {"outcome": "overturned"}, format="json").status_code == 403
    res = client_for(moderator).post(f"/api/appeals/{appeal_id}/decide/",
                                     {"outcome": "overturned"}, format="json")
    assert res.status_code == 200 and res.json()["status"] == "overturned"
    case.refresh_from_db()
    assert (case.label, case.route) == (Label.HUMAN, Route.MAIN)


def test_other_user_fixture_is_not_a_moderator():
    assert make_user("plain").has_perm("moderation.review_case") is False


def test_deploy_check_flags_drf_defaults(settings):
    from django.core.checks import run_checks

    def ids():
        return {m.id for m in run_checks(include_deployment_checks=True)
                if str(m.id).startswith("moderation.W03")}

    assert ids() == set()
    settings.REST_FRAMEWORK = {}
    assert ids() == {"moderation.W030", "moderation.W031", "moderation.W032",
                     "moderation.W033"}
    settings.REST_FRAMEWORK = {
        "DEFAULT_PERMISSION_CLASSES": [AllowAny], "NUM_PROXIES": 1,
        "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
        "DEFAULT_PAGINATION_CLASS": "moderation.api.pagination.ModerationPagination"}
    assert ids() == {"moderation.W030"}
