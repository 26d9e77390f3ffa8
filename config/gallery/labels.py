"""Turn a case's verdict into the words a viewer reads: the label line and the "why".

The label names what is known, e.g. "AI生成 · ComfyUI · checkpoint: sd_xl_base_1.0" /
"AI-generated · ComfyUI · checkpoint: ...". Reason codes come from the policy
(``self_declared_ai``, ``provenance_proof``...) and from provenance readers
(``c2pa_trusted_ai``, ``a1111_parameters``...); readers may add codes this module has
never seen, so those are grouped by prefix and unknown ones fall back to a generic
"file metadata" explanation instead of leaking raw codes to viewers.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from moderation.constants import Label
from moderation.models import ModerationCase

#: Exact policy reason codes and what they mean to a viewer.
POLICY_REASONS: dict[str, Promise] = {
    "self_declared_ai": _("declared by the uploader"),
    "self_declared_ai_assisted": _("declared by the uploader"),
    "provenance_proof": _("signed Content Credentials (C2PA) in the file"),
    "provenance_strong": _("generation data in the file"),
    "undisclosed_ai": _("AI evidence in a work declared hand-made"),
    "weak_ai_signal": _("weak AI signal, waiting for a moderator"),
    "no_ai_evidence": _("no AI signal found in the file"),
}

#: Prefixes of provenance reader codes, most specific first.
SOURCE_PREFIXES: tuple[tuple[str, Promise], ...] = (
    ("c2pa", _("signed Content Credentials (C2PA) in the file")),
    ("xmp", _("IPTC digital source type in the file")),
    ("iptc", _("IPTC digital source type in the file")),
    ("composite", _("AI editing recorded in the file")),
    ("stealth", _("hidden generation data in the pixels")),
    ("classifier", _("image classifier")),
    ("onnx", _("image classifier")),
    ("software", _("software name in the file")),
    ("credit", _("software name in the file")),
)

GENERIC_SOURCE = _("generation data in the file")
MODERATOR = _("moderator decision")


@dataclass(frozen=True)
class LabelView:
    """What a template shows for one case: ``parts`` joined by " · " and ``why``."""

    parts: tuple[str, ...]
    why: tuple[str, ...]
    is_ai: bool

    @property
    def text(self) -> str:
        return " · ".join(self.parts)


def explain_reason(code: str) -> str:
    """Return the viewer-facing explanation of one reason code."""
    if code in POLICY_REASONS:
        return str(POLICY_REASONS[code])
    lowered = code.lower()
    for prefix, text in SOURCE_PREFIXES:
        if lowered.startswith(prefix):
            return str(text)
    return str(GENERIC_SOURCE)


def lora_names(loras: object) -> list[str]:
    """Return LoRA names from the case's JSON list (plain names or {"name": ...} items)."""
    names: list[str] = []
    for item in loras if isinstance(loras, list | tuple) else []:
        name = item.get("name") if isinstance(item, dict) else item
        if name:
            names.append(str(name)[:100])
    return names


def label_parts(label: str, generator: str = "", model_name: str = "",
                loras: list[str] | tuple[str, ...] = ()) -> tuple[str, ...]:
    """Return the label line's pieces; hand-made and unknown labels name nothing."""
    if label not in (Label.AI, Label.AI_ASSISTED, Label.UNCERTAIN):
        return (str(Label(label).label),) if label in Label.values else ()
    parts = [str(Label(label).label)]
    if generator:
        parts.append(generator)
    if model_name:
        # Translators: "checkpoint" is the term Stable Diffusion users know; the
        # Japanese catalogue keeps it in English, as Japanese UIs of these tools do.
        parts.append(str(_("checkpoint: %(model)s") % {"model": model_name}))
    if loras:
        parts.append(str(_("LoRA: %(loras)s") % {"loras": ", ".join(loras)}))
    return tuple(parts)


def describe(case: ModerationCase) -> LabelView:
    """Return the label line and the de-duplicated reasons for ``case``."""
    why: list[str] = []
    if case.decided_at is not None:
        why.append(str(MODERATOR))
    for code in case.reasons or []:
        text = explain_reason(str(code))
        if text not in why:
            why.append(text)
    parts = label_parts(case.label, case.generator, case.model_name, lora_names(case.loras))
    return LabelView(parts=parts, why=tuple(why),
                     is_ai=case.label in (Label.AI, Label.AI_ASSISTED))
