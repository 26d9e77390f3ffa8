"""Scoped throttles with built-in default rates.

DRF's ``ScopedRateThrottle`` raises ImproperlyConfigured when the host's settings lack the
scope; these fall back to :data:`DEFAULT_RATES` so the API is throttled out of the box.
Throttles are a speed bump, not a quota (DRF's caches are not atomic): the appeal path
also has a hard per-user count checked inside its transaction.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import ScopedRateThrottle

DEFAULT_RATES = {
    "moderation_read": "600/min",
    "moderation_write": "120/min",
    "moderation_appeal": "20/hour",
    "moderation_report": "60/hour",
}


class ModerationScopedThrottle(ScopedRateThrottle):
    """``ScopedRateThrottle`` whose rate defaults to :data:`DEFAULT_RATES`."""

    def get_rate(self) -> str | None:
        rates: dict[str, str | None] = api_settings.DEFAULT_THROTTLE_RATES or {}
        scope = str(self.scope)
        return rates.get(scope) or DEFAULT_RATES.get(scope)

    def allow_request(self, request: Any, view: Any) -> bool:
        self.scope = getattr(view, "throttle_scope", None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super(ScopedRateThrottle, self).allow_request(request, view)
