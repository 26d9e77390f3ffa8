"""Flood control: one account posting 200 AI works in an hour leaves feeds readable."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from moderation.constants import Label, ProcessingState, Route
from moderation.feeds.bursts import collapse_page
from moderation.feeds.queries import for_viewer
from moderation.feeds.quota import AIQuotaExceeded, ai_quota_remaining, check_ai_quota
from moderation.models import ModerationCase
from tests.factories import ROUTE_LABEL
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db


def post_timeline(events, *, start=None, step=timedelta(seconds=17)):
    """Create works in chronological order: ``events`` is a list of (user, route)."""
    start = start or timezone.now() - timedelta(hours=1)
    arts = Artwork.objects.bulk_create(
        [Artwork(owner=u, image=f"art/t{i}.png", tool=f"{u.username}-{i}")
         for i, (u, _r) in enumerate(events)])
    ct = ContentType.objects.get_for_model(Artwork, for_concrete_model=False)
    cases = ModerationCase.objects.bulk_create([
        ModerationCase(content_type=ct, object_id=str(a.pk), owner=u, route=r,
                       label=ROUTE_LABEL[r], state=ProcessingState.DONE,
                       declaration="ai" if r == Route.AI_FEED else "none")
        for a, (u, r) in zip(arts, events, strict=True)])
    for i, case in enumerate(cases):  # auto_now_add ignores given values; set afterwards
        case.created_at = start + step * i
    ModerationCase.objects.bulk_update(cases, ["created_at"])
    return arts


@pytest.fixture
def flood(django_user_model):
    """One account posts 200 AI works in an hour; five others post 2 hand-made each."""
    flooder = django_user_model.objects.create_user("flooder")
    others = [django_user_model.objects.create_user(f"artist{i}") for i in range(5)]
    events = []
    for i in range(200):
        events.append((flooder, Route.AI_FEED))
        if i % 20 == 10:
            events.append((others[(i // 20) % 5], Route.MAIN))
    assert len(events) == 210
    arts = post_timeline(events)
    return flooder, others, arts


def feed(qs_ai, user=None, **kw):
    return collapse_page(for_viewer(Artwork.objects.order_by("-pk"), user, ai=qs_ai), **kw)


def test_200_ai_works_in_an_hour_collapse_to_one_tile(flood):
    flooder, others, _arts = flood
    page = feed("include", page_size=20)
    flood_tiles = [t for t in page.tiles if t.owner_id == flooder.pk]
    assert len(flood_tiles) == 1
    assert flood_tiles[0].more == 199
    assert flood_tiles[0].more_text == "+199 more from @flooder"
    # Every other artist's works are on the first page (their two posts an hour share
    # a tile too: the rule is per account, not per offender).
    rest = {t.owner_id: len(t.works) + t.more for t in page.tiles if t.owner_id != flooder.pk}
    assert rest == {o.pk: 2 for o in others}
    assert len(page.tiles) == 6 and not page.has_more


def test_new_arrivals_hide_the_ai_flood_and_ai_feed_collapses_it(flood):
    flooder, _others, _arts = flood
    new = feed("exclude", page_size=20)
    assert all(t.owner_id != flooder.pk for t in new.tiles) and len(new.tiles) == 5
    ai = feed("only", page_size=20)
    assert len(ai.tiles) == 1 and ai.tiles[0].more == 199


def test_undetected_flood_in_new_arrivals_stays_readable(django_user_model):
    """Even if the flood slipped into new arrivals, it costs one tile, not ten pages."""
    spammer = django_user_model.objects.create_user("spammer")
    artist = django_user_model.objects.create_user("artist")
    events = [(spammer, Route.MAIN)] * 100 + [(artist, Route.MAIN)] + [(spammer, Route.MAIN)] * 100
    post_timeline(events)
    page = feed("exclude", page_size=10)
    assert [(t.owner_id, t.more) for t in page.tiles] == [(spammer.pk, 199), (artist.pk, 0)]


def test_burst_window_and_show_settings(settings, django_user_model):
    poster = django_user_model.objects.create_user("poster")
    start = timezone.now() - timedelta(hours=10)
    post_timeline([(poster, Route.MAIN)] * 5, start=start, step=timedelta(minutes=5))
    post_timeline([(poster, Route.MAIN)] * 5, start=start + timedelta(hours=5),
                  step=timedelta(minutes=5))
    assert [t.more for t in feed("exclude").tiles] == [4, 4]  # two separate bursts
    settings.MODERATION = {"BURST_WINDOW_SECONDS": 0}
    assert len(feed("exclude").tiles) == 10
    settings.MODERATION = {"BURST_SHOW": 3}
    tiles = feed("exclude").tiles
    assert [(len(t.works), t.more) for t in tiles] == [(3, 2), (3, 2)]


def test_ai_share_cap(settings, django_user_model):
    users = [django_user_model.objects.create_user(f"u{i}") for i in range(16)]
    events = [(u, Route.AI_FEED if i % 2 else Route.MAIN) for i, u in enumerate(users)]
    post_timeline(events, step=timedelta(hours=2))
    settings.MODERATION = {"AI_FEED_SHARE_CAP": 0.25}
    page = feed("include", page_size=8)
    assert len(page.tiles) == 8
    assert sum(t.is_ai for t in page.tiles) == 2
    assert page.capped > 0
    settings.MODERATION = {"AI_FEED_SHARE_CAP": None}
    assert sum(t.is_ai for t in feed("include", page_size=8).tiles) == 4


def test_pagination_continues_after_the_page(django_user_model):
    users = [django_user_model.objects.create_user(f"p{i}") for i in range(25)]
    post_timeline([(u, Route.MAIN) for u in users], step=timedelta(hours=2))
    first = feed("exclude", page_size=10)
    second = feed("exclude", page_size=10, start=first.next_start)
    third = feed("exclude", page_size=10, start=second.next_start)
    ids = [t.work.pk for p in (first, second, third) for t in p.tiles]
    assert len(ids) == 25 == len(set(ids))
    assert first.has_more and not third.has_more


def test_feed_page_query_count_is_bounded(flood, django_assert_max_num_queries):
    """Rows are read in growing keyset batches (31, 124, 496... for 20 tiles) until the
    page fills: 210 rows -> 3 reads, 1 for the "@name" of collapsed tiles and 1 for the
    shown works' cases (their labels), however long the flood."""
    with django_assert_max_num_queries(5):
        page = feed("include", page_size=20)
    assert page.scanned == 210
    with django_assert_max_num_queries(2):
        assert len(feed("exclude", page_size=2).tiles) == 2


