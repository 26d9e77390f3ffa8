"""The per-account AI quota: ``AI_DAILY_QUOTA`` AI-generated uploads per rolling 24 hours.

Checked at upload time (``AIDeclarationFormMixin`` calls :func:`check_ai_quota`): it
bounds how many AI works one account adds to the AI feed in a day, where burst collapsing
(:mod:`moderation.feeds.bursts`) only bounds how much of a page they take.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label
from moderation.models import ModerationCase


class AIQuotaExceeded(ValidationError):
    """Raised by :func:`check_ai_quota`; a ``ValidationError`` so forms show it."""


def ai_uploads_last_day(user: Any) -> int:
    """AI-generated works (declared or detected) the account opened in the last 24 h."""
    since = timezone.now() - timedelta(days=1)
    return ModerationCase.objects.filter(owner_id=user.pk, created_at__gte=since).filter(
        Q(declaration=Declaration.AI) | Q(label=Label.AI)).count()


def ai_quota_remaining(user: Any) -> int | None:
    """Uploads left today, or None when ``AI_DAILY_QUOTA`` is off."""
    quota = moderation_settings.AI_DAILY_QUOTA
    if quota is None or user is None or not getattr(user, "is_authenticated", False):
        return None
    return max(0, int(quota) - ai_uploads_last_day(user))


def check_ai_quota(user: Any) -> None:
    """Raise :class:`AIQuotaExceeded` if ``user`` may not upload another AI work today."""
    remaining = ai_quota_remaining(user)
    if remaining is not None and remaining <= 0:
        raise AIQuotaExceeded(
            _("You have reached today's limit of %(quota)d AI-generated uploads. "
              "Please try again tomorrow."),
            code="ai_quota", params={"quota": int(moderation_settings.AI_DAILY_QUOTA)},
        )
