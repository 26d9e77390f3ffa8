"""Who may do what: one place for role and object checks used by pages, admin and API.

Roles come from Django permissions, never from ``is_staff`` alone: staff without the
``moderation.review_case`` permission (e.g. via a "moderators" group) are not moderators.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from moderation.conf import moderation_settings
from moderation.constants import Label, ProcessingState, Route

if TYPE_CHECKING:
    from moderation.models import Appeal, ModerationCase

REVIEW_PERM = "moderation.review_case"
PRIVATE_PERM = "moderation.view_private_evidence"


def is_moderator(user: Any) -> bool:
    """Active user holding ``moderation.review_case`` (superusers hold every permission).

    The one moderator test: pages, admin, the API, labels and the visibility rule all ask
    it, so they never disagree about who is a moderator.
    """
    return bool(user and user.is_authenticated and user.is_active
                and user.has_perm(REVIEW_PERM))


def owns_case(user: Any, case: ModerationCase) -> bool:
    return bool(user and user.is_authenticated and case.owner_id == user.pk)


def conflict_of_interest(user: Any, case: ModerationCase) -> bool:
    """A moderator may not decide their own upload."""
    return owns_case(user, case)


def claim_is_live(case: ModerationCase) -> bool:
    """True if ``case`` is claimed and the claim is younger than CLAIM_TIMEOUT_SECONDS."""
    if case.claimed_by_id is None or case.claimed_at is None:
        return False
    ttl = timedelta(seconds=moderation_settings.CLAIM_TIMEOUT_SECONDS)
    return timezone.now() - case.claimed_at < ttl


def held_by_other(user: Any, case: ModerationCase) -> bool:
    """Another moderator holds a live claim on ``case``."""
    return claim_is_live(case) and case.claimed_by_id != getattr(user, "pk", None)


def can_view_case(user: Any, case: ModerationCase) -> bool:
    return is_moderator(user) or owns_case(user, case)


def can_view_private(user: Any, case: ModerationCase) -> bool:
    """Prompts and raw metadata: moderators with the private permission *assigned* to the
    case (holding its claim), or superusers. Never the uploader through this app."""
    if not (is_moderator(user) and user.has_perm(PRIVATE_PERM)):
        return False
    if user.is_superuser:
        return True
    return claim_is_live(case) and case.claimed_by_id == user.pk


def can_appeal(user: Any, case: ModerationCase) -> bool:
    """The uploader may appeal a finished case that was labelled AI-ish or kept out of view."""
    if not owns_case(user, case) or case.state != ProcessingState.DONE:
        return False
    return case.label in {Label.AI, Label.AI_ASSISTED, Label.UNCERTAIN} or case.route in {
        Route.HELD, Route.HIDDEN}


def can_view_appeal(user: Any, appeal: Appeal) -> bool:
    return is_moderator(user) or (user.is_authenticated and appeal.user_id == user.pk)
