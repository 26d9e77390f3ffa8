"""A minimal host site for the viewers/creators tests: every listing path a real site has
(feed, search, detail, API list/detail, RSS/Atom, sitemap, thumbnails, media), each built
only from the app's public helpers, the way the README tells hosts to wire them."""

from __future__ import annotations

from typing import Any

from django.contrib.sitemaps.views import sitemap
from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path
from rest_framework import permissions, routers, serializers, viewsets

from moderation.api.fields import ModerationLabelField
from moderation.api.pagination import FeedCursorPagination
from moderation.feeds.bursts import collapse_page
from moderation.feeds.queries import for_viewer
from moderation.feeds.sitemaps import ModeratedSitemap
from moderation.feeds.urls import feed_urls
from moderation.filters import AIFilterBackend
from moderation.labels import prefetch_cases
from moderation.optout.views import serve_media
from moderation.visibility import visible_to
from tests.testapp.models import Artwork

PAGE = """{% load moderation_tags %}<!doctype html><html><head><title>feed</title>
{% training_optout_meta works %}</head><body>
<nav id="ai-filter">{% ai_filter_choices %}</nav>
<form id="pref" method="post" action="/feed-preference/">{% csrf_token %}
<select name="ai" id="pref-ai"><option value="exclude">hide</option>
<option value="include">all</option><option value="only">only</option></select>
<button id="pref-save" type="submit">save</button></form>
<ul id="feed">{% for tile in tiles %}<li class="tile" data-pk="{{ tile.work.pk }}"
 data-ai="{{ tile.is_ai|yesno:'1,0' }}"><span class="tool">{{ tile.work.tool }}</span>
{% moderation_label tile.work %}<img alt="" src="{% work_thumbnail_url tile.work %}">
{% if tile.more %}<span class="more">{{ tile.more_text }}</span>{% endif %}</li>
{% endfor %}</ul></body></html>"""

DETAIL = """{% load moderation_tags %}<!doctype html><html><head>
{% training_optout_meta work %}</head><body><h1>{{ work.tool }}</h1>
{% moderation_label work %}<img alt="" src="{% work_thumbnail_url work %}"></body></html>"""


def _render(request: HttpRequest, source: str, context: dict[str, Any]) -> HttpResponse:
    template = engines["django"].from_string(source)
    return HttpResponse(template.render(context, request))


def feed(request: HttpRequest) -> HttpResponse:
    qs = for_viewer(Artwork.objects.order_by("-pk"), request.user,
                    ai=request.GET.get("ai") or None, session=request.session)
    page = collapse_page(qs, page_size=int(request.GET.get("size", 20)))
    works = [t.work for t in page.tiles]
    prefetch_cases(works)
    return _render(request, PAGE, {"tiles": page.tiles, "works": works})


def search(request: HttpRequest) -> HttpResponse:
    qs = Artwork.objects.filter(tool__icontains=request.GET.get("q", "")).order_by("-pk")
    works = list(for_viewer(qs, request.user, ai="include"))
    page = {"tiles": [type("T", (), {"work": w, "is_ai": False, "more": 0})() for w in works],
            "works": works}
    return _render(request, PAGE, page)


def detail(request: HttpRequest, pk: int) -> HttpResponse:
    work = visible_to(Artwork.objects.filter(pk=pk), request.user).first()
    if work is None:
        raise Http404
    return _render(request, DETAIL, {"work": work})


class ArtworkSerializer(serializers.ModelSerializer):
    label = ModerationLabelField()

    class Meta:
        model = Artwork
        fields = ["id", "tool", "label"]


class ArtworkViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ArtworkSerializer
    filter_backends = [AIFilterBackend]
    pagination_class = FeedCursorPagination
    permission_classes = [permissions.AllowAny]
    queryset = Artwork.objects.order_by("-pk")


class ArtSitemap(ModeratedSitemap):
    model = Artwork

    def location(self, item: Artwork) -> str:
        return f"/works/{item.pk}/"


router = routers.SimpleRouter()
router.register("api/works", ArtworkViewSet, basename="artwork")

urlpatterns = [
    path("", feed, name="feed"),
    path("search/", search, name="search"),
    path("works/<int:pk>/", detail, name="detail"),
    path("sitemap.xml", sitemap, {"sitemaps": {"works": ArtSitemap}}, name="sitemap"),
    path("media/<path:path>", serve_media, name="media"),
    path("creator/", include("moderation.optout.creator_urls")),
    path("", include("moderation.optout.urls")),
    *feed_urls(Artwork, prefix="feeds/"),  # also feed-preference/
    *router.urls,
]
