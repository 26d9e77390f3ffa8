"""Viewers' reports end to end in headless Chromium, in Japanese and in English.

A new viewer reports a hand-made-declared work as undisclosed AI from the feed tile's
menu; two reporters with a long accurate record report it from the work page; the work
is held (never labelled by the reports) and the case page shows the three reports with
each reporter's track record; the moderator marks it AI-generated without a strike;
each reporter finds the outcome on "My reports" and their precision has moved.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed", allow_module_level=True)

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone, translation
from playwright.sync_api import Browser, Page, expect

from config.gallery.models import Artwork
from moderation.constants import Label, ProcessingState, Route
from moderation.models import ModerationCase, ReporterReputation, ReportStatus
from tests.browser.shots import screenshot_dir
from tests.demo.walk_support import login, new_page, ready, shot
from tests.factories import make_user, png_bytes

pytestmark = pytest.mark.urls("tests.moderators_demo_urls")

REASON = "report_undisclosed_ai"


@pytest.fixture
def site(live_server) -> str:
    return str(live_server.url)


def words(lang: str, text: str) -> str:
    with translation.override(lang):
        return str(translation.gettext(text))


def trusted(name: str) -> None:
    user = make_user(name)
    get_user_model().objects.filter(pk=user.pk).update(
        date_joined=timezone.now() - timedelta(days=400))
    ReporterReputation.objects.create(user=user, reason=REASON, upheld=20)


def case_of(work: Artwork) -> ModerationCase:
    return ModerationCase.objects.for_instance(work).get()


def send_report(page: Page, note: str) -> None:
    page.check(f"input[name=reason][value={REASON}]")
    page.fill("textarea[name=note]", note)
    page.click("#report-submit")
    page.wait_for_url("**/moderation/reports/sent/*/")


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_reports_walk(browser: Browser, site: str, lang: str) -> None:
    dialogs: list[str] = []
    artist = make_user("aoi")
    make_user("yuki")  # a brand-new account
    trusted("ren")
    trusted("mei")
    make_user("sato", moderator=True)
    work = Artwork(author=artist, title="Harbour lights", ai_declaration="none")
    work.image.save("harbour.png", ContentFile(png_bytes()), save=True)
    ModerationCase.objects.filter(pk=case_of(work).pk).update(
        state=ProcessingState.DONE, label=Label.HUMAN, route=Route.MAIN,
        reasons=["no_ai_evidence"])

    # -- a new viewer reports from the feed tile's menu ---------------------------------
    yuki = new_page(browser, lang, dialogs)
    login(yuki, site, "yuki", "pw-yuki-123", lang)
    yuki.goto(f"{site}/")
    tile = yuki.locator(f"#work-{work.pk}")
    tile.locator(".tile-menu summary").click()
    tile.locator(".tile-report").click()
    yuki.wait_for_url("**/moderation/report/gallery.artwork/*/")
    expect(yuki.locator("h1")).to_contain_text("Harbour lights")
    expect(yuki.locator("#report-privacy")).to_have_text(words(
        lang, "The uploader is never told who reported their work. Moderators see your "
              "report and how accurate your earlier reports were."))
    shot(yuki, f"report-form-{lang}.png")
    send_report(yuki, "No brush texture; hands melt into the railing.")
    expect(yuki.locator("#report-sent-heading")).to_have_text(
        words(lang, "Thank you for your report"))
    expect(yuki.locator("#report-sent")).not_to_contain_text("Harbour lights")
    shot(yuki, f"report-sent-{lang}.png")
    assert case_of(work).route == Route.MAIN  # one new account weighs little

    # -- two reporters with an accurate record report from the work page ---------------
    for name in ("ren", "mei"):
        page = new_page(browser, lang, dialogs)
        login(page, site, name, f"pw-{name}-123", lang)
        page.goto(f"{site}/works/{work.pk}/")
        page.click("#report-link")
        send_report(page, f"{name}: same seed artefacts as the AI feed.")
        page.close()
    case = case_of(work)
    assert (case.route, case.label, case.needs_review) == (Route.HELD, Label.HUMAN, True)

    # -- the reporter cannot see the held work through their reports -------------------
    yuki.click("#my-reports-link")
    row = yuki.locator("#report-list tbody tr").first
    expect(row).to_have_attribute("data-status", "open")
    expect(row).to_contain_text(words(lang, "Not public at the moment"))
    expect(yuki.locator("#report-list")).not_to_contain_text("Harbour lights")
    shot(yuki, f"my-reports-open-{lang}.png")

    # -- the moderator reads the reports on the case page and decides -------------------
    mod = new_page(browser, lang, dialogs, confirm=True)
    login(mod, site, "sato", "pw-sato-123", lang)
    mod.goto(f"{site}/moderation/?reason=reported")
    expect(mod.locator("[data-case-row] .category")).to_have_text(
        [words(lang, "Reported by viewers")])
    expect(mod.locator("[data-case-row] .report-score")).to_be_visible()
    mod.goto(f"{site}/moderation/case/{case.pk}/")
    panel = mod.locator("#reports-panel")
    expect(panel.locator("tbody tr")).to_have_count(3)
    expect(panel.locator("tr[data-reporter=ren] .track-record")).to_contain_text("20")
    expect(panel).to_contain_text("hands melt into the railing")
    timeline = mod.locator(".timeline")
    expect(timeline).to_contain_text(words(lang, "Reports held the work for review"))
    expect(timeline).not_to_contain_text(REASON)  # codes read through the reason table
    ready(mod)
    shot(mod, f"case-reports-{lang}.png")
    panel.screenshot(path=str(screenshot_dir() / f"case-reports-panel-{lang}.png"))
    mod.check(".strike-choice input[value='0']")
    mod.keyboard.press("g")
    mod.wait_for_url("**/moderation/")
    case.refresh_from_db()
    assert (case.label, case.route) == (Label.AI, Route.AI_FEED)

    # -- each reporter sees the outcome, and their reputation moved --------------------
    expected = {"yuki": "0.400", "ren": f"{22 / 25:.3f}", "mei": f"{22 / 25:.3f}"}
    for name, precision in expected.items():
        page = yuki if name == "yuki" else new_page(browser, lang, dialogs)
        if name != "yuki":
            login(page, site, name, f"pw-{name}-123", lang)
        page.goto(f"{site}/moderation/reports/mine/")
        row = page.locator("#report-list tbody tr").first
        expect(row).to_have_attribute("data-status", ReportStatus.UPHELD)
        expect(row).to_contain_text(words(lang, "Upheld"))
        expect(row.locator("a")).to_have_text("Harbour lights")  # public again, labelled
        expect(page.locator("#report-record td[data-precision]")).to_have_attribute(
            "data-precision", precision)
        if name == "yuki":
            shot(page, f"my-reports-{lang}.png")
    assert ReporterReputation.objects.get(user__username="yuki", reason=REASON).upheld == 1

    # -- the uploader's pages never name a reporter -------------------------------------
    up = new_page(browser, lang, dialogs)
    login(up, site, "aoi", "pw-aoi-123", lang)
    for path in ("/me/", f"/works/{work.pk}/",
                 f"/moderation/my/work/gallery.artwork/{work.pk}/"):
        up.goto(f"{site}{path}")
        body = up.locator("body")
        for secret in ("yuki", "ren:", "mei:", "hands melt"):
            expect(body).not_to_contain_text(secret)
    expect(up.locator("#report-link")).to_have_count(0)  # nobody reports their own work
    assert dialogs == []
