"""The review queue page and its bulk actions."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from moderation import actions as A
from moderation.conf import moderation_settings
from moderation.labels import evidence_text
from moderation.models import ModerationCase
from moderation.queue import AGE_CHOICES, QueueFilters, category_of, detectors_seen
from moderation.queue import review_queue as build_queue
from moderation.reasons import QUEUE_CATEGORIES
from moderation.views.common import moderator_required
from moderation.views.presenters import present_reasons


@require_GET
@moderator_required
def review_queue(request: HttpRequest) -> HttpResponse:
    filters = QueueFilters.from_params(request.GET)
    qs = build_queue(filters, user=request.user).prefetch_related("evidence")
    page = Paginator(qs, moderation_settings.QUEUE_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [{"case": c, "category": category_of(c, c.has_open_appeal).title,
             "category_key": category_of(c, c.has_open_appeal).key,
             "reasons": present_reasons(c.reasons),
             "summaries": [t for t in map(evidence_text, c.evidence.all()) if t][:2]}
            for c in page.object_list]
    bulk = [(name, A.registry[name].verbose_name) for name in A.bulk_actions()]
    return render(request, "moderation/queue.html", {
        "page": page, "rows": rows, "filters": filters, "categories": QUEUE_CATEGORIES,
        "age_choices": AGE_CHOICES, "detectors": detectors_seen(), "bulk_actions": bulk,
        "total": page.paginator.count,
    })


def safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return fallback


@require_POST
@moderator_required
def bulk_action(request: HttpRequest) -> HttpResponse:
    name = request.POST.get("action", "")
    ids = [int(i) for i in request.POST.getlist("case") if i.isdigit()][:500]
    back = safe_next(request, reverse("moderation:queue"))
    if name not in A.bulk_actions() or not ids:
        messages.error(request, _("Choose an action and at least one case."))
        return HttpResponseRedirect(back)
    cases = list(ModerationCase.objects.filter(pk__in=ids).order_by("pk"))
    done, failed = A.run_bulk(A.registry[name], request.user, cases,
                              note=request.POST.get("note", ""))
    if done:
        messages.success(request, _("%(n)d cases updated.") % {"n": len(done)})
    for case, why in failed:
        messages.warning(request, _("Case %(id)s: %(why)s") % {"id": case.pk, "why": why})
    return HttpResponseRedirect(back)
