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
