"""The creator's setting views: POST targets of the opt-out forms on the creator's pages.

Mounted by ``moderation.optout.creator_urls``; the template tags
``{% creator_optout_panel %}`` and ``{% work_optout_form %}`` render the forms.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from moderation.conf import moderation_settings
from moderation.exceptions import ImageRejected
from moderation.fingerprints import banks, matching, pdq
from moderation.internal.imaging import load_image
from moderation.models import FingerprintMatch, Notification, NotificationKind
from moderation.optout.forms import ProtectWorkForm, TrainingForm, WorkTrainingForm
from moderation.optout.policy import owner_id_of, set_creator_training, set_work_training
from moderation.registry import registry


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    return HttpResponseRedirect(target)


@require_POST
@login_required
def save_training(request: HttpRequest) -> HttpResponseRedirect | HttpResponseBadRequest:
    """The creator-wide choice, for the signed-in creator."""
    form = TrainingForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    set_creator_training(request.user, form.cleaned_data["training"])
    return _back(request)


@require_POST
@login_required
def save_work_training(request: HttpRequest, model: str, object_id: str
                       ) -> HttpResponseRedirect | HttpResponseBadRequest:
    """Per-work override; only the work's creator may set it (404 for anyone else)."""
    model_class = registry.model_for_label(model)
    if model_class is None:
        raise Http404
    try:
        work = model_class._default_manager.filter(pk=object_id).first()
    except (ValueError, TypeError, forms.ValidationError) as exc:
        raise Http404 from exc
    if work is None or owner_id_of(work) != request.user.pk:
        raise Http404
    form = WorkTrainingForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest(form.errors.as_text())
    set_work_training(work, form.cleaned_data["training"])
    return _back(request)


def _protect(request: HttpRequest, form: ProtectWorkForm) -> bool:
    """Hash the uploaded image and register it; add form errors and return False when
    the file cannot be read or is too flat to match."""
    upload = form.cleaned_data["image"]
    limit = moderation_settings.MAX_UPLOAD_BYTES
    data = upload.read(limit + 1)
    if len(data) > limit:
        form.add_error("image", _("The file is larger than this site accepts."))
        return False
    try:
        image = load_image(data, name=upload.name or "")
    except ImageRejected as exc:
        form.add_error("image", exc.message or _("The image could not be read."))
        return False
    found = pdq.compute(image.image)
    if found.quality < moderation_settings.FINGERPRINT_MIN_QUALITY:
        form.add_error("image", _("This image is too plain (a flat colour or nearly empty) "
                                  "to be recognised reliably, so it cannot be protected."))
        return False
    banks.protect(request.user, found, title=form.cleaned_data["title"],
                  source_url=form.cleaned_data["source_url"] or "")
    return True


@require_http_methods(["GET", "POST"])
@login_required
def protected_works(request: HttpRequest) -> HttpResponse:
    """The creator's protected works: register one (upload its image), see each one's
    matches. An upload elsewhere on the site that matches is held for review and the
    creator is notified here."""
    if not matching.enabled():
        raise Http404
    form = ProtectWorkForm()
    if request.method == "POST":
        form = ProtectWorkForm(request.POST, request.FILES)
        if banks.protected_room(request.user) <= 0:
            form.add_error(None, _("You have reached the number of works you can protect."))
        elif form.is_valid() and _protect(request, form):
            messages.success(request, _("Protected. Uploads that match it will be held for "
                                        "review and you will be told."))
            return HttpResponseRedirect(reverse("moderation_creator:protected"))
    Notification.objects.filter(user_id=int(request.user.pk or 0),
                                kind=NotificationKind.PROTECTED_MATCH,
                                read_at__isnull=True).update(read_at=timezone.now())
    entries = list(banks.protected_by(request.user))
    counts: dict[int, int] = {}
    for entry_id in FingerprintMatch.objects.filter(entry__in=entries).values_list(
            "entry_id", flat=True):
        counts[entry_id] = counts.get(entry_id, 0) + 1
    return render(request, "moderation/protected_works.html", {
        "base_template": moderation_settings.PAGE_BASE_TEMPLATE, "form": form,
        "entries": [(e, counts.get(e.pk, 0)) for e in entries],
        "room": banks.protected_room(request.user),
    })


@require_POST
@login_required
def unprotect_work(request: HttpRequest, entry_id: int) -> HttpResponseRedirect:
    """Stop protecting one work (only its creator can; 404 for anyone else)."""
    entry = get_object_or_404(banks.protected_by(request.user), pk=entry_id)
    banks.remove(banks.protected_by(request.user).filter(pk=entry.pk))
    messages.success(request, _("The work is no longer protected."))
    return HttpResponseRedirect(reverse("moderation_creator:protected"))
