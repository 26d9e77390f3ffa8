"""What a viewer reads next to a work: the label line that names the tools, and why.

"AI生成 · ComfyUI · checkpoint: sd_xl_base_1.0 · LoRA: …" / "AI-generated · ComfyUI ·
checkpoint: … · LoRA: …", or "AI-assisted". A work without AI evidence gets no public
label at all: finding nothing is not knowing it is hand-made, so "Hand-made" shows only
when a moderator decided it or signed provenance (a trusted C2PA capture) says so
(:func:`human_established`); the uploader alone reads "no AI signal found" on the work's
status page (:func:`uploader_why`). The "why" lines are the signal families of the
case's reason codes, as the reason table (:mod:`moderation.reasons`) names them:
declared by the uploader, C2PA
(signed by <signer> when known), NovelAI's signature, generation data in the file,
moderator, image classifier, a detector's own family...; plus "AI evidence in a work
declared hand-made" for undisclosed AI. They follow the order of the policy's
reason codes, so the decisive reason comes first. Shared by the template tags and the
DRF field so the page and the API never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.translation import gettext

from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label
from moderation.models import Evidence, ModerationCase
from moderation.permissions import is_moderator
from moderation.querysets import content_type_for
from moderation.reasons import (
    PROVENANCE_NOT_AI,
    WHY_C2PA,
    WHY_CLASSIFIER,
    WHY_MODERATOR,
    WHY_NO_AI,
    WHY_SELF_DECLARED,
    WHY_SIGNED_CAPTURE,
    WhyGroup,
    describe,
    get_reason,
)

SEPARATOR = " · "
CASE_ATTR = "_moderation_case"
MAX_LORAS = 5

@dataclass(frozen=True)
class Why:
    code: str
    text: str


@dataclass(frozen=True)
class LabelInfo:
    """A rendered label; ``text`` is empty for hand-made works."""

    label: str
    text: str = ""
    generator: str = ""
    model_name: str = ""
    loras: tuple[str, ...] = ()
    why: tuple[Why, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return bool(self.text)

    def as_dict(self, *, with_why: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"label": self.label or None, "text": self.text,
                                "generator": self.generator, "model": self.model_name,
                                "loras": list(self.loras)}
        if with_why:
            data["why"] = [{"code": w.code, "text": w.text} for w in self.why]
        return data


def _lora_names(loras: Any) -> tuple[str, ...]:
    names: list[str] = []
    for item in loras if isinstance(loras, list) else []:
        name = item.get("name") if isinstance(item, dict) else item
        if name:
            names.append(str(name)[:100])
    return tuple(names)


def _find_signer(details: Any, depth: int = 0) -> str:
    """First ``signer`` value in an evidence's details (readers nest it differently)."""
    if depth > 4:
        return ""
    if isinstance(details, dict):
        signer = details.get("signer")
        if isinstance(signer, str) and signer:
            return signer
        values: Iterable[Any] = details.values()
    elif isinstance(details, list):
        values = details
    else:
        return ""
    for value in values:
        found = _find_signer(value, depth + 1)
        if found:
            return found
    return ""


SIGNER_ATTR = "_moderation_c2pa_signer"


def _c2pa_signer(case: ModerationCase) -> str:
    if hasattr(case, SIGNER_ATTR):  # prefetch_cases found it with the page's cases
        return str(getattr(case, SIGNER_ATTR))
    if case.pk is None:  # an unsaved case has no evidence yet
        return ""
    return _first_signer(Evidence.objects.filter(case=case).values_list("details", flat=True))


def _first_signer(all_details: Iterable[Any]) -> str:
    for details in all_details:
        signer = _find_signer(details)
        if signer:
            return signer
    return ""


def why_groups(case: ModerationCase) -> list[WhyGroup]:
    """The signal families a viewer may read: a moderator's decision first, then in the
    order the policy gave its reason codes (the decisive one first)."""
    groups: list[WhyGroup] = [WHY_MODERATOR] if case.decided_by_id else []
    for code in case.reasons or []:
        group = get_reason(str(code)).why
        if group is not None and group not in groups:
            groups.append(group)
    if case.declaration in (Declaration.AI, Declaration.AI_ASSISTED) and (
            WHY_SELF_DECLARED not in groups):
        groups.append(WHY_SELF_DECLARED)
    if WHY_CLASSIFIER in groups and len(groups) > 1:
        groups.remove(WHY_CLASSIFIER)  # a classifier adds nothing to firmer evidence
    if case.label == Label.HUMAN:
        # Evidence a moderator overruled is no reason for "hand-made"; neither is an
        # absence of signals (that is for the uploader only, see uploader_why).
        return [g for g in groups if g in (WHY_MODERATOR, WHY_SIGNED_CAPTURE)]
    return [g for g in groups if g != WHY_NO_AI]


def human_established(case: ModerationCase | None) -> bool:
    """Whether the site may say "hand-made": a moderator decided it, or signed
    provenance from a trusted signer says it is not AI. No AI signal is not enough."""
    return bool(case is not None and case.label == Label.HUMAN and (
        case.decided_by_id or PROVENANCE_NOT_AI.code in (case.reasons or [])))


def uploader_why(case: ModerationCase) -> tuple[Why, ...]:
    """What the uploader reads about their own finished work: the public "why", or
    "no AI signal found in the file" when the scan found nothing (never shown publicly)."""
    if case.label == Label.HUMAN and not human_established(case):
        return (Why(WHY_NO_AI.code, str(WHY_NO_AI.text)),)
    # "moderator" is a viewer's one-word family; the uploader reads a sentence.
    return tuple(Why(w.code, gettext("A moderator reviewed the work.")) if
                 w.code == WHY_MODERATOR.code else w for w in why_for(case))


