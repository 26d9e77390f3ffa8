"""Receivers that turn a registered model's saves and deletes into cases and scans, and
tell uploaders when their work is held, decided or their appeal answered.

:func:`register_signal_handlers` (called by ``apps.ready()``) subscribes to the registry,
which connects ``post_save``/``post_delete`` per registered model: for the models
registered so far and for every one registered later (a host's own ``ready()`` may run
after ours). Per-sender receivers cost nothing for the host's other models.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.signals import post_delete, post_init, post_save

from moderation import notify
from moderation.constants import Route
from moderation.feeds import cache as feed_cache
from moderation.models import Appeal, ModerationCase, NotificationKind
from moderation.registry import registry
from moderation.services import submit_for_moderation
from moderation.signals import action_taken, appeal_decided, case_scanned, verdict_changed


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


def on_case_scanned(sender: Any, case: ModerationCase, **kwargs: Any) -> None:
    """A finished scan that holds the work tells its uploader (once per hold)."""
    if case.owner_id is None or case.route != Route.HELD:
        return
    if case.notifications.filter(kind=NotificationKind.HELD, read_at__isnull=True).exists():
        return
    notify.record(case.owner, case, NotificationKind.HELD, case.route)


def on_action_taken(sender: Any, case: ModerationCase | None, actor: Any = None,
                    **kwargs: Any) -> None:
    """A moderator's verdict on someone's work tells its uploader (an appeal's decision
    has its own notice, below)."""
    if case is None or case.owner_id is None or not getattr(sender, "decides", False):
        return
    if getattr(sender, "name", "") == "decide_appeal" or getattr(actor, "pk", None) == \
            case.owner_id:
        return
    outcome = Route.HIDDEN if case.route == Route.HIDDEN else case.label
    notify.record(case.owner, case, NotificationKind.DECIDED, outcome)


def on_appeal_decided(sender: Any, appeal: Appeal, **kwargs: Any) -> None:
    notify.record(appeal.user, appeal.case, NotificationKind.APPEAL_DECIDED, appeal.status)


def register_signal_handlers() -> None:
    """Connect the receivers for every registered model, now and later; those that drop
    cached feed pages when a work enters, leaves or moves between feeds; and the
    uploader notices."""
    registry.add_listener(connect_model)
    post_init.connect(feed_cache.remember_route, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.remember_route")
    post_save.connect(feed_cache.on_case_saved, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.case_saved")
    post_delete.connect(feed_cache.on_case_deleted, sender=ModerationCase,
                        dispatch_uid="moderation.feeds.case_deleted")
    verdict_changed.connect(feed_cache.on_verdict_changed,
                            dispatch_uid="moderation.feeds.verdict_changed")
    case_scanned.connect(on_case_scanned, dispatch_uid="moderation.notice.scanned")
    action_taken.connect(on_action_taken, dispatch_uid="moderation.notice.action")
    appeal_decided.connect(on_appeal_decided, dispatch_uid="moderation.notice.appeal")
