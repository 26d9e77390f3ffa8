"""Bounded pagination: an unbounded list is a denial-of-service risk.

One request for the whole queue would load and serialise every case at once.
``ModerationPagination`` pages the moderators' lists (cases, queue, appeals), where page
numbers and a total count help a reviewer; ``FeedCursorPagination`` pages a host's public
works lists, which must cost the same at any depth on a site with millions of works.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.settings import api_settings

from moderation.conf import moderation_settings
from moderation.feeds.cursor import ordering_keys
from moderation.feeds.queries import feed_database
from moderation.labels import prefetch_cases


class ModerationPagination(PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def page_size(self) -> int:
        return int(moderation_settings.QUEUE_PAGE_SIZE)

    @property
    def max_page_size(self) -> int:
        return int(moderation_settings.QUEUE_PAGE_SIZE)


class FeedCursorPagination(CursorPagination):
    """Cursor pages for a host's works API (``?ai=`` lists): constant time at any depth.

    Page-number pagination counts every row the filter matches (``COUNT(*)`` over the
    works and their cases) and skips ``page * size`` rows; a cursor seeks past the last
    row of the previous page by the model's feed ordering (the queryset's ``order_by``
    or ``Meta.ordering``, the one ``manage.py check`` wants an index for) and counts
    nothing. Reads go through the feed database (see ``moderation.feeds.routing``), and
    the page's cases are prefetched so ``ModerationLabelField`` costs no query per row.
    """

    page_size = api_settings.PAGE_SIZE or 40
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_ordering(self, request: Any, queryset: QuerySet[Any], view: Any) -> tuple[str, ...]:
        keys = ordering_keys(queryset)
        return tuple(("-" if k.descending else "") + k.name for k in keys)

    def paginate_queryset(self, queryset: QuerySet[Any], request: Any,
                          view: Any = None) -> list[Any] | None:
        queryset = queryset.using(feed_database(queryset.model))
        page = super().paginate_queryset(queryset, request, view)
        if page is not None:
            prefetch_cases(page, using=queryset.db)
        return page
