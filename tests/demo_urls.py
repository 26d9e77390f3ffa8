"""URLs for ``tests.demo_settings``: the demo site's own pages, login, language, media.

Only the routes the gallery needs are mounted (not all of ``config.urls``): its pages, and
the moderation pages it links to (the uploader's status page, the queue for moderators).
``config.urls`` serves media only when DEBUG is on and the test runner turns DEBUG off,
so media is routed here explicitly for the browser test.
"""

from django.conf import settings
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.static import serve

from config.gallery.models import Artwork
from moderation.feeds.urls import feed_urls

urlpatterns: list[URLPattern | URLResolver] = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("moderation/", include("moderation.urls")),
    # The feeds' "save as my default" form posts here, and the feeds, as in config.urls.
    *feed_urls(Artwork, prefix="feeds/"),
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
    path("", include("config.gallery.urls")),
]
