"""The creator's setting views: POST targets of the opt-out forms on the creator's pages.

Mounted by ``moderation.optout.creator_urls``; the template tags
``{% creator_optout_panel %}`` and ``{% work_optout_form %}`` render the forms.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from moderation.optout.forms import TrainingForm, WorkTrainingForm
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
