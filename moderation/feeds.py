"""Queryset helpers that put works into feeds by their moderation route.

Every helper takes a host queryset (``Artwork.objects.all()``, already filtered or ordered
as the host likes) and returns a filtered or annotated copy. They join
:class:`~moderation.models.ModerationCase` with ``Exists``/``Subquery`` on (content type,
object id as text), so the host's manager is never replaced and integer and UUID primary
keys both work.

Visibility fails closed: a work with no case, or whose case is ``held`` or ``hidden``, is
shown only to its uploader and to moderators -- never to anyone else, in any listing.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import CharField, Exists, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast, Concat, Substr

from moderation.conf import moderation_settings
from moderation.constants import AIFilter, Route
from moderation.models import ModerationCase, ViewerPreference

#: Routes whose works anyone may see.
PUBLIC_ROUTES = (Route.MAIN, Route.AI_FEED)
#: The permission that makes a user a moderator for visibility purposes.
MODERATOR_PERMISSION = "moderation.review_case"


class PkAsText(models.Func):
    """The outer row's primary key spelled as ``ModerationCase.object_id`` stores it.

    ``object_id`` holds ``str(pk)``. For integers a cast to text matches. A UUID cast to
    text matches on databases with a native uuid type (PostgreSQL prints the hyphenated
    form), but SQLite and MySQL store ``uuid.hex`` (32 hex digits), so there the hyphens
    are put back with ``substr``. Comparing this way keeps ``object_id``'s index usable;
    stripping hyphens from ``object_id`` instead would not.
    """

    output_field = CharField()

    def __init__(self, expression: Any, *, is_uuid: bool = False) -> None:
        cast = Cast(expression, output_field=CharField())
        if not is_uuid:
            super().__init__(cast)
            return
        pieces: list[Any] = []
        for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12)):
            if pieces:
                pieces.append(Value("-"))
            pieces.append(Substr(cast, start, length))
        super().__init__(cast, Concat(*pieces, output_field=CharField()))

    def as_sql(self, compiler: Any, connection: Any, function: Any = None,
               template: Any = None, arg_joiner: Any = None, **extra_context: Any) -> Any:
        sources = self.get_source_expressions()
        if len(sources) == 2 and not connection.features.has_native_uuid_field:
            return compiler.compile(sources[1])
        return compiler.compile(sources[0])


def content_type_for(model: type[models.Model]) -> ContentType:
    """The content type cases of ``model`` are filed under (proxy models keep their own)."""
    return ContentType.objects.get_for_model(model, for_concrete_model=False)


def case_for_outer(qs: QuerySet[Any]) -> QuerySet[ModerationCase]:
    """Cases of the outer query's current row, for use inside ``Exists``/``Subquery``."""
    model = qs.model
    is_uuid = isinstance(model._meta.pk, models.UUIDField)
    return ModerationCase.objects.filter(
        content_type=content_type_for(model),
        object_id=PkAsText(OuterRef("pk"), is_uuid=is_uuid),
    )


def _routed(qs: QuerySet[Any], *routes: str) -> QuerySet[Any]:
    return qs.filter(Exists(case_for_outer(qs).filter(route__in=routes)))


def annotate_moderation(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Add ``moderation_route``, ``moderation_label``, ``moderation_owner_id`` and
    ``moderation_created_at`` (None for works without a case) for templates and flood
    control."""
    cases = case_for_outer(qs)
    return qs.annotate(
        moderation_route=Subquery(cases.values("route")[:1]),
        moderation_label=Subquery(cases.values("label")[:1]),
        moderation_owner_id=Subquery(cases.values("owner_id")[:1]),
        moderation_created_at=Subquery(cases.values("created_at")[:1]),
    )


def public(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Works anyone may see: routed to new arrivals or the AI feed."""
    return _routed(qs, *PUBLIC_ROUTES)


def human_feed(qs: QuerySet[Any]) -> QuerySet[Any]:
    """New arrivals: works routed ``main`` (hand-made, and AI-assisted where the site
    routes those there)."""
    return _routed(qs, Route.MAIN)


def ai_feed(qs: QuerySet[Any]) -> QuerySet[Any]:
    """The AI feed: works routed ``ai_feed``."""
    return _routed(qs, Route.AI_FEED)


def is_moderator(user: Any) -> bool:
    """True for active users allowed to review cases (superusers included)."""
    return bool(user is not None and getattr(user, "is_active", False)
                and user.has_perm(MODERATOR_PERMISSION))


def visible_to(qs: QuerySet[Any], user: Any) -> QuerySet[Any]:
    """Works ``user`` may open: public ones, their own, or all of them for moderators.

    Use this for detail pages, thumbnails and search; use :func:`for_viewer` for feeds.
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


def viewer_ai_filter(user: Any) -> str:
    """The viewer's saved preference, or the site default (``VIEWER_DEFAULT_AI``)."""
    default = str(moderation_settings.VIEWER_DEFAULT_AI)
    if user is None or not getattr(user, "is_authenticated", False):
        return default
    pref = ViewerPreference.objects.filter(user_id=user.pk).values_list("ai_filter",
                                                                        flat=True).first()
    return pref or default


def apply_ai_filter(qs: QuerySet[Any], ai: str) -> QuerySet[Any]:
    """Filter to the feed ``ai`` names (one of :class:`AIFilter`'s values)."""
    if ai == AIFilter.ONLY:
        return ai_feed(qs)
    if ai == AIFilter.INCLUDE:
        return public(qs)
    if ai == AIFilter.EXCLUDE:
        return human_feed(qs)
    raise ValueError(f"unknown ai filter {ai!r}; expected one of {AIFilter.values}")


def for_viewer(qs: QuerySet[Any], user: Any, ai: str | None = None) -> QuerySet[Any]:
    """The feed ``user`` asked for: ``ai`` if given (``?ai=``), else their preference.

    Only public works appear, even for the uploader and moderators: feeds show what the
    public sees; held works live on the uploader's page and in the review queue.
    """
    return apply_ai_filter(qs, ai or viewer_ai_filter(user))
