"""Every moderator mutation as one class: permission check, transaction, audit entry, signal.

Pages, the Django admin and the API all call these classes, so a rule (who may decide,
conflict of interest, claims, strikes) lives in exactly one place. Each ``run()``:

1. validates its parameters,
2. locks the case row (``select_for_update``) inside ``transaction.atomic``,
3. checks the actor's permission against the *locked* state,
4. applies the change and writes one append-only ``ModerationAction`` row,
5. sends ``action_taken`` (and ``verdict_changed`` when label/route moved) after commit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label, ProcessingState, Route
from moderation.models import (
    Appeal,
    AppealFile,
    AppealStatus,
    ModerationAction,
    ModerationCase,
    Strike,
)
from moderation.permissions import (
    can_appeal,
    claim_is_live,
    conflict_of_interest,
    held_by_other,
    is_moderator,
)

#: Review priority of an appealed case: after every risk category (product.md order).
PRIORITY_APPEAL = 100
NOTE_MAX = 5000


class ActionError(Exception):
    """The action cannot run on this case as asked; ``status`` is the HTTP status to use."""

    status = 400

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class ActionInvalid(ActionError):
    status = 400


class ActionConflict(ActionError):
    """The case's state forbids it now (claimed by someone else, appeal already decided)."""

    status = 409


@dataclass
class ActionResult:
    case: ModerationCase
    entry: ModerationAction
    extra: dict[str, Any] = field(default_factory=dict)


def route_for_label(label: str) -> str:
    """The feed a work with ``label`` belongs in once a moderator has decided it."""
    if label == Label.HUMAN:
        return Route.MAIN
    if label == Label.AI:
        return Route.AI_FEED
    if label == Label.AI_ASSISTED:
        return str(moderation_settings.AI_ASSISTED_ROUTE)
    return Route.HELD


def _audit_state(case: ModerationCase) -> dict[str, Any]:
    return {**case.snapshot(), "claimed_by": case.claimed_by_id,
            "decided_by": case.decided_by_id}


class BaseAction(ABC):
    """One mutation of one case by one actor. Subclasses set the class attributes and
    implement :meth:`apply`; they may extend :meth:`clean` and :meth:`check_permission`."""

    name: ClassVar[str] = ""
    verbose_name: ClassVar[Any] = ""
    #: Key for the keyboard shortcut on the queue and case pages ("" = none).
    shortcut: ClassVar[str] = ""
    moderator_only: ClassVar[bool] = True
    #: Refuse while another moderator holds a live claim on the case.
    respects_claims: ClassVar[bool] = True
    #: A verdict: conflict-of-interest check, sets decided_by/at, leaves the queue.
    decides: ClassVar[bool] = False
    #: Can be applied to a selection from the queue.
    bulk: ClassVar[bool] = False

    def __init__(self, actor: Any, case: ModerationCase, *, note: str = "",
                 **params: Any) -> None:
        self.actor = actor
        self.case = case
        self.note = (note or "").strip()
        self.params = params

    # -- hooks -------------------------------------------------------------------------
    def clean(self) -> None:
        """Validate parameters before any lock is taken."""
        if len(self.note) > NOTE_MAX:
            raise ActionInvalid(_("The note is too long."))
        texts = [self.note, *(v for v in self.params.values() if isinstance(v, str))]
        if any("\x00" in text for text in texts):
            # PostgreSQL cannot store NUL in text; refuse it as Django's forms do
            # (this message is in Django's own catalogues).
            raise ActionInvalid(_("Null characters are not allowed."))

    def check_permission(self, case: ModerationCase) -> None:
        """Raise PermissionDenied or ActionConflict; ``case`` is the locked row."""
        if self.moderator_only and not is_moderator(self.actor):
            raise PermissionDenied(_("Only moderators can do this."))
        if self.decides and conflict_of_interest(self.actor, case):
            raise PermissionDenied(_("You cannot decide on your own upload."))
        if self.respects_claims and held_by_other(self.actor, case):
            raise ActionConflict(_("%(user)s is working on this case.") % {
                "user": case.claimed_by})

    @abstractmethod
    def apply(self, case: ModerationCase) -> dict[str, Any]:
        """Change ``case`` in memory (it is saved afterwards); return extra result data."""

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        """Write related rows (strikes, appeals) inside the same transaction."""
        return None  # optional hook: most actions write nothing else

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        """Side effects that must only happen once the change is durable (mail, tasks)."""
        return None  # optional hook: most actions have no side effects

    # -- driver ------------------------------------------------------------------------
    def run(self) -> ActionResult:
        self.clean()
        with transaction.atomic():
            case = ModerationCase.objects.select_for_update().get(pk=self.case.pk)
            self.check_permission(case)
            before = _audit_state(case)
            extra = self.apply(case) or {}
            if self.decides:
                now = timezone.now()
                case.decided_by, case.decided_at = self.actor, now
                case.needs_review = False
                if case.claimed_by_id == getattr(self.actor, "pk", None):
                    case.claimed_by, case.claimed_at = None, None
            case.save()
            after = _audit_state(case)
            entry = ModerationAction.objects.create(
                case=case, actor=self.actor if getattr(self.actor, "pk", None) else None,
                action=self.name, before=before, after=after, note=self.audit_note())
            self.after_save(case, entry)
            transaction.on_commit(lambda: self._send(case, entry, before, after))
        self.case = case
        return ActionResult(case, entry, extra)

    def audit_note(self) -> str:
        return self.note

    def _send(self, case: ModerationCase, entry: ModerationAction, before: dict[str, Any],
              after: dict[str, Any]) -> None:
        from moderation.signals import action_taken, verdict_changed

        self.on_commit(case, entry)
        action_taken.send(sender=type(self), case=case, action=entry, actor=self.actor)
        if (before["label"], before["route"]) != (after["label"], after["route"]):
            verdict_changed.send(sender=ModerationCase, case=case, before=before, after=after,
                                 actor=self.actor)