def why_for(case: ModerationCase) -> tuple[Why, ...]:
    out: list[Why] = []
    for group in why_groups(case):
        text = str(group.text)
        if group == WHY_C2PA:
            signer = _c2pa_signer(case)
            if signer:
                text = gettext("C2PA signed by %(signer)s") % {"signer": signer}
        out.append(Why(group.code, text))
    return tuple(out)


def label_for_case(case: ModerationCase | None) -> LabelInfo:
    """The label line for ``case``; empty for hand-made, undecided or missing cases."""
    if human_established(case):
        assert case is not None  # narrowed by human_established
        return LabelInfo(label=Label.HUMAN, text=gettext("Hand-made"), why=why_for(case))
    if case is None or case.label not in (Label.AI, Label.AI_ASSISTED):
        # Nothing public: undecided, or no AI evidence (which proves nothing).
        return LabelInfo(label="")
    generator = case.generator or ""
    if not generator and case.declared_tool:
        generator = case.declared_tool
    loras = _lora_names(case.loras)
    if case.label == Label.AI:
        parts = [gettext("AI-generated")]
        if generator:
            parts.append(generator)
        if case.model_name:
            # Translators: "checkpoint" is the term Stable Diffusion users know; the
            # Japanese catalogue keeps it in English, as Japanese UIs of these tools do.
            parts.append(gettext("checkpoint: %(model)s") % {"model": case.model_name})
        if loras:
            shown = ", ".join(loras[:MAX_LORAS]) + ("…" if len(loras) > MAX_LORAS else "")
            parts.append(gettext("LoRA: %(names)s") % {"names": shown})
    else:
        parts = [gettext("AI-assisted")] + ([generator] if generator else [])
    return LabelInfo(label=case.label, text=SEPARATOR.join(parts), generator=generator,
                     model_name=case.model_name, loras=loras, why=why_for(case))


def evidence_text(row: Evidence) -> str:
    """An evidence row's one-line summary in the active language (empty when the
    detector gave no message)."""
    return describe(row.message, row.message_params)


def finding_text(finding: Any) -> str:
    """One stored provenance finding (a dict in ``details["findings"]``) as a sentence."""
    if not isinstance(finding, dict):
        return ""
    params = finding.get("params")
    return describe(str(finding.get("reason") or ""), params if isinstance(params, dict) else None)


def case_of(obj: models.Model) -> ModerationCase | None:
    """The work's case, from :func:`prefetch_cases`' cache or one query."""
    if isinstance(obj, ModerationCase):
        return obj
    if hasattr(obj, CASE_ATTR):
        return getattr(obj, CASE_ATTR)
    case = ModerationCase.objects.for_instance(obj).first()
    setattr(obj, CASE_ATTR, case)
    return case


#: The case columns a feed tile reads: the label line (:func:`label_for_case`, its
#: "why"), the tile's status and report links (owner, content type, object id), and what
#: feeds annotate. Feeds load only these (scan bookkeeping, hashes and errors are never
#: shown there): fewer columns to read and turn into objects on the hottest pages.
TILE_CASE_FIELDS = (
    "id", "content_type_id", "object_id", "owner_id", "state", "route", "label",
    "declaration", "declared_tool", "generator", "model_name", "loras", "reasons",
    "decided_by_id", "created_at", "burst",
)


def prefetch_cases(objs: Sequence[models.Model], using: str | None = None,
                   fields: Sequence[str] | None = None) -> Sequence[models.Model]:
    """Attach each work's case with one query per model (for listings), and the C2PA
    signers the label lines name with one more, so a page of labels costs a fixed number
    of queries however many works it shows. Works that already carry their case are
    left alone; ``using`` is the database alias to read from (feeds: a replica);
    ``fields`` limits the columns loaded (feeds: :data:`TILE_CASE_FIELDS`; any other
    column read later costs a query per case)."""
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for obj in objs:
        if not hasattr(obj, CASE_ATTR):
            by_model.setdefault(type(obj), []).append(obj)
    manager = ModerationCase.objects.using(using) if using else ModerationCase.objects
    cases_qs = manager.only(*fields) if fields else manager.all()
    signed: dict[Any, ModerationCase] = {}
    for model, items in by_model.items():
        cases = {c.object_id: c for c in cases_qs.filter(
            content_type=content_type_for(model), object_id__in=[str(o.pk) for o in items])}
        for obj in items:
            case = cases.get(str(obj.pk))
            setattr(obj, CASE_ATTR, case)
            if case is not None and case.label in (Label.AI, Label.AI_ASSISTED) and (
                    WHY_C2PA in why_groups(case)):
                signed[case.pk] = case
    if signed:
        details: dict[Any, list[Any]] = {}
        evidence = Evidence.objects.using(using) if using else Evidence.objects
        for case_id, detail in evidence.filter(case_id__in=list(signed)).values_list(
                "case_id", "details"):
            details.setdefault(case_id, []).append(detail)
        for case_id, case in signed.items():
            setattr(case, SIGNER_ATTR, _first_signer(details.get(case_id, [])))
    return objs


def label_for(obj: models.Model) -> LabelInfo:
    return label_for_case(case_of(obj))


def viewer_sees_why(user: Any) -> bool:
    """Moderators always see the evidence; viewers when the site allows it."""
    return bool(moderation_settings.SHOW_EVIDENCE_TO_VIEWERS) or is_moderator(user)
