"""Verdicts: relabel, route, hide and restore a work. The route always comes from the
policy (``route_for_label``), so a moderator's label lands where the policy says."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from moderation import notify
from moderation.actions.base import ActionConflict, ActionForm, BaseAction
from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.models import ModerationAction, ModerationCase, Strike
from moderation.reasons import MODERATOR, UNDISCLOSED_AI
from moderation.signals import strike_recorded
from moderation.strikes import record_strike, standing


class DefaultTrueField(forms.Field):
    """A yes/no parameter that is yes unless the request says no ("0", "false", False)."""

    NO = frozenset({"0", "false", "False", "off", "no"})
    YES = frozenset({"1", "true", "True", "on", "yes"})

    def to_python(self, value: Any) -> bool:
        if value is None or value == "" or value is True:
            return True
        if value is False:
            return False
        if str(value) in self.NO:
            return False
        if str(value) in self.YES:
            return True
        raise forms.ValidationError(_("Choose yes or no."), code="invalid")


class RelabelForm(ActionForm):
    tool = forms.CharField(required=False, max_length=200, label=_("Tool or model"))


class MarkAIForm(RelabelForm):
    strike = DefaultTrueField(required=False, label=_("Record a strike"))


class RouteForm(ActionForm):
    route = forms.ChoiceField(choices=Route.choices, label=_("Route"),
                              error_messages={"required": _("Choose a valid route."),
                                              "invalid_choice": _("Choose a valid route.")})


class _Relabel(BaseAction):
    decides = True
    bulk = True
    resolves_reports = True
    label: str = ""
    form_class = RelabelForm

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        if case.state in {ProcessingState.PENDING, ProcessingState.RUNNING}:
            raise ActionConflict(_("The scan is still running; decide when it has finished."))
        case.label = self.label
        case.route = self.policy.route_for_label(self.label, moderation_settings)
        case.reasons = [MODERATOR.code]
        tool = self.data.get("tool") or ""
        if tool:
            case.generator = tool
        if self.label == Label.HUMAN:
            case.generator, case.model_name, case.loras = "", "", []
        return {}


class MarkHuman(_Relabel):
    name = "mark_human"
    verbose_name = _("Mark hand-made")
    shortcut = "h"
    label = Label.HUMAN

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        super().apply(case)
        case.undisclosed_ai = False
        return {}


class MarkAIAssisted(_Relabel):
    name = "mark_ai_assisted"
    verbose_name = _("Mark AI-assisted")
    shortcut = "s"
    label = Label.AI_ASSISTED


class MarkAI(_Relabel):
    """Label AI. On a work declared hand-made this confirms undisclosed AI: a strike is
    recorded unless the moderator passes ``strike=False`` (e.g. an honest mistake)."""

    name = "mark_ai"
    verbose_name = _("Mark AI-generated")
    shortcut = "g"
    label = Label.AI
    form_class = MarkAIForm
    strike: Strike | None = None
    level = ""

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        super().apply(case)
        case.undisclosed_ai = case.declaration == Declaration.NONE
        if case.undisclosed_ai:
            case.reasons = [MODERATOR.code, UNDISCLOSED_AI.code]
        return {}

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        if not case.undisclosed_ai or not self.data["strike"]:
            return
        if case.owner_id is None or Strike.objects.filter(
                case=case, revoked_at__isnull=True).exists():
            return  # one strike per case, however often it is relabelled
        self.strike = record_strike(case, self.actor, note=self.note)
        self.level = standing(case.owner).level

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        if self.strike is not None:
            strike_recorded.send(sender=Strike, strike=self.strike, level=self.level)
            notify.strike_recorded(self.strike, self.level)


class RouteTo(BaseAction):
    name = "route"
    verbose_name = _("Route to a feed")
    decides = True
    resolves_reports = True
    form_class = RouteForm

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        case.route = self.data["route"]
        return {}


class Hide(BaseAction):
    name = "hide"
    verbose_name = _("Hide")
    shortcut = "x"
    decides = True
    bulk = True
    resolves_reports = True

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        case.route = Route.HIDDEN
        return {}


class Restore(BaseAction):
    """Undo a hide: the work goes back to the feed its label implies."""

    name = "restore"
    verbose_name = _("Restore")
    decides = True
    bulk = True

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        if case.route != Route.HIDDEN:
            raise ActionConflict(_("The work is not hidden."))
        case.route = self.policy.route_for_label(case.label, moderation_settings)
        return {}
