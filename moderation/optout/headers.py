"""The HTTP and HTML forms of a reservation, and the per-request record pages keep.

A page that shows works calls :func:`mark` (the ``training_optout_meta`` template tag
does) so the middleware knows which works the response carries; a page that marked no
work follows the site default.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models
from django.http import HttpRequest, HttpResponseBase

from moderation.conf import moderation_settings
from moderation.optout.policy import Reservation, resolve_many, site_reserved
from moderation.registry import registry

#: The robots directives DeviantArt introduced and image crawlers honour.
ROBOTS_DIRECTIVES = "noai, noimageai"
ATTR_WORKS = "_moderation_training_works"
ATTR_DONE = "_moderation_training_done"


def mark(request: HttpRequest | None, objs: Iterable[models.Model]) -> bool:
    """Record that this response shows ``objs``; return whether any of them is reserved."""
    # Objects of unregistered models (a page may pass a mixed list) carry no reservation.
    items = [o for o in objs if isinstance(o, models.Model) and o.pk is not None
             and registry.is_registered(type(o))]
    reservations = resolve_many(items)
    if request is not None:
        seen: list[tuple[models.Model, Reservation]] = getattr(request, ATTR_WORKS, [])
        seen.extend((o, reservations[(type(o), str(o.pk))]) for o in items)
        setattr(request, ATTR_WORKS, seen)
    return any(r.reserved for r in reservations.values())


def marked(request: HttpRequest) -> list[tuple[models.Model, Reservation]]:
    return list(getattr(request, ATTR_WORKS, []))


def request_reserved(request: HttpRequest) -> bool:
    """Reserved if any marked work is; with nothing marked, the site default decides."""
    works = marked(request)
    if not works:
        return site_reserved()
    return any(r.reserved for _obj, r in works)


def apply_headers(response: HttpResponseBase, reserved: bool) -> HttpResponseBase:
    """Add ``X-Robots-Tag`` and TDMRep headers when ``reserved`` (nothing otherwise: absence
    means "not reserved"); an existing ``X-Robots-Tag`` is extended, never replaced."""
    if reserved:
        existing = response.headers.get("X-Robots-Tag")
        response.headers["X-Robots-Tag"] = (f"{existing}, {ROBOTS_DIRECTIVES}" if existing
                                            else ROBOTS_DIRECTIVES)
        response.headers["tdm-reservation"] = "1"
        policy = moderation_settings.TDM_POLICY_URL
        if policy:
            response.headers["tdm-policy"] = str(policy)
    setattr(response, ATTR_DONE, True)
    return response


def already_applied(response: Any) -> bool:
    return bool(getattr(response, ATTR_DONE, False))
