"""The feed routes in one place: the viewer's AI preference and the RSS/Atom feeds.

Host wiring (``urls.py``)::

    from moderation.feeds.urls import feed_urls
    urlpatterns += feed_urls(Artwork)
    # -> feed-preference/ (moderation_set_ai_filter), feeds/ (moderation_feed_index: every
    #    feed and what it shows), feeds/new.rss, feeds/new.atom, feeds/ai.rss,
    #    feeds/ai.atom (moderation_feed_new_rss ...)

The feeds need a model because a syndication feed lists one kind of work; the
preference view does not, so ``feed_urls()`` without a model mounts it alone.
"""

from __future__ import annotations

from django.db import models
from django.urls import URLPattern, path

from moderation.feeds.syndication import make_feed
from moderation.feeds.views import FEEDS, feeds_index, set_ai_filter

#: URL name of the preference view (the feed pages' "save as my default" form posts there).
PREFERENCE_URL_NAME = "moderation_set_ai_filter"


def feed_urls(model: type[models.Model] | None = None, *, prefix: str = "feeds/",
              link: str = "/", preference: str | None = "feed-preference/",
              name_prefix: str = "moderation_feed") -> list[URLPattern]:
    """URL patterns for the preference view (at ``preference``; None leaves it out) and,
    given ``model``, the feeds index at ``prefix`` (``<name_prefix>_index``) and its four
    feeds under it (names ``<name_prefix>_new_rss``, ``_new_atom``, ``_ai_rss``,
    ``_ai_atom``)."""
    patterns: list[URLPattern] = []
    if preference is not None:
        patterns.append(path(preference, set_ai_filter, name=PREFERENCE_URL_NAME))
    if model is None:
        return patterns
    patterns.append(path(prefix, feeds_index, {"name_prefix": name_prefix},
                         name=f"{name_prefix}_index"))
    for slug, ai in FEEDS:
        for ext, atom in (("rss", False), ("atom", True)):
            patterns.append(path(f"{prefix}{slug}.{ext}",
                                 make_feed(model, ai, atom=atom, link=link),
                                 name=f"{name_prefix}_{slug}_{ext}"))
    return patterns
