"""The uploader's side: why a work was labelled or held, strikes, and the appeal form."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from moderation import actions as A
from moderation.constants import DetectorMode
from moderation.models import AppealFile, ModerationCase
from moderation.permissions import can_appeal
from moderation.strikes import standing
from moderation.views.common import signed_in
from moderation.views.presenters import present_reasons


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def clean(self, data: object, initial: object = None) -> object:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class AppealForm(forms.Form):
    message = forms.CharField(label=gettext_lazy("Why is the label wrong?"),
                              widget=forms.Textarea(attrs={"rows": 5}), max_length=5000)
    kind = forms.ChoiceField(label=gettext_lazy("What the files show"),
                             choices=AppealFile.Kind.choices, initial=AppealFile.Kind.WIP)
    proof = MultipleFileField(label=gettext_lazy(
        "Proof of process (layered file, timelapse, work-in-progress images)"), required=False)


@require_http_methods(["GET", "POST"])
@signed_in
def my_case(request: HttpRequest, pk: int) -> HttpResponse:
    """Only the uploader sees this page; anyone else gets 404 (no existence oracle)."""
    case = get_object_or_404(ModerationCase, pk=pk, owner=request.user)
    form = AppealForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        files = [(form.cleaned_data["kind"], f) for f in form.cleaned_data["proof"]]
        try:
            A.SubmitAppeal(request.user, case, message=form.cleaned_data["message"],
                           files=files).run()
        except PermissionDenied as exc:
            messages.error(request, str(exc))
        except A.ActionError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("Your appeal was sent to the moderators."))
            return HttpResponseRedirect(reverse("moderation:my_case", args=[case.pk]))
    evidence = case.evidence.filter(mode=DetectorMode.ENFORCE).exclude(label="none")
    return render(request, "moderation/my_case.html", {
        "case": case, "form": form, "can_appeal": can_appeal(request.user, case),
        "reasons": present_reasons(case.reasons),
        "evidence": evidence.order_by("detector"),
        "appeals": case.appeals.order_by("-created_at"),
        "standing": standing(request.user),
    })
