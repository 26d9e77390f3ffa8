"""A sitemap that lists only works anyone may see (routed ``main`` or ``ai_feed``).

``sitemaps = {"works": ModeratedSitemap.for_model(Artwork)}`` with Django's sitemap
view; the model needs ``get_absolute_url``.

Django's sitemap pages by offset (``LIMIT 5000 OFFSET 5000 * (p - 1)``) after a
``COUNT(*)`` of every public work: page 2,000 of a 10M-work site makes the database walk
and probe ten million rows, and so does the count behind the index. For a model with an
integer primary key the pages here are primary key ranges instead: page ``p`` lists the
public works with ``first + limit * (p - 1) <= pk < first + limit * p``, where ``first``
is the smallest public pk, so every page is one index range however deep, and the number
of pages comes from the smallest and largest public pk (two index lookups), not a
count. A page holds at most ``limit`` works, fewer where works were deleted or are not
public (an empty page is an empty ``<urlset>``, which search engines accept). A page's
address names the same works for as long as the smallest public pk stays the same.

Models whose primary keys are far from dense (UUIDs, Snowflake-style ids) keep Django's
offset pages: set ``keyset = False`` on the sitemap (a non-integer key, or ``i18n``,
gets them anyway).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

from django.contrib.sitemaps import Sitemap
from django.core.paginator import EmptyPage, PageNotAnInteger
from django.db import models
from django.db.models import QuerySet

from moderation.feeds.queries import feed_database
from moderation.visibility import public


class KeysetPage:
    """One sitemap page: its works (what Django's sitemap reads of a paginator page)."""

    def __init__(self, object_list: Sequence[Any], number: int) -> None:
        self.object_list = object_list
        self.number = number


class PkRangePaginator:
    """The part of Django's ``Paginator`` the sitemap views use (``page()``,
    ``num_pages``), by primary key ranges of ``per_page`` ids."""

    def __init__(self, queryset: QuerySet[Any], per_page: int) -> None:
        self.queryset = queryset.order_by("pk")
        self.per_page = int(per_page)
        bounds = self.queryset.values_list("pk", flat=True)
        self.first = bounds.first()
        self.last = bounds.order_by("-pk").first() if self.first is not None else None

    @property
    def num_pages(self) -> int:
        if self.first is None or self.last is None:
            return 1  # Django's empty sitemap: one empty page
        return math.floor((int(self.last) - int(self.first)) / self.per_page) + 1

    @property
    def count(self) -> int:
        """An upper bound (the id span), without a ``COUNT(*)``."""
        if self.first is None or self.last is None:
            return 0
        return int(self.last) - int(self.first) + 1

    def page(self, number: Any) -> KeysetPage:
        try:
            number = int(number)
        except (TypeError, ValueError) as exc:
            raise PageNotAnInteger("That page number is not an integer") from exc
        if number < 1 or number > self.num_pages:
            raise EmptyPage("That page contains no results")
        if self.first is None:
            return KeysetPage([], number)
        low = int(self.first) + self.per_page * (number - 1)
        works = list(self.queryset.filter(pk__gte=low, pk__lt=low + self.per_page))
        return KeysetPage(works, number)


class ModeratedSitemap(Sitemap):
    """Set ``model`` on a subclass, or build one with :meth:`for_model`."""

    model: ClassVar[type[models.Model] | None] = None
    limit = 5000
    #: Page by primary key ranges rather than by offset; None: when the primary key is
    #: an integer.
    keyset: ClassVar[bool | None] = None

    def items(self) -> Any:
        if self.model is None:
            raise TypeError(f"{type(self).__name__}.model is not set")
        manager = self.model._default_manager.using(feed_database(self.model))
        return public(manager.all()).order_by("pk")

    def uses_keyset(self) -> bool:
        integer = self.model is not None and isinstance(
            self.model._meta.pk, models.AutoField | models.IntegerField)
        return integer and self.keyset is not False and not self.i18n

    @property
    def paginator(self) -> Any:
        if not self.uses_keyset():
            return super().paginator  # Django's offset pages (and i18n's item pairs)
        return PkRangePaginator(self.items(), self.limit)

    @classmethod
    def for_model(cls, model: type[models.Model]) -> ModeratedSitemap:
        return type(f"{model.__name__}Sitemap", (cls,), {"model": model})()
