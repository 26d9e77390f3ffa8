"""The first page of every feed, per preference, from Django's cache.

Most viewers only ever see the first page of new arrivals, so it is the one page worth
keeping. The page is cached under a key made of the feed query itself (its SQL and
parameters: the model, the ``?ai=`` choice, any host filter) plus the page size and the
burst settings, so "hide AI", "show all" and "AI only" each have their own entry, shared
by every viewer with that choice.

Three things keep a held or hidden work off a cached page:

* a *generation* number in the cache, part of every key: any route change of a case
  (``verdict_changed``, a moderator's hide, a new work published to a feed) and any
  deleted case bump it, so every cached page is dropped at once;
* a short TTL (``FEED_CACHE_SECONDS``, 30 s by default) as the safety net;
* on every hit, one indexed query re-checks that each work on the page is still in the
  feed; if one is not (a route changed by ``QuerySet.update()``, which sends no signal),
  the page is rebuilt.

A page computed while the generation changes is stored under the old generation's key,
which nobody reads any more, so a slow request never resurrects a stale page. The save
bumps the generation inside the writing transaction, and ``verdict_changed`` (sent after
commit) bumps it again, so a page rebuilt from the not-yet-committed state in between is
dropped as well -- and the re-check on hit would catch it anyway.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet

from moderation.conf import moderation_settings
from moderation.models import ModerationCase
from moderation.visibility import PUBLIC_ROUTES

GENERATION_KEY = "moderation:feeds:generation"
PAGE_KEY = "moderation:feeds:page:{generation}:{digest}"
#: Attribute holding a case's route as loaded, to tell a route change on save.
LOADED_ROUTE = "_moderation_loaded_route"


def enabled() -> bool:
    return int(moderation_settings.FEED_CACHE_SECONDS or 0) > 0


def _cache() -> BaseCache:
    return caches[str(moderation_settings.FEED_CACHE_ALIAS)]


def generation() -> int:
    cache = _cache()
    cache.add(GENERATION_KEY, 1, timeout=None)
    return int(cache.get(GENERATION_KEY) or 1)


def invalidate() -> None:
    """Drop every cached feed page (bump the generation)."""
    cache = _cache()
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # evicted or never set: any new value changes every key
        cache.set(GENERATION_KEY, 2, timeout=None)


def page_key(qs: QuerySet[Any], extra: tuple[Any, ...]) -> str:
    sql, params = qs.query.sql_with_params()
    digest = hashlib.sha256(repr((qs.db, sql, params, extra)).encode()).hexdigest()
    return PAGE_KEY.format(generation=generation(), digest=digest)


def first_page(qs: QuerySet[Any], extra: tuple[Any, ...],
               build: Callable[[], Any], shown: Callable[[Any], list[Any]]) -> Any:
    """The cached page for ``qs`` if every work on it is still in ``qs``, else ``build()``
    stored for ``FEED_CACHE_SECONDS``. ``shown(page)`` lists the page's works."""
    cache = _cache()
    try:
        key = page_key(qs, extra)
    except EmptyResultSet:  # qs.none() and the like: nothing to cache, nothing to read
        return build()
    page = cache.get(key)
    if page is not None:
        pks = [work.pk for work in shown(page)]
        still = set(qs.order_by().filter(pk__in=pks).values_list("pk", flat=True))
        if len(still) == len(set(pks)):
            return page
        cache.delete(key)
    page = build()
    cache.set(key, page, timeout=int(moderation_settings.FEED_CACHE_SECONDS))
    return page


def remember_route(sender: type[ModerationCase], instance: ModerationCase,
                   **kwargs: Any) -> None:
    """post_init: keep the route as loaded (deferred loads leave it unknown)."""
    if "route" in instance.__dict__:
        setattr(instance, LOADED_ROUTE, instance.route)


def on_case_saved(sender: type[ModerationCase], instance: ModerationCase, created: bool,
                  raw: bool = False, **kwargs: Any) -> None:
    """post_save: a work entered or left a feed, or moved between feeds."""
    if raw:
        return
    before = getattr(instance, LOADED_ROUTE, None)
    route = instance.__dict__.get("route")
    if before != route and (route in PUBLIC_ROUTES or before in PUBLIC_ROUTES
                            or (not created and before is None)):
        invalidate()
    setattr(instance, LOADED_ROUTE, route)


def on_case_deleted(sender: type[ModerationCase], instance: ModerationCase,
                    **kwargs: Any) -> None:
    if instance.__dict__.get("route") in PUBLIC_ROUTES or LOADED_ROUTE not in vars(instance):
        invalidate()


def on_verdict_changed(sender: Any, **kwargs: Any) -> None:
    invalidate()
