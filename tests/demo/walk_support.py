"""Helpers of the headless-Chromium walks of the demo site (pages, login, screenshots)."""

from __future__ import annotations

import io

from django.conf import settings
from PIL import Image, PngImagePlugin
from playwright.sync_api import Browser, Dialog, Page, expect

from moderation.constants import Label
from moderation.models import ModerationCase
from tests.browser.shots import save_screenshot

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


def new_page(browser: Browser, lang: str, dialogs: list[str], *,
             confirm: bool = False) -> Page:
    """A page in ``lang`` that records every dialog's type and message in ``dialogs``;
    ``confirm=True`` accepts confirmations (the case page asks before strike or hide),
    anything else is dismissed."""
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  locale="ja-JP" if lang == "ja" else "en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        if confirm and dialog.type == "confirm":
            dialog.accept()
        else:
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


