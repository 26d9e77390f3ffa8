"""Strikes and what they do to an account's new uploads.

Escalation is configured by ``MODERATION["STRIKE_ESCALATION"]`` (default: warn, then
hold every new upload for review for ``STRIKE_HOLD_DAYS``, then suspend uploads until a
moderator lifts it). The pipeline passes :func:`standing` to the policy, which holds a
held account's new works so they never reach a public feed before a moderator sees them.

Only :func:`record_strike` creates strikes, and it insists on a human actor with the
review permission: a classifier score alone can never count against anyone.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.constants import StandingLevel
from moderation.evidence import CLEAN_STANDING, Standing
from moderation.models import ModerationCase, Strike
from moderation.permissions import is_moderator

WARN, HOLD, SUSPEND = StandingLevel.WARN, StandingLevel.HOLD, StandingLevel.SUSPEND
LEVELS = (WARN, HOLD, SUSPEND)


def active_strikes(user: Any) -> QuerySet[Strike]:
    """Strikes that count: not revoked by an appeal and (if configured) not expired."""
    qs = Strike.objects.filter(user=user, revoked_at__isnull=True)
    days = moderation_settings.STRIKE_EXPIRY_DAYS
    if days is not None:
        qs = qs.filter(created_at__gte=timezone.now() - timedelta(days=days))
    return qs.order_by("created_at", "id")


def level_for(count: int) -> str:
    """Map the number of active strikes to its configured consequence."""
    if count <= 0:
        return ""
    levels = list(moderation_settings.STRIKE_ESCALATION)
    level = levels[min(count, len(levels)) - 1]
    if level not in LEVELS:
        raise ValueError(f"MODERATION['STRIKE_ESCALATION'] has unknown level {level!r}")
    return str(level)


def standing(user: Any) -> Standing:
    """Compute ``user``'s standing now from their active strikes."""
    if user is None or getattr(user, "pk", None) is None:
        return CLEAN_STANDING
    strikes = list(active_strikes(user))
    level = level_for(len(strikes))
    if level == SUSPEND and strikes[-1].lifted_at is not None:
        # A moderator lifted the suspension: the account falls back to a hold.
        level = HOLD
    held_until = None
    if level == HOLD:
        start = strikes[-1].lifted_at or strikes[-1].created_at
        held_until = start + timedelta(days=moderation_settings.STRIKE_HOLD_DAYS)
        if held_until <= timezone.now():
            level = WARN
    return Standing(len(strikes), level, held_until)


def record_strike(case: ModerationCase, actor: Any, *, reason: str = "undisclosed_ai",
                  note: str = "") -> Strike:
    """Record a strike against ``case``'s uploader; call inside the action's transaction."""
    if actor is None or not is_moderator(actor):
        raise PermissionDenied("Only a moderator's decision can record a strike.")
    if case.owner_id is None:
        raise ValueError("this case has no uploader to strike")
    return Strike.objects.create(user_id=case.owner_id, case=case, reason=reason,
                                 note=note, created_by=actor)


def can_upload(user: Any) -> bool:
    """False while uploads are suspended; host upload forms and the API may refuse early."""
    return not standing(user).suspended
