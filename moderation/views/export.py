"""Evidence export downloads: the moderator's (case page) and the uploader's (status page).

Both are POST: every export writes an audit entry, so a link in a foreign page must
not be able to trigger one. The bundle is in the request's language unless the form
names another of the site's languages (a creator may need an English copy for a
platform abroad).
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from moderation.evidence_export import MODERATOR, UPLOADER, Bundle, Viewer, export_case
from moderation.models import ModerationCase
from moderation.permissions import can_view_private
from moderation.registry import registry
from moderation.views.appeals import _owned_case
from moderation.views.common import moderator_required, signed_in
from moderation.views.files import harden

#: Exports allowed per account and window (count, seconds): each one reads and decodes the
#: file and walks the audit log, so a loop of them is refused before it costs anything.
EXPORT_LIMITS = {MODERATOR: (120, 60), UPLOADER: (20, 3600)}


def over_limit(user: object, audience: str) -> bool:
    """Count one export for ``user`` in the current window; True past the limit."""
    limit, window = EXPORT_LIMITS[audience]
    key = f"moderation:evidence-export:{audience}:{getattr(user, 'pk', '')}:" \
          f"{int(time.time() // window)}"
    cache.add(key, 0, window)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr: count this one as the first
        cache.set(key, 1, window)
        count = 1
    return count > limit


def too_many() -> HttpResponse:
    return HttpResponse(_("Too many evidence exports in a short time; try again later."),
                        status=429, content_type="text/plain; charset=utf-8")


def export_language(wanted: object = "") -> str:
    """``wanted`` (the posted ``language``) when the site offers it, else the request's
    language."""
    wanted = str(wanted or "")
    offered = {code for code, _name in settings.LANGUAGES}
    if wanted in offered:
        return wanted
    current = get_language() or settings.LANGUAGE_CODE
    return current if current in offered else settings.LANGUAGE_CODE


def work_url(request: HttpRequest | None, case: ModerationCase) -> str:
    """The work's page as an absolute address (a reader of the bundle is elsewhere)."""
    host = case.host_instance()
    if host is None:
        return ""
    url = registry.get_options(type(host)).get_url(host)
    return request.build_absolute_uri(url) if url and request is not None else url


def bundle_response(bundle: Bundle) -> HttpResponse:
    """The ZIP as a download that never renders in the browser."""
    response = HttpResponse(bundle.data, content_type="application/zip")
    response["Content-Disposition"] = content_disposition_header(True, bundle.filename)
    return harden(response)


@require_POST
@moderator_required
def case_export(request: HttpRequest, pk: int) -> HttpResponse:
    """A moderator's bundle of any case; prompts only when they may read them here."""
    case = get_object_or_404(ModerationCase.objects.select_related("content_type"), pk=pk)
    if over_limit(request.user, MODERATOR):
        return too_many()
    viewer = Viewer(MODERATOR, request.user, include_private=can_view_private(request.user,
                                                                              case))
    language = export_language(request.POST.get("language"))
    bundle = export_case(case, viewer, language=language,
                         work_url=work_url(request, case), site=request.get_host(),
                         via="case_page")
    return bundle_response(bundle)


@require_POST
@signed_in
def work_export(request: HttpRequest, model: str, object_id: str) -> HttpResponse:
    """The uploader's bundle of their own work (redacted); anyone else gets 404."""
    case = _owned_case(request, model, object_id)
    if over_limit(request.user, UPLOADER):
        return too_many()
    bundle = export_case(case, Viewer(UPLOADER, request.user),
                         language=export_language(request.POST.get("language")),
                         work_url=work_url(request, case), site=request.get_host(),
                         via="status_page")
    return bundle_response(bundle)
