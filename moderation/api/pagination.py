"""Bounded pagination: an unbounded moderation list is a denial-of-service risk.

One request for the whole queue would load and serialise every case at once.
"""

from __future__ import annotations

from rest_framework.pagination import PageNumberPagination

from moderation.conf import moderation_settings


class ModerationPagination(PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def page_size(self) -> int:
        return int(moderation_settings.QUEUE_PAGE_SIZE)

    @property
    def max_page_size(self) -> int:
        return int(moderation_settings.QUEUE_PAGE_SIZE)
