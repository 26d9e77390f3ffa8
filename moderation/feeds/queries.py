"""Queryset helpers that put works into feeds by their moderation route.

Every helper takes a host queryset (``Artwork.objects.all()``, already filtered or ordered
as the host likes) and returns a filtered or annotated copy; the host's manager is never
replaced. Who may see a work at all is :mod:`moderation.visibility`'s rule: feeds only
narrow it down to the works a viewer asked for.
"""

from __future__ import annotations

from typing import Any

from django.db import models, router
from django.db.models import Exists, QuerySet, Subquery
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import AIFilter, Label, Route
from moderation.feeds.viewer_state import viewer_state
from moderation.querysets import content_type_for
from moderation.visibility import case_for_outer, public, routed

#: The hint feed reads pass to ``router.db_for_read``: a host's router may send them to
#: a replica (see :class:`moderation.feeds.routing.FeedReplicaRouter`).
FEED_HINT = "moderation_feed"


def feed_database(model: type[models.Model]) -> str:
    """The database alias feed pages of ``model`` read from.

    Asks the host's ``DATABASE_ROUTERS`` with the ``moderation_feed`` hint, so a site
    can serve feeds from a read replica while every other read -- the upload's own
    page, the review queue, the write path -- stays where its routers put it.
    """
    return router.db_for_read(model, **{FEED_HINT: True})


def annotate_moderation(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Add ``moderation_route``, ``moderation_label``, ``moderation_owner_id``,
    ``moderation_created_at``, ``moderation_burst`` and ``moderation_variation_key``
    (None for works without a case, a burst id or a variation set) for templates and
    burst collapsing."""
    return qs.annotate(**_case_annotations(qs.model))


#: (model label, content type id) -> the subqueries of :func:`annotate_moderation`.
_CASE_ANNOTATIONS: dict[tuple[str, Any], dict[str, Subquery]] = {}


def _case_annotations(model: type[models.Model]) -> dict[str, Subquery]:
    """The six subqueries of :func:`annotate_moderation`, built once per model (and
    content type id, which they embed: a test database may number it anew).

    Building them (six querysets, cloned and sliced) took about as long as compiling the
    feed query itself, on every feed page and every batch. ``annotate()`` resolves a copy
    of each expression against its query, so one set serves every query and thread.
    """
    key = (model._meta.label_lower, content_type_for(model).pk)
    built = _CASE_ANNOTATIONS.get(key)
    if built is None:
        cases = case_for_outer(model._default_manager.all())
        built = _CASE_ANNOTATIONS[key] = {
            "moderation_route": Subquery(cases.values("route")[:1]),
            "moderation_label": Subquery(cases.values("label")[:1]),
            "moderation_owner_id": Subquery(cases.values("owner_id")[:1]),
            "moderation_created_at": Subquery(cases.values("created_at")[:1]),
            "moderation_burst": Subquery(cases.values("burst")[:1]),
            "moderation_variation_key": Subquery(
                cases.values("embedding__variation_key")[:1]),
        }
    return built


#: Session key of an anonymous viewer's saved "AI works in feeds" choice.
SESSION_KEY = "moderation_ai_filter"


def hidden_by_exclude() -> tuple[str, ...]:
    """Labels "hide AI" keeps out: AI-generated and, unless the site lets them through
    (``HIDE_AI_SHOWS_AI_ASSISTED``), AI-assisted works."""
    if moderation_settings.HIDE_AI_SHOWS_AI_ASSISTED:
        return (Label.AI,)
    return (Label.AI, Label.AI_ASSISTED)


def human_feed(qs: QuerySet[Any]) -> QuerySet[Any]:
    """New arrivals with AI hidden: works routed ``main`` whose label is not one
    :func:`hidden_by_exclude` names (a site may route AI-assisted works to ``main``)."""
    cases = case_for_outer(qs).filter(route=Route.MAIN).exclude(label__in=hidden_by_exclude())
    return qs.filter(Exists(cases))


def ai_feed(qs: QuerySet[Any]) -> QuerySet[Any]:
    """The AI feed: works routed ``ai_feed``."""
    return routed(qs, Route.AI_FEED)


def feed_scope(ai: str) -> str | Promise:
    """What a feed with filter ``ai`` shows, in one sentence (intros, feed descriptions)."""
    if ai == AIFilter.ONLY:
        return _("Only works labelled AI-generated, with the tool and model when known.")
    if ai == AIFilter.INCLUDE:
        return _("Every published work; AI-generated and AI-assisted works carry their "
                 "label.")
    if moderation_settings.HIDE_AI_SHOWS_AI_ASSISTED:
        return _("Works without an AI-generated label. AI-assisted works are shown with "
                 "their label; AI-generated works are in the AI feed.")
    return _("Works without an AI label: AI-generated and AI-assisted works are hidden "
             "(they are in the AI feed and under “Show all works”).")


def viewer_ai_filter(user: Any, session: Any = None) -> str:
    """The viewer's saved preference (their account's, or for an anonymous viewer the
    one kept in their session), else the site default (``VIEWER_DEFAULT_AI``)."""
    default = str(moderation_settings.VIEWER_DEFAULT_AI)
    if user is None or not getattr(user, "is_authenticated", False):
        saved = session.get(SESSION_KEY) if session is not None else None
        return saved if saved in AIFilter.values else default
    # From the cache (moderation.feeds.viewer_state), dropped whenever it is saved.
    return viewer_state(user).ai_filter or default


def apply_ai_filter(qs: QuerySet[Any], ai: str) -> QuerySet[Any]:
    """Filter to the feed ``ai`` names (one of :class:`AIFilter`'s values)."""
    if ai == AIFilter.ONLY:
        return ai_feed(qs)
    if ai == AIFilter.INCLUDE:
        return public(qs)
    if ai == AIFilter.EXCLUDE:
        return human_feed(qs)
    raise ValueError(f"unknown ai filter {ai!r}; expected one of {AIFilter.values}")


def for_viewer(qs: QuerySet[Any], user: Any, ai: str | None = None,
               session: Any = None) -> QuerySet[Any]:
    """The feed ``user`` asked for: ``ai`` if given (``?ai=``), else their preference
    (an anonymous viewer's from ``session``).

    Only public works appear, even for the uploader and moderators: feeds show what the
    public sees; held works live on the uploader's page and in the review queue.
    """
    return apply_ai_filter(qs, ai or viewer_ai_filter(user, session))
