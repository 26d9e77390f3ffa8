"""The moderators' walk in headless Chromium, in Japanese and in English.

A moderator logs in, opens the queue, claims the top case with the keyboard, reads the
evidence (the prompt appears once the case is theirs), decides "AI-generated" with a
keyboard shortcut, and the work leaves review for the AI feed. The uploader then sees
why, appeals with a work-in-progress file, and a second decision puts the work in new
arrivals. Metadata carrying HTML must never run (no dialog may open).

Run with ``pytest --ds=tests.demo_settings tests/browser/test_moderator_browser.py``.
No Celery worker runs here: the test runs ``moderation.pipeline.scan`` in-process, which
is what the worker would do. Screenshots: see tests/browser/shots.py.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed", allow_module_level=True)

from django.core.files.base import ContentFile
from PIL import Image, PngImagePlugin
from playwright.sync_api import Browser, Dialog, FilePayload, Page, expect

from moderation import pipeline
from moderation.constants import Label, ProcessingState, Route
from moderation.models import ModerationCase, Strike
from tests.browser.shots import save_screenshot
from tests.factories import make_user

XSS = '"><img src=x onerror=alert(1)></script><script>alert(2)</script>'

TEXT = {
    "ja": {"queue": "確認待ちキュー", "undisclosed": "手描き申告だがAIの疑い",
           "appeal": "異議申し立て", "ai": "AI生成", "warned": "警告済み",
           "human": "手描き"},
    "en": {"queue": "Review queue", "undisclosed": "Declared hand-made, looks AI",
           "appeal": "Appeal", "ai": "AI-generated", "warned": "Warned",
           "human": "Hand-made"},
}


def a1111_png(seed: int) -> bytes:
    """A PNG whose ``parameters`` chunk says Stable Diffusion (and carries an XSS probe)."""
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters",
                  f"1girl, harbour at dusk {XSS}\nNegative prompt: lowres\n"
                  f"Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: {seed}, "
                  "Size: 320x240, Model hash: 31e35c80fc, Model: animagine-xl-3.1")
    buf = io.BytesIO()
    Image.new("RGB", (320, 240), (30 + seed % 200, 90, 160)).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


@pytest.fixture
def site(live_server) -> str:
    """Base URL (tests/conftest.py lets live_server's flush empty the audit log)."""
    return str(live_server.url)




def new_page(browser: Browser, lang: str, dialogs: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  locale="ja-JP" if lang == "ja" else "en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return page


def login(page: Page, base: str, username: str, password: str, lang: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form.login button[type=submit]")
    expect(page.locator(".who").first).to_have_text(username)
    # The language cookie, as the switcher sets it, so every page follows.
    page.context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": lang,
                               "url": base}])


def shot(page: Page, name: str) -> None:
    save_screenshot(page, name, full_page=True)


def seed_history(owner) -> None:
    """Three weeks of decided and waiting cases, so the panel's charts have shape."""
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import make_case

    now = timezone.now()
    for day in range(21):
        for n in range(day % 4 + 1):
            ai = (day + n) % 3 == 0
            case = make_case(owner, label=Label.AI if ai else Label.HUMAN,
                             needs_review=(day + n) % 5 == 0, evidence=False)
            created = now - timedelta(days=day, hours=n)
            decided = None if (day + n) % 5 == 0 else created + timedelta(hours=1 + n * 3)
            ModerationCase.objects.filter(pk=case.pk).update(created_at=created,
                                                             decided_at=decided)


def ready(page: Page) -> None:
    page.wait_for_selector("body[data-shortcuts-ready='1']", state="attached")


