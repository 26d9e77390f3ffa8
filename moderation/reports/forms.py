"""The report form: a reason from the reason table, an optional note, and for a repost
the original (a link or an upload)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import NOTE_MAX
from moderation.reasons import REPORT_REASONS, REPORT_REPOST

#: What the form offers for each reason code (the viewer's words, not the moderator's).
REASON_CHOICES = (
    ("report_undisclosed_ai", _("AI-generated, but not labelled as AI")),
    ("report_wrong_label", _("The AI label on this work is wrong")),
    ("report_repost", _("A repost of my work")),
    ("report_impersonation", _("Impersonates an artist")),
    ("report_real_person", _("Shows a real person, or is a sexual deepfake")),
    ("report_other", _("Something else")),
)
assert [code for code, _t in REASON_CHOICES] == [r.code for r in REPORT_REASONS]


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label=_("What is wrong with this work?"),
                               choices=REASON_CHOICES, widget=forms.RadioSelect,
                               error_messages={"required": _("Choose a reason."),
                                               "invalid_choice": _("Choose a reason.")})
    note = forms.CharField(label=_("Anything the moderators should know (optional)"),
                           required=False, max_length=NOTE_MAX,
                           widget=forms.Textarea(attrs={"rows": 4}))
    original_url = forms.URLField(label=_("Link to your original"), required=False,
                                  max_length=500, assume_scheme="https",
                                  error_messages={"invalid": _("Enter a full web address.")})
    original_file = forms.FileField(label=_("Or upload your original"), required=False)

    def clean_original_file(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("original_file")
        limit = int(moderation_settings.REPORT_ORIGINAL_MAX_BYTES)
        if upload is not None and upload.size is not None and upload.size > limit:
            raise forms.ValidationError(_("The file is larger than this site accepts."))
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("reason") == REPORT_REPOST.code and not (
                data.get("original_url") or data.get("original_file")):
            self.add_error("original_url", _("Give a link to your original or upload it."))
        if data.get("reason") != REPORT_REPOST.code:
            data["original_url"], data["original_file"] = "", None
        return data
