"""DRF permission classes: role checks and object checks, delegating to moderation.permissions.

DRF does not call ``has_object_permission`` for list views or ``create``, so the views
also scope ``get_queryset()`` to what the user may see (no IDOR) and check ownership
when creating.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission

from moderation import permissions as rules
from moderation.models import Appeal, ModerationCase


class IsModerator(BasePermission):
    """Holders of ``moderation.review_case``; staff alone is not enough."""

    message = "Only moderators can do this."

    def has_permission(self, request: Any, view: Any) -> bool:
        return rules.is_moderator(request.user)


class CaseAccess(BasePermission):
    """Moderators see every case, uploaders their own (the queryset is scoped too)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(request.user and request.user.is_authenticated)

    def has_object_permission(self, request: Any, view: Any, obj: Any) -> bool:
        if isinstance(obj, ModerationCase):
            return rules.can_view_case(request.user, obj)
        if isinstance(obj, Appeal):
            return rules.can_view_appeal(request.user, obj)
        return False