pytestmark = pytest.mark.urls("tests.moderators_demo_urls")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_moderator_walk(browser: Browser, site: str, lang: str) -> None:
    from config.gallery.models import Artwork

    t = TEXT[lang]
    dialogs: list[str] = []
    hana = make_user("hana")
    make_user("sato", moderator=True)
    # hana declares a generated picture hand-made.
    work = Artwork(author=hana, title="夕暮れの港", ai_declaration="none")
    work.image.save("dusk.png", ContentFile(a1111_png(1)), save=True)
    for case_id in ModerationCase.objects.pending().values_list("pk", flat=True):
        assert pipeline.scan(case_id) == ProcessingState.DONE
    case = ModerationCase.objects.for_instance(work).get()
    assert case.undisclosed_ai and case.route == Route.HELD

    mod = new_page(browser, lang, dialogs)
    login(mod, site, "sato", "pw-sato-123", lang)
    mod.goto(f"{site}/moderation/")
    expect(mod.locator("h1")).to_contain_text(t["queue"])
    expect(mod.locator("html")).to_have_attribute("lang", lang)
    first = mod.locator("[data-case-row]").first
    expect(first.locator(".category")).to_have_text(t["undisclosed"])
    ready(mod)
    shot(mod, f"moderator-queue-{lang}.png")

    mod.keyboard.press("c")  # claim the top case and open it
    mod.wait_for_url(f"**/moderation/case/{case.pk}/")
    expect(mod.locator("#claimed-by")).to_contain_text("sato")
    provenance = mod.locator(".evidence-item[data-detector=provenance]")
    expect(provenance).to_contain_text("animagine-xl-3.1")
    expect(provenance.locator(".private")).to_contain_text("harbour at dusk")
    expect(provenance.locator(".private")).to_contain_text("onerror=alert(1)")  # as text
    ready(mod)
    shot(mod, f"moderator-case-{lang}.png")

    mod.keyboard.press("g")  # decide: AI-generated
    mod.wait_for_url("**/moderation/")
    case.refresh_from_db()
    assert (case.label, case.route, case.decided_by.username) == (Label.AI, Route.AI_FEED,
                                                                   "sato")
    assert Strike.objects.filter(user=hana, case=case).count() == 1
    mod.goto(f"{site}/ai/")
    expect(mod.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])
    mod.goto(f"{site}/")
    expect(mod.locator(".grid .tile-title")).to_have_count(0)

    # The uploader sees why, and appeals with a work-in-progress image.
    up = new_page(browser, lang, dialogs)
    login(up, site, "hana", "pw-hana-123", lang)
    up.goto(f"{site}/moderation/my/{case.pk}/")
    expect(up.locator("#my-label")).to_have_text(t["ai"])
    expect(up.locator("#my-standing")).to_contain_text(t["warned"])
    up.fill("textarea[name=message]", "下描きからの作業過程です / my sketches")
    proof: FilePayload = {"name": "wip.png", "mimeType": "image/png", "buffer": a1111_png(2)}
    up.set_input_files("input[name=proof]", files=[proof])
    up.click("#appeal-form button[type=submit]")
    expect(up.locator("#my-appeals li").first).to_have_attribute("data-status", "open")
    shot(up, f"uploader-appeal-{lang}.png")

    # The appeal comes back into the same queue; the moderator overturns it.
    mod.goto(f"{site}/moderation/?reason=appeal")
    expect(mod.locator("[data-case-row] .category")).to_have_text([t["appeal"]])
    mod.locator("[data-case-row] .case-link").first.click()
    expect(mod.locator("#open-appeal")).to_contain_text("my sketches")
    expect(mod.locator("#open-appeal a")).to_have_text(["wip.png"])
    mod.select_option("#open-appeal select[name=outcome]", "overturned")
    mod.fill("#open-appeal input[name=note]", "WIP layers check out")
    mod.click("#open-appeal button[data-action=decide_appeal]")
    mod.wait_for_url("**/moderation/")
    case.refresh_from_db()
    assert (case.label, case.route) == (Label.HUMAN, Route.MAIN)
    assert Strike.objects.get(case=case).revoked_at is not None

    up.goto(f"{site}/moderation/my/{case.pk}/")
    expect(up.locator("#my-label")).to_have_text(t["human"])
    expect(up.locator("#my-appeals li").first).to_have_attribute("data-status", "overturned")
    up.goto(f"{site}/")
    expect(up.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])

    # The accuracy panel draws its charts from decisions; give it a few weeks of history.
    seed_history(hana)
    mod.goto(f"{site}/moderation/accuracy/")
    expect(mod.locator("tr[data-detector=provenance][data-mode=enforce]")).to_be_visible()
    expect(mod.locator("svg rect.bar").first).to_be_attached()
    shot(mod, f"moderator-accuracy-{lang}.png")
    assert dialogs == []  # no script from metadata ever ran


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
