"""Readiness checks: can this process serve uploads right now?

Each check is cheap (one ``SELECT 1``, one broker connection with a one-second timeout,
the detectors' own configuration checks, which read the bundle's JSON but never build
an inference session) so a load balancer may call ``/readyz`` every few seconds. The
reason a check failed is logged, never returned: the probe is unauthenticated.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from celery import current_app
from django.db import connections

from moderation.detectors import detectors

logger = logging.getLogger(__name__)

#: Seconds the broker check waits for a connection.
BROKER_TIMEOUT = 1.0


@dataclass(frozen=True)
class Check:
    """One readiness check: its name, whether it passed, and why not (for logs only)."""

    name: str
    ok: bool
    detail: str = ""


def check_database(alias: str = "default") -> Check:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "not ready"
        return Check("database", False, f"{type(exc).__name__}: {exc}")
    return Check("database", True)


def check_broker(timeout: float = BROKER_TIMEOUT) -> Check:
    """Open (and close) one connection to the broker the scans are published to."""
    try:
        with current_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0,
                                   timeout=timeout)
    except Exception as exc:  # kombu raises several unrelated types for "broker down"
        return Check("broker", False, f"{type(exc).__name__}: {exc}")
    return Check("broker", True)


def check_detectors() -> Check:
    """Every configured detector builds and its own checks report no error.

    For the ONNX classifier that means the model bundle is present and valid; a detector
    that is configured off (no bundle on purpose) is a warning in its check, not an error.
    """
    problems: list[str] = []
    try:
        for detector in detectors.all():
            problems += [f"{detector.alias}: {m.msg}" for m in detector.check()
                         if m.is_serious()]
    except Exception as exc:  # a detector that cannot even be built
        problems.append(f"{type(exc).__name__}: {exc}")
    return Check("detectors", not problems, "; ".join(problems))


def readiness() -> list[Check]:
    """All readiness checks, failures logged at WARNING with their reason."""
    results = [check_database(), check_broker(), check_detectors()]
    for result in results:
        if not result.ok:
            logger.warning("readiness check %s failed: %s", result.name, result.detail)
    return results
