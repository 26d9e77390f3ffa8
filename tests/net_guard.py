"""Which hosts the no-egress tests accept: loopback only.

Plain standard library on purpose: the SSRF canary test's child process imports it from
its ``sitecustomize`` before Django (or anything else) is loaded.
"""

from __future__ import annotations

import ipaddress
from typing import Any


def is_loopback(host: Any) -> bool:
    """Return True for ``localhost`` and loopback addresses (IPv6 zone ids ignored)."""
    if not isinstance(host, str):
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False