def test_daily_ai_quota(settings, django_user_model):
    settings.MODERATION = {"AI_DAILY_QUOTA": 50}
    flooder = django_user_model.objects.create_user("quota")
    post_timeline([(flooder, Route.AI_FEED)] * 49, start=timezone.now() - timedelta(hours=1))
    assert ai_quota_remaining(flooder) == 1
    check_ai_quota(flooder)
    post_timeline([(flooder, Route.AI_FEED)])
    assert ai_quota_remaining(flooder) == 0
    with pytest.raises(AIQuotaExceeded):
        check_ai_quota(flooder)
    # Yesterday's uploads no longer count; detected (undeclared) AI does.
    ModerationCase.objects.filter(owner=flooder).update(
        created_at=timezone.now() - timedelta(hours=25))
    assert ai_quota_remaining(flooder) == 50
    post_timeline([(flooder, Route.MAIN)])
    ModerationCase.objects.filter(owner=flooder, route=Route.MAIN).update(label=Label.AI)
    assert ai_quota_remaining(flooder) == 49
    settings.MODERATION = {"AI_DAILY_QUOTA": None}
    assert ai_quota_remaining(flooder) is None


def test_feed_page_renders_collapsed_tile(site, client, flood):
    html = client.get("/?ai=include").content.decode()
    assert html.count('class="tile"') == 6
    assert "+199 more from @flooder" in html


def test_burst_window_holds_when_feed_order_is_not_upload_order(django_user_model):
    """Feeds ordered by pk after an import can run backwards in time; the window is
    measured both ways, so works hours apart stay separate tiles."""
    poster = django_user_model.objects.create_user("importer")
    start = timezone.now() - timedelta(hours=20)
    post_timeline([(poster, Route.MAIN)] * 3, start=start, step=-timedelta(hours=3))
    assert [t.more for t in feed("exclude").tiles] == [0, 0, 0]
