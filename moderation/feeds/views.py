"""The one view a viewer needs: save "hide AI / show all / AI only".

Mounted by :func:`moderation.feeds.urls.feed_urls` as ``feed-preference/`` (URL name
``moderation_set_ai_filter``); POST ``ai=<exclude|include|only>`` and optional ``next``.
Signed-in viewers get it saved; anonymous viewers are sent back with ``?ai=`` (their feed
is the site default otherwise).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseRedirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from moderation.constants import AIFilter
from moderation.models import ViewerPreference


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
        return HttpResponseRedirect(target)
    sep = "&" if "?" in target else "?"
    return HttpResponseRedirect(f"{target}{sep}{urlencode({'ai': ai})}")
