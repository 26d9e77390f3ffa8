"""The demo site's test routes (gallery, moderation pages, feeds) plus the API."""

from django.urls import include, path

from tests.demo_urls import urlpatterns as demo_patterns

urlpatterns = [*demo_patterns, path("api/", include("moderation.api.urls"))]
