"""Headless Chromium against a live server: the viewer's feed choices and burst tiles.

Skipped when Chromium or Playwright is missing. Playwright's sync API runs an event
loop in this thread, so Django's async-safety guard is relaxed for these tests only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from moderation.constants import Route
from moderation.models import ModerationCase, ViewerPreference
from tests.factories import make_work

playwright_api = pytest.importorskip("playwright.sync_api")
pytestmark = [
    pytest.mark.django_db(transaction=True),
]




@pytest.fixture
def gallery(site, django_user_model):
    artists = [django_user_model.objects.create_user(f"artist{i}") for i in range(3)]
    ai_poster = django_user_model.objects.create_user("aiposter")
    works: dict[str, list[Any]] = {"human": [], "ai": []}
    for i, artist in enumerate(artists):
        works["human"].append(make_work(artist, Route.MAIN, tool=f"hand-{i}",
                                        age=timedelta(hours=10 + i * 3)))
    for i in range(3):
        works["ai"].append(make_work(ai_poster, Route.AI_FEED, tool=f"gen-{i}",
                                     generator="ComfyUI", model_name="SDXL",
                                     age=timedelta(hours=30 + i * 3)))
    return works


def login(context: Any, client: Any, user: Any, live_server: Any) -> None:
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value,
                          "url": live_server.url}])


def tiles(page: Any) -> list[dict[str, str]]:
    return page.eval_on_selector_all(
        "#feed li.tile",
        "els => els.map(e => ({pk: e.dataset.pk, ai: e.dataset.ai, "
        "text: e.innerText}))")


def test_hide_ai_then_switch_to_ai_only(browser, live_server, gallery, client,
                                        django_user_model):
    viewer = django_user_model.objects.create_user("viewer")
    ViewerPreference.objects.create(user=viewer, ai_filter="exclude")
    context = browser.new_context()
    login(context, client, viewer, live_server)
    page = context.new_page()
    page.goto(live_server.url + "/")
    shown = tiles(page)
    assert {t["pk"] for t in shown} == {str(w.pk) for w in gallery["human"]}
    assert all(t["ai"] == "0" for t in shown)
    assert "AI-generated" not in page.inner_text("#feed")
    # A work routed to the AI feed later never slips in while "hide AI" is on.
    late = gallery["human"][0]
    ModerationCase.objects.for_instance(late).update(route=Route.AI_FEED, label="ai")
    page.reload()
    assert str(late.pk) not in {t["pk"] for t in tiles(page)}

    page.select_option("#pref-ai", "only")
    with page.expect_navigation():
        page.click("#pref-save")
    shown = tiles(page)
    expected = {str(w.pk) for w in gallery["ai"]} | {str(late.pk)}
    assert {t["pk"] for t in shown} == expected
    assert all(t["ai"] == "1" for t in shown)
    assert "AI-generated · ComfyUI · checkpoint: SDXL" in page.inner_text("#feed")
    assert ViewerPreference.objects.get(user=viewer).ai_filter == "only"
    context.close()


def test_burst_collapses_into_one_tile(browser, live_server, site, django_user_model):
    burster = django_user_model.objects.create_user("burster")
    other = django_user_model.objects.create_user("other")
    make_work(other, Route.MAIN, tool="quiet", age=timedelta(hours=5))
    burst = [make_work(burster, Route.MAIN, tool=f"burst-{i}") for i in range(12)]
    base = timezone.now()
    for i, work in enumerate(burst):
        ModerationCase.objects.for_instance(work).update(
            created_at=base - timedelta(minutes=60 - i * 4))
    context = browser.new_context()
    page = context.new_page()
    page.goto(live_server.url + "/")
    shown = tiles(page)
    assert len(shown) == 2
    assert page.locator("#feed li.tile .more").all_inner_texts() == ["+11 more from @burster"]
    assert shown[0]["pk"] == str(burst[-1].pk)  # the newest work of the burst fronts the tile
    # Anonymous viewers get the site default: no AI switch needed for this, but the filter
    # links are there and mark the active choice.
    assert page.get_attribute("a[aria-current=page]", "data-ai") == "exclude"
    context.close()
