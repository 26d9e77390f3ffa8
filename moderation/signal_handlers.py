"""Receivers connected per registered model (``registry._connect``)."""

from __future__ import annotations

from typing import Any

from django.db import models


def on_post_save(sender: type[models.Model], instance: models.Model, created: bool,
                 raw: bool = False, **kwargs: Any) -> None:
    """Open or refresh the instance's case and queue a scan after commit."""
    if raw:  # loaddata: fixtures are not uploads
        return
    from moderation.services import submit_for_moderation

    submit_for_moderation(instance)


def on_post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """Delete the case (and its evidence); the audit log keeps its rows."""
    from moderation.models import ModerationCase

    ModerationCase.objects.for_instance(instance).delete()


def register_signal_handlers() -> None:
    """Connect app-wide handlers; per-model receivers are connected by ``register()``."""
