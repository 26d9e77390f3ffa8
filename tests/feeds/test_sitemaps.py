"""The works sitemap pages by primary key ranges: no OFFSET, no COUNT(*), every public
work on exactly one page, no held or hidden work on any."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.paginator import EmptyPage, Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from moderation.constants import Route
from moderation.feeds.sitemaps import ModeratedSitemap, PkRangePaginator
from tests.feeds.test_cursor_pages import post
from tests.testapp.models import Artwork, UUIDArtwork
from tests.viewers_urls import ArtSitemap

pytestmark = pytest.mark.django_db


@pytest.fixture
def works(django_user_model: Any) -> tuple[list[Artwork], set[int]]:
    user = django_user_model.objects.create_user("mapper")
    routes = [Route.MAIN, Route.AI_FEED, Route.HELD, Route.MAIN, Route.HIDDEN, Route.MAIN,
              Route.MAIN, Route.AI_FEED, Route.HELD, Route.MAIN, Route.MAIN, Route.HELD,
              Route.MAIN]
    arts = post([(user, r) for r in routes], start=timezone.now() - timedelta(hours=30),
                step=timedelta(hours=2))
    public = {a.pk for a, r in zip(arts, routes, strict=True)
              if r in (Route.MAIN, Route.AI_FEED)}
    return arts, public


def test_pages_are_primary_key_ranges_without_offset_or_count(works):
    arts, public = works

    class Small(ArtSitemap):
        limit = 4

    sitemap = Small()
    with CaptureQueriesContext(connection) as bounds:
        pager = sitemap.paginator
        pages = pager.num_pages
    # The first public work is the first work; the last public work is the last one.
    assert pages == (arts[-1].pk - arts[0].pk) // 4 + 1 == 4
    seen: list[int] = []
    for number in range(1, pages + 1):
        with CaptureQueriesContext(connection) as page_queries:
            listed = [w.pk for w in pager.page(number).object_list]
        assert len(listed) <= 4
        low = arts[0].pk + 4 * (number - 1)
        assert all(low <= pk < low + 4 for pk in listed)
        seen += listed
        sql = " ".join(q["sql"].upper() for q in page_queries.captured_queries)
        assert "OFFSET" not in sql and "COUNT(" not in sql
    assert sorted(seen) == sorted(public) and len(seen) == len(set(seen))
    sql = " ".join(q["sql"].upper() for q in bounds.captured_queries)
    assert "COUNT(" not in sql and len(bounds.captured_queries) == 2
    with pytest.raises(EmptyPage):
        pager.page(pages + 1)
    with pytest.raises(EmptyPage):
        pager.page(0)


def test_the_sitemap_view_lists_only_public_works(site, client, works):
    _arts, public = works
    body = client.get("/sitemap.xml").content.decode()
    assert {int(pk) for pk in re.findall(r"/works/(\d+)/", body)} == public


def test_an_empty_site_has_one_empty_page():
    pager = PkRangePaginator(Artwork.objects.none(), 10)
    assert pager.num_pages == 1 and pager.count == 0
    assert list(pager.page(1).object_list) == []


def test_uuid_keys_and_i18n_keep_offset_pages():
    uuid_map = ModeratedSitemap.for_model(UUIDArtwork)
    assert not uuid_map.uses_keyset()
    assert isinstance(uuid_map.paginator, Paginator) and uuid_map.paginator.num_pages == 1
    assert ModeratedSitemap.for_model(Artwork).uses_keyset()

    class Translated(ArtSitemap):
        i18n = True

    assert not Translated().uses_keyset()

    class Offset(ArtSitemap):
        keyset = False

    assert not Offset().uses_keyset()
