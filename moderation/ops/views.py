"""``/healthz``, ``/readyz`` and ``/metrics``: unauthenticated, cheap, never cached.

The probes answer with a status word per check and nothing else (no versions, no hosts,
no error text). ``/metrics`` is open unless ``MODERATION["METRICS_TOKEN"]`` is set, in
which case a scraper sends ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from moderation.conf import moderation_settings
from moderation.ops.health import readiness
from moderation.ops.metrics import registry


@never_cache
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """The process is up and serving requests (no dependency is asked)."""
    return HttpResponse("ok\n", content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Database, broker and detectors ready: 200, else 503 naming the failed checks."""
    checks = readiness()
    ready = all(check.ok for check in checks)
    return JsonResponse(
        {"status": "ready" if ready else "not ready",
         "checks": {check.name: "ok" if check.ok else "fail" for check in checks}},
        status=200 if ready else 503)


def _authorised(request: HttpRequest) -> bool:
    token = moderation_settings.METRICS_TOKEN
    if not token:
        return True
    sent = request.headers.get("Authorization", "")
    return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())


@never_cache
@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition of :mod:`moderation.ops.metrics`."""
    if not _authorised(request):
        return HttpResponse("unauthorised\n", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": "Bearer"})
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)
