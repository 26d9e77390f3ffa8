"""Viewers' report pages: the report form, its confirmation, "my reports", and the
moderators' download of a reported original.

A work is addressed as on the status page (``<app_label.model>/<object id>``). Every
page answers 404 for a work the viewer may not see (``moderation.visibility``), before
and after reporting: a report never becomes a way to see a held or hidden work, and
the confirmation names no work at all.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from moderation.conf import moderation_settings
from moderation.models import ModerationCase, Report
from moderation.registry import registry
from moderation.reports.clusters import anonymous_key, cluster_keys
from moderation.reports.forms import ReportForm
from moderation.reports.presenters import my_record, my_report_rows, viewer_reason
from moderation.reports.reputation import precision, track_records
from moderation.reports.submit import Reporter, ReportRefused, already_reported, submit_report
from moderation.views.common import moderator_required, signed_in, with_csp
from moderation.views.files import harden
from moderation.visibility import can_view

#: Session key listing the reports an anonymous viewer sent (for the confirmation page).
SESSION_SENT = "tegaki_reports_sent"


def report_url(case: ModerationCase) -> str:
    # ContentType's own cache: a listing's tiles cost no query each.
    ct = ContentType.objects.get_for_id(case.content_type_id)
    return reverse("moderation:report_work", args=[f"{ct.app_label}.{ct.model}", case.object_id])


def visible_work(request: Any, model: str, object_id: str) -> tuple[Any, ModerationCase]:
    """The work and its case if the viewer may see the work; 404 otherwise (no oracle)."""
    app_label, _dot, model_name = model.partition(".")
    try:
        ct = ContentType.objects.get_by_natural_key(app_label, model_name)
    except ContentType.DoesNotExist as exc:
        raise Http404 from exc
    host_model = ct.model_class()
    if host_model is None or not registry.is_registered(host_model):
        raise Http404
    try:
        work = host_model._default_manager.filter(pk=object_id).first()
    except (ValueError, TypeError, ValidationError) as exc:
        raise Http404 from exc
    if work is None or not can_view(work, request.user):
        raise Http404
    case = ModerationCase.objects.for_instance(work).select_related("content_type").first()
    if case is None:
        raise Http404
    return work, case


def _reporter(request: HttpRequest) -> Reporter:
    ip = str(request.META.get("REMOTE_ADDR") or "")
    keys = tuple(cluster_keys(request))
    if request.user.is_authenticated:
        return Reporter(user=request.user, ip=ip, cluster_keys=keys)
    if not request.session.session_key:
        request.session.save()
    return Reporter(anonymous_key=anonymous_key(str(request.session.session_key)), ip=ip,
                    cluster_keys=keys)


@require_http_methods(["GET", "HEAD", "POST"])
def report_work(request: HttpRequest, model: str, object_id: str) -> HttpResponseBase:
    """The report form; a sent report goes on to the confirmation page."""
    if not request.user.is_authenticated and not moderation_settings.REPORT_ALLOW_ANONYMOUS:
        return redirect_to_login(request.get_full_path())
    work, case = visible_work(request, model, object_id)
    who = _reporter(request)
    own = who.signed_in and case.owner_id == request.user.pk
    done = already_reported(case, who)
    form = ReportForm()
    error = ""
    status = 200
    if request.method == "POST" and not own and not done:
        form = ReportForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            try:
                report, _score = submit_report(
                    case, who, reason=data["reason"], note=data["note"],
                    original_url=data["original_url"], original_file=data["original_file"])
            except ReportRefused as exc:
                error, status = str(exc.message), exc.status
            else:
                if not who.signed_in:
                    request.session[SESSION_SENT] = [
                        *request.session.get(SESSION_SENT, [])[-50:], report.pk]
                return HttpResponseRedirect(reverse("moderation:report_sent",
                                                    args=[report.pk]))
        else:
            status = 400
    return with_csp(render(request, "moderation/report_form.html", {
        "base_template": moderation_settings.PAGE_BASE_TEMPLATE,
        "work": work, "work_url": _work_url(work), "form": form, "error": error,
        "own": own, "done": done, "signed_in": who.signed_in,
    }, status=status))


def _work_url(work: Any) -> str:
    return str(work.get_absolute_url()) if hasattr(work, "get_absolute_url") else ""


@require_GET
def report_sent(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The confirmation: what happens now. It names no work, so it shows nothing of a
    work the report got held."""
    if request.user.is_authenticated:
        report = get_object_or_404(Report, pk=pk, reporter=request.user)
    elif pk in request.session.get(SESSION_SENT, []):
        report = get_object_or_404(Report, pk=pk, reporter__isnull=True)
    else:
        raise Http404
    return with_csp(render(request, "moderation/report_sent.html", {
        "base_template": moderation_settings.PAGE_BASE_TEMPLATE, "report": report,
        "signed_in": request.user.is_authenticated,
    }))


@require_GET
@signed_in
def my_reports(request: HttpRequest) -> HttpResponse:
    """The reporter's own reports with their outcomes and what their reports count for."""
    user_id = int(request.user.pk or 0)
    reports = Report.objects.filter(reporter_id=user_id).select_related(
        "case", "case__content_type").order_by("-created_at", "-id")
    page = Paginator(reports, 50).get_page(request.GET.get("page"))
    record = track_records([user_id]).get(user_id, {})
    return render(request, "moderation/my_reports.html", {
        "base_template": moderation_settings.PAGE_BASE_TEMPLATE, "page": page,
        "rows": my_report_rows(request.user, list(page.object_list)),
        "counts": my_record(request.user),
        "record": [(viewer_reason(code), rep) for code, rep in sorted(record.items())],
        "start": round(precision(0, 0) * 100),
    })


@require_GET
@moderator_required
def report_original(request: HttpRequest, pk: int, report_id: int) -> HttpResponseBase:
    """A reported original, to moderators only, as an attachment that cannot render."""
    report = get_object_or_404(Report, pk=report_id, case_id=pk)
    if not report.original_file:
        raise Http404
    try:
        fh = report.original_file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404 from exc
    return harden(FileResponse(fh, as_attachment=True,
                               filename=report.original_name or "original.bin",
                               content_type="application/octet-stream"))
