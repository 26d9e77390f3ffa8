"""Write-time bursts and variation sets in one feed: each folds into one tile, on the
page where it starts, however the pages cut it; the cursor carries both kinds."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from moderation.constants import AIFilter, Route
from moderation.feeds import cursor as keyset
from moderation.feeds.bursts import VARIATION_PREFIX, burst_of
from moderation.feeds.queries import for_viewer
from moderation.models import ModerationCase, WorkEmbedding
from tests.feeds.test_burst_ids import feed, publish, walk
from tests.testapp.models import Artwork

pytestmark = pytest.mark.django_db


def in_set(case: ModerationCase, key: int) -> None:
    """File ``case`` in variation set ``key`` (as the similarity step would)."""
    WorkEmbedding.objects.create(case=case, owner_id=case.owner_id, content_sha256="0" * 64,
                                 model="test", dims=1, vector=b"\0\0",
                                 case_created_at=case.created_at, variation_key=key)


def series_and_burst(django_user_model: Any) -> tuple[Any, list[int], list[int]]:
    """A flooder's 8-work series three hours apart (one variation set, eight bursts)
    and, halfway between two of its works, a 6-work burst of other pictures; a
    neighbour posting every 40 minutes in between. Returns the flooder and the pks of
    the series' and the burst's cases."""
    flooder = django_user_model.objects.create_user("flooder")
    neighbour = django_user_model.objects.create_user("neighbour")
    start = timezone.now() - timedelta(hours=30)
    events: list[tuple[Any, Any, str]] = []
    for i in range(8):
        events.append((start + timedelta(hours=3 * i), flooder, "series"))
    for i in range(6):
        events.append((start + timedelta(hours=10, minutes=30 + i), flooder, "burst"))
    for i in range(30):
        events.append((start + timedelta(minutes=40 * i + 7), neighbour, "other"))
    series: list[int] = []
    burst: list[int] = []
    key: int | None = None
    for at, user, kind in sorted(events, key=lambda e: e[0]):
        case = publish(user, Route.MAIN, at)
        if kind == "series":
            key = key or case.pk
            in_set(case, key)
            series.append(case.pk)
        elif kind == "burst":
            burst.append(case.pk)
    return flooder, series, burst


def tiles_of(pages: list[Any]) -> list[tuple[Any, Any, int, bool]]:
    return [(t.owner_id, t.work.pk, t.more, t.variation) for p in pages for t in p.tiles]


def test_series_and_burst_fold_the_same_on_every_page_size(django_user_model):
    flooder, _series, burst = series_and_burst(django_user_model)
    assert ModerationCase.objects.filter(pk__in=burst).values("burst").distinct().count() == 1
    whole = tiles_of([feed(page_size=100)])
    mine = [t for t in whole if t[0] == flooder.pk]
    # One tile for the series (all eight, three hours apart), one for the burst.
    assert sorted((more, variation) for _o, _w, more, variation in mine) == [(5, False),
                                                                             (7, True)]
    # A page counts the works it folded itself ("+N"), so walked pages are compared by
    # which works head which tiles.
    heads = [(owner, work, variation) for owner, work, _more, variation in whole]
    for size in (1, 2, 3, 5):
        walked = [(owner, work, variation)
                  for owner, work, _more, variation in tiles_of(walk(page_size=size))]
        assert walked == heads, f"page size {size}"


def test_cursor_carries_the_open_set_and_the_open_burst(django_user_model):
    flooder, series, _burst = series_and_burst(django_user_model)
    first = feed(page_size=1)  # the newest tile: the series' newest work
    assert first.tiles[0].owner_id == flooder.pk and first.tiles[0].variation
    keys = keyset.ordering_keys(Artwork.objects.order_by("-pk"))
    carried = keyset.decode(first.next_cursor, keys).bursts
    variation = [b for b in carried if b[0].startswith(VARIATION_PREFIX)]
    owners = [b for b in carried if not b[0].startswith(VARIATION_PREFIX)]
    # The set's entry carries no burst id: the database must not drop the works of
    # the series' first burst as if they were the rest of a shown burst.
    assert variation == [(f"{VARIATION_PREFIX}{series[0]}", variation[0][1], None)]
    assert [o for o, _when, _burst in owners] == [str(flooder.pk)]
    assert owners[0][2] is not None


def test_a_series_tile_lists_its_works(django_user_model):
    flooder, series, _burst = series_and_burst(django_user_model)
    head = next(t for t in feed(page_size=100).tiles if t.variation)
    works = for_viewer(Artwork.objects.all(), None, ai=AIFilter.EXCLUDE)
    listed = set(burst_of(works, head.work).values_list("pk", flat=True))
    series_works = {ModerationCase.objects.get(pk=pk).object_id for pk in series}
    assert {str(pk) for pk in listed} >= {str(pk) for pk in series_works}
    assert all(ModerationCase.objects.filter(object_id=str(pk), owner=flooder).exists()
               for pk in listed)
