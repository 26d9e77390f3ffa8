"""The moderator pages and the creator's pages, as a host mounts them."""

from django.urls import include, path

urlpatterns: list = [
    path("moderation/", include("moderation.urls")),
    path("creator/", include("moderation.optout.creator_urls")),
]
