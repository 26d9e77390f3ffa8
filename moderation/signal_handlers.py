"""Receivers that turn a registered model's saves and deletes into cases and scans.

:func:`register_signal_handlers` (called by ``apps.ready()``) subscribes to the registry,
which connects ``post_save``/``post_delete`` per registered model: for the models
registered so far and for every one registered later (a host's own ``ready()`` may run
after ours). Per-sender receivers cost nothing for the host's other models.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_init, post_save

from moderation.feeds import cache as feed_cache
from moderation.models import ModerationCase
from moderation.registry import registry
from moderation.services import submit_for_moderation
from moderation.signals import verdict_changed


def on_post_save(sender: type[models.Model], instance: models.Model, created: bool,
                 raw: bool = False, **kwargs: Any) -> None:
    """Open or refresh the instance's case and queue a scan after commit."""
    if raw:  # loaddata: fixtures are not uploads
        return
    submit_for_moderation(instance)


def on_post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """Delete the case (and its evidence); the audit log keeps its rows."""
    ModerationCase.objects.for_instance(instance).delete()


def _uid(kind: str, model: type[models.Model]) -> str:
    return f"moderation.{kind}.{model._meta.label_lower}"


def connect_model(model: type[models.Model], registered: bool) -> None:
    """Connect (or, on unregister, disconnect) the receivers of one registered model."""
    if registered:
        post_save.connect(on_post_save, sender=model, weak=False,
                          dispatch_uid=_uid("save", model))
        post_delete.connect(on_post_delete, sender=model, weak=False,
                            dispatch_uid=_uid("delete", model))
    else:
        post_save.disconnect(sender=model, dispatch_uid=_uid("save", model))
        post_delete.disconnect(sender=model, dispatch_uid=_uid("delete", model))


def register_signal_handlers() -> None:
    """Connect the receivers for every registered model, now and later, and those that
    drop cached feed pages when a work enters, leaves or moves between feeds."""
    registry.add_listener(connect_model)
    post_init.connect(feed_cache.remember_route, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.remember_route")
    post_save.connect(feed_cache.on_case_saved, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.case_saved")
    post_delete.connect(feed_cache.on_case_deleted, sender=ModerationCase,
                        dispatch_uid="moderation.feeds.case_deleted")
    verdict_changed.connect(feed_cache.on_verdict_changed,
                            dispatch_uid="moderation.feeds.verdict_changed")