# -- verdicts ---------------------------------------------------------------------------
class _Relabel(BaseAction):
    decides = True
    bulk = True
    label: ClassVar[str] = ""

    def clean(self) -> None:
        super().clean()
        tool = self.params.get("tool") or ""
        if len(tool) > 200:
            raise ActionInvalid(_("The tool name is too long."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        if case.state in {ProcessingState.PENDING, ProcessingState.RUNNING}:
            raise ActionConflict(_("The scan is still running; decide when it has finished."))
        case.label = self.label
        case.route = route_for_label(self.label)
        case.reasons = ["moderator"]
        tool = (self.params.get("tool") or "").strip()
        if tool:
            case.generator = tool[:200]
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

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        super().apply(case)
        case.undisclosed_ai = case.declaration == Declaration.NONE
        if case.undisclosed_ai:
            case.reasons = ["moderator", "undisclosed_ai"]
        return {}

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        self.strike: Strike | None = None
        if not case.undisclosed_ai or self.params.get("strike", True) is False:
            return
        if case.owner_id is None or Strike.objects.filter(
                case=case, revoked_at__isnull=True).exists():
            return  # one strike per case, however often it is relabelled
        from moderation.strikes import record_strike, standing

        self.strike = record_strike(case, self.actor, note=self.note)
        self.level = standing(case.owner).level

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        if getattr(self, "strike", None) is not None:
            from moderation import notify
            from moderation.signals import strike_recorded

            strike_recorded.send(sender=Strike, strike=self.strike, level=self.level)
            notify.strike_recorded(self.strike, self.level)


class RouteTo(BaseAction):
    name = "route"
    verbose_name = _("Route to a feed")
    decides = True

    def clean(self) -> None:
        super().clean()
        if self.params.get("route") not in Route.values:
            raise ActionInvalid(_("Choose a valid route."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        case.route = self.params["route"]
        return {}


class Hide(BaseAction):
    name = "hide"
    verbose_name = _("Hide")
    shortcut = "x"
    decides = True
    bulk = True

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
        case.route = route_for_label(case.label)
        return {}


# -- bookkeeping ------------------------------------------------------------------------
class StrikeAction(BaseAction):
    """A manual strike (reasons other than a relabel, e.g. repeated reposts)."""

    name = "strike"
    verbose_name = _("Record a strike")
    decides = False

    def clean(self) -> None:
        super().clean()
        if not self.note:
            raise ActionInvalid(_("Say why the strike is recorded."))

    def check_permission(self, case: ModerationCase) -> None:
        super().check_permission(case)
        if conflict_of_interest(self.actor, case):
            raise PermissionDenied(_("You cannot decide on your own upload."))
        if case.owner_id is None:
            raise ActionConflict(_("This work has no uploader."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        return {}

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        from moderation.strikes import record_strike, standing

        self.strike = record_strike(case, self.actor,
                                    reason=str(self.params.get("reason") or "other")[:32],
                                    note=self.note)
        self.level = standing(case.owner).level

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        from moderation import notify
        from moderation.signals import strike_recorded

        strike_recorded.send(sender=Strike, strike=self.strike, level=self.level)
        notify.strike_recorded(self.strike, self.level)


class LiftSuspension(BaseAction):
    name = "lift_suspension"
    verbose_name = _("Lift upload suspension")
    respects_claims = False

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        from moderation.strikes import active_strikes

        latest = active_strikes(case.owner_id).last() if case.owner_id else None
        if latest is None or latest.lifted_at is not None:
            raise ActionConflict(_("This account is not suspended."))
        Strike.objects.filter(pk=latest.pk).update(lifted_at=timezone.now())
        return {"strike": latest.pk}


class AddNote(BaseAction):
    name = "note"
    verbose_name = _("Add note")
    shortcut = "n"
    respects_claims = False

    def clean(self) -> None:
        super().clean()
        if not self.note:
            raise ActionInvalid(_("Write a note."))

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
        from moderation.services import rescan

        instance = case.host_instance()
        if instance is not None:
            with transaction.atomic():
                rescan(instance)


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


# -- appeals ----------------------------------------------------------------------------
class SubmitAppeal(BaseAction):
    """The uploader appeals a label or hold, optionally with proof-of-process files.

    ``files`` is a list of ``(kind, UploadedFile)``. The appealed case goes back into the
    moderators' queue.
    """

    name = "appeal"
    verbose_name = _("Appeal")
    moderator_only = False
    respects_claims = False

    def clean(self) -> None:
        super().clean()
        message = (self.params.get("message") or "").strip()
        if not message:
            raise ActionInvalid(_("Tell the moderators why the label is wrong."))
        if len(message) > NOTE_MAX:
            raise ActionInvalid(_("The message is too long."))
        files = list(self.params.get("files") or [])
        if len(files) > moderation_settings.APPEAL_MAX_FILES:
            raise ActionInvalid(_("Too many files."))
        limit = moderation_settings.APPEAL_MAX_FILE_BYTES
        for kind, upload in files:
            if kind not in AppealFile.Kind.values:
                raise ActionInvalid(_("Unknown kind of file."))
            if upload.size > limit:
                raise ActionInvalid(_("A file is larger than this site accepts."))
        self.message, self.files = message, files

    def check_permission(self, case: ModerationCase) -> None:
        if not can_appeal(self.actor, case):
            raise PermissionDenied(_("You cannot appeal this work."))
        if Appeal.objects.filter(case=case, status=AppealStatus.OPEN).exists():
            raise ActionConflict(_("An appeal for this work is already open."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        case.needs_review = True
        case.review_priority = PRIORITY_APPEAL
        return {}

    def audit_note(self) -> str:
        return self.message

    def after_save(self, case: ModerationCase, entry: ModerationAction) -> None:
        self.appeal = Appeal.objects.create(case=case, user=self.actor, message=self.message)
        for kind, upload in self.files:
            AppealFile.objects.create(
                appeal=self.appeal, kind=kind, file=upload, size=upload.size,
                original_name=str(upload.name).replace("\x00", "")[:255])

    def run(self) -> ActionResult:
        result = super().run()
        result.extra["appeal"] = self.appeal
        return result


class AddAppealFile(BaseAction):
    """The uploader attaches one more proof-of-process file to their open appeal."""

    name = "appeal_file"
    verbose_name = _("Add proof to appeal")
    moderator_only = False
    respects_claims = False

    def clean(self) -> None:
        super().clean()
        appeal, upload = self.params.get("appeal"), self.params.get("upload")
        if not isinstance(appeal, Appeal) or appeal.case_id != self.case.pk or upload is None:
            raise ActionInvalid(_("Choose an appeal of this case."))
        if self.params.get("kind") not in AppealFile.Kind.values:
            raise ActionInvalid(_("Unknown kind of file."))
        if upload.size > moderation_settings.APPEAL_MAX_FILE_BYTES:
            raise ActionInvalid(_("A file is larger than this site accepts."))

    def check_permission(self, case: ModerationCase) -> None:
        appeal = self.params["appeal"]
        if appeal.user_id != getattr(self.actor, "pk", None):
            raise PermissionDenied(_("Only the uploader can add proof to an appeal."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        appeal = Appeal.objects.select_for_update().get(pk=self.params["appeal"].pk)
        if appeal.status != AppealStatus.OPEN:
            raise ActionConflict(_("This appeal was already decided."))
        # Hard quota checked under the appeal's lock: throttles alone let bursts through.
        if appeal.files.count() >= moderation_settings.APPEAL_MAX_FILES:
            raise ActionConflict(_("Too many files."))
        upload = self.params["upload"]
        self.proof = AppealFile.objects.create(
            appeal=appeal, kind=self.params["kind"], file=upload,
            original_name=str(upload.name).replace("\x00", "")[:255], size=upload.size)
        return {"file": self.proof}

    def audit_note(self) -> str:
        return f"appeal {self.params['appeal'].pk}: {self.params['kind']}"


class DecideAppeal(BaseAction):
    """Uphold or overturn an open appeal. Overturning relabels the work (by default to what
    the uploader declared) and revokes the strikes this case caused."""

    name = "decide_appeal"
    verbose_name = _("Decide appeal")
    decides = True

    def clean(self) -> None:
        super().clean()
        appeal = self.params.get("appeal")
        if not isinstance(appeal, Appeal) or appeal.case_id != self.case.pk:
            raise ActionInvalid(_("Choose an appeal of this case."))
        if self.params.get("outcome") not in {AppealStatus.UPHELD, AppealStatus.OVERTURNED}:
            raise ActionInvalid(_("Choose uphold or overturn."))
        label = self.params.get("label")
        if label and label not in {Label.HUMAN, Label.AI_ASSISTED, Label.AI}:
            raise ActionInvalid(_("Choose a valid label."))

    def apply(self, case: ModerationCase) -> dict[str, Any]:
        appeal = Appeal.objects.select_for_update().get(pk=self.params["appeal"].pk)
        if appeal.status != AppealStatus.OPEN:
            raise ActionConflict(_("This appeal was already decided."))
        outcome = self.params["outcome"]
        if outcome == AppealStatus.OVERTURNED:
            declared: dict[str, str] = {Declaration.AI_ASSISTED: Label.AI_ASSISTED,
                                        Declaration.AI: Label.AI}
            label = self.params.get("label") or declared.get(case.declaration, Label.HUMAN)
            case.label, case.route = label, route_for_label(label)
            case.reasons = ["moderator", "appeal_overturned"]
            case.undisclosed_ai = False
            Strike.objects.filter(case=case, revoked_at__isnull=True).update(
                revoked_at=timezone.now())
        appeal.status = outcome
        appeal.decided_by, appeal.decided_at = self.actor, timezone.now()
        appeal.decision_note = self.note
        appeal.save()
        self.appeal = appeal
        return {"appeal": appeal}

    def on_commit(self, case: ModerationCase, entry: ModerationAction) -> None:
        from moderation import notify
        from moderation.signals import appeal_decided

        self.appeal.case = case
        appeal_decided.send(sender=Appeal, appeal=self.appeal)
        notify.appeal_decided(self.appeal)


ACTIONS: dict[str, type[BaseAction]] = {
    cls.name: cls for cls in (
        MarkHuman, MarkAIAssisted, MarkAI, RouteTo, Hide, Restore, StrikeAction,
        LiftSuspension, AddNote, Rescan, Claim, Release, SubmitAppeal, AddAppealFile,
        DecideAppeal)
}
#: Actions a moderator picks from the case page and queue (appeals have their own forms).
CASE_ACTIONS = ("claim", "release", "mark_human", "mark_ai_assisted", "mark_ai", "hide",
                "restore", "rescan", "note", "strike", "lift_suspension", "route")
BULK_ACTIONS = tuple(name for name, cls in ACTIONS.items() if cls.bulk)


def get_action(name: str) -> type[BaseAction]:
    try:
        return ACTIONS[name]
    except KeyError:
        raise ActionInvalid(_("Unknown action.")) from None


def run_bulk(action: type[BaseAction], actor: Any, cases: Iterable[ModerationCase],
             **params: Any) -> tuple[list[ActionResult], list[tuple[ModerationCase, str]]]:
    """Apply ``action`` to each case in its own transaction; collect what failed and why."""
    if not action.bulk:
        raise ActionInvalid(_("This action cannot be applied to a selection."))
    done: list[ActionResult] = []
    failed: list[tuple[ModerationCase, str]] = []
    for case in cases:
        try:
            done.append(action(actor, case, **params).run())
        except (ActionError, PermissionDenied) as exc:
            failed.append((case, str(exc)))
    return done, failed


# -- classifier versions (no case) -----------------------------------------------------
#: Permission (besides superuser) needed to promote a classifier version.
PROMOTE_CLASSIFIER_PERMISSION = "moderation.promote_classifier"


def can_promote_classifier(actor: Any) -> bool:
    """Superusers and holders of ``moderation.promote_classifier`` (active accounts only)."""
    return bool(getattr(actor, "is_active", False)
                and (getattr(actor, "is_superuser", False)
                     or actor.has_perm(PROMOTE_CLASSIFIER_PERMISSION)))


def promoted_message(version: str, current: Any) -> Any:
    """What the operator is told after a promotion (command line and admin alike)."""
    return _("%(version)s is now the enforcing classifier (%(path)s). Classifier aliases whose "
             "BUNDLE is that path switch to it at their next image, in every worker, without "
             "a restart; an alias configured with another path (the shipped bundle, a "
             "version directory) keeps its model until you change it and restart the "
             "workers.") % {"version": version, "path": current}


class PromoteClassifier:
    """Make an installed site-adapted classifier version the enforcing one.

    The single promotion path for the admin's "Classifier versions" page and
    ``manage.py moderation_train --promote``: the version is checked and validated, the
    ``current`` symlink moved (``site.promote``) and one audit row written (``case``
    None; ``before``/``after`` hold the versions and the held-out metrics the decision
    rested on). ``actor`` None is the command line, whose operator already holds the
    server; a web actor needs :func:`can_promote_classifier`.
    """

    name: ClassVar[str] = "classifier_promoted"

    def __init__(self, actor: Any, version: str, *, install_dir: Any = None,
                 note: str = "") -> None:
        from pathlib import Path

        from moderation.training.site import default_install_dir

        self.actor = actor
        self.version = version
        self.install_dir = Path(install_dir) if install_dir else default_install_dir()
        self.note = (note or "").strip()

    def entry(self) -> dict[str, Any]:
        """The install log entry of the version to promote (ActionInvalid if none)."""
        from moderation.training.site import read_installed

        for e in read_installed(self.install_dir):
            if e.get("version") == self.version:
                return e
        raise ActionInvalid(_("No installed classifier version %(version)s.")
                            % {"version": self.version})

    def run(self) -> ModerationAction:
        from moderation.training.site import SiteDataError, current_version, promote

        if self.actor is not None and not can_promote_classifier(self.actor):
            raise PermissionDenied(_("You may not promote classifier versions."))
        entry = self.entry()
        previous = current_version(self.install_dir)
        if previous == self.version:
            raise ActionConflict(_("%(version)s is already the enforcing version.")
                                 % {"version": self.version})
        metrics = entry.get("metrics") or {}
        before = {"current": previous, "compared_with": entry.get("base"),
                  "metrics": metrics.get("old")}
        after = {"current": self.version, "metrics": metrics.get("new")}
        with transaction.atomic():
            # The audit row rolls back if the promotion fails; the symlink moves last.
            row = ModerationAction.objects.create(
                case=None, actor=self.actor if getattr(self.actor, "pk", None) else None,
                action=self.name, before=before, after=after, note=self.note)
            try:
                promote(self.install_dir, self.version)
            except SiteDataError as exc:
                raise ActionInvalid(str(exc)) from exc
        return row


__all__ = [
    "ACTIONS",
    "BULK_ACTIONS",
    "CASE_ACTIONS",
    "PRIORITY_APPEAL",
    "PROMOTE_CLASSIFIER_PERMISSION",
    "ActionConflict",
    "ActionError",
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
    "PromoteClassifier",
    "Release",
    "Rescan",
    "Restore",
    "RouteTo",
    "StrikeAction",
    "SubmitAppeal",
    "can_promote_classifier",
    "claim_is_live",
    "get_action",
    "promoted_message",
    "route_for_label",
    "run_bulk",
]
