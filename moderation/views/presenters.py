"""Turn stored evidence and reason codes into what the pages show, in the user's language.

Metadata strings are attacker-controlled: they are passed to templates as plain strings
and rendered with autoescaping, never marked safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from moderation.constants import DetectorMode
from moderation.labels import evidence_text, finding_text
from moderation.models import Evidence
from moderation.reasons import get_reason

#: Detail keys shown first, with their labels; other keys follow in stored order.
DETAIL_LABELS = {
    "generator": gettext_lazy("Generator"),
    "model": gettext_lazy("Model / checkpoint"),
    "checkpoint": gettext_lazy("Checkpoint"),
    "loras": gettext_lazy("LoRAs"),
    "sampler": gettext_lazy("Sampler"),
    "signer": gettext_lazy("C2PA signer"),
    "trust": gettext_lazy("Trust state"),
    "validation_state": gettext_lazy("Validation state"),
    "digital_source_type": gettext_lazy("IPTC digital source type"),
    "source_type": gettext_lazy("IPTC digital source type"),
    "threshold": gettext_lazy("Review threshold"),
}


@dataclass(frozen=True)
class ReasonView:
    """One reason code as the moderator (or the uploader) reads it."""

    code: str
    text: str
    category: str


def present_reasons(codes: Iterable[Any]) -> list[ReasonView]:
    """Each reason code with its text from the reason table, in the policy's order."""
    out = []
    for code in codes or ():
        reason = get_reason(str(code))
        out.append(ReasonView(reason.code, str(reason.text), reason.category))
    return out


def calibrated_meaning(score: float | None, details: dict[str, Any]) -> str:
    """'At most 1 in N hand-made works scores this high' from the bundle's FPR thresholds."""
    thresholds = details.get("thresholds") if isinstance(details, dict) else None
    if score is None or not isinstance(thresholds, dict):
        return ""
    rates: list[tuple[float, float]] = []
    for key, value in thresholds.items():
        if not str(key).startswith("fpr_"):
            continue
        try:
            rates.append((float(str(key).split("_", 1)[1]), float(value)))
        except (TypeError, ValueError):
            continue
    passed = [rate for rate, threshold in rates if score >= threshold and rate > 0]
    if not passed:
        return _("Many hand-made works score this high: this score alone means little.")
    return _("At most 1 in %(n)s hand-made works scores this high.") % {
        "n": f"{round(1 / min(passed)):,}"}


@dataclass
class EvidenceView:
    row: Evidence
    text: str
    shadow: bool
    meaning: str
    details: list[tuple[str, str]]
    private: list[tuple[str, str]]


def _flatten(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _clip(text: str, limit: int) -> str:
    return text[:limit] + " …" if len(text) > limit else text


def _finding_rows(findings: list[Any], limit: int) -> list[tuple[str, str]]:
    """One row per metadata finding (PNG chunk, EXIF field, C2PA manifest...), its
    summary first, then what it names; empty and bookkeeping fields are left out."""
    rows = []
    for finding in findings:
        if not isinstance(finding, dict):
            rows.append(("", _clip(_flatten(finding), limit)))
            continue
        skip = {"source", "params", "has_private", "label", "strength", "kind", "reason"}
        parts = [finding_text(finding)]
        parts += [f"{k}: {_flatten(v)}" for k, v in finding.items()
                  if k not in skip and _flatten(v)]
        rows.append((str(finding.get("source") or finding.get("kind") or "?"),
                     _clip(" · ".join(p for p in parts if p), limit)))
    return rows


def _pairs(data: dict[str, Any], limit: int = 4000) -> list[tuple[str, str]]:
    if not isinstance(data, dict):
        return []
    keys = [k for k in DETAIL_LABELS if k in data] + [k for k in data if k not in DETAIL_LABELS]
    out = []
    for key in keys:
        value = data[key]
        if key == "findings" and isinstance(value, list):
            out += _finding_rows(value, limit)
            continue
        if value in (None, "", [], {}, False):
            continue
        out.append((str(DETAIL_LABELS.get(key, key)), _clip(_flatten(value), limit)))
    return out


def present_evidence(rows: list[Evidence], *, show_private: bool) -> list[EvidenceView]:
    return [EvidenceView(row=e, text=evidence_text(e), shadow=e.mode == DetectorMode.SHADOW,
                         meaning=calibrated_meaning(e.score, e.details),
                         details=_pairs(e.details),
                         private=_pairs(e.private, limit=20000) if show_private else [])
            for e in rows]
