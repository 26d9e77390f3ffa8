"""The creator's page: each work's label and why, the opt-out setting, AI-crawler
fetches, strikes and appeals -- gathered in one call with a bounded number of queries.

Host wiring: call :func:`creator_overview` in the "my works" view and render its rows;
POST the forms to :func:`save_training` / :func:`save_work_training` (``urls`` below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.urls import path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from moderation.constants import TrainingChoice
from moderation.labels import LabelInfo, label_for_case, prefetch_cases
from moderation.models import Appeal, CreatorSettings, ModerationCase, Strike
from moderation.optout import crawlers
from moderation.optout.policy import (
    Reservation,
    owner_id_of,
    resolve_many,
    set_creator_training,
    set_work_training,
)
from moderation.registry import registry


class TrainingForm(forms.Form):
    """The creator-wide choice; "default" follows the site."""

    training = forms.ChoiceField(label=_("AI training of my works"),
                                 choices=TrainingChoice.choices, widget=forms.RadioSelect)


class WorkTrainingForm(forms.Form):
    training = forms.ChoiceField(label=_("AI training of this work"),
                                 choices=TrainingChoice.choices)


@dataclass
class WorkRow:
    work: Any
    case: ModerationCase | None
    label: LabelInfo
    reservation: Reservation


@dataclass
class CreatorOverview:
    training: str
    rows: list[WorkRow]
    crawler_hits: int
    crawler_hits_by_crawler: list[tuple[str, int]]
    strikes: list[Strike] = field(default_factory=list)
    appeals: list[Appeal] = field(default_factory=list)


def creator_overview(user: Any, works: Sequence[Any]) -> CreatorOverview:
    """Everything the creator's page shows about ``user`` and their ``works``.

    The creator always sees the why of their own works, whatever
    ``SHOW_EVIDENCE_TO_VIEWERS`` says for other viewers.
    """
    works = list(works)
    prefetch_cases(works)
    reservations = resolve_many(works)
    rows = [WorkRow(w, getattr(w, "_moderation_case", None),
                    label_for_case(getattr(w, "_moderation_case", None)),
                    reservations[(type(w), str(w.pk))]) for w in works]
    training = CreatorSettings.objects.filter(user_id=user.pk).values_list(
        "training", flat=True).first() or TrainingChoice.DEFAULT
    return CreatorOverview(
        training=training, rows=rows, crawler_hits=crawlers.hit_count(user),
        crawler_hits_by_crawler=crawlers.hit_counts_by_crawler(user),
        strikes=list(Strike.objects.filter(user_id=user.pk).order_by("-created_at")),
        appeals=list(Appeal.objects.filter(user_id=user.pk).order_by("-created_at")),
    )


def _back(request: HttpRequest) -> HttpResponseRedirect:
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        target = "/"
    return HttpResponseRedirect(target)


@require_POST
@login_required
def save_training(request: HttpRequest) -> HttpResponseRedirect | HttpResponseBadRequest:
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


app_name = "moderation_creator"
urlpatterns = [
    path("training/", save_training, name="training"),
    path("training/<str:model>/<str:object_id>/", save_work_training, name="work_training"),
]
