"""URLs of the demo site."""

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from rest_framework.routers import SimpleRouter

from config.gallery.api import ArtworkViewSet
from config.gallery.models import Artwork
from moderation.feeds.urls import feed_urls

works_api = SimpleRouter()
works_api.register("works", ArtworkViewSet, basename="works")

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    # /healthz, /readyz, /metrics
    path("", include("moderation.ops.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("moderation/", include("moderation.urls")),
    path("api/", include(works_api.urls)),  # the public works list, cursor-paged
    path("api/", include("moderation.api.urls")),
    # Tegaki viewers/creators: creator opt-out forms, robots.txt, ai.txt,
    # /.well-known/tdmrep.json, thumbnails, media with opt-out headers + visibility check;
    # the feed preference and the RSS/Atom feeds.
    path("creator/", include("moderation.optout.creator_urls")),
    path("", include("moderation.optout.urls")),
    *feed_urls(Artwork, prefix="feeds/"),
    path("", include("config.gallery.urls")),
]
if settings.DEBUG:
    from django.conf.urls.static import static

    # The demo serves uploaded originals itself; production serves re-encoded
    # derivatives from a separate media domain (see the work page template).
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
