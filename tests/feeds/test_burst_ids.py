"""Bursts decided at write time: a work entering a feed gets its burst id once, and feeds
fold by it exactly as they fold by the time window, across page boundaries too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core import signing
from django.utils import timezone

from moderation.constants import AIFilter, ProcessingState, Route
from moderation.feeds import cursor as keyset
from moderation.feeds.bursts import burst_of, collapse_page
from moderation.feeds.queries import for_viewer
from moderation.models import ModerationCase
from tests.factories import ROUTE_LABEL, case_of, png_bytes, upload
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db

PNG = png_bytes((8, 8))


def publish(owner: Any, route: str, at: Any) -> ModerationCase:
    """Upload a work and finish its scan the way the pipeline does: ``case.save()``."""
    work = upload(owner, PNG)
    case = case_of(work)
    case.created_at = at  # auto_now_add only fills it on insert
    case.save(update_fields=["created_at"])
    case.state = ProcessingState.DONE
    case.route = route
    case.label = ROUTE_LABEL[route]
    case.save()
    return case


def feed(ai: str = AIFilter.EXCLUDE, **kw: Any) -> Any:
    return collapse_page(for_viewer(Artwork.objects.order_by("-pk"), None, ai=ai), **kw)


def walk(**kw: Any) -> list[Any]:
    pages = [feed(**kw)]
    while pages[-1].has_more:
        pages.append(feed(cursor=pages[-1].next_cursor, **kw))
        assert len(pages) < 100
    return pages


def test_a_work_entering_a_feed_gets_its_burst_id(settings, django_user_model):
    settings.MODERATION = {"BURST_WINDOW_SECONDS": 3600}
    poster = django_user_model.objects.create_user("poster")
    other = django_user_model.objects.create_user("other")
    start = timezone.now() - timedelta(hours=5)
    first = publish(poster, Route.MAIN, start)
    assert first.burst == first.pk
    same = [publish(poster, Route.AI_FEED, start + timedelta(minutes=m)) for m in (20, 59)]
    assert [c.burst for c in same] == [first.pk, first.pk]
    # The window runs from the burst's first work: 61 minutes after it starts a new one.
    late = publish(poster, Route.MAIN, start + timedelta(minutes=61))
    assert late.burst == late.pk
    assert publish(other, Route.MAIN, start + timedelta(minutes=62)).burst != late.burst
    # A held work gets none until it enters a feed; then it joins the open burst.
    held = publish(poster, Route.HELD, start + timedelta(minutes=70))
    assert held.burst is None
    assert ModerationCase.objects.get(pk=held.pk).burst is None
    held.route = Route.MAIN
    held.save()
    assert ModerationCase.objects.get(pk=held.pk).burst == late.pk
    # The id never changes afterwards (a hide and a release keep the tile together).
    held.route = Route.HIDDEN
    held.save()
    held.route = Route.MAIN
    held.save()
    assert ModerationCase.objects.get(pk=held.pk).burst == late.pk


def test_burst_window_zero_gives_every_work_its_own_burst(settings, django_user_model):
    settings.MODERATION = {"BURST_WINDOW_SECONDS": 0}
    poster = django_user_model.objects.create_user("poster")
    start = timezone.now() - timedelta(hours=1)
    cases = [publish(poster, Route.MAIN, start + timedelta(seconds=s)) for s in (0, 1)]
    assert [c.burst for c in cases] == [c.pk for c in cases]


def flood_events(django_user_model: Any) -> tuple[Any, list[tuple[Any, str]]]:
    """A 48-work burst interleaved with 12 other accounts' works (as in
    test_cursor_pages' boundary test), published through ``save()``."""
    flooder = django_user_model.objects.create_user("flooder")
    others = [django_user_model.objects.create_user(f"o{i}") for i in range(12)]
    events: list[tuple[Any, str]] = []
    for i in range(12):
        events.append((others[i], Route.MAIN))
        events += [(flooder, Route.MAIN)] * 4
    return flooder, events


