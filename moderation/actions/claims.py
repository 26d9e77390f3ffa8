"""Working on a case: claim and release it, leave a note, queue a rescan."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation.actions.base import NOTE_MAX, ActionConflict, ActionForm, BaseAction
from moderation.models import ModerationAction, ModerationCase
from moderation.services import rescan


class NoteForm(ActionForm):
    note = forms.CharField(max_length=NOTE_MAX, label=_("Note"),
                           error_messages={"required": _("Write a note.")})


class Claim(BaseAction):
    name = "claim"
    verbose_name = _("Claim")
    shortcut = "c"
    bulk = True

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        case.claimed_by, case.claimed_at = self.actor, timezone.now()
        return {}


class Release(BaseAction):
    name = "release"
    verbose_name = _("Release")
    shortcut = "u"
    bulk = True

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        if case.claimed_by_id is None:
            raise ActionConflict(_("Nobody has claimed this case."))
        case.claimed_by, case.claimed_at = None, None
        return {}


class AddNote(BaseAction):
    name = "note"
    verbose_name = _("Add note")
    shortcut = "n"
    respects_claims = False
    form_class = NoteForm

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        return {}


class Rescan(BaseAction):
    """Queue a new scan after commit (e.g. after a detector update); verdicts stand."""

    name = "rescan"
    verbose_name = _("Rescan")
    shortcut = "r"
    bulk = True

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        if case.host_instance() is None:
            raise ActionConflict(_("The work no longer exists."))
        return {}

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        instance = case.host_instance()
        if instance is not None:
            with transaction.atomic():
                rescan(instance)
