"""A sitemap that lists only works anyone may see (routed ``main`` or ``ai_feed``).

``sitemaps = {"works": ModeratedSitemap.for_model(Artwork)}`` with Django's sitemap
view; the model needs ``get_absolute_url``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.sitemaps import Sitemap
from django.db import models

from moderation.feeds.queries import feed_database
from moderation.visibility import public


class ModeratedSitemap(Sitemap):
    """Set ``model`` on a subclass, or build one with :meth:`for_model`."""

    model: ClassVar[type[models.Model] | None] = None
    limit = 5000

    def items(self) -> Any:
        if self.model is None:
            raise TypeError(f"{type(self).__name__}.model is not set")
        manager = self.model._default_manager.using(feed_database(self.model))
        return public(manager.all()).order_by("pk")

    @classmethod
    def for_model(cls, model: type[models.Model]) -> ModeratedSitemap:
        return type(f"{model.__name__}Sitemap", (cls,), {"model": model})()
