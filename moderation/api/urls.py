"""API routes; include under a prefix: ``path("api/", include("moderation.api.urls"))``.

Besides the endpoints: the API root (``""``, what is where), the OpenAPI document
(``schema/``, JSON for browsers, YAML on ``Accept: application/yaml``) and its
documentation page, Swagger UI at ``docs/``, served from the ``drf_spectacular_sidecar``
app's static files (add it to ``INSTALLED_APPS``). Redoc is left out: drf-spectacular's
Redoc page loads web fonts from Google, and these pages load nothing from elsewhere.
"""

from __future__ import annotations

from typing import Any

from django.urls import include, path
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.routers import DefaultRouter
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView

from moderation.api.reports import ReportViewSet
from moderation.api.views import AppealViewSet, CaseViewSet, QueueViewSet

#: Public pages that describe the API and expose no data.
PUBLIC = {"permission_classes": [AllowAny],
          "throttle_classes": [AnonRateThrottle, UserRateThrottle]}


class SchemaView(SpectacularAPIView):
    """The OpenAPI document; public on purpose (it describes, it exposes no data).

    JSON comes first so a browser shows it instead of downloading a file; tools that ask
    for YAML (``Accept: application/yaml`` or ``?format=yaml``) still get it.
    """

    permission_classes = PUBLIC["permission_classes"]
    throttle_classes = PUBLIC["throttle_classes"]
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiYamlRenderer,
                        OpenApiYamlRenderer2]


class DocsView(SpectacularSwaggerView):
    """Swagger UI over the schema, from the sidecar's static files."""

    permission_classes = PUBLIC["permission_classes"]
    throttle_classes = PUBLIC["throttle_classes"]
    url_name = "moderation-api:schema"


class ApiRoot(APIView):
    """What is where: every endpoint of the moderation API and its documentation."""

    permission_classes = PUBLIC["permission_classes"]
    throttle_classes = PUBLIC["throttle_classes"]

    @extend_schema(exclude=True)
    def get(self, request: Request, format: Any = None) -> Response:
        def url(name: str) -> str:
            return reverse(f"moderation-api:{name}", request=request, format=format)

        return Response({
            "moderation": url("moderation-case-list"),
            "queue": url("moderation-queue-list"),
            "appeals": url("moderation-appeal-list"),
            "reports": url("moderation-report-list"),
            "schema": url("schema"),
            "docs": url("docs"),
        })


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("moderation", CaseViewSet, basename="moderation-case")
router.register("queue", QueueViewSet, basename="moderation-queue")
router.register("appeals", AppealViewSet, basename="moderation-appeal")
router.register("reports", ReportViewSet, basename="moderation-report")

app_name = "moderation-api"
urlpatterns = [
    path("", ApiRoot.as_view(), name="root"),
    path("", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(), name="docs"),
]
