"""Signals the host gives about who reporters are: the ``REPORT_CLUSTER_KEYS`` hook.

The hook is a callable(request) returning strings that name clusters the reporter
belongs to (an IP range, a device id from the host's own fingerprinting, a payment
instrument...). Reports on one work sharing any key share one weight. Keys are stored as
keyed hashes, never as given, so the report table holds no IP address or device id.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from django.utils.crypto import salted_hmac

from moderation.conf import moderation_settings


def ip_prefix(request: Any) -> list[str]:
    """A ready-made hook: the client's IPv4 /24 or IPv6 /48 (from ``REMOTE_ADDR``; a site
    behind a proxy that rewrites it should pass its own hook)."""
    raw = str(getattr(request, "META", {}).get("REMOTE_ADDR") or "")
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return []
    bits = 24 if address.version == 4 else 48
    return [f"ip:{ipaddress.ip_network(f'{address}/{bits}', strict=False)}"]


def hashed(key: str) -> str:
    return salted_hmac("moderation.reports.cluster", key).hexdigest()[:32]


def cluster_keys(request: Any) -> list[str]:
    """The hashed keys the configured hook gives for ``request`` (none without a hook)."""
    hook = moderation_settings.REPORT_CLUSTER_KEYS
    if hook is None or request is None:
        return []
    return sorted({hashed(str(key)) for key in hook(request) or () if str(key)})[:20]


def anonymous_key(session_key: str) -> str:
    """The stored identity of an anonymous reporter: a keyed hash of their session."""
    return salted_hmac("moderation.reports.anonymous", session_key).hexdigest()[:64]
