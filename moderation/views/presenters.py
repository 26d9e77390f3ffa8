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

from moderation.constants import DetectorMode, Label, Route
from moderation.evidence_export import EXPORT_ACTION
from moderation.labels import evidence_text, finding_text
from moderation.models import Evidence
from moderation.reasons import get_reason, reason_table
from moderation.reports.outcomes import REJECTED_EVENT, UPHELD_EVENT
from moderation.reports.scoring import HOLD_EVENT, REVIEW_EVENT
from moderation.reports.submit import REPORT_EVENT

#: Audit rows of viewers' reports whose note is a weighted score, or a reason code.
REPORT_SCORE_EVENTS = frozenset({REVIEW_EVENT, HOLD_EVENT})
REPORT_REASON_EVENTS = frozenset({REPORT_EVENT, UPHELD_EVENT, REJECTED_EVENT})

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


# -- the designed case page: evidence cards and the audit timeline in words -------------

#: Sources whose evidence points at something other than a label (a bank match, a
#: similar work, a series, a face): "Nothing found" would misread them.
SIGNAL_SOURCES = frozenset({"fingerprints", "similarity", "variation_set", "faces"})
#: What each detector alias is, for the card's heading (other aliases show as they are).
SOURCE_TITLES = {
    "provenance": gettext_lazy("File metadata and provenance"),
    "classifier": gettext_lazy("Image classifier"),
    "fingerprints": gettext_lazy("Fingerprint matches (PDQ)"),
    "similarity": gettext_lazy("Similar to another account's work"),
    "variation_set": gettext_lazy("Series of near-identical uploads"),
    "faces": gettext_lazy("Face check"),
}
#: C2PA validation states as a moderator reads them.
TRUST_STATES = {
    "Trusted": gettext_lazy("signature verified, signer on the trust list"),
    "Valid": gettext_lazy("signature verified, signer not on the trust list"),
    "Invalid": gettext_lazy("signature does not verify"),
}
#: Bookkeeping a card never shows (the raw block below it still lists the rest).
HIDDEN_DETAIL_KEYS = frozenset({"logits", "crops", "thresholds", "kind", "fpr_meaning",
                                "photo_probability", "findings", "truncated", "errors",
                                "matches"})  # fingerprint matches: the similar-works panel
#: Audit rows written by the pipeline rather than an action class.
PIPELINE_EVENTS = {
    "scan": gettext_lazy("Scan finished"),
    "resubmitted": gettext_lazy("New file uploaded"),
    "rejected": gettext_lazy("File refused"),
    "quarantined": gettext_lazy("Scan gave up (quarantined)"),
    EXPORT_ACTION: gettext_lazy("Evidence exported"),
}


@dataclass
class EvidenceCard:
    """One detector's finding as the case page shows it: a heading, one sentence, the
    facts it names in words, the sentences of each metadata finding, and the rest."""

    view: EvidenceView
    title: str
    facts: list[tuple[str, str]]
    findings: list[str]
    raw: list[tuple[str, str]]
    #: The badge's first word: the label the evidence implies, or for a neighbour signal
    #: (a match, a similar work, a face) that carries no label, "Signal".
    badge: str = ""


def _c2pa_facts(details: dict[str, Any]) -> list[tuple[str, str]]:
    raw_c2pa = details.get("c2pa")
    c2pa: dict[str, Any] = raw_c2pa if isinstance(raw_c2pa, dict) else {}
    facts: list[tuple[str, str]] = []
    state = str(c2pa.get("validation_state") or "")
    signer = ""
    for finding in details.get("findings") or []:
        inner = finding.get("details") if isinstance(finding, dict) else None
        if isinstance(inner, dict) and inner.get("signer"):
            signer = str(inner["signer"])
            state = str(inner.get("validation_state") or state)
            break
    if signer:
        facts.append((str(DETAIL_LABELS["signer"]), signer))
    if state:
        facts.append((_("C2PA signature"), str(TRUST_STATES.get(state, state))))
    return facts


