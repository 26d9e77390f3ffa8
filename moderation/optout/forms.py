"""The creator's AI-training choices as forms: for all their works, and for one work."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from moderation.constants import TrainingChoice


class TrainingForm(forms.Form):
    """The creator-wide choice; "default" follows the site."""

    training = forms.ChoiceField(label=_("AI training of my works"),
                                 choices=TrainingChoice.choices, widget=forms.RadioSelect)


class WorkTrainingForm(forms.Form):
    """One work's override; "default" follows the creator's choice."""

    training = forms.ChoiceField(label=_("AI training of this work"),
                                 choices=TrainingChoice.choices)


class ProtectWorkForm(forms.Form):
    """A creator's own work to protect: the image (hashed, never kept), a title and
    where it is published (this site or elsewhere)."""

    image = forms.FileField(label=_("Image of your work"))
    title = forms.CharField(label=_("Title"), max_length=200)
    source_url = forms.URLField(label=_("Where it is published (optional)"), required=False,
                                max_length=500, assume_scheme="https")
