"""Appeals: the uploader appeals and adds proof; a moderator upholds or overturns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation import notify
from moderation.actions.base import (
    NOTE_MAX,
    ActionConflict,
    ActionForm,
    ActionResult,
    BaseAction,
)
from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label
from moderation.models import (
    Appeal,
    AppealFile,
    AppealStatus,
    ModerationAction,
    ModerationCase,
    Strike,
)
from moderation.permissions import can_appeal
from moderation.reasons import APPEAL_OVERTURNED, MODERATOR
from moderation.reports.outcomes import reassess_reports
from moderation.signals import appeal_decided

#: Labels an overturned appeal may set (never "uncertain").
DECIDED_LABELS = [(v, lbl) for v, lbl in Label.choices if v != Label.UNCERTAIN]


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented pattern)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


def _check_size(upload: UploadedFile) -> UploadedFile:
    if upload.size is not None and upload.size > moderation_settings.APPEAL_MAX_FILE_BYTES:
        raise forms.ValidationError(_("A file is larger than this site accepts."))
    return upload


def _file_name(upload: UploadedFile) -> str:
    return str(upload.name).replace("\x00", "")[:255]


class AppealForm(ActionForm):
    message = forms.CharField(label=_("Why is the label wrong?"), max_length=NOTE_MAX,
                              widget=forms.Textarea(attrs={"rows": 5}),
                              error_messages={"required": _(
                                  "Tell the moderators why the label is wrong.")})
    kind = forms.ChoiceField(label=_("What the files show"), choices=AppealFile.Kind.choices,
                             initial=AppealFile.Kind.WIP, required=False,
                             error_messages={"invalid_choice": _("Unknown kind of file.")})
    proof = MultipleFileField(label=_(
        "Proof of process (layered file, timelapse, work-in-progress images)"), required=False)

    def clean_kind(self) -> str:
        return str(self.cleaned_data.get("kind") or AppealFile.Kind.WIP)

    def clean_proof(self) -> list[UploadedFile]:
        files = list(self.cleaned_data.get("proof") or [])
        if len(files) > moderation_settings.APPEAL_MAX_FILES:
            raise forms.ValidationError(_("Too many files."))
        return [_check_size(f) for f in files]


class _OneAppealForm(ActionForm):
    """An action on one of this case's appeals (chosen by id, or as an object in Python)."""

    appeal = forms.ModelChoiceField(queryset=Appeal.objects.none(), label=_("Appeal"),
                                    error_messages={
                                        "required": _("Choose an appeal of this case."),
                                        "invalid_choice": _("Choose an appeal of this case.")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        appeal_field = self.fields["appeal"]
        assert isinstance(appeal_field, forms.ModelChoiceField)
        appeal_field.queryset = Appeal.objects.filter(case_id=self.case.pk)


class AppealFileForm(_OneAppealForm):
    kind = forms.ChoiceField(label=_("What the file shows"), choices=AppealFile.Kind.choices,
                             error_messages={"required": _("Unknown kind of file."),
                                             "invalid_choice": _("Unknown kind of file.")})
    file = forms.FileField(label=_("File"))

    def clean_file(self) -> UploadedFile:
        return _check_size(self.cleaned_data["file"])


class DecideAppealForm(_OneAppealForm):
    outcome = forms.ChoiceField(
        label=_("Outcome"),
        choices=[(AppealStatus.UPHELD, AppealStatus.UPHELD.label),
                 (AppealStatus.OVERTURNED, AppealStatus.OVERTURNED.label)],
        error_messages={"required": _("Choose uphold or overturn."),
                        "invalid_choice": _("Choose uphold or overturn.")})
    label = forms.ChoiceField(label=_("Corrected label"), choices=DECIDED_LABELS,
                              required=False,
                              error_messages={"invalid_choice": _("Choose a valid label.")})


class SubmitAppeal(BaseAction):
    """The uploader appeals a label or hold, optionally with proof-of-process files
    (``proof``, all of one ``kind``). The appealed case goes back into the queue."""

    name = "appeal"
    verbose_name = _("Appeal")
    done_message = _("Your appeal was sent to the moderators.")
    moderator_only = False
    respects_claims = False
    form_class = AppealForm

    def check_permission(self, case: ModerationCase) -> None:
        if not can_appeal(self.actor, case):
            raise PermissionDenied(_("You cannot appeal this work."))
        if Appeal.objects.filter(case=case, status=AppealStatus.OPEN).exists():
            raise ActionConflict(_("An appeal for this work is already open."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        case.needs_review = True
        case.review_priority = self.policy.appeal_priority()
        return {}

    def audit_note(self) -> str:
        return str(self.data["message"])

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        self.appeal = Appeal.objects.create(case=case, user=self.actor,
                                            message=self.data["message"])
        for upload in self.data["proof"]:
            AppealFile.objects.create(appeal=self.appeal, kind=self.data["kind"], file=upload,
                                      size=upload.size, original_name=_file_name(upload))

    def run(self) -> ActionResult:
        result = super().run()
        result.extra["appeal"] = self.appeal
        return result


class AddAppealFile(BaseAction):
    """The uploader attaches one more proof-of-process file to their open appeal."""

    name = "appeal_file"
    verbose_name = _("Add proof to appeal")
    moderator_only = False
    respects_claims = False
    form_class = AppealFileForm

    def check_permission(self, case: ModerationCase) -> None:
        if self.data["appeal"].user_id != getattr(self.actor, "pk", None):
            raise PermissionDenied(_("Only the uploader can add proof to an appeal."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        appeal = Appeal.objects.select_for_update().get(pk=self.data["appeal"].pk)
        if appeal.status != AppealStatus.OPEN:
            raise ActionConflict(_("This appeal was already decided."))
        # Hard quota checked under the appeal's lock: throttles alone let bursts through.
        if appeal.files.count() >= moderation_settings.APPEAL_MAX_FILES:
            raise ActionConflict(_("Too many files."))
        upload = self.data["file"]
        self.proof = AppealFile.objects.create(
            appeal=appeal, kind=self.data["kind"], file=upload,
            original_name=_file_name(upload), size=upload.size)
        return {"file": self.proof}

    def audit_note(self) -> str:
        return f"appeal {self.data['appeal'].pk}: {self.data['kind']}"


class DecideAppeal(BaseAction):
    """Uphold or overturn an open appeal. Overturning relabels the work (by default to what
    the uploader declared) and revokes the strikes this case caused."""

    name = "decide_appeal"
    verbose_name = _("Decide appeal")
    done_message = _("The appeal was decided and the uploader notified.")
    decides = True
    form_class = DecideAppealForm

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        appeal = Appeal.objects.select_for_update().get(pk=self.data["appeal"].pk)
        if appeal.status != AppealStatus.OPEN:
            raise ActionConflict(_("This appeal was already decided."))
        outcome = self.data["outcome"]
        if outcome == AppealStatus.OVERTURNED:
            declared: dict[str, str] = {Declaration.AI_ASSISTED: Label.AI_ASSISTED,
                                        Declaration.AI: Label.AI}
            label = self.data["label"] or declared.get(case.declaration, Label.HUMAN)
            case.label = label
            case.route = self.policy.route_for_label(label, moderation_settings)
            case.reasons = [MODERATOR.code, APPEAL_OVERTURNED.code]
            case.undisclosed_ai = False
            Strike.objects.filter(case=case, revoked_at__isnull=True).update(
                revoked_at=timezone.now())
        appeal.status = outcome
        appeal.decided_by, appeal.decided_at = self.actor, timezone.now()
        appeal.decision_note = self.note
        appeal.save()
        self.appeal = appeal
        return {"appeal": appeal}

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        if self.appeal.status == AppealStatus.OVERTURNED:
            # The corrected verdict settles viewers' reports anew (and their reporters'
            # reputation): a report upheld by the overturned verdict was wrong.
            reassess_reports(case, self.actor)

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        self.appeal.case = case
        appeal_decided.send(sender=Appeal, appeal=self.appeal)
        notify.appeal_decided(self.appeal)