def evidence_card(view: EvidenceView) -> EvidenceCard:
    row = view.row
    details = row.details if isinstance(row.details, dict) else {}
    facts: list[tuple[str, str]] = []
    if row.generator:
        facts.append((str(DETAIL_LABELS["generator"]), row.generator))
    if row.model_name:
        facts.append((_("Checkpoint"), row.model_name))
    loras = [str(x.get("name") if isinstance(x, dict) else x) for x in row.loras or []]
    if loras:
        facts.append((str(DETAIL_LABELS["loras"]), ", ".join(loras[:20])))
    facts += _c2pa_facts(details)
    if row.score is not None:
        threshold = details.get("threshold")
        score = (_("%(score)s (review threshold %(threshold)s)") % {
            "score": f"{row.score:.2f}", "threshold": f"{float(threshold):.2f}"}
            if isinstance(threshold, int | float) else f"{row.score:.2f}")
        facts.append((_("Score"), score))
    if details.get("model"):
        facts.append((_("Classifier model"), " ".join(
            str(details[k]) for k in ("model", "model_version") if details.get(k))))
    findings = [t for t in (finding_text(f) for f in details.get("findings") or []) if t]
    raw = _pairs({k: v for k, v in details.items()
                  if k not in HIDDEN_DETAIL_KEYS and k not in {"model", "model_version",
                                                               "threshold", "c2pa"}})
    title = str(SOURCE_TITLES.get(row.detector, row.detector))
    badge = (str(_("Signal")) if row.detector in SIGNAL_SOURCES and row.label == "none"
             else str(row.get_label_display()))
    return EvidenceCard(view=view, title=title, facts=facts, findings=findings, raw=raw,
                        badge=badge)


@dataclass(frozen=True)
class AuditEntry:
    """One audit row in words: when, who, what, and what changed."""

    created_at: Any
    actor: str
    what: str
    changes: list[str]
    note: str


def _label_text(value: Any) -> str:
    return str(Label(value).label) if value in Label.values else "—"


def _route_text(value: Any) -> str:
    return str(Route(value).label) if value in Route.values else "—"


def audit_entries(rows: Iterable[Any], action_names: dict[str, Any]) -> list[AuditEntry]:
    """The audit rows as sentences; ``action_names`` maps action codes to their names."""
    out = []
    for row in rows:
        before = row.before if isinstance(row.before, dict) else {}
        after = row.after if isinstance(row.after, dict) else {}
        changes = []
        if before.get("label") != after.get("label") and "label" in after:
            changes.append(_("Label: %(before)s → %(after)s") % {
                "before": _label_text(before.get("label")),
                "after": _label_text(after.get("label"))})
        if before.get("route") != after.get("route") and "route" in after:
            changes.append(_("Shown in: %(before)s → %(after)s") % {
                "before": _route_text(before.get("route")),
                "after": _route_text(after.get("route"))})
        what = action_names.get(row.action) or PIPELINE_EVENTS.get(row.action) or row.action
        actor = row.actor.get_username() if row.actor_id and row.actor else _("the system")
        note = row.note or ""
        if row.action == "scan" and note:
            # The scan's note is the policy's reason codes: read them through the table.
            note = " ".join(str(get_reason(code.strip()).text) for code in note.split(",")
                            if code.strip())
        elif row.action in REPORT_SCORE_EVENTS and note:
            note = _("Weighted report score: %(score)s") % {"score": note}
        elif row.action in REPORT_REASON_EVENTS and note in reason_table:
            note = str(get_reason(note).text)
        elif row.action == "resubmitted" and note == "forced rescan":
            note = _("A rescan was requested.")
        elif row.action == "resubmitted" and note.startswith("changed: "):
            note = _("Changed fields: %(fields)s") % {"fields": note[len("changed: "):]}
        out.append(AuditEntry(row.created_at, str(actor), str(what), changes, note))
    return out
