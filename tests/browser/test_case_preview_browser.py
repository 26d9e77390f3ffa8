"""Headless Chromium: the case page of a file the worker refused shows no preview.

The page must say why there is no picture (never a broken image) and still offer the
original as a download, in Japanese and English. Screenshots go to
``tests.browser.shots.screenshot_dir()``.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings as django_settings

from moderation.constants import ProcessingState, RejectionReason
from moderation.models import ModerationCase
from tests.browser.shots import save_screenshot
from tests.factories import make_case

playwright_api = pytest.importorskip("playwright.sync_api")
pytest_plugins = ["tests.moderators_fixtures"]
pytestmark = [pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": ("No preview: the worker refused this file", "Download the original file"),
    "ja": ("プレビューはありません", "元のファイルをダウンロード"),
}


def login(context: Any, client: Any, user: Any, url: str) -> None:
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": url}])


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_rejected_case_page_explains_the_missing_preview(browser, live_server, client,
                                                         settings, uploader, moderator,
                                                         lang):
    settings.LANGUAGE_CODE = lang
    case = make_case(uploader, state=ProcessingState.REJECTED)
    ModerationCase.objects.filter(pk=case.pk).update(rejection_reason=RejectionReason.TOO_LARGE)
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    login(context, client, moderator, live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/moderation/case/{case.pk}/")
    notice, download = TEXT[lang]
    assert notice in page.inner_text("#no-preview")
    assert page.locator("section.case-image img").count() == 0
    link = page.get_by_text(download)
    assert link.get_attribute("download") is not None
    page.locator("section.case-image").scroll_into_view_if_needed()
    save_screenshot(page, f"case-no-preview-{lang}.png")
    context.close()
