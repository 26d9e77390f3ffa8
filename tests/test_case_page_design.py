"""The moderator's case page as a person reads it: evidence in words, an explicit strike
choice, an audit timeline in words; the accuracy charts' axes; appeals dated by the
appeal."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from moderation import actions
from moderation.constants import Label, Route
from moderation.models import Appeal, Evidence, ModerationCase, Strike
from tests.factories import make_case

pytest_plugins = ["tests.moderators_fixtures"]
pytestmark = pytest.mark.django_db


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def test_evidence_cards_speak_in_words(uploader, moderator):
    case = make_case(uploader, label=Label.AI, route=Route.HELD, undisclosed=True)
    Evidence.objects.filter(case=case, detector="classifier").update(details={
        "kind": "classifier", "model": "tegaki-effnet", "model_version": "1.0",
        "threshold": 0.5, "thresholds": {"fpr_0.01": 0.8}, "crops": 4,
        "logits": [0.1, 2.0], "photo_probability": 0.01})
    Evidence.objects.create(
        case=case, detector="provenance", detector_version="2", content_sha256="d" * 64,
        label="ai", strength="proof", message="c2pa_trusted_ai",
        details={"c2pa": {"validation_state": "Trusted"}, "findings": [
            {"reason": "c2pa_trusted_ai", "label": "ai", "params": {},
             "details": {"signer": "Adobe Inc.", "validation_state": "Trusted"}}]})
    ModerationCase.objects.filter(pk=case.pk).update(reasons=["undisclosed_ai"])
    text = visible_text(logged_in(moderator).get(f"/moderation/case/{case.pk}/")
                        .content.decode())
    for words in ("Image classifier", "0.90 (review threshold 0.50)",
                  "At most 1 in 100 hand-made works scores this high.", "tegaki-effnet 1.0",
                  "File metadata and provenance", "Checkpoint", "sdxl_base",
                  "C2PA signer", "Adobe Inc.", "signature verified, signer on the trust list",
                  "Generation parameters written by Stable Diffusion."):
        assert words in text, words
    for raw in ("logits", "crops", "fpr_meaning", "photo_probability", "—/held"):
        assert raw not in text, raw


def test_the_page_asks_for_an_explicit_strike_choice(uploader, moderator):
    case = make_case(uploader, label=Label.UNCERTAIN, route=Route.HELD)
    c = logged_in(moderator)
    html = c.get(f"/moderation/case/{case.pk}/").content.decode()
    radios = re.findall(r'<input type="radio" name="strike"[^>]*>', html)
    assert len(radios) == 2 and not any("checked" in r for r in radios)
    assert all("required" in r for r in radios)
    assert 'data-confirm-strike="' in html and 'data-confirm="' in html  # strike and hide
    url = f"/moderation/case/{case.pk}/actions/mark_ai/"
    res = c.post(url, {"tool": ""}, follow=True)
    assert "Choose whether to record a strike" in res.content.decode()
    case.refresh_from_db()
    assert case.label == Label.UNCERTAIN and not Strike.objects.exists()
    c.post(url, {"strike": "0"})
    case.refresh_from_db()
    assert case.label == Label.AI and not Strike.objects.exists()


def test_a_yes_records_the_strike(uploader, moderator):
    case = make_case(uploader, label=Label.UNCERTAIN, route=Route.HELD)
    logged_in(moderator).post(f"/moderation/case/{case.pk}/actions/mark_ai/", {"strike": "1"})
    assert Strike.objects.filter(user=uploader, case=case).count() == 1


def test_audit_timeline_in_words(uploader, moderator):
    case = make_case(uploader, label=Label.UNCERTAIN, route=Route.HELD)
    actions.MarkHuman(moderator, case).run()
    text = visible_text(logged_in(moderator).get(f"/moderation/case/{case.pk}/")
                        .content.decode())
    assert "Mark hand-made" in text
    assert "Label: Uncertain → Hand-made" in text
    assert "Shown in: Held for review → New arrivals" in text


def test_accuracy_charts_have_axes_and_values(uploader, moderator):
    make_case(uploader, label=Label.AI, route=Route.AI_FEED, needs_review=False)
    html = logged_in(moderator).get("/moderation/accuracy/").content.decode()
    assert html.count('class="tick y-tick"') == 9  # 0, middle, top on three charts
    assert html.count('class="tick x-tick"') >= 6
    assert 'class="value"' in html and "<title>" in html
    assert "Vertical axis: percent; horizontal axis: day." in html


def test_appeals_wait_since_the_appeal(uploader, other_user, moderator):
    old = make_case(uploader, label=Label.AI, route=Route.AI_FEED, needs_review=False)
    new = make_case(other_user, label=Label.AI, route=Route.AI_FEED, needs_review=False)
    ModerationCase.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=30))
    actions.SubmitAppeal(other_user, new, message="first").run()
    actions.SubmitAppeal(uploader, old, message="second").run()
    first = Appeal.objects.get(case=new)
    Appeal.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=5))
    html = logged_in(moderator).get("/moderation/?reason=appeal").content.decode()
    ids = [int(m) for m in re.findall(r'class="case-link">#(\d+)<', html)]
    assert ids == [new.pk, old.pk]  # the longest-waiting appeal first
    first.refresh_from_db()
    assert f'datetime="{first.created_at.isoformat()}' in html
