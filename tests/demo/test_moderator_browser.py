"""The review queue's keys and the language switch in headless Chromium.

The journeys (uploader, moderator, viewer, in Japanese and in English) are in
``test_journeys_browser.py``; the helpers both use are in ``walk_support.py``.

Run with ``pytest --ds=tests.demo_settings -m demo_site tests/demo``.
No Celery worker runs here: the test runs ``moderation.pipeline.scan`` in-process, which
is what the worker would do. Screenshots: see tests/browser/shots.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed", allow_module_level=True)

from playwright.sync_api import Browser, expect

from tests.demo.walk_support import login, new_page, ready
from tests.factories import make_user


@pytest.fixture
def site(live_server) -> str:
    """Base URL (tests/conftest.py lets live_server's flush empty the audit log)."""
    return str(live_server.url)


pytestmark = pytest.mark.urls("tests.moderators_demo_urls")


def test_language_switch_and_queue_keys(browser: Browser, site: str) -> None:
    from tests.factories import make_case

    hana = make_user("hana")
    make_user("sato", moderator=True)
    top, second = make_case(hana, priority=900), make_case(hana, priority=500)
    page = new_page(browser, "ja", [])
    login(page, site, "sato", "pw-sato-123", "ja")
    page.goto(f"{site}/moderation/")
    expect(page.locator("h1")).to_contain_text("確認待ちキュー")
    ready(page)
    rows = page.locator("[data-case-row]")
    expect(rows.nth(0)).to_have_class("cat-other selected")
    page.keyboard.press("j")
    expect(rows.nth(1)).to_have_class("cat-other selected")
    page.keyboard.press("x")  # select for a bulk action
    expect(rows.nth(1).locator("input[type=checkbox]")).to_be_checked()
    page.keyboard.press("k")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/moderation/case/{top.pk}/")
    assert second.pk != top.pk
    page.goto(f"{site}/moderation/")
    page.click("form.lang button[data-lang=en]")
    expect(page.locator("h1")).to_contain_text("Review queue")
    expect(page.locator("html")).to_have_attribute("lang", "en")
