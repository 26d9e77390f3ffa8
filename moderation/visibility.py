"""Who may see a work: the visibility rule every listing, page and file view applies.

The helpers take a host queryset (``Artwork.objects.all()``, already filtered or ordered
as the host likes) and return a filtered copy. They join
:class:`~moderation.models.ModerationCase` with ``Exists`` on (content type, object id as
text), so the host's manager is never replaced and integer and UUID primary keys both
work.

Visibility fails closed: a work with no case, or whose case is ``held`` or ``hidden``, is
shown only to its uploader and to moderators -- never to anyone else, in any listing.
The feeds (``moderation.feeds``), the opt-out media gate (``moderation.optout``) and the
API filters all build on this one rule, so it sits below them.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Exists, OuterRef, Q, QuerySet

from moderation.constants import Route
from moderation.models import ModerationCase
from moderation.permissions import is_moderator
from moderation.querysets import PkAsText, content_type_for

#: Routes whose works anyone may see.
PUBLIC_ROUTES = (Route.MAIN, Route.AI_FEED)


def case_for_outer(qs: QuerySet[Any]) -> QuerySet[ModerationCase]:
    """Cases of the outer query's current row, for use inside ``Exists``/``Subquery``."""
    model = qs.model
    is_uuid = isinstance(model._meta.pk, models.UUIDField)
    return ModerationCase.objects.filter(
        content_type=content_type_for(model),
        object_id=PkAsText(OuterRef("pk"), is_uuid=is_uuid),
    )


def routed(qs: QuerySet[Any], *routes: str) -> QuerySet[Any]:
    """Works whose case is on one of ``routes``."""
    return qs.filter(Exists(case_for_outer(qs).filter(route__in=routes)))


def public(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Works anyone may see: routed to new arrivals or the AI feed."""
    return routed(qs, *PUBLIC_ROUTES)


def visible_to(qs: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """Works ``user`` may open: public ones, their own, or all of them for moderators.

    Use this for detail pages, thumbnails and search; use
    :func:`moderation.feeds.queries.for_viewer` for feeds.
    """
    if is_moderator(user):
        return qs
    cases = case_for_outer(qs)
    condition = Q(Exists(cases.filter(route__in=PUBLIC_ROUTES)))
    if user is not None and getattr(user, "is_authenticated", False):
        condition |= Q(Exists(cases.filter(owner_id=user.pk)))
    return qs.filter(condition)


def can_view(obj: models.Model, user: Any) -> bool:
    """Whether ``user`` may see ``obj`` (a detail page, its image, its thumbnail)."""
    return visible_to(type(obj)._default_manager.filter(pk=obj.pk), user).exists()
