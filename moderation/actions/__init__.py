"""Every moderator mutation as one class: permission check, transaction, audit entry, signal.

Pages, the Django admin and the API all call these classes, so a rule (who may decide,
conflict of interest, claims, strikes) lives in exactly one place. One module per group:
:mod:`~moderation.actions.verdicts`, :mod:`~moderation.actions.claims`,
:mod:`~moderation.actions.strikes`, :mod:`~moderation.actions.appeals`. Defining a
subclass of :class:`BaseAction` with a ``name`` registers it; the case page and the API
reach every registered action at ``…/actions/<name>/`` through
:func:`~moderation.actions.dispatch.dispatch`.
"""

from __future__ import annotations

from moderation.actions.appeals import AddAppealFile, DecideAppeal, SubmitAppeal
from moderation.actions.base import (
    ActionConflict,
    ActionError,
    ActionForm,
    ActionInvalid,
    ActionResult,
    BaseAction,
    get_action,
    registry,
    run_bulk,
)
from moderation.actions.claims import AddNote, Claim, Release, Rescan
from moderation.actions.dispatch import dispatch, request_params
from moderation.actions.strikes import LiftSuspension, StrikeAction
from moderation.actions.verdicts import (
    Hide,
    MarkAI,
    MarkAIAssisted,
    MarkHuman,
    Restore,
    RouteTo,
)


def bulk_actions() -> tuple[str, ...]:
    """Names of the actions a moderator may apply to a selection from the queue."""
    return tuple(name for name, cls in registry.items() if cls.bulk)


__all__ = [
    "ActionConflict",
    "ActionError",
    "ActionForm",
    "ActionInvalid",
    "ActionResult",
    "AddAppealFile",
    "AddNote",
    "BaseAction",
    "Claim",
    "DecideAppeal",
    "Hide",
    "LiftSuspension",
    "MarkAI",
    "MarkAIAssisted",
    "MarkHuman",
    "Release",
    "Rescan",
    "Restore",
    "RouteTo",
    "StrikeAction",
    "SubmitAppeal",
    "bulk_actions",
    "dispatch",
    "get_action",
    "registry",
    "request_params",
    "run_bulk",
]
