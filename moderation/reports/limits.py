"""Rate limits on sending reports, per account and per IP address, in the Django cache.

Counted per clock hour (a fixed window): ``cache.add`` then ``cache.incr`` are atomic on
Redis and Memcached, so parallel requests cannot all slip under the limit there.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import caches

from moderation.conf import moderation_settings

WINDOW_SECONDS = 3600


def _hit(key: str, limit: int) -> bool:
    """Count one attempt under ``key``; False once the window already holds ``limit``."""
    cache = caches[moderation_settings.REPORT_RATE_CACHE]
    window = int(time.time() // WINDOW_SECONDS)
    full = f"tegaki:report-rate:{key}:{window}"
    cache.add(full, 0, WINDOW_SECONDS + 60)
    try:
        count = cache.incr(full)
    except ValueError:  # evicted between add and incr
        cache.set(full, 1, WINDOW_SECONDS + 60)
        count = 1
    return int(count) <= limit


def allow(user: Any, ip: str) -> bool:
    """Count this report attempt for the account and the address; False if over a limit."""
    ok = True
    if user is not None and getattr(user, "pk", None):
        ok = _hit(f"user:{user.pk}", int(moderation_settings.REPORT_RATE_PER_ACCOUNT))
    if ip:
        ok = _hit(f"ip:{ip}", int(moderation_settings.REPORT_RATE_PER_IP)) and ok
    return ok
