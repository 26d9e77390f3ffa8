"""The uploader's side: why a work was labelled or held, strikes, and the appeal form."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from moderation import actions as A
from moderation.constants import DetectorMode
from moderation.models import ModerationCase
from moderation.permissions import can_appeal
from moderation.strikes import standing
from moderation.views.common import signed_in
from moderation.views.presenters import present_reasons


@require_GET
@signed_in
def my_case(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the uploader sees this page; anyone else gets 404 (no existence oracle).

    The appeal form is the ``appeal`` action's own form and posts to the case's action
    endpoint, like every other action.
    """
    case = get_object_or_404(ModerationCase, pk=pk, owner=request.user)
    form = A.SubmitAppeal.form_class(case=case)
    evidence = case.evidence.filter(mode=DetectorMode.ENFORCE).exclude(label="none")
    return render(request, "moderation/my_case.html", {
        "case": case, "form": form, "can_appeal": can_appeal(request.user, case),
        "reasons": present_reasons(case.reasons),
        "evidence": evidence.order_by("detector"),
        "appeals": case.appeals.order_by("-created_at"),
        "standing": standing(request.user),
    })
