"""The demo site in headless Chromium: log in, upload, see the work appear, switch language.

Run with ``pytest --ds=tests.demo_settings tests/browser``. No Celery worker runs here,
so the test runs the scan in-process with ``moderation.pipeline.scan`` between page
loads, which is what the worker would do. Screenshots go to ``docs/screenshots/``.
"""

from __future__ import annotations

import importlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

if "config.gallery" not in settings.INSTALLED_APPS:
    pytest.skip("demo site tests need --ds=tests.demo_settings", allow_module_level=True)
if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed", allow_module_level=True)

from django.db import connection
from PIL import Image
from playwright.sync_api import Browser, Page, expect, sync_playwright

from moderation import pipeline
from moderation.constants import ProcessingState
from moderation.models import ModerationCase

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "pw-browser-123"


def picture(path: Path, hue: int) -> Path:
    """Write a colourful gradient JPEG (no metadata) to stand in for a drawing."""
    size = (480, 360)
    red = Image.linear_gradient("L").resize(size).rotate(hue % 360, expand=False)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").resize(size).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buf = io.BytesIO()
    Image.merge("RGB", (red, green, blue)).save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue())
    return path


def set_audit_guard(enabled: bool) -> None:
    """Turn the audit log's append-only triggers (migration 0002) on or off.

    ``live_server`` cleans up with ``flush`` (DELETE on SQLite, TRUNCATE on PostgreSQL),
    which the triggers refuse, as production must. The guard is lifted after a test's
    own work and put back once the module is done.
    """
    audit = importlib.import_module("moderation.migrations.0002_audit_log_append_only")
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            verb = "ENABLE" if enabled else "DISABLE"
            cursor.execute(f"ALTER TABLE moderation_moderationaction {verb} TRIGGER USER")
        elif connection.vendor == "sqlite":
            for sql in audit.SQLITE_DROP:
                cursor.execute(sql)
            if enabled:
                for sql in audit.SQLITE_CREATE:
                    cursor.execute(sql)


@pytest.fixture(scope="module")
def audit_guard_restored(django_db_setup, django_db_blocker) -> Iterator[None]:
    """Restore the guard after every test's flush (module scope tears down last)."""
    yield
    with django_db_blocker.unblock():
        set_audit_guard(True)


@pytest.fixture
def site(audit_guard_restored, live_server) -> Iterator[str]:
    """The live server's base URL; on teardown lifts the guard so ``flush`` can run."""
    yield live_server.url
    set_audit_guard(False)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test
    # makes between page actions are ordinary synchronous code, so allow them.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="ja-JP")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


def save_screenshot(page: Page, name: str) -> None:
    """Save a 256-colour PNG of the page: small enough to commit, sharp enough to read."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shot = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
    shot.quantize(256, dither=Image.Dither.FLOYDSTEINBERG).save(SCREENSHOTS / name,
                                                                 optimize=True)


def scan_all_pending() -> None:
    for case_id in ModerationCase.objects.pending().values_list("pk", flat=True):
        assert pipeline.scan(case_id) == ProcessingState.DONE


def upload(page: Page, base: str, file: Path, title: str, declaration: str,
           tool: str = "") -> None:
    page.goto(f"{base}/upload/")
    page.fill("input[name=title]", title)
    page.set_input_files("input[name=image]", str(file))
    page.check(f"input[name=ai_declaration][value={declaration}]")
    if tool:
        page.fill("input[name=ai_tool]", tool)
    page.click("form.upload button[type=submit]")
    page.wait_for_url("**/works/*/")


def test_login_upload_see_it_appear_and_switch_language(page: Page, site: str,
                                                        django_user_model, tmp_path):
    django_user_model.objects.create_user("hana", password=PASSWORD)
    base = site

    page.goto(f"{base}/accounts/login/")
    expect(page.locator("h1")).to_have_text("ログイン")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page.locator(".who")).to_have_text("hana")

    upload(page, base, picture(tmp_path / "yuugure.jpg", 30), "夕暮れの港", "none")
    # Until the worker has scanned it, only the uploader sees it, marked as checking,
    # and the page reloads itself.
    expect(page.locator(".status")).to_have_text("確認中…")
    assert page.locator('meta[http-equiv="refresh"]').count() == 1
    upload(page, base, picture(tmp_path / "neon.jpg", 200), "ネオンの街", "ai", "ComfyUI")

    scan_all_pending()
    page.goto(f"{base}/")
    expect(page.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])
    page.goto(f"{base}/ai/")
    expect(page.locator(".grid .tile-title")).to_have_text(["ネオンの街"])
    expect(page.locator(".grid .badge")).to_have_text(["AI生成 · ComfyUI"])
    page.click("text=ネオンの街")
    expect(page.locator(".label-line")).to_have_text("AI生成 · ComfyUI")
    expect(page.locator(".why li").first).to_have_text("投稿者の申告")
    save_screenshot(page, "demo-work-ja.png")

    page.goto(f"{base}/")
    page.select_option("#language-select", "en")
    page.click("#language-submit")
    expect(page.locator("h1")).to_have_text("New arrivals")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])
    save_screenshot(page, "demo-new-arrivals-en.png")


def test_other_visitors_never_see_a_held_work(page: Page, site: str, django_user_model,
                                              tmp_path):
    django_user_model.objects.create_user("hana", password=PASSWORD)
    base = site
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    upload(page, base, picture(tmp_path / "wip.jpg", 90), "下書き", "none")
    work_url = page.url

    page.context.clear_cookies()
    response = page.goto(work_url)
    assert response is not None and response.status == 404
    page.goto(f"{base}/")
    expect(page.locator(".grid .tile-title")).to_have_count(0)
