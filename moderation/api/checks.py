"""Deployment checks for the API settings (``manage.py check --deploy``).

DRF's own defaults are ``AllowAny``, no throttling and no pagination, and its client-IP
key trusts every ``X-Forwarded-For`` hop unless ``NUM_PROXIES`` is set. Each view of
``moderation.api`` declares its own classes, but the rest of a host's API inherits the
defaults, so an operator is told about them before going live.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

ALLOW_ANY = "rest_framework.permissions.AllowAny"


@checks.register(checks.Tags.security, deploy=True)
def check_rest_framework(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.conf import settings

    if "rest_framework" not in settings.INSTALLED_APPS:
        return []
    rf = getattr(settings, "REST_FRAMEWORK", {}) or {}
    out: list[checks.CheckMessage] = []
    perms = rf.get("DEFAULT_PERMISSION_CLASSES", [ALLOW_ANY])
    if not perms or ALLOW_ANY in [p if isinstance(p, str) else
                                  f"{p.__module__}.{p.__qualname__}" for p in perms]:
        out.append(checks.Warning(
            "REST_FRAMEWORK['DEFAULT_PERMISSION_CLASSES'] allows anyone (DRF's default).",
            hint="Set it to ['rest_framework.permissions.IsAuthenticated'] or stricter.",
            id="moderation.W030"))
    if not rf.get("DEFAULT_THROTTLE_CLASSES"):
        out.append(checks.Warning(
            "REST_FRAMEWORK has no DEFAULT_THROTTLE_CLASSES.",
            hint="Add AnonRateThrottle and UserRateThrottle with DEFAULT_THROTTLE_RATES.",
            id="moderation.W031"))
    if not rf.get("DEFAULT_PAGINATION_CLASS"):
        out.append(checks.Warning(
            "REST_FRAMEWORK has no DEFAULT_PAGINATION_CLASS: list endpoints are unbounded.",
            hint="Use 'moderation.api.pagination.ModerationPagination' or your own.",
            id="moderation.W032"))
    if rf.get("NUM_PROXIES") is None:
        out.append(checks.Warning(
            "REST_FRAMEWORK['NUM_PROXIES'] is not set: throttles key on a client-supplied "
            "X-Forwarded-For header.",
            hint="Set NUM_PROXIES to the number of reverse proxies in front of Django (0 if "
                 "none).", id="moderation.W033"))
    return out


@checks.register()
def check_api_docs(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The API's documentation page loads Swagger UI from the sidecar app."""
    from django.conf import settings

    if "drf_spectacular" not in settings.INSTALLED_APPS:
        return []
    if "drf_spectacular_sidecar" in settings.INSTALLED_APPS:
        return []
    return [checks.Warning(
        "'drf_spectacular_sidecar' is not in INSTALLED_APPS: the API documentation page "
        "(/api/docs/) cannot load Swagger UI.",
        hint="Add 'drf_spectacular_sidecar' to INSTALLED_APPS (it ships with Tegaki).",
        id="moderation.W034")]
