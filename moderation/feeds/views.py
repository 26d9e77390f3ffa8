"""The viewer's views: save "hide AI / show all / AI only", and the feeds index.

Mounted by :func:`moderation.feeds.urls.feed_urls` as ``feed-preference/`` (URL name
``moderation_set_ai_filter``); POST ``ai=<exclude|include|only>`` and optional ``next``.
Signed-in viewers get it saved on their account; anonymous viewers get it saved in their
session (a cookie), so it holds on the next page and the next visit.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from moderation.conf import moderation_settings
from moderation.constants import AIFilter
from moderation.feeds.queries import SESSION_KEY, feed_scope
from moderation.models import ViewerPreference

#: The feeds in URL order: (slug, ``?ai=`` value), and their names.
FEEDS = (("new", AIFilter.EXCLUDE), ("ai", AIFilter.ONLY))
FEED_TITLES = {"new": _("New arrivals"), "ai": _("AI feed")}


@require_GET
def feeds_index(request: HttpRequest, name_prefix: str = "moderation_feed") -> HttpResponse:
    """Every feed, what it shows, and its RSS and Atom addresses (the page ``/feeds/``)."""
    feeds = []
    for slug, ai in FEEDS:
        feeds.append({"slug": slug, "title": FEED_TITLES[slug], "scope": feed_scope(ai),
                      "rss": request.build_absolute_uri(reverse(f"{name_prefix}_{slug}_rss")),
                      "atom": request.build_absolute_uri(
                          reverse(f"{name_prefix}_{slug}_atom"))})
    return render(request, "moderation/feeds_index.html", {
        "base_template": moderation_settings.PAGE_BASE_TEMPLATE, "feeds": feeds})


@require_POST
def set_ai_filter(request: HttpRequest) -> HttpResponseRedirect | HttpResponseBadRequest:
    ai = request.POST.get("ai", "")
    if ai not in AIFilter.values:
        return HttpResponseBadRequest("ai must be one of: " + ", ".join(AIFilter.values))
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    if request.user.is_authenticated:
        ViewerPreference.objects.update_or_create(user=request.user, defaults={"ai_filter": ai})
    else:
        request.session[SESSION_KEY] = ai
    return HttpResponseRedirect(target)
