"""Strikes against an uploader: record one by hand, lift a suspension."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation import notify
from moderation.actions.base import NOTE_MAX, ActionConflict, ActionForm, BaseAction
from moderation.models import ModerationAction, ModerationCase, Strike
from moderation.permissions import conflict_of_interest
from moderation.signals import strike_recorded
from moderation.strikes import active_strikes, record_strike, standing

#: Why a strike is recorded by hand (stored on the strike).
STRIKE_REASONS = (("undisclosed_ai", _("Undisclosed AI")), ("repost", _("Repost")),
                  ("other", _("Other")))


class StrikeForm(ActionForm):
    note = forms.CharField(max_length=NOTE_MAX, label=_("Why (required)"),
                           error_messages={"required": _("Say why the strike is recorded.")})
    reason = forms.ChoiceField(choices=STRIKE_REASONS, required=False, label=_("Reason"))

    def clean_reason(self) -> str:
        return str(self.cleaned_data.get("reason") or "other")


class StrikeAction(BaseAction):
    """A manual strike (reasons other than a relabel, e.g. repeated reposts)."""

    name = "strike"
    verbose_name = _("Record a strike")
    form_class = StrikeForm

    def check_permission(self, case: ModerationCase) -> None:
        super().check_permission(case)
        if conflict_of_interest(self.actor, case):
            raise PermissionDenied(_("You cannot decide on your own upload."))
        if case.owner_id is None:
            raise ActionConflict(_("This work has no uploader."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        return {}

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        self.strike = record_strike(case, self.actor, reason=self.data["reason"],
                                    note=self.note)
        self.level = standing(case.owner).level

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        strike_recorded.send(sender=Strike, strike=self.strike, level=self.level)
        notify.strike_recorded(self.strike, self.level)


class LiftSuspension(BaseAction):
    name = "lift_suspension"
    verbose_name = _("Lift upload suspension")
    respects_claims = False

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        latest = active_strikes(case.owner_id).last() if case.owner_id else None
        if latest is None or latest.lifted_at is not None:
            raise ActionConflict(_("This account is not suspended."))
        Strike.objects.filter(pk=latest.pk).update(lifted_at=timezone.now())
        return {"strike": latest.pk}
