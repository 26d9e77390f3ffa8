"""Headless Chromium: a case page with its deepfake-risk signals and similar works, and a
feed where one account's variation set is one tile, in Japanese and English.
Screenshots go to ``tests.browser.shots.screenshot_dir()``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from PIL import ImageOps

from tests.browser.shots import save_screenshot
from tests.similarity.conftest import scanned
from tests.similarity.pictures import composition, png, seeds

playwright_api = pytest.importorskip("playwright.sync_api")
pytest_plugins = ["tests.moderators_fixtures"]
pytestmark = [pytest.mark.django_db(transaction=True)]

FACE_PHOTO = Path(__file__).resolve().parent.parent / "data" / "faces" / "astronaut.jpg"
TEXT = {"en": ("Deepfake risk", "Similar works by other accounts", "similar works from @"),
        "ja": ("ディープフェイクの危険", "別のアカウントの類似作品", "さんの類似作品")}


def login(context: Any, client: Any, user: Any, url: str) -> None:
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": url}])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_case_page_shows_signals_and_similar_works(browser, live_server, client, settings,
                                                   uploader, moderator, django_user_model,
                                                   lang):
    from PIL import Image

    settings.LANGUAGE_CODE = lang
    artist = django_user_model.objects.create_user("photographer")
    photo = Image.open(FACE_PHOTO).convert("RGB")
    scanned(artist, photo, created_at=timezone.now() - timedelta(days=2))
    copy = ImageOps.posterize(photo.crop((10, 10, 246, 246)), 5)
    _, case = scanned(uploader, png(copy), declaration="ai", adult=True)
    context = browser.new_context(viewport={"width": 1100, "height": 1400})
    login(context, client, moderator, live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/moderation/case/{case.pk}/")
    title, similar, _ = TEXT[lang]
    assert title in page.inner_text("#deepfake-signals")
    assert page.locator("#deepfake-signals li[data-on=yes]").count() == 4
    assert similar in page.inner_text("#similar-embeddings")
    assert "@photographer" in page.inner_text("#similar-embeddings tr.match")
    page.locator("#deepfake-signals").scroll_into_view_if_needed()
    save_screenshot(page, f"case-similarity-deepfake-{lang}.png")
    context.close()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_variation_set_is_one_tile(browser, live_server, site, settings, django_user_model,
                                   lang):
    settings.LANGUAGE_CODE = lang
    flooder = django_user_model.objects.create_user("flooder")
    other = django_user_model.objects.create_user("painter")
    now = timezone.now()
    for i in range(3):
        scanned(other, composition(60 + i), created_at=now - timedelta(hours=30 + 3 * i))
    for i, image in enumerate(seeds(42, 8)):
        scanned(flooder, image, created_at=now - timedelta(hours=2 * (8 - i)))
    context = browser.new_context(locale=lang, viewport={"width": 900, "height": 700})
    page = context.new_page()
    page.goto(live_server.url + "/?ai=include")
    texts = page.locator("#feed li.tile .more").all_inner_texts()
    assert len(texts) == 1 and TEXT[lang][2] in texts[0]
    assert page.locator("#feed li.tile").count() == 4
    save_screenshot(page, f"feed-variation-set-{lang}.png", full_page=True)
    context.close()
