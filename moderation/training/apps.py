"""App config of the optional training sub-app (``"moderation.training"`` in INSTALLED_APPS).

Training, evaluation, the dataset builder and the admin's "Classifier versions" page live
in their own app so that a site that only scans uploads installs none of it: the
commands need the ``train`` extra (torch), and the admin page appears only where an
operator adds this app.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrainingConfig(AppConfig):
    """No models of its own: the permission anchor stays in the core app's models."""

    name = "moderation.training"
    label = "moderation_training"
    verbose_name = _("Tegaki classifier training")
