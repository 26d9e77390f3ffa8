"""Mount at the site root: ``path("", include("moderation.ops.urls"))``."""

from __future__ import annotations

from django.urls import path

from moderation.ops import views

urlpatterns = [
    path("healthz", views.healthz, name="moderation_healthz"),
    path("readyz", views.readyz, name="moderation_readyz"),
    path("metrics", views.metrics, name="moderation_metrics"),
]