def test_write_time_bursts_fold_the_same_across_page_boundaries(django_user_model):
    flooder, events = flood_events(django_user_model)
    start = timezone.now() - timedelta(hours=2)
    for i, (user, route) in enumerate(events):
        publish(user, route, start + timedelta(seconds=30) * i)
    flood = ModerationCase.objects.filter(owner=flooder)
    assert flood.values("burst").distinct().count() == 1 and None not in flood.values_list(
        "burst", flat=True)

    whole = feed(page_size=100)
    whole_tiles = [(t.owner_id, t.work.pk) for t in whole.tiles]
    assert [t.more for t in whole.tiles if t.owner_id == flooder.pk] == [47]
    walked_by_id: dict[int, list[tuple[Any, Any]]] = {}
    for size in (2, 3, 5):
        pages = walk(page_size=size)
        walked_by_id[size] = [(t.owner_id, t.work.pk) for p in pages for t in p.tiles]
        assert walked_by_id[size] == whole_tiles, f"page size {size}"
        assert sum(1 for p in pages for t in p.tiles if t.owner_id == flooder.pk) == 1
        # The pages after the flood's tile leave its remaining works to the database:
        # fewer rows reach Python than the feed holds.
        assert sum(p.scanned for p in pages) < len(events)

    # The same works without burst ids fold by the window: the very same tiles.
    ModerationCase.objects.update(burst=None)
    assert [(t.owner_id, t.work.pk) for t in feed(page_size=100).tiles] == whole_tiles
    for size in (2, 3, 5):
        pages = walk(page_size=size)
        assert [(t.owner_id, t.work.pk) for p in pages for t in p.tiles] == walked_by_id[size]
        assert sum(p.scanned for p in pages) == len(events)


def test_a_burst_page_lists_the_burst_by_its_id(django_user_model):
    flooder, events = flood_events(django_user_model)
    start = timezone.now() - timedelta(hours=2)
    for i, (user, route) in enumerate(events):
        publish(user, route, start + timedelta(seconds=30) * i)
    head = feed(page_size=100).tiles[0]
    assert head.owner_id == flooder.pk
    works = for_viewer(Artwork.objects.all(), None, ai=AIFilter.EXCLUDE)
    assert burst_of(works, head.work).count() == 48


def test_cursors_from_before_burst_ids_still_work(django_user_model):
    """A cursor's open bursts were (owner, time); they now carry the burst id too, and
    the older two-item form is still accepted."""
    keys = keyset.ordering_keys(Artwork.objects.order_by("-pk"))
    when = timezone.now()
    old = signing.dumps({"k": [7], "b": [["3", when.isoformat()]]}, salt=keyset.SALT,
                        compress=True)
    assert keyset.decode(old, keys).bursts == [("3", when, None)]
    new = keyset.encode(keyset.Cursor(values=[7], bursts=[("3", when, 41)]))
    assert keyset.decode(new, keys).bursts == [("3", when, 41)]
    # Times keep their microseconds: a work 300 us older than the last one shown is on
    # the next page, not lost between two pages.
    by_time = [keyset.Key("created_at", ModerationCase._meta.get_field("created_at"), True),
               keyset.Key("pk", ModerationCase._meta.pk, True)]
    exact = when.replace(microsecond=106294)
    token = keyset.encode(keyset.Cursor(values=[exact, 9], bursts=[("3", exact, None)]))
    decoded = keyset.decode(token, by_time)
    assert decoded.values == [exact, 9] and decoded.bursts == [("3", exact, None)]
    bad = signing.dumps({"k": [7], "b": [["3", when.isoformat(), 1, 2]]}, salt=keyset.SALT)
    with pytest.raises(keyset.InvalidCursor):
        keyset.decode(bad, keys)


def test_cases_without_ids_fold_by_the_window_next_to_ones_with_ids(django_user_model):
    """Old cases (no id) and new ones (an id) of one account: the id-less ones fold by
    the window around the tile's newest work, as before."""
    poster = django_user_model.objects.create_user("mixer")
    start = timezone.now() - timedelta(hours=1)
    old = [publish(poster, Route.MAIN, start + timedelta(minutes=m)) for m in (0, 5)]
    ModerationCase.objects.filter(pk__in=[c.pk for c in old]).update(burst=None)
    publish(poster, Route.MAIN, start + timedelta(minutes=10))
    tiles = feed(page_size=10).tiles
    assert [t.more for t in tiles] == [2]
    assert ModerationCase.objects.get(pk=tiles[0].work.pk).burst is not None
