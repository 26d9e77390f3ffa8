"""Receivers that turn a registered model's saves and deletes into cases and scans, and
tell uploaders when their work is held, decided or their appeal answered.

:func:`register_signal_handlers` (called by ``apps.ready()``) subscribes to the registry,
which connects ``post_save``/``post_delete`` per registered model: for the models
registered so far and for every one registered later (a host's own ``ready()`` may run
after ours). Per-sender receivers cost nothing for the host's other models.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import DatabaseError, models, transaction
from django.db.models.signals import (
    m2m_changed,
    post_delete,
    post_init,
    post_save,
    pre_delete,
    pre_save,
)

from moderation import notify
from moderation.conf import moderation_settings
from moderation.constants import Route
from moderation.feeds import burst_ids, viewer_state
from moderation.feeds import cache as feed_cache
from moderation.fingerprints import banks as fingerprint_banks
from moderation.models import (
    Appeal,
    ModerationCase,
    NotificationKind,
    Report,
    ReportStatus,
    ViewerPreference,
)
from moderation.optout import derivatives
from moderation.registry import registry
from moderation.reports.scoring import rescore
from moderation.services import submit_for_moderation
from moderation.signals import action_taken, appeal_decided, case_scanned, verdict_changed

logger = logging.getLogger(__name__)

#: Attribute a ``pre_save`` leaves on the instance: the file name stored before the save.
_PREVIOUS_FILE = "_moderation_previous_file"


def on_pre_save(sender: type[models.Model], instance: models.Model, raw: bool = False,
                **kwargs: Any) -> None:
    """Remember the stored file name so a replaced file can be deleted after commit."""
    if raw or instance.pk is None or instance._state.adding:
        return
    field = registry.get_options(sender).image_field
    previous = sender._default_manager.filter(pk=instance.pk).values_list(
        field, flat=True).first()
    setattr(instance, _PREVIOUS_FILE, previous or "")


def on_post_save(sender: type[models.Model], instance: models.Model, created: bool,
                 raw: bool = False, **kwargs: Any) -> None:
    """Open or refresh the instance's case and queue a scan after commit.

    The host's row may already be committed (autocommit) when this runs, so a database
    error here must not become the host's 500: it is logged, and the sweeper opens the
    case of any registered object that has none. ``submit_for_moderation`` runs in its
    own atomic block (a savepoint inside the host's transaction), so the failure leaves
    the host's transaction usable.
    """
    if raw:  # loaddata: fixtures are not uploads
        return
    try:
        submit_for_moderation(instance)
    except DatabaseError as exc:
        logger.warning("could not open the case of %s %s (%s); the sweeper will",
                       sender._meta.label, instance.pk, exc)
    previous = getattr(instance, _PREVIOUS_FILE, "")
    if previous:
        delattr(instance, _PREVIOUS_FILE)
        current = getattr(registry.get_options(sender).get_file(instance), "name", "") or ""
        if previous != current:
            _delete_file_after_commit(sender, previous)
            _delete_derivatives_after_commit(sender, instance.pk)


def on_post_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    """Delete the case (and its evidence) and the file; the audit log keeps its rows."""
    ModerationCase.objects.for_instance(instance).delete()
    file = registry.get_options(sender).get_file(instance)
    if getattr(file, "name", ""):
        _delete_file_after_commit(sender, file.name)
    _delete_derivatives_after_commit(sender, instance.pk)


def _delete_derivatives_after_commit(sender: type[models.Model], pk: object) -> None:
    """Drop the work's cached thumbnails once the delete or replace is final."""
    if moderation_settings.DELETE_REPLACED_FILES:
        transaction.on_commit(lambda: derivatives.delete_all(sender, pk))


def _delete_file_after_commit(sender: type[models.Model], name: str) -> None:
    """Delete an original no registered object refers to any more, once that is final.

    An original whose work is gone must not stay reachable (the media view refuses it
    too, but a web server in front of MEDIA_ROOT would not). ``DELETE_REPLACED_FILES``
    turns this off for hosts that keep originals on purpose.
    """
    if not moderation_settings.DELETE_REPLACED_FILES:
        return
    field = sender._meta.get_field(registry.get_options(sender).image_field)
    storage = getattr(field, "storage", None)
    if storage is None:
        return

    def delete() -> None:
        for model, options in registry.items():
            if model._default_manager.filter(**{options.image_field: name}).exists():
                return  # another object still shows this file
        try:
            storage.delete(name)
        except OSError as exc:
            logger.warning("could not delete the orphaned file %s (%s)", name, exc)

    transaction.on_commit(delete)


def _uid(kind: str, model: type[models.Model]) -> str:
    return f"moderation.{kind}.{model._meta.label_lower}"


def connect_model(model: type[models.Model], registered: bool) -> None:
    """Connect (or, on unregister, disconnect) the receivers of one registered model."""
    if registered:
        pre_save.connect(on_pre_save, sender=model, weak=False,
                         dispatch_uid=_uid("presave", model))
        post_save.connect(on_post_save, sender=model, weak=False,
                          dispatch_uid=_uid("save", model))
        post_delete.connect(on_post_delete, sender=model, weak=False,
                            dispatch_uid=_uid("delete", model))
    else:
        pre_save.disconnect(sender=model, dispatch_uid=_uid("presave", model))
        post_save.disconnect(sender=model, dispatch_uid=_uid("save", model))
        post_delete.disconnect(sender=model, dispatch_uid=_uid("delete", model))


def on_case_scanned(sender: Any, case: ModerationCase, **kwargs: Any) -> None:
    """A finished scan that holds the work tells its uploader (once per hold)."""
    if case.owner_id is None or case.route != Route.HELD:
        return
    if case.notifications.filter(kind=NotificationKind.HELD, read_at__isnull=True).exists():
        return
    notify.record(case.owner, case, NotificationKind.HELD, case.route)


def on_case_scanned_reports(sender: Any, case: ModerationCase, **kwargs: Any) -> None:
    """A scan decides the route afresh; open viewer reports hold the work again when
    their score still passes the threshold (a rescan must not release a reported work)."""
    if Report.objects.filter(case_id=case.pk, status=ReportStatus.OPEN).exists():
        rescore(case.pk)


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


def connect_viewer_state() -> None:
    """Drop a viewer's cached preference and review bit whenever either may change
    (:mod:`moderation.feeds.viewer_state`)."""
    for signal in (post_save, post_delete):
        signal.connect(viewer_state.on_preference_changed, sender=ViewerPreference,
                       dispatch_uid=f"moderation.viewer_state.preference.{id(signal)}")
    user_model = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(viewer_state.on_user_changed, sender=user_model,
                       dispatch_uid=f"moderation.viewer_state.user.{id(signal)}")
    # A custom user model without PermissionsMixin has neither relation.
    for name in ("groups", "user_permissions"):
        through = getattr(getattr(user_model, name, None), "through", None)
        if through is not None:
            m2m_changed.connect(viewer_state.on_user_links_changed, sender=through,
                                dispatch_uid=f"moderation.viewer_state.{name}")
    m2m_changed.connect(viewer_state.on_many_changed, sender=Group.permissions.through,
                        dispatch_uid="moderation.viewer_state.group_permissions")
    for model in (Group, Permission):
        post_delete.connect(viewer_state.on_many_changed, sender=model,
                            dispatch_uid=f"moderation.viewer_state.{model.__name__}")


def register_signal_handlers() -> None:
    """Connect the receivers for every registered model, now and later; those that drop
    cached feed pages when a work enters, leaves or moves between feeds; and the
    uploader notices."""
    registry.add_listener(connect_model)
    post_init.connect(feed_cache.remember_route, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.remember_route")
    post_save.connect(feed_cache.on_case_saved, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.case_saved")
    post_save.connect(burst_ids.on_case_saved, sender=ModerationCase,
                      dispatch_uid="moderation.feeds.burst_ids")
    post_delete.connect(feed_cache.on_case_deleted, sender=ModerationCase,
                        dispatch_uid="moderation.feeds.case_deleted")
    verdict_changed.connect(feed_cache.on_verdict_changed,
                            dispatch_uid="moderation.feeds.verdict_changed")
    connect_viewer_state()
    pre_delete.connect(fingerprint_banks.on_case_deleted, sender=ModerationCase,
                       dispatch_uid="moderation.fingerprints.case_deleted")
    case_scanned.connect(on_case_scanned, dispatch_uid="moderation.notice.scanned")
    case_scanned.connect(on_case_scanned_reports, dispatch_uid="moderation.reports.scanned")
    action_taken.connect(on_action_taken, dispatch_uid="moderation.notice.action")
    appeal_decided.connect(on_appeal_decided, dispatch_uid="moderation.notice.appeal")
