"""The demo site in headless Chromium: log in, upload, see the work appear, switch language.

Run with ``pytest --ds=tests.demo_settings tests/browser``. No Celery worker runs here,
so the test runs the scan in-process with ``moderation.pipeline.scan`` between page
loads, which is what the worker would do. Screenshots: see tests/browser/shots.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed", allow_module_level=True)

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from playwright.sync_api import Browser, Page, expect

from moderation import pipeline
from moderation.constants import ProcessingState
from moderation.models import ModerationCase
from tests.browser.shots import save_screenshot

PASSWORD = "pw-browser-123"
A1111 = ("neon city at night, rain\nNegative prompt: lowres\nSteps: 28, Sampler: Euler a, "
         "CFG scale: 7, Seed: 42, Size: 480x360, Model: sd_xl_base_1.0, Version: v1.10.1")


def picture(path: Path, hue: int, parameters: str = "") -> Path:
    """Write a colourful gradient (no metadata unless ``parameters``) as JPEG or PNG.

    ``parameters`` becomes an A1111 ``parameters`` text chunk, as Stable Diffusion WebUI
    writes it, so the provenance detector can name the model.
    """
    size = (480, 360)
    red = Image.linear_gradient("L").resize(size).rotate(hue % 360, expand=False)
    green = Image.radial_gradient("L").resize(size)
    blue = Image.linear_gradient("L").resize(size).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = Image.merge("RGB", (red, green, blue))
    buf = io.BytesIO()
    if parameters:
        info = PngInfo()
        info.add_text("parameters", parameters)
        image.save(buf, "PNG", pnginfo=info)
    else:
        image.save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue())
    return path




@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="ja-JP")
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    yield tab
    context.close()


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


def test_login_upload_see_it_appear_and_switch_language(page: Page, live_server,
                                                        django_user_model, tmp_path):
    django_user_model.objects.create_user("hana", password=PASSWORD)
    base = live_server.url

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
    upload(page, base, picture(tmp_path / "neon.png", 200, A1111), "ネオンの街", "ai")

    scan_all_pending()
    page.goto(f"{base}/")
    expect(page.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])
    page.goto(f"{base}/ai/")
    expect(page.locator(".grid .tile-title")).to_have_text(["ネオンの街"])
    expect(page.locator(".grid .badge")).to_contain_text(["checkpoint: sd_xl_base_1.0"])
    page.click("text=ネオンの街")
    # The uploader named no tool: the generator and checkpoint come from the file.
    expect(page.locator(".label-line")).to_have_text(
        "AI生成 · Stable Diffusion WebUI (A1111) · checkpoint: sd_xl_base_1.0")
    expect(page.locator(".why li")).to_have_text(["投稿者の申告", "ファイル内の生成データ"])
    save_screenshot(page, "demo-work-ja.png")

    page.goto(f"{base}/")
    page.select_option("#language-select", "en")
    page.click("#language-submit")
    expect(page.locator("h1")).to_have_text("New arrivals")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])
    save_screenshot(page, "demo-new-arrivals-en.png")


def test_other_visitors_never_see_a_held_work(page: Page, live_server, django_user_model,
                                              tmp_path):
    django_user_model.objects.create_user("hana", password=PASSWORD)
    base = live_server.url
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
