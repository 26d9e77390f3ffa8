"""What a viewer reads next to a work: the label line that names the tools, and why.

"AI生成 · ComfyUI · SDXL · LoRA: …" / "AI-generated · ComfyUI · SDXL · LoRA: …", or
"AI-assisted"; hand-made (and undecided) works get no label at all. The "why" is one of:
self-declared, file metadata, C2PA signed by <signer>, moderator. Shared by the template
tags and the DRF field so the page and the API never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import models
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _

from moderation.conf import moderation_settings
from moderation.constants import Declaration, Label
from moderation.feeds import content_type_for, is_moderator
from moderation.models import Evidence, ModerationCase

SEPARATOR = " · "
CASE_ATTR = "_moderation_case"
MAX_LORAS = 5

WHY_SELF_DECLARED = "self_declared"
WHY_METADATA = "file_metadata"
WHY_C2PA = "c2pa"
WHY_MODERATOR = "moderator"
WHY_CLASSIFIER = "classifier"

WHY_TEXT = {
    WHY_SELF_DECLARED: _("self-declared"),
    WHY_METADATA: _("file metadata"),
    WHY_MODERATOR: _("moderator"),
    WHY_CLASSIFIER: _("image classifier"),
}


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


def _c2pa_signer(case: ModerationCase) -> str:
    for details in Evidence.objects.filter(case=case).values_list("details", flat=True):
        signer = _find_signer(details)
        if signer:
            return signer
    return ""


def why_for(case: ModerationCase) -> tuple[Why, ...]:
    """The reasons a viewer may read, most authoritative first."""
    reasons = [str(r) for r in case.reasons or []]
    out: list[Why] = []
    if case.decided_by_id:
        out.append(Why(WHY_MODERATOR, str(WHY_TEXT[WHY_MODERATOR])))
    if any(r.startswith("c2pa") or r == "provenance_proof" for r in reasons):
        signer = _c2pa_signer(case)
        text = (_g("C2PA signed by %(signer)s") % {"signer": signer} if signer
                else _g("C2PA Content Credentials"))
        out.append(Why(WHY_C2PA, text))
    elif any(r.startswith("provenance_") for r in reasons):
        out.append(Why(WHY_METADATA, str(WHY_TEXT[WHY_METADATA])))
    if case.declaration in (Declaration.AI, Declaration.AI_ASSISTED) or any(
            r.startswith("self_declared") for r in reasons):
        out.append(Why(WHY_SELF_DECLARED, str(WHY_TEXT[WHY_SELF_DECLARED])))
    if not out and any(r.startswith(("classifier", "weak_ai")) for r in reasons):
        out.append(Why(WHY_CLASSIFIER, str(WHY_TEXT[WHY_CLASSIFIER])))
    return tuple(out)


def label_for_case(case: ModerationCase | None) -> LabelInfo:
    """The label line for ``case``; empty for hand-made, undecided or missing cases."""
    if case is None or case.label not in (Label.AI, Label.AI_ASSISTED):
        return LabelInfo(label=getattr(case, "label", "") or "")
    generator = case.generator or ""
    if not generator and case.declared_tool:
        generator = case.declared_tool
    loras = _lora_names(case.loras)
    if case.label == Label.AI:
        parts = [_g("AI-generated")]
        parts += [p for p in (generator, case.model_name) if p]
        if loras:
            shown = ", ".join(loras[:MAX_LORAS]) + ("…" if len(loras) > MAX_LORAS else "")
            parts.append(_g("LoRA: %(names)s") % {"names": shown})
    else:
        parts = [_g("AI-assisted")] + ([generator] if generator else [])
    return LabelInfo(label=case.label, text=SEPARATOR.join(parts), generator=generator,
                     model_name=case.model_name, loras=loras, why=why_for(case))


def case_of(obj: models.Model) -> ModerationCase | None:
    """The work's case, from :func:`prefetch_cases`' cache or one query."""
    if isinstance(obj, ModerationCase):
        return obj
    if hasattr(obj, CASE_ATTR):
        return getattr(obj, CASE_ATTR)
    case = ModerationCase.objects.for_instance(obj).first()
    setattr(obj, CASE_ATTR, case)
    return case


def prefetch_cases(objs: Sequence[models.Model]) -> Sequence[models.Model]:
    """Attach each work's case with one query per model (for listings)."""
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for obj in objs:
        by_model.setdefault(type(obj), []).append(obj)
    for model, items in by_model.items():
        cases = {c.object_id: c for c in ModerationCase.objects.filter(
            content_type=content_type_for(model), object_id__in=[str(o.pk) for o in items])}
        for obj in items:
            setattr(obj, CASE_ATTR, cases.get(str(obj.pk)))
    return objs


def label_for(obj: models.Model) -> LabelInfo:
    return label_for_case(case_of(obj))


def viewer_sees_why(user: Any) -> bool:
    """Moderators always see the evidence; viewers when the site allows it."""
    return bool(moderation_settings.SHOW_EVIDENCE_TO_VIEWERS) or is_moderator(user)
