"""The uploader's side: a status page per work (what was found, what happens next, the
appeal form and the appeal's outcome), addressed by the work itself.

The page is ``/moderation/my/work/<app_label.model>/<object id>/`` so a host links it
from its own work page with ``{% moderation_status_url work %}``; it extends the host's
base template (``MODERATION["PAGE_BASE_TEMPLATE"]``) so the uploader stays in the
site they know. The older case-numbered address redirects there.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from moderation import actions as A
from moderation.conf import moderation_settings
from moderation.constants import TERMINAL_STATES, DetectorMode, Label, ProcessingState, Route
from moderation.labels import Why, evidence_text, label_for_case, uploader_why
from moderation.models import Appeal, AppealStatus, ModerationCase, Notification
from moderation.permissions import can_appeal
from moderation.registry import registry
from moderation.strikes import standing
from moderation.views.common import signed_in


def status_url(case: ModerationCase) -> str:
    """The status page of ``case``'s work."""
    # ContentType's own cache: a listing's tiles cost no query each.
    ct = ContentType.objects.get_for_id(case.content_type_id)
    return reverse("moderation:work_status",
                   args=[f"{ct.app_label}.{ct.model}", case.object_id])


@dataclass(frozen=True)
class Status:
    """Where the work is, in one heading and one sentence, plus what happens next."""

    key: str
    heading: str
    text: str
    next_step: str


def work_state(case: ModerationCase, open_appeal: Appeal | None) -> Status:
    """The uploader's plain-words status of ``case``."""
    if case.state not in TERMINAL_STATES:
        return Status("checking", _("Being checked"),
                      _("The site is reading the file's metadata. This usually takes a few "
                        "seconds."),
                      _("Reload this page in a moment; nothing is needed from you."))
    if case.state == ProcessingState.REJECTED:
        return Status("rejected", _("Not published"),
                      _("The file could not be read as an image: %(why)s") % {
                          "why": case.get_rejection_reason_display() or "-"},
                      _("Upload the work again as a PNG, JPEG or WebP file."))
    if case.state == ProcessingState.QUARANTINED:
        return Status("held", _("Held for review"),
                      _("The check could not finish, so a moderator will look at the work."),
                      _("A moderator will look at it; you will get a notice on “My works”."))
    appeal_next = _("A moderator will read your appeal and look at your files; you will "
                    "get a notice on “My works” with the decision.")
    if case.route == Route.HIDDEN:
        return Status("hidden", _("Hidden"),
                      _("A moderator hid this work. Only you can see it."),
                      appeal_next if open_appeal else
                      _("If you think this is wrong, appeal below with proof of how you "
                        "made it."))
    if case.route == Route.HELD:
        return Status("held", _("Held for review"),
                      _("Only you can see this work until a moderator has looked at it."),
                      appeal_next if open_appeal else
                      _("A moderator will look at it; you will get a notice on “My works”. "
                        "If the AI signal is wrong you can appeal now with proof of how you "
                        "made it."))
    where = (_("the AI feed") if case.route == Route.AI_FEED else _("new arrivals"))
    if case.label in (Label.AI, Label.AI_ASSISTED):
        return Status("labelled", _("Published with a label"),
                      _("The work is shown in %(where)s with the label “%(label)s”.") % {
                          "where": where, "label": label_for_case(case).text},
                      appeal_next if open_appeal else
                      _("If the label is wrong, appeal below with proof of how you made it."))
    return Status("published", _("Published"),
                  _("The work is shown in %(where)s without an AI label.") % {"where": where},
                  _("Nothing is needed from you."))


def _owned_case(request: HttpRequest, model: str, object_id: str) -> ModerationCase:
    """The signed-in uploader's case for the work; 404 for anyone else (no oracle)."""
    app_label, _dot, model_name = model.partition(".")
    try:
        ct = ContentType.objects.get_by_natural_key(app_label, model_name)
    except ContentType.DoesNotExist as exc:
        raise Http404 from exc
    return get_object_or_404(ModerationCase.objects.select_related("content_type"),
                             content_type=ct, object_id=object_id, owner=request.user)


def _what_was_found(case: ModerationCase) -> tuple[tuple[Why, ...], list[str]]:
    """The signal families and one sentence per enforcing detector that found something."""
    if case.state not in TERMINAL_STATES:
        return (), []
    rows = case.evidence.filter(mode=DetectorMode.ENFORCE).exclude(label="none")
    found = [t for t in (evidence_text(e) for e in rows.order_by("detector")) if t]
    return uploader_why(case), found


@require_http_methods(["GET", "HEAD", "POST"])
@signed_in
def work_status(request: HttpRequest, model: str, object_id: str) -> HttpResponse:
    """Only the uploader sees this page; anyone else gets 404.

    A POST sends the appeal through the one action dispatcher (the ``appeal`` action,
    as the API does); a refused appeal re-renders the page with what the uploader typed
    and the reason, so nothing is lost. Opening the page marks the work's notices read.
    """
    case = _owned_case(request, model, object_id)
    form = A.SubmitAppeal.form_class(case=case)
    error = ""
    if request.method == "POST":
        params = A.request_params(request.POST, request.FILES)
        try:
            A.dispatch(A.SubmitAppeal.name, request.user, case, params)
        except PermissionDenied as exc:
            error = str(exc) or _("You cannot appeal this work.")
        except A.ActionError as exc:
            error = str(exc.message)
            form = A.SubmitAppeal.form_class(request.POST, case=case)
            form.is_valid()  # show each field's own message next to it
        else:
            messages.success(request, str(A.SubmitAppeal.done_message))
            return HttpResponseRedirect(request.path)
        case.refresh_from_db()
    appeals = list(case.appeals.prefetch_related("files").order_by("-created_at"))
    open_appeal = next((a for a in appeals if a.status == AppealStatus.OPEN), None)
    why, found = _what_was_found(case)
    Notification.objects.filter(case=case, user=case.owner_id, read_at__isnull=True).update(
        read_at=timezone.now())
    host = case.host_instance()
    work_url = registry.get_options(type(host)).get_url(host) if host is not None else ""
    response = render(request, "moderation/work_status.html", {
        "base_template": moderation_settings.PAGE_BASE_TEMPLATE,
        "case": case, "work": host, "work_url": work_url,
        "status": work_state(case, open_appeal), "why": why, "found": found,
        "form": form, "error": error,
        # A refused appeal whose form is not shown again (one is already open): keep the
        # uploader's text on the page so it can be copied.
        "unsent": str(request.POST.get("message", "")) if error else "",
        "can_appeal": can_appeal(request.user, case) and open_appeal is None,
        "open_appeal": open_appeal, "appeals": appeals,
        "standing": standing(request.user),
        "export_url": reverse("moderation:work_export", args=[model, object_id]),
    }, status=400 if error else 200)
    return response


@require_GET
@signed_in
def my_case(request: HttpRequest, pk: int) -> HttpResponse:
    """The older address by case number: sends the uploader to the work's status page."""
    case = get_object_or_404(ModerationCase, pk=pk, owner=request.user)
    return HttpResponseRedirect(status_url(case))

