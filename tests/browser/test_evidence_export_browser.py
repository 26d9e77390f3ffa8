"""Headless Chromium: the evidence report reads as a document, on screen and in print,
and the export buttons sit where moderators and uploaders look, in Japanese and English.

Screenshots go to ``tests.browser.shots.screenshot_dir()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from moderation.evidence_export import MODERATOR, UPLOADER, Viewer, build_bundle
from tests.browser.shots import save_screenshot
from tests.evidence_export.conftest import scenario, unzip  # noqa: F401 (fixture)

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {"title": "Evidence report: case #", "verify": "How to verify this bundle",
           "button": "Export evidence (ZIP)", "download": "Download evidence (ZIP)"},
    "ja": {"title": "証拠レポート：ケース #", "verify": "このバンドルの検証方法",
           "button": "証拠を書き出す（ZIP）", "download": "証拠をダウンロード（ZIP）"},
}


def login(context: Any, client: Any, user: Any, url: str) -> None:
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": url}])


def write_report(setup: Any, audience: str, lang: str, folder: Path) -> Path:
    user = setup.uploader if audience == UPLOADER else setup.moderator
    files = unzip(build_bundle(setup.case, Viewer(audience, user), language=lang).data)
    target = folder / f"report-{audience}-{lang}.html"
    target.write_bytes(files["report.html"])
    return target


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_report_opens_offline_and_prints(browser, scenario, tmp_path, lang):  # noqa: F811
    requests: list[str] = []
    for audience in (MODERATOR, UPLOADER):
        report = write_report(scenario, audience, lang, tmp_path)
        context = browser.new_context(viewport={"width": 1000, "height": 1300})
        page = context.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report.as_uri())
        assert TEXT[lang]["title"] in page.inner_text("h1")
        assert TEXT[lang]["verify"] in page.inner_text("#verification")
        # The preview is embedded and decodes; nothing else is fetched.
        assert page.evaluate("document.querySelector('#preview').naturalWidth") > 0
        assert page.locator(".match-row").count() == 2
        save_screenshot(page, f"evidence-report-{audience}-{lang}.png")
        # The whole document, on screen and as printed, for reviewing the layout (large:
        # kept out of the screenshot folder that docs/screenshots is refreshed from).
        page.screenshot(path=str(tmp_path / f"full-{audience}-{lang}.png"), full_page=True)
        page.emulate_media(media="print")
        page.screenshot(path=str(tmp_path / f"print-{audience}-{lang}.png"), full_page=True)
        pdf = page.pdf(format="A4", print_background=True)
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        (tmp_path / f"report-{audience}-{lang}.pdf").write_bytes(pdf)
        context.close()
    assert all(url.startswith(("file://", "data:")) for url in requests), requests


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_export_buttons(browser, live_server, client, settings, scenario, lang):  # noqa: F811
    settings.LANGUAGE_CODE = lang
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    login(context, client, scenario.moderator, live_server.url)
    page = context.new_page()
    page.goto(f"{live_server.url}/moderation/case/{scenario.case.pk}/")
    button = page.locator("#export-button")
    assert button.inner_text() == TEXT[lang]["button"]
    with page.expect_download() as info:
        button.click()
    assert info.value.suggested_filename.startswith(f"tegaki-case-{scenario.case.pk}-")
    page.goto(f"{live_server.url}/moderation/case/{scenario.case.pk}/")
    save_screenshot(page, f"evidence-export-case-page-{lang}.png")
    context.close()

    context = browser.new_context(viewport={"width": 900, "height": 1100})
    login(context, client, scenario.uploader, live_server.url)
    page = context.new_page()
    ct = scenario.case.content_type
    page.goto(f"{live_server.url}/moderation/my/work/{ct.app_label}.{ct.model}/"
              f"{scenario.case.object_id}/")
    button = page.locator("#export-button")
    assert button.inner_text() == TEXT[lang]["download"]
    with page.expect_download() as info:
        button.click()
    data = Path(info.value.path()).read_bytes()
    assert '"audience": "uploader"' in unzip(data)["case.json"].decode()
    page.locator("#evidence-export").scroll_into_view_if_needed()
    save_screenshot(page, f"evidence-export-status-page-{lang}.png")
    context.close()
