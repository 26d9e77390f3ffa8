"""Moderator pages: queue order and filters, claim, case page content, decisions, bulk,
accuracy panel, uploader page, admin actions."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from moderation import actions
from moderation.constants import Declaration, Label, Route
from moderation.models import Evidence, ModerationCase, Strike
from moderation.reasons import Priority
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def queue_ids(html: str) -> list[int]:
    return [int(m) for m in re.findall(r'class="case-link">#(\d+)<', html)]


def test_queue_needs_a_moderator(uploader, staff):
    res = Client().get("/moderation/")
    assert res.status_code == 302 and "login" in res["Location"]
    assert logged_in(uploader).get("/moderation/").status_code == 403
    assert logged_in(staff).get("/moderation/").status_code == 403


def test_queue_is_highest_risk_first(uploader, other_user, moderator):
    uncertain = make_case(uploader, priority=450)
    undisclosed = make_case(uploader, priority=800, undisclosed=True)
    ModerationCase.objects.filter(pk=undisclosed.pk).update(reasons=["undisclosed_ai"])
    deepfake = make_case(other_user, priority=950)
    ModerationCase.objects.filter(pk=deepfake.pk).update(reasons=["deepfake_risk"])
    appealed = make_case(other_user, needs_review=False, label=Label.AI, route=Route.AI_FEED)
    actions.SubmitAppeal(other_user, appealed, message="I painted this").run()
    done = make_case(uploader, needs_review=False)
    res = logged_in(moderator).get("/moderation/")
    assert res.status_code == 200
    ids = queue_ids(res.content.decode())
    assert ids == [deepfake.pk, undisclosed.pk, uncertain.pk, appealed.pk]
    assert done.pk not in ids
    assert "Content-Security-Policy" in res


@pytest.mark.parametrize(("params", "expect"), [
    ({"reason": "undisclosed"}, "undisclosed"),
    ({"reason": "appeal"}, "appealed"),
    ({"uploader": "other"}, "appealed"),
    ({"detector": "provenance"}, "all_with_evidence"),
    ({"reason": "bogus", "age": "9999"}, "everything"),
])
def test_queue_filters(uploader, other_user, moderator, params, expect):
    undisclosed = make_case(uploader, priority=800)
    ModerationCase.objects.filter(pk=undisclosed.pk).update(reasons=["undisclosed_ai"])
    plain = make_case(uploader, evidence=False)
    appealed = make_case(other_user, needs_review=False, label=Label.AI)
    actions.SubmitAppeal(other_user, appealed, message="mine").run()
    ids = set(queue_ids(logged_in(moderator).get("/moderation/", params).content.decode()))
    expected = {"undisclosed": {undisclosed.pk}, "appealed": {appealed.pk},
                "all_with_evidence": {undisclosed.pk, appealed.pk},
                "everything": {undisclosed.pk, plain.pk, appealed.pk}}[expect]
    assert ids == expected


def test_claim_from_queue_shows_who_has_it(case, moderator, moderator2):
    c = logged_in(moderator)
    res = c.post(f"/moderation/case/{case.pk}/actions/claim/",
                 {"next": f"/moderation/case/{case.pk}/"})
    assert res.status_code == 302 and res["Location"] == f"/moderation/case/{case.pk}/"
    html = logged_in(moderator2).get("/moderation/").content.decode()
    assert re.search(r'class="claimed">mod<', html)
    # The other moderator's decision is refused with a message, not applied.
    res = logged_in(moderator2).post(f"/moderation/case/{case.pk}/actions/mark_human/", follow=True)
    assert "is working on this case" in res.content.decode()
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN


def test_case_page_shows_evidence_and_hides_prompt_until_claimed(case, moderator):
    Evidence.objects.filter(case=case, detector="classifier").update(
        details={"thresholds": {"fpr_0.01": 0.8, "fpr_0.001": 0.95}, "threshold": 0.8},
        score=0.9, mode="shadow")
    c = logged_in(moderator)
    html = c.get(f"/moderation/case/{case.pk}/").content.decode()
    assert "Stable Diffusion" in html and "Euler a" in html
    assert "At most 1 in 100 hand-made works scores this high." in html
    assert "shadow: recorded, not enforced" in html
    assert "secret prompt text" not in html
    assert "Claim the case to read prompts" in html
    actions.Claim(moderator, case).run()
    html = c.get(f"/moderation/case/{case.pk}/").content.decode()
    assert "secret prompt text" in html
    assert "claim" in html and "mark_human" in html  # audit timeline + decision forms


def test_decision_from_case_page_goes_back_to_queue(case, moderator):
    c = logged_in(moderator)
    res = c.post(f"/moderation/case/{case.pk}/actions/mark_ai/", {"tool": "NovelAI", "strike": "0"})
    assert res.status_code == 302 and res["Location"] == reverse("moderation:queue")
    case.refresh_from_db()
    assert (case.label, case.route, case.generator) == (Label.AI, Route.AI_FEED, "NovelAI")
    assert not Strike.objects.exists()


def test_unknown_action_is_404_and_get_is_405(case, moderator):
    c = logged_in(moderator)
    assert c.post(f"/moderation/case/{case.pk}/actions/no_such_action/").status_code == 404
    assert c.get(f"/moderation/case/{case.pk}/actions/mark_ai/").status_code == 405


def test_open_redirect_is_refused(case, moderator):
    res = logged_in(moderator).post(f"/moderation/case/{case.pk}/actions/claim/",
                                    {"next": "https://evil.example/"})
    assert res["Location"] == f"/moderation/case/{case.pk}/"


def test_bulk_hide(uploader, moderator):
    a, b = make_case(uploader), make_case(uploader)
    res = logged_in(moderator).post("/moderation/bulk/", {"action": "hide",
                                                           "case": [a.pk, b.pk]})
    assert res.status_code == 302
    assert set(ModerationCase.objects.values_list("route", flat=True)) == {Route.HIDDEN}
    res = logged_in(moderator).post("/moderation/bulk/", {"action": "decide_appeal",
                                                           "case": [a.pk]}, follow=True)
    assert "Choose an action" in res.content.decode()


def test_images_are_served_only_to_moderators_without_metadata(case, moderator, uploader):
    from io import BytesIO

    from PIL import Image

    assert logged_in(uploader).get(f"/moderation/case/{case.pk}/image/preview/"
                                   ).status_code == 403
    c = logged_in(moderator)
    res = c.get(f"/moderation/case/{case.pk}/image/preview/")
    assert res.status_code == 200 and res["Content-Type"] == "image/jpeg"
    assert res["X-Content-Type-Options"] == "nosniff"
    img = Image.open(BytesIO(res.content))
    assert not img.getexif() and "icc_profile" not in img.info
    res = c.get(f"/moderation/case/{case.pk}/image/original/")
    assert res.status_code == 200 and res["Content-Type"] == "image/png"
    assert c.get(f"/moderation/case/{case.pk}/image/other/").status_code == 404


def test_accuracy_panel_counts_moderator_decisions(uploader, moderator):
    ai = make_case(uploader, declaration=Declaration.AI)
    human = make_case(uploader)
    actions.MarkAI(moderator, ai).run()
    actions.MarkHuman(moderator, human).run()
    res = logged_in(moderator).get("/moderation/accuracy/")
    assert res.status_code == 200
    html = res.content.decode()
    # provenance said AI on both: one true positive and one false positive -> precision 0.5
    row = re.search(r'data-detector="provenance" data-mode="enforce">(.*?)</tr>', html, re.S)
    assert row and re.findall(r"<td>(\d+)</td>", row.group(1))[1:5] == ["1", "1", "0", "0"]
    assert "0.500" in row.group(1)
    assert html.count("<svg") == 3 and "<rect" in html


def test_accuracy_series_numbers(uploader, moderator):
    from moderation.accuracy import confusion_by_detector, daily_series

    a = make_case(uploader, declaration=Declaration.AI)
    actions.MarkAI(moderator, a).run()
    make_case(uploader)
    series = daily_series(3)
    assert series.ai_share[-1] == 0.5
    assert series.queue_size[-1] == 1
    conf = {(c.detector, c.mode): c for c in confusion_by_detector()}
    assert conf[("provenance", "enforce")].precision == 1.0


def test_uploader_page_explains_and_takes_an_appeal(uploader, other_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    case = make_case(uploader, label=Label.AI, route=Route.HELD)
    ModerationCase.objects.filter(pk=case.pk).update(reasons=["undisclosed_ai"])
    status = f"/moderation/my/work/testapp.artwork/{case.object_id}/"
    assert logged_in(other_user).get(f"/moderation/my/{case.pk}/").status_code == 404
    assert logged_in(other_user).get(status).status_code == 404
    c = logged_in(uploader)
    old = c.get(f"/moderation/my/{case.pk}/")
    assert old.status_code == 302 and old["Location"] == status
    html = c.get(status).content.decode()
    assert "AI evidence in a work declared hand-made" in html
    assert "Generation parameters written by Stable Diffusion." in html
    assert "secret prompt text" not in html
    # The form posts to the page itself, which runs the appeal action.
    assert 'id="appeal-form"' in html
    res = c.post(status, {
        "message": "Here is my PSD", "kind": "layered",
        "proof": [SimpleUploadedFile("a.psd", b"8BPS"), SimpleUploadedFile("b.png", b"png")]})
    assert res.status_code == 302 and res["Location"] == status
    appeal = case.appeals.get()
    assert appeal.files.count() == 2
    case.refresh_from_db()
    assert case.needs_review and case.review_priority == Priority.APPEAL


@pytest.mark.urls("tests.moderators_urls")
def test_admin_actions_delegate_to_action_classes(case, site_admin, moderator):
    c = logged_in(site_admin)
    res = c.post("/admin/moderation/moderationcase/",
                 {"action": "action_mark_ai", "_selected_action": [case.pk]})
    assert res.status_code == 302
    case.refresh_from_db()
    assert case.label == Label.AI and case.decided_by == site_admin
    assert case.actions.filter(action="mark_ai", actor=site_admin).exists()
    assert c.get(f"/admin/moderation/moderationcase/{case.pk}/change/").status_code == 200
    assert c.get("/admin/moderation/moderationcase/add/").status_code == 403


@pytest.mark.parametrize(("lang", "heading", "claim"), [
    ("ja", "確認待ちキュー", "担当する"), ("en", "Review queue", "Claim")])
def test_pages_render_in_both_languages(case, moderator, settings, lang, heading, claim):
    settings.LANGUAGE_CODE = lang  # tests.settings has no LocaleMiddleware: the default rules
    c = logged_in(moderator)
    html = c.get("/moderation/").content.decode()
    assert f'lang="{lang}"' in html and heading in html and claim in html
    html = c.get(f"/moderation/case/{case.pk}/").content.decode()
    assert claim in html


@pytest.mark.parametrize("params", [{"uploader": "a\x00b"}, {"detector": "\x00"}])
def test_nul_in_filters_matches_nothing(case, moderator, params):
    res = logged_in(moderator).get("/moderation/", params)
    assert res.status_code == 200 and queue_ids(res.content.decode()) == []
