"""Every journey end to end in headless Chromium, in Japanese and in English.

* Uploader and moderator: an uploader uploads a generated picture declared hand-made; it
  is held; they find its status page from the work page, read what was found; the
  moderator (reaching the queue from the gallery's header) claims it with ``c`` and
  decides "AI-generated" with ``g`` after choosing to strike (and confirming); the
  uploader finds the notices on "My works", opens the status page from one, appeals with
  a proof file; the moderator overturns the appeal; the uploader reads the outcome and
  its notice. No script from the file's metadata ever runs.
* Viewer: "hide AI" shows no AI or AI-assisted work and says so; "Show all works" and a
  saved default that holds on the next page while signed out; a burst tile's "+N more"
  opens the burst; the feeds index from the footer; an RSS item's link opens the work.

No Celery worker runs here: ``moderation.pipeline.scan`` runs in-process, which is what
the worker does. Screenshots go to ``TEGAKI_SCREENSHOT_DIR`` (tests/browser/shots.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

if not Path("/usr/bin/chromium").exists():
    pytest.skip("/usr/bin/chromium is not installed", allow_module_level=True)

from django.core.files.base import ContentFile
from django.utils import translation
from playwright.sync_api import Browser, FilePayload, expect

from config.gallery.models import Artwork
from moderation import pipeline
from moderation.constants import Label, ProcessingState, Route
from moderation.feeds.queries import feed_scope
from moderation.models import Appeal, ModerationCase, Notification, Strike
from tests.demo.walk_support import TEXT, a1111_png, login, new_page, ready, seed_history, shot
from tests.factories import make_user, png_bytes

pytestmark = pytest.mark.urls("tests.moderators_demo_urls")


@pytest.fixture
def site(live_server) -> str:
    return str(live_server.url)


def words(lang: str, text: str) -> str:
    with translation.override(lang):
        return str(translation.gettext(text))


def scan_pending() -> None:
    for case_id in ModerationCase.objects.pending().values_list("pk", flat=True):
        assert pipeline.scan(case_id) == ProcessingState.DONE


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_uploader_and_moderator_journey(browser: Browser, site: str, lang: str) -> None:
    t = TEXT[lang]
    dialogs: list[str] = []
    make_user("hana")
    make_user("sato", moderator=True)

    # -- the uploader uploads a generated picture and says it is hand-made -------------
    up = new_page(browser, lang, dialogs)
    login(up, site, "hana", "pw-hana-123", lang)
    expect(up.locator("#moderator-link")).to_have_count(0)  # not a moderator
    up.goto(f"{site}/upload/")
    up.fill("input[name=title]", "夕暮れの港")
    upload: FilePayload = {"name": "dusk.png", "mimeType": "image/png",
                           "buffer": a1111_png(1)}
    up.set_input_files("input[name=image]", files=[upload])
    up.click("form.upload button[type=submit]")
    up.wait_for_url("**/works/*/")
    scan_pending()
    work = Artwork.objects.get(title="夕暮れの港")
    case = ModerationCase.objects.for_instance(work).get()
    assert (case.route, case.undisclosed_ai) == (Route.HELD, True)
    up.reload()
    expect(up.locator(".status")).to_have_text(words(lang, "Held for review"))
    shot(up, f"uploader-work-held-{lang}.png")
    up.click("#status-link")
    up.wait_for_url("**/moderation/my/work/gallery.artwork/*/")
    expect(up.locator("#status-heading")).to_have_text(words(lang, "Held for review"))
    expect(up.locator("#found")).to_contain_text(
        words(lang, "AI evidence in a work declared hand-made"))
    expect(up.locator("#found")).to_contain_text("Stable Diffusion WebUI")
    expect(up.locator("body")).not_to_contain_text("a1111_parameters")
    expect(up.locator(".site-header")).to_be_visible()  # the gallery's own chrome
    shot(up, f"uploader-status-held-{lang}.png")

    # -- the moderator finds the queue from the gallery and decides by keyboard ---------
    mod = new_page(browser, lang, dialogs, confirm=True)
    login(mod, site, "sato", "pw-sato-123", lang)
    mod.click("#moderator-link")
    mod.wait_for_url("**/moderation/")
    expect(mod.locator("h1")).to_contain_text(t["queue"])
    expect(mod.locator("[data-case-row] .category").first).to_have_text(t["undisclosed"])
    ready(mod)
    shot(mod, f"moderator-queue-{lang}.png")
    mod.keyboard.press("c")  # claim the top case and open it
    mod.wait_for_url(f"**/moderation/case/{case.pk}/")
    expect(mod.locator("#claimed-by")).to_contain_text("sato")
    provenance = mod.locator(".evidence-item[data-detector=provenance]")
    expect(provenance).to_contain_text("animagine-xl-3.1")
    expect(provenance.locator(".private")).to_contain_text("onerror=alert(1)")  # as text
    ready(mod)
    shot(mod, f"moderator-case-{lang}.png")
    mod.keyboard.press("g")  # no strike choice yet: the browser keeps the form
    expect(mod.locator("#case-label")).to_have_attribute("data-label", case.label)
    mod.check(".strike-choice input[value='1']")
    mod.keyboard.press("g")  # now it asks to confirm the strike, and decides
    mod.wait_for_url("**/moderation/")
    case.refresh_from_db()
    assert (case.label, case.route, case.decided_by.username) == (Label.AI, Route.AI_FEED,
                                                                   "sato")
    assert Strike.objects.filter(case=case).count() == 1
    assert [d for d in dialogs if d.startswith("confirm:")] == [
        "confirm: " + words(lang, "Mark AI-generated and record a strike against the "
                                  "uploader?")]

    # -- the uploader reads the notices and appeals with a proof file -------------------
    up.goto(f"{site}/me/")
    notices = up.locator(".tegaki-notices li")
    expect(notices).to_have_count(1)  # the "held" notice was read on the status page
    expect(notices.first).to_have_attribute("data-kind", "decided")
    shot(up, f"uploader-notices-{lang}.png")
    notices.first.locator("a").click()
    expect(up.locator("#status-heading")).to_have_text(words(lang, "Published with a label"))
    up.fill("textarea[name=message]", "下描きからの作業過程です / my sketches")
    proof: FilePayload = {"name": "layers.png", "mimeType": "image/png",
                          "buffer": png_bytes()}
    up.select_option("select[name=kind]", "layered")
    up.set_input_files("input[name=proof]", files=[proof])
    up.click("#appeal-form button[type=submit]")
    expect(up.locator("#my-appeals li").first).to_have_attribute("data-status", "open")
    expect(up.locator("#appeal-form")).to_have_count(0)  # one open appeal at a time
    shot(up, f"uploader-appeal-{lang}.png")
    assert not Notification.objects.filter(read_at__isnull=True).exists()

    # -- the moderator overturns the appeal --------------------------------------------
    mod.goto(f"{site}/moderation/?reason=appeal")
    expect(mod.locator("[data-case-row] .category")).to_have_text([t["appeal"]])
    appeal = Appeal.objects.get(case=case)
    expect(mod.locator("[data-case-row] .waiting time")).to_have_attribute(
        "datetime", re.compile(appeal.created_at.strftime("%Y-%m-%dT%H:%M")))
    mod.locator("[data-case-row] .case-link").first.click()
    expect(mod.locator("#open-appeal")).to_contain_text("my sketches")
    expect(mod.locator("#open-appeal a")).to_have_text(["layers.png"])
    mod.select_option("#open-appeal select[name=outcome]", "overturned")
    mod.fill("#open-appeal input[name=note]", "WIP layers check out")
    mod.click("#open-appeal button[data-action=decide_appeal]")
    mod.wait_for_url("**/moderation/")
    case.refresh_from_db()
    assert (case.label, case.route) == (Label.HUMAN, Route.MAIN)
    assert Strike.objects.get(case=case).revoked_at is not None
    mod.goto(f"{site}/moderation/case/{case.pk}/")
    expect(mod.locator(".timeline")).to_contain_text(words(lang, "Decide appeal"))
    shot(mod, f"moderator-case-decided-{lang}.png")

    # -- the uploader sees the outcome and its notice ----------------------------------
    up.goto(f"{site}/me/")
    expect(up.locator(".tegaki-notices li").first).to_have_attribute(
        "data-kind", "appeal_decided")
    up.locator(".tegaki-notices li a").first.click()
    expect(up.locator("#my-appeals li").first).to_have_attribute("data-status",
                                                                 "overturned")
    expect(up.locator("#my-appeals")).to_contain_text("WIP layers check out")
    shot(up, f"uploader-status-decided-{lang}.png")
    up.goto(f"{site}/")
    expect(up.locator(".grid .tile-title")).to_have_text(["夕暮れの港"])

    # -- the accuracy panel, with a few weeks of history -------------------------------
    seed_history(case.owner)
    mod.goto(f"{site}/moderation/accuracy/")
    expect(mod.locator("svg .y-tick").first).to_be_attached()
    shot(mod, f"moderator-accuracy-{lang}.png")
    # A non-moderator meets a styled, translated refusal.
    up.goto(f"{site}/moderation/")
    expect(up.locator("#error-403")).to_contain_text(words(lang, "You cannot open this page"))
    shot(up, f"uploader-403-{lang}.png")
    assert not [d for d in dialogs if not d.startswith("confirm:")]  # no metadata script


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_viewer_journey(browser: Browser, site: str, lang: str) -> None:
    mika = make_user("mika")
    kenji = make_user("kenji")
    aiko = make_user("aiko")
    dialogs: list[str] = []

    def published(author, title: str, label: str, route: str) -> Artwork:
        work = Artwork(author=author, title=title,
                       ai_declaration="none" if label == Label.HUMAN else "ai")
        work.image.save(f"{title}.png", ContentFile(png_bytes()), save=True)
        ModerationCase.objects.filter(pk=ModerationCase.objects.for_instance(work).get().pk
                                      ).update(state=ProcessingState.DONE, label=label,
                                               route=route, reasons=["no_ai_evidence"])
        return work

    sketch = published(aiko, "Pencil sketch", Label.HUMAN, Route.MAIN)
    published(kenji, "Generative fill", Label.AI_ASSISTED, Route.MAIN)
    for i in range(4):
        published(mika, f"Robot {i}", Label.AI, Route.AI_FEED)

    page = new_page(browser, lang, dialogs)
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": site}])
    page.goto(f"{site}/")
    expect(page.locator(".grid .tile-title")).to_have_text(["Pencil sketch"])
    with translation.override(lang):
        expect(page.locator("#feed-intro")).to_have_text(str(feed_scope("exclude")))
    shot(page, f"viewer-new-arrivals-{lang}.png")

    page.click("a.tegaki-ai-filter[data-ai=include]")
    expect(page.locator(".grid .tile-title")).to_have_text(
        ["Robot 3", "Generative fill", "Pencil sketch"])
    page.select_option("#ai-preference", "include")
    page.click(".ai-filter form button[type=submit]")
    page.goto(f"{site}/")  # a new page, no ?ai=: the saved choice holds while signed out
    expect(page.locator(".grid .tile-title")).to_have_text(
        ["Robot 3", "Generative fill", "Pencil sketch"])
    burst = page.locator(".tile a.more")
    expect(burst).to_have_count(1)
    burst.click()
    expect(page.locator(".grid .tile-title")).to_have_text(
        ["Robot 3", "Robot 2", "Robot 1", "Robot 0"])
    expect(page.locator("#burst-note")).to_contain_text("@mika")
    shot(page, f"viewer-burst-{lang}.png")

    page.click(".site-footer a")  # the feeds index
    page.wait_for_url("**/feeds/")
    expect(page.locator("#feed-new")).to_contain_text("RSS")
    shot(page, f"viewer-feeds-{lang}.png")
    rss_url = page.locator("#feed-new a[type='application/rss+xml']").get_attribute("href")
    assert rss_url
    rss = page.request.get(rss_url).text()  # as a feed reader fetches it
    links = re.findall(r"<item>.*?<link>([^<]+)</link>", rss, flags=re.S)
    assert links == [f"{site}/works/{sketch.pk}/"]
    page.goto(links[0])
    expect(page.locator("h1")).to_have_text("Pencil sketch")
    expect(page.locator(".label-line")).to_have_count(0)  # no AI evidence: no claim
    head = page.content()
    assert 'rel="alternate" type="application/rss+xml"' in head
    assert dialogs == []
