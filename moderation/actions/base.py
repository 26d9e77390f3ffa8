"""The base of every moderator action: parameters as a form, one locked, audited change.

Each ``run()``:

1. validates its parameters with the action's form (the same form whether the action
   is called from Python, the case page or the API),
2. locks the case row (``select_for_update``) inside ``transaction.atomic``,
3. checks the actor's permission against the *locked* state,
4. applies the change and writes one append-only ``ModerationAction`` row,
5. sends ``action_taken`` (and ``verdict_changed`` when label/route moved) after commit.

Subclassing :class:`BaseAction` with a ``name`` registers the action: the registry is
derived from the classes, so an action exists in exactly one place.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django import forms
from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.utils import timezone
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _

from moderation.constants import NOTE_MAX
from moderation.models import ModerationAction, ModerationCase
from moderation.permissions import conflict_of_interest, held_by_other, is_moderator
from moderation.policy import BasePolicy, get_policy
from moderation.reports.outcomes import resolve_reports
from moderation.signals import action_taken, verdict_changed


class ActionError(Exception):
    """The action cannot run on this case as asked; ``status`` is the HTTP status to use.

    ``errors`` maps parameter names to their messages when a form refused them.
    """

    status = 400

    def __init__(self, message: Any, errors: Mapping[str, list[str]] | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.errors: dict[str, list[str]] = dict(errors or {})


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


class ActionForm(forms.Form):
    """Parameters every action takes: an optional note, recorded in the audit row."""

    # Django's CharField strips the text and refuses NUL (which PostgreSQL cannot store).
    note = forms.CharField(required=False, max_length=NOTE_MAX, label=_("Note"))

    def __init__(self, *args: Any, case: ModerationCase, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.case = case


#: Every action class by ``name``, filled as the classes are defined.
registry: dict[str, type[BaseAction]] = {}


class BaseAction(ABC):
    """One mutation of one case by one actor.

    Subclasses set ``name`` (which registers them), ``verbose_name`` and ``form_class``
    (their parameters; read them from ``self.data``), implement :meth:`apply` and may
    extend :meth:`check_permission`. A subclass that does not set its own ``name`` is a
    shared base (or a variant used from Python) and is not registered.
    """

    name: ClassVar[str] = ""
    verbose_name: ClassVar[Any] = ""
    form_class: ClassVar[type[ActionForm]] = ActionForm
    #: Key for the keyboard shortcut on the queue and case pages ("" = none).
    shortcut: ClassVar[str] = ""
    moderator_only: ClassVar[bool] = True
    #: Refuse while another moderator holds a live claim on the case.
    respects_claims: ClassVar[bool] = True
    #: A verdict: conflict-of-interest check, sets decided_by/at, leaves the queue.
    decides: ClassVar[bool] = False
    #: Can be applied to a selection from the queue.
    bulk: ClassVar[bool] = False
    #: A verdict that settles the case's open viewer reports (upheld or not) and moves
    #: each reporter's reputation (``moderation.reports.outcomes``).
    resolves_reports: ClassVar[bool] = False
    #: What the pages say once it ran ("" = "<verbose_name>: done.").
    done_message: ClassVar[Any] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            return
        known = registry.get(cls.name)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise TypeError(f"two actions are named {cls.name!r}: {known} and {cls}")
        registry[cls.name] = cls

    def __init__(self, actor: Any, case: ModerationCase, **params: Any) -> None:
        self.actor = actor
        self.case = case
        self.params = params
        self.data: dict[str, Any] = {}

    @property
    def note(self) -> str:
        return str(self.data.get("note") or "")

    @property
    def policy(self) -> BasePolicy:
        return get_policy()

    # -- hooks -------------------------------------------------------------------------
    def clean(self) -> None:
        """Validate the parameters with :attr:`form_class` before any lock is taken."""
        self.data = validate(self.form_class, self.case, self.params)

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

    def audit_note(self) -> str:
        return self.note

    # -- driver ------------------------------------------------------------------------
    def run(self) -> ActionResult:
        self.clean()
        with transaction.atomic():
            case = ModerationCase.objects.select_for_update().get(pk=self.case.pk)
            self.check_permission(case)
            before = _audit_state(case)
            extra = self.apply(case) or {}
            if self.decides:
                case.decided_by, case.decided_at = self.actor, timezone.now()
                case.needs_review = False
                if case.claimed_by_id == getattr(self.actor, "pk", None):
                    case.claimed_by, case.claimed_at = None, None
            case.save()
            after = _audit_state(case)
            entry = ModerationAction.objects.create(
                case=case, actor=self.actor if getattr(self.actor, "pk", None) else None,
                action=self.name, before=before, after=after, note=self.audit_note())
            self.after_save(case, entry)
            if self.resolves_reports:
                resolve_reports(case, self.actor)
            transaction.on_commit(lambda: self._send(case, entry, before, after))
        self.case = case
        return ActionResult(case, entry, extra)

    def _send(self, case: ModerationCase, entry: ModerationAction, before: dict[str, Any],
              after: dict[str, Any]) -> None:
        self.on_commit(case, entry)
        action_taken.send(sender=type(self), case=case, action=entry, actor=self.actor)
        if (before["label"], before["route"]) != (after["label"], after["route"]):
            verdict_changed.send(sender=ModerationCase, case=case, before=before, after=after,
                                 actor=self.actor)


def _audit_state(case: ModerationCase) -> dict[str, Any]:
    return {**case.snapshot(), "claimed_by": case.claimed_by_id,
            "decided_by": case.decided_by_id}


def validate(form_class: type[ActionForm], case: ModerationCase,
             params: Mapping[str, Any]) -> dict[str, Any]:
    """Clean ``params`` (Python values or request data) with ``form_class``.

    Files (one or a list) go to the form's files, everything else to its data; a
    parameter the form does not declare is refused rather than silently dropped.
    """
    data: dict[str, Any] = {}
    files: MultiValueDict[str, Any] = MultiValueDict()
    for key, value in params.items():
        if isinstance(value, File):
            files.setlist(key, [value])
        elif isinstance(value, list | tuple) and value and all(
                isinstance(v, File) for v in value):
            files.setlist(key, list(value))
        else:
            data[key] = value
    form = form_class(data=data, files=files, case=case)
    unknown = sorted(set(params) - set(form.fields))
    if unknown:
        raise ActionInvalid(_("Unknown parameter: %(names)s.") % {"names": ", ".join(unknown)},
                            {name: [str(_("This action takes no such parameter."))]
                             for name in unknown})
    if not form.is_valid():
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        first = next(iter(errors.values()))[0]
        raise ActionInvalid(first, errors)
    return dict(form.cleaned_data)


def get_action(name: str) -> type[BaseAction]:
    try:
        return registry[name]
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
