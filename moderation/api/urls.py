"""API routes; include under a prefix: ``path("api/", include("moderation.api.urls"))``."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.permissions import AllowAny
from rest_framework.routers import DefaultRouter
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from moderation.api.views import AppealViewSet, CaseViewSet, QueueViewSet


class SchemaView(SpectacularAPIView):
    """The OpenAPI document; public on purpose (it describes, it exposes no data)."""

    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle, UserRateThrottle]


router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("moderation", CaseViewSet, basename="moderation-case")
router.register("queue", QueueViewSet, basename="moderation-queue")
router.register("appeals", AppealViewSet, basename="moderation-appeal")

app_name = "moderation-api"
urlpatterns = [
    path("", include(router.urls)),
    path("schema/", SchemaView.as_view(), name="schema"),
]
