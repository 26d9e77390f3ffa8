"""RSS 2.0 and Atom feeds of new arrivals and of the AI feed.

Feeds are public documents fetched without a session, so they always show what an
anonymous viewer sees: only works routed ``main`` (new arrivals) or ``ai_feed``.

Host wiring (``urls.py``)::

    from moderation.syndication import feed_urls
    urlpatterns += feed_urls(Artwork, prefix="feeds/")
    # -> feeds/new.rss, feeds/new.atom, feeds/ai.rss, feeds/ai.atom
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.syndication.views import Feed
from django.db import models
from django.db.models import QuerySet
from django.urls import URLPattern, path
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.translation import gettext_lazy as _

from moderation.constants import AIFilter
from moderation.feeds import apply_ai_filter
from moderation.labels import label_for, prefetch_cases


class ModeratedFeed(Feed):
    """Base feed; set ``model`` (a registered model) and ``ai`` on subclasses."""

    model: ClassVar[type[models.Model] | None] = None
    ai: ClassVar[str] = AIFilter.EXCLUDE
    limit: ClassVar[int] = 50
    link = "/"

    def get_queryset(self) -> QuerySet[Any]:
        if self.model is None:
            raise TypeError(f"{type(self).__name__}.model is not set")
        qs = self.model._default_manager.all()
        return qs if qs.ordered else qs.order_by("-pk")

    def title(self) -> str:
        return str(_("AI feed") if self.ai == AIFilter.ONLY else _("New arrivals"))

    def description(self) -> str:
        return str(_("AI-generated works") if self.ai == AIFilter.ONLY
                   else _("New works, without AI-generated ones"))

    def items(self) -> list[Any]:
        works = list(apply_ai_filter(self.get_queryset(), self.ai)[: self.limit])
        prefetch_cases(works)
        return works

    def item_title(self, item: Any) -> str:
        return str(item)

    def item_description(self, item: Any) -> str:
        return label_for(item).text

    def item_link(self, item: Any) -> str:
        get_url = getattr(item, "get_absolute_url", None)
        if callable(get_url):
            return str(get_url())
        return f"{self.link}#work-{item.pk}"


def make_feed(model: type[models.Model], ai: str, *, atom: bool = False,
              link: str = "/") -> ModeratedFeed:
    feed_type = Atom1Feed if atom else Rss201rev2Feed
    cls = type(f"{model.__name__}{ai.title()}{'Atom' if atom else 'Rss'}Feed",
               (ModeratedFeed,), {"model": model, "ai": ai, "feed_type": feed_type,
                                  "link": link})
    return cls()


def feed_urls(model: type[models.Model], *, prefix: str = "feeds/", link: str = "/",
              name_prefix: str = "moderation_feed") -> list[URLPattern]:
    """URL patterns for the four feeds (names ``<name_prefix>_new_rss`` etc.)."""
    patterns = []
    for slug, ai in (("new", AIFilter.EXCLUDE), ("ai", AIFilter.ONLY)):
        for ext, atom in (("rss", False), ("atom", True)):
            patterns.append(path(f"{prefix}{slug}.{ext}", make_feed(model, ai, atom=atom,
                                                                     link=link),
                                 name=f"{name_prefix}_{slug}_{ext}"))
    return patterns
