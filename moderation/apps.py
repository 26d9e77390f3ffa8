"""App configs: ``ModerationConfig`` autodiscovers ``moderated`` modules; the simple one not."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from moderation.detectors import detectors
from moderation.ops import logs as _logs  # noqa: F401  (case ids in scan log lines)


class SimpleModerationConfig(AppConfig):
    """Wiring only: checks and signal handlers, no autodiscovery."""

    name = "moderation"
    label = "moderation"
    verbose_name = _("Tegaki moderation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imported here, not at the top: apps.py loads before the models exist, and both
        # modules reach them (Django's own apps register checks and receivers in ready()).
        from moderation import checks  # noqa: F401  (registers system checks)
        from moderation.signal_handlers import register_signal_handlers

        register_signal_handlers()
        detectors.load_reasons()


class ModerationConfig(SimpleModerationConfig):
    """Also imports ``<app>.moderated`` modules, where host apps may call ``register()``."""

    default = True

    def ready(self) -> None:
        super().ready()
        from django.utils.module_loading import autodiscover_modules

        autodiscover_modules("moderated")
