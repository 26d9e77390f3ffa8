"""RSS 2.0 and Atom feeds of new arrivals and of the AI feed.

Feeds are public documents fetched without a session, so they always show what an
anonymous viewer sees: only works routed ``main`` (new arrivals) or ``ai_feed``.

Hosts mount them with :func:`moderation.feeds.urls.feed_urls`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.syndication.views import Feed
from django.db import models
from django.db.models import QuerySet
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed
from django.utils.translation import gettext_lazy as _

from moderation.constants import AIFilter
from moderation.feeds.queries import apply_ai_filter, feed_database, feed_scope
from moderation.labels import label_for, prefetch_cases
from moderation.registry import registry


class ModeratedFeed(Feed):
    """Base feed; set ``model`` (a registered model) and ``ai`` on subclasses."""

    model: ClassVar[type[models.Model] | None] = None
    ai: ClassVar[str] = AIFilter.EXCLUDE
    limit: ClassVar[int] = 50
    link = "/"

    def get_queryset(self) -> QuerySet[Any]:
        if self.model is None:
            raise TypeError(f"{type(self).__name__}.model is not set")
        qs = self.model._default_manager.using(feed_database(self.model)).all()
        return qs if qs.ordered else qs.order_by("-pk")

    def title(self) -> str:
        return str(_("AI feed") if self.ai == AIFilter.ONLY else _("New arrivals"))

    def description(self) -> str:
        return str(feed_scope(self.ai))

    def items(self) -> list[Any]:
        qs = apply_ai_filter(self.get_queryset(), self.ai)
        works = list(qs[: self.limit])
        prefetch_cases(works, using=qs.db)
        return works

    def item_title(self, item: Any) -> str:
        return str(item)

    def item_description(self, item: Any) -> str:
        return label_for(item).text

    def item_link(self, item: Any) -> str:
        """The work's own page (the ``url`` it was registered with, else its
        ``get_absolute_url()``); a model with neither links to the feed's page."""
        return registry.get_options(type(item)).get_url(item) or self.link


def make_feed(model: type[models.Model], ai: str, *, atom: bool = False,
              link: str = "/") -> ModeratedFeed:
    """A feed view of ``model``'s works in the feed ``ai`` names, RSS 2.0 or Atom."""
    feed_type = Atom1Feed if atom else Rss201rev2Feed
    cls = type(f"{model.__name__}{ai.title()}{'Atom' if atom else 'Rss'}Feed",
               (ModeratedFeed,), {"model": model, "ai": ai, "feed_type": feed_type,
                                  "link": link})
    return cls()

