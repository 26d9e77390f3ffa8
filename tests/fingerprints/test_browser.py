"""Headless Chromium: the case page's "similar works" panel and the creator's protected
works page, in Japanese and English. Screenshots go to
``tests.browser.shots.screenshot_dir()``."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from moderation import pipeline
from moderation.fingerprints import banks, pdq
from tests.browser.shots import save_screenshot
from tests.factories import case_of, make_user, upload
from tests.fingerprints.images import artwork, encode, repost

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.urls("tests.fingerprints.urls")]

FAST = {"DETECTORS": {"provenance": {
    "BACKEND": "moderation.detectors.provenance.ProvenanceDetector"}}}
TEXT = {"en": ("Similar works", "Possible repost of @ann", "Protected works", "Night"),
        "ja": ("類似作品", "@ann さんの作品の転載の可能性", "保護中の作品", "Night")}


def login(context: Any, client: Any, user: Any, url: str) -> None:
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": url}])


def scanned(owner: Any, data: bytes, name: str) -> Any:
    work = upload(owner, data, name=name)
    pipeline.scan(case_of(work).pk)
    return case_of(work)


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_similar_works_panel_and_protected_works_page(browser, live_server, client,
                                                      settings, lang):
    settings.LANGUAGE_CODE = lang
    title, sentence, protected, night = TEXT[lang]
    with override_settings(MODERATION=FAST):
        ann, bob, mod = make_user("ann"), make_user("bob"), make_user("mod", moderator=True)
        scanned(ann, encode(artwork(21)), "sunset.png")
        banks.protect(ann, pdq.compute(artwork(22)), title="Night",
                      source_url="https://example.com/ann/night")
        copy = scanned(bob, repost(artwork(21)), "copy.jpg")
        scanned(bob, repost(artwork(22)), "night.jpg")
        context = browser.new_context(viewport={"width": 1200, "height": 1400})
        login(context, client, mod, live_server.url)
        page = context.new_page()
        page.goto(f"{live_server.url}/moderation/case/{copy.pk}/")
        panel = page.locator("#similar-works")
        assert title in panel.inner_text() and "@ann" in panel.inner_text()
        assert sentence in page.inner_text("section.case-evidence")
        save_screenshot(page, f"moderator-similar-works-{lang}.png")
        context.close()

        context = browser.new_context(viewport={"width": 1000, "height": 800})
        login(context, client, ann, live_server.url)
        page = context.new_page()
        page.goto(f"{live_server.url}/creator/protected/")
        assert protected in page.inner_text("h1")
        row = page.locator("#protected-list tbody tr").first
        assert night in row.inner_text() and row.locator("td.matches").inner_text() == "1"
        save_screenshot(page, f"creator-protected-works-{lang}.png", full_page=True)
        context.close()
