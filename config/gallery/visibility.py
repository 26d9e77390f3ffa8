"""Which works a viewer may see, decided by each work's ``ModerationCase`` route.

The case lives in the ``moderation`` app and points back at the work through a generic
relation whose ``object_id`` is text (so UUID hosts work too). We therefore filter with
``Exists``/``Subquery`` on the case table, matching the content type and the work's
primary key cast to text, instead of swapping the model's manager: a host site keeps
its own managers and only the listing views opt in.
"""

from __future__ import annotations

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Exists, OuterRef, QuerySet, Subquery
from django.db.models.functions import Cast

from config.gallery.models import Artwork
from moderation.constants import Route
from moderation.models import ModerationCase

#: Routes whose works anyone may see; everything else (held, hidden) is owner-only.
PUBLIC_ROUTES = frozenset({Route.MAIN, Route.AI_FEED})


def cases_for_works() -> QuerySet[ModerationCase]:
    """Return the cases correlated with the outer ``Artwork`` row of a query."""
    return ModerationCase.objects.filter(
        content_type=ContentType.objects.get_for_model(Artwork, for_concrete_model=False),
        object_id=Cast(OuterRef("pk"), output_field=CharField()),
    )


def with_case_fields(works: QuerySet[Artwork]) -> QuerySet[Artwork]:
    """Annotate each work with its case's label, names and state for the tiles."""
    cases = cases_for_works()
    fields: dict[str, Any] = {
        f"case_{name}": Subquery(cases.values(name)[:1])
        for name in ("label", "route", "state", "generator", "model_name")
    }
    return works.annotate(**fields)


def on_route(works: QuerySet[Artwork], route: str) -> QuerySet[Artwork]:
    """Return the works whose case is on ``route``; works without a case are excluded."""
    return with_case_fields(works.filter(Exists(cases_for_works().filter(route=route))))


def new_arrivals(works: QuerySet[Artwork] | None = None) -> QuerySet[Artwork]:
    """Return the works routed to new arrivals (hand-made, or AI-assisted if the site says)."""
    return on_route(Artwork.objects.all() if works is None else works, Route.MAIN)


def ai_feed(works: QuerySet[Artwork] | None = None) -> QuerySet[Artwork]:
    """Return the works routed to the AI feed."""
    return on_route(Artwork.objects.all() if works is None else works, Route.AI_FEED)


def can_view(work: Artwork, case: ModerationCase | None, user: Any) -> bool:
    """Return True if ``user`` may open ``work``'s page.

    Held, hidden and still-pending works are shown to their uploader (so they can follow
    the check) and to moderators, and to nobody else.
    """
    if case is not None and case.route in PUBLIC_ROUTES:
        return True
    if not user.is_authenticated:
        return False
    return bool(work.author_id == user.pk or user.has_perm("moderation.review_case"))
