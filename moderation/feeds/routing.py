"""Feed reads from a read replica: ``FeedReplicaRouter``.

Feed pages are the hottest reads of a site and the only ones that can be a little
behind: a work appearing in new arrivals a second late harms no one, while an uploader's
own page or a moderator's decision must read what was just written. So only the reads
the feed helpers make (pages, RSS/Atom, the sitemap, the works API list through
``FeedCursorPagination``) carry the ``moderation_feed`` hint, and this router answers
only those::

    DATABASES = {"default": {...}, "replica": {...}}
    DATABASE_ROUTERS = ["moderation.feeds.routing.FeedReplicaRouter"]
    MODERATION = {"FEED_DATABASE": "replica"}

Every other read and every write falls through to the next router (or ``default``);
nothing in the upload, scan or moderation path depends on the replica.
"""

from __future__ import annotations

from typing import Any

from moderation.conf import moderation_settings
from moderation.feeds.queries import FEED_HINT


class FeedReplicaRouter:
    """Routes reads made with the ``moderation_feed`` hint to ``FEED_DATABASE``."""

    def db_for_read(self, model: type[Any], **hints: Any) -> str | None:
        if not hints.get(FEED_HINT):
            return None
        alias = moderation_settings.FEED_DATABASE
        return str(alias) if alias else None

    def db_for_write(self, model: type[Any], **hints: Any) -> str | None:
        return None

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None,
                      **hints: Any) -> bool | None:
        return None
