"""``case.json``: everything the site knows about one case, for one audience.

Two audiences read a bundle:

* ``moderator`` (and ``operator``, the command line): everything, including who acted,
  moderators' notes and every detector's raw details; prompts and other private
  metadata only when the exporter may read them (:func:`moderation.permissions.can_view_private`,
  or ``--include-private`` on the command line).
* ``uploader``: the creator's own case, to hand to a platform or a lawyer. What it
  withholds is listed in :data:`UPLOADER_REDACTIONS` and written into the bundle itself
  (``redactions``), so the reader knows what is missing and why.

Every sentence is rendered in the active language from reason codes
(:func:`moderation.reasons.describe`); the codes are kept next to the sentences, so the
JSON can be read by programs in any language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from moderation import __version__
from moderation import actions as A
from moderation.actions.strikes import STRIKE_REASONS
from moderation.constants import (
    Declaration,
    DetectorMode,
    EvidenceLabel,
    Label,
    ProcessingState,
    Route,
    Strength,
)
from moderation.evidence_export.hashes import PdqHash
from moderation.evidence_export.schema import FORMAT, SCHEMA_VERSION
from moderation.evidence_export.timeline import (
    SegmentCheck,
    canonical_text,
    checkpoint_state,
    problem_text,
    row_hash_ok,
)
from moderation.hashchain import GENESIS_HASH
from moderation.labels import finding_text
from moderation.models import Evidence, ModerationAction, ModerationCase, Strike
from moderation.reasons import describe, get_reason
from moderation.visibility import PUBLIC_ROUTES

MODERATOR = "moderator"
UPLOADER = "uploader"
OPERATOR = "operator"
AUDIENCES = (MODERATOR, UPLOADER, OPERATOR)

#: The audit code of an export (written by :func:`moderation.evidence_export.export_case`).
EXPORT_ACTION = "evidence_exported"

#: Audit rows written outside the action classes, in words.
SYSTEM_EVENTS = {
    "scan": gettext_lazy("Scan finished"),
    "resubmitted": gettext_lazy("New file uploaded"),
    "rejected": gettext_lazy("File refused"),
    "quarantined": gettext_lazy("Scan gave up (quarantined)"),
    "scan_failed": gettext_lazy("Scan attempt failed"),
    "attempt_lost": gettext_lazy("Scan attempt lost"),
    EXPORT_ACTION: gettext_lazy("Evidence exported"),
}

#: System rows whose note is an internal error message (hosts, paths): withheld from
#: the uploader, like moderators' notes.
INTERNAL_NOTE_ACTIONS = frozenset({"scan_failed", "quarantined", "attempt_lost"})

#: Audit rows that set or changed the verdict (listed again under "decisions").
DECISION_ACTIONS = frozenset({"route", "hide", "restore", "decide_appeal"})

#: Snapshot keys that hold a user id (a moderator's, usually).
USER_ID_KEYS = frozenset({"claimed_by", "decided_by"})

#: Keys of a stored match, in the order they are looked for (detectors name them
#: differently; the first present wins).
MATCH_CASE_KEYS = ("case_id", "other_case_id", "matched_case_id", "case")
MATCH_OBJECT_KEYS = ("object_id", "work_id", "other_object_id")
MATCH_TYPE_KEYS = ("content_type", "model")
MATCH_TIME_KEYS = ("created_at", "uploaded_at", "published_at", "registered_at", "added_at",
                   "at")


@dataclass(frozen=True)
class Redaction:
    code: str
    text: Any


#: What an uploader's bundle leaves out; written into the bundle as ``redactions``.
UPLOADER_REDACTIONS = (
    Redaction("moderator_identity", gettext_lazy(
        "Moderators' names and account numbers: entries by a moderator name the role "
        "only.")),
    Redaction("moderator_notes", gettext_lazy(
        "Moderators' internal notes and strike notes (a moderator's message to you on "
        "an appeal is kept).")),
    Redaction("reporters", gettext_lazy(
        "Who reported or registered anything, and any other account's private data.")),
    Redaction("non_public_matches", gettext_lazy(
        "For matches with another account's work that is not public: that work's "
        "number, owner and date (the distance and the kind of match are kept).")),
    Redaction("private_metadata", gettext_lazy(
        "Prompts and other metadata the site keeps for moderators only.")),
    Redaction("raw_details", gettext_lazy(
        "Detectors' raw records and detectors running in trial (shadow) mode; what each "
        "enforcing detector found is kept.")),
    Redaction("internal_errors", gettext_lazy(
        "The site's internal error messages from failed scan attempts.")),
)


@dataclass
class FileFacts:
    """What :mod:`moderation.evidence_export.hashes` found in the stored file."""

    available: bool
    problem: str = ""
    size: int | None = None
    sha256: str | None = None
    format: str = ""
    width: int | None = None
    height: int | None = None
    pdq: PdqHash | None = None
    pdq_status: str = "unavailable"  # computed | unavailable | not_decoded
    preview: str | None = None


@dataclass(frozen=True)
class Viewer:
    """Who the bundle is for: the audience and what it may read."""

    audience: str
    user: Any = None
    include_private: bool = False

    @property
    def full(self) -> bool:
        return self.audience in (MODERATOR, OPERATOR)


# -- small formatters ------------------------------------------------------------------

def iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC ("…Z"), the one time form in the JSON."""
    if value is None:
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _choice_text(choices: Any, value: Any) -> str:
    return str(choices(value).label) if value in choices.values else ""


def _reasons(codes: Iterable[Any]) -> list[dict[str, str]]:
    return [{"code": str(c), "text": str(get_reason(str(c)).text)} for c in codes or ()]


def _flatten(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(_flatten(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    return "" if value is None else str(value)


def _lora_names(loras: Any) -> list[str]:
    out = []
    for item in loras if isinstance(loras, list) else []:
        name = item.get("name") if isinstance(item, dict) else item
        if name:
            out.append(str(name))
    return out


def _signers(details: Any, depth: int = 0) -> list[tuple[str, str]]:
    """Every (C2PA signer, validation state) named anywhere in an evidence's details."""
    if depth > 5:
        return []
    found: list[tuple[str, str]] = []
    if isinstance(details, dict):
        signer = details.get("signer")
        if isinstance(signer, str) and signer:
            found.append((signer, str(details.get("validation_state") or "")))
        for value in details.values():
            found += _signers(value, depth + 1)
    elif isinstance(details, list):
        for value in details:
            found += _signers(value, depth + 1)
    return found


# -- evidence --------------------------------------------------------------------------

def _facts(row: Evidence) -> list[dict[str, str]]:
    """The facts a finding names, in words (the case page's card facts)."""
    details = row.details if isinstance(row.details, dict) else {}
    facts: list[tuple[str, str]] = []
    if row.generator:
        facts.append((_("Generator"), row.generator))
    if row.model_name:
        facts.append((_("Model / checkpoint"), row.model_name))
    loras = _lora_names(row.loras)
    if loras:
        facts.append((_("LoRAs"), ", ".join(loras)))
    for signer, state in dict.fromkeys(_signers(details)):
        facts.append((_("C2PA signer"), f"{signer} ({state})" if state else signer))
    if row.score is not None:
        facts.append((_("Score"), f"{row.score:.4f}"))
    threshold = details.get("threshold")
    if isinstance(threshold, int | float):
        facts.append((_("Review threshold"), f"{float(threshold):.4f}"))
    if details.get("model"):
        facts.append((_("Classifier model"), " ".join(
            str(details[k]) for k in ("model", "model_version") if details.get(k))))
    return [{"name": str(k), "value": v} for k, v in facts]


def _evidence_entry(row: Evidence, viewer: Viewer) -> dict[str, Any]:
    details = row.details if isinstance(row.details, dict) else {}
    entry: dict[str, Any] = {
        "id": row.pk, "source": row.detector, "detector_version": row.detector_version,
        "mode": row.mode, "label": row.label,
        "label_text": _choice_text(EvidenceLabel, row.label),
        "strength": row.strength, "strength_text": _choice_text(Strength, row.strength),
        "score": row.score, "message": row.message,
        "message_params": dict(row.message_params or {}),
        "text": describe(row.message, row.message_params),
        "generator": row.generator, "model": row.model_name,
        "loras": _lora_names(row.loras), "reasons": _reasons(row.reasons),
        "facts": _facts(row),
        "findings": [t for t in (finding_text(f) for f in details.get("findings") or []) if t],
        "content_sha256": row.content_sha256, "created_at": iso(row.created_at),
        "error": row.error if viewer.full else ("" if not row.error else _("withheld")),
    }
    if viewer.full:
        entry["details"] = details
    if viewer.full and viewer.include_private and row.private:
        entry["private"] = row.private
    return entry


# -- matches ---------------------------------------------------------------------------

def _first(item: Mapping[str, Any], keys: Iterable[str]) -> Any:
    return next((item[k] for k in keys if item.get(k) not in (None, "")), None)


def _match_items(details: Any) -> list[dict[str, Any]]:
    """The stored matches of one evidence row: ``details["matches"]`` (a list of
    objects) or ``details["match"]`` (one object)."""
    if not isinstance(details, dict):
        return []
    items = details.get("matches")
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        single = details.get("match")
        items = [single] if isinstance(single, dict) else []
    return [item for item in items if isinstance(item, dict)]


def _other_case(item: Mapping[str, Any]) -> ModerationCase | None:
    case_id = _first(item, MATCH_CASE_KEYS)
    if isinstance(case_id, dict):
        case_id = case_id.get("id")
    try:
        pk = int(case_id)
    except (TypeError, ValueError):
        pk = None
    qs = ModerationCase.objects.select_related("owner", "content_type")
    if pk is not None:
        return qs.filter(pk=pk).first()
    object_id, model = _first(item, MATCH_OBJECT_KEYS), _first(item, MATCH_TYPE_KEYS)
    if object_id is None or not isinstance(model, str) or "." not in model:
        return None
    app_label, _dot, model_name = model.partition(".")
    return qs.filter(content_type__app_label=app_label, content_type__model=model_name,
                     object_id=str(object_id)).first()


def _match_entry(row: Evidence, item: Mapping[str, Any], case: ModerationCase,
                 viewer: Viewer) -> dict[str, Any]:
    other = _other_case(item)
    distance = item.get("distance")
    stored_time = _first(item, MATCH_TIME_KEYS)
    owner_name = other.owner.get_username() if other is not None and other.owner else ""
    info: dict[str, Any] = {
        "case_id": other.pk if other else _first(item, MATCH_CASE_KEYS),
        "content_type": (f"{other.content_type.app_label}.{other.content_type.model}"
                         if other else _first(item, MATCH_TYPE_KEYS)),
        "object_id": other.object_id if other else _first(item, MATCH_OBJECT_KEYS),
        "created_at": iso(other.created_at) if other else (
            str(stored_time) if stored_time is not None else None),
        "owner": owner_name or (str(item.get("owner")) if item.get("owner") else ""),
        "public": bool(other and other.route in PUBLIC_ROUTES),
        "same_owner": bool(other and other.owner_id and other.owner_id == case.owner_id),
    }
    if other is not None and stored_time is not None:
        info["matched_record_time"] = str(stored_time)
    withheld = not viewer.full and not (info["public"] or info["same_owner"])
    entry: dict[str, Any] = {
        "evidence_id": row.pk, "source": row.detector,
        "bank": str(item.get("bank") or ""),
        "kind": str(item.get("kind") or item.get("signal") or ""),
        "distance": distance if isinstance(distance, int | float) else None,
        "threshold": item.get("threshold") if isinstance(item.get("threshold"),
                                                         int | float) else None,
        "text": describe(row.message, row.message_params),
        "withheld": withheld,
        "other": None if withheld else info,
    }
    if viewer.full:
        entry["stored"] = dict(item)
    return entry


def _matches(rows: list[Evidence], case: ModerationCase, viewer: Viewer) -> list[dict[str, Any]]:
    """Matches from each row's details, and from its private part (where the fingerprint
    banks keep who owns or protects the other work); :func:`_match_entry` withholds the
    other work from an uploader's copy unless it is public or theirs."""
    return [_match_entry(row, item, case, viewer) for row in rows
            for item in _match_items(row.details) + _match_items(row.private)]


# -- timeline --------------------------------------------------------------------------

def _action_text(action: str) -> str:
    cls = A.registry.get(action)
    if cls is not None:
        return str(cls.verbose_name)
    return str(SYSTEM_EVENTS.get(action, action))


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    changes = []
    for key, choices, text in (("label", Label, _("Label")), ("route", Route, _("Shown in")),
                               ("state", ProcessingState, _("State"))):
        if key in after and before.get(key) != after.get(key):
            changes.append(_("%(what)s: %(before)s → %(after)s") % {
                "what": text, "before": _choice_text(choices, before.get(key)) or "—",
                "after": _choice_text(choices, after.get(key)) or "—"})
    return changes


def _note_text(row: ModerationAction) -> str:
    if row.action == "scan" and row.note:
        return " ".join(str(get_reason(c.strip()).text) for c in row.note.split(",")
                        if c.strip())
    return row.note


def _actor_role(row: ModerationAction, case: ModerationCase) -> str:
    if row.actor_id is None:
        return "system"
    if row.actor_id == case.owner_id:
        return "uploader"
    return "moderator"


#: What a withheld field of an audit entry is, in words.
WITHHELD_TEXT = {"actor": gettext_lazy("who acted"),
                 "before": gettext_lazy("the state before"),
                 "after": gettext_lazy("the state after"),
                 "note": gettext_lazy("the note")}

ROLE_TEXT = {"system": gettext_lazy("the system"), "uploader": gettext_lazy("the uploader"),
             "moderator": gettext_lazy("a moderator")}


def _disclosable(row: ModerationAction, case: ModerationCase) -> list[str]:
    """The fields of ``row`` an uploader may not read ([] = the whole row is theirs)."""
    withheld = []
    if row.actor_id is not None and row.actor_id != case.owner_id:
        withheld.append("actor")
    before = row.before if isinstance(row.before, dict) else {}
    after = row.after if isinstance(row.after, dict) else {}
    if any(snapshot.get(key) not in (None, case.owner_id)
           for snapshot in (before, after) for key in USER_ID_KEYS):
        withheld += ["before", "after"]
    if row.note and ("actor" in withheld or row.action in INTERNAL_NOTE_ACTIONS):
        withheld.append("note")
    return withheld


def _public_snapshot(snapshot: Any) -> dict[str, Any]:
    data = snapshot if isinstance(snapshot, dict) else {}
    return {k: v for k, v in data.items() if k not in USER_ID_KEYS}


def _timeline_entry(row: ModerationAction, case: ModerationCase, viewer: Viewer,
                    usernames: Mapping[Any, str]) -> dict[str, Any]:
    role = _actor_role(row, case)
    withheld = [] if viewer.full else _disclosable(row, case)
    before = row.before if isinstance(row.before, dict) else {}
    after = row.after if isinstance(row.after, dict) else {}
    actor_name = usernames.get(row.actor_id, "") if row.actor_id is not None else ""
    entry: dict[str, Any] = {
        "id": row.pk, "at": iso(row.created_at), "action": row.action,
        "action_text": _action_text(row.action),
        "actor": {"role": role, "role_text": str(ROLE_TEXT[role]),
                  "id": None if "actor" in withheld else row.actor_id,
                  "name": None if "actor" in withheld else (actor_name or None)},
        "changes": _changes(before, after),
        "before": _public_snapshot(before) if "before" in withheld else before,
        "after": _public_snapshot(after) if "after" in withheld else after,
        "note": None if "note" in withheld else row.note,
        "note_text": None if "note" in withheld else _note_text(row),
        "prev_hash": row.prev_hash, "row_hash": row.row_hash,
        "hash_verified": row_hash_ok(row),
        "canonical": None if withheld else canonical_text(row),
        "withheld": withheld,
        "withheld_text": [str(WITHHELD_TEXT[f]) for f in withheld],
    }
    return entry


def _chain(rows: list[ModerationAction], segment: SegmentCheck) -> dict[str, Any]:
    head = (ModerationAction.objects.exclude(row_hash="").order_by("-id")
            .values_list("id", "row_hash").first())
    return {
        "algorithm": "sha256",
        "formula": "row_hash = SHA-256(prev_hash as ASCII hex || canonical as UTF-8)",
        "genesis": GENESIS_HASH,
        "entries_verified": all(row_hash_ok(r) for r in rows),
        "segment": {
            "from_id": segment.from_id, "to_id": segment.to_id, "rows": segment.rows,
            "complete": segment.complete,
            "problems": [{"row_id": row_id, "kind": kind, "text": problem_text(kind)}
                         for row_id, kind in segment.problems],
        },
        "head": {"id": head[0], "row_hash": head[1]} if head else None,
        "checkpoint": checkpoint_state(),
    }


# -- the document ----------------------------------------------------------------------

def _appeals(case: ModerationCase, viewer: Viewer,
             usernames: Mapping[Any, str]) -> list[dict[str, Any]]:
    out = []
    for appeal in case.appeals.prefetch_related("files").order_by("created_at", "id"):
        out.append({
            "id": appeal.pk, "submitted_at": iso(appeal.created_at), "status": appeal.status,
            "status_text": appeal.get_status_display(), "message": appeal.message,
            "decided_at": iso(appeal.decided_at), "decision_note": appeal.decision_note,
            "decided_by": usernames.get(appeal.decided_by_id) if viewer.full else None,
            "files": [{"name": f.original_name, "kind": f.kind,
                       "kind_text": f.get_kind_display(), "size": f.size}
                      for f in appeal.files.all()],
        })
    return out


STRIKE_REASON_TEXT = dict(STRIKE_REASONS)


def _strikes(case: ModerationCase, viewer: Viewer,
             usernames: Mapping[Any, str]) -> list[dict[str, Any]]:
    out = []
    for strike in Strike.objects.filter(case=case).order_by("created_at", "id"):
        out.append({
            "id": strike.pk, "recorded_at": iso(strike.created_at), "reason": strike.reason,
            "reason_text": str(STRIKE_REASON_TEXT.get(strike.reason, strike.reason)),
            "note": strike.note if viewer.full else None,
            "recorded_by": usernames.get(strike.created_by_id) if viewer.full else None,
            "revoked_at": iso(strike.revoked_at), "lifted_at": iso(strike.lifted_at),
        })
    return out


def _provenance(case: ModerationCase, rows: list[Evidence]) -> dict[str, Any]:
    signers = list(dict.fromkeys(_signers([r.details for r in rows])))
    return {
        "generator": case.generator, "model": case.model_name,
        "loras": _lora_names(case.loras),
        "c2pa": [{"signer": s, "validation_state": state} for s, state in signers],
        "found": [{"source": r.detector, "generator": r.generator, "model": r.model_name,
                   "loras": _lora_names(r.loras)} for r in rows
                  if r.generator or r.model_name or r.loras],
    }


def _classifier(rows: list[Evidence]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        details = row.details if isinstance(row.details, dict) else {}
        if row.score is None and details.get("kind") != "classifier":
            continue
        threshold = details.get("threshold")
        out.append({"source": row.detector, "detector_version": row.detector_version,
                    "score": row.score,
                    "threshold": threshold if isinstance(threshold, int | float) else None,
                    "model": str(details.get("model") or ""),
                    "model_version": str(details.get("model_version") or ""),
                    "text": describe(row.message, row.message_params)})
    return out


def _usernames(ids: Iterable[Any]) -> dict[Any, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    model = get_user_model()
    return {pk: str(name) for pk, name in model._default_manager.filter(pk__in=wanted)
            .values_list("pk", model.USERNAME_FIELD)}


def _file(case: ModerationCase, facts: FileFacts) -> dict[str, Any]:
    recorded = case.content_sha256 or ""
    return {
        "available": facts.available, "problem": facts.problem, "size": facts.size,
        "sha256": facts.sha256, "recorded_sha256": recorded,
        "matches_recorded": (facts.sha256 == recorded) if facts.sha256 and recorded else None,
        "format": facts.format, "width": facts.width, "height": facts.height,
        "pdq": ({"hash": facts.pdq.hash, "quality": facts.pdq.quality,
                 "usable_for_matching": facts.pdq.quality >= 50} if facts.pdq else None),
        "pdq_status": facts.pdq_status, "preview": facts.preview,
    }


def build_document(case: ModerationCase, facts: FileFacts, viewer: Viewer, *,
                   work_url: str = "", site: str = "",
                   segment: SegmentCheck) -> dict[str, Any]:
    """The ``case.json`` document of ``case`` for ``viewer``, in the active language."""
    if viewer.audience not in AUDIENCES:
        raise ValueError(f"unknown audience {viewer.audience!r}")
    all_rows = list(case.evidence.order_by("mode", "detector", "created_at", "id"))
    rows = all_rows if viewer.full else [r for r in all_rows if r.mode == DetectorMode.ENFORCE]
    audit = list(case.actions.order_by("id"))
    users = _usernames([case.owner_id, case.decided_by_id, *(r.actor_id for r in audit),
                        *case.appeals.values_list("decided_by_id", flat=True),
                        *Strike.objects.filter(case=case).values_list("created_by_id",
                                                                      flat=True)])
    ct = case.content_type
    timeline = [_timeline_entry(r, case, viewer, users) for r in audit]
    return {
        "format": FORMAT, "schema_version": SCHEMA_VERSION,
        "generated_at": iso(timezone.now()),
        "generated_by": {"software": "Tegaki", "version": __version__, "site": site},
        "language": get_language() or "en", "audience": viewer.audience,
        "redactions": ([] if viewer.full else
                       [{"code": r.code, "text": str(r.text)} for r in UPLOADER_REDACTIONS]),
        "case": {
            "id": case.pk, "created_at": iso(case.created_at),
            "scanned_at": iso(case.scanned_at), "updated_at": iso(case.updated_at),
            "state": case.state, "state_text": _choice_text(ProcessingState, case.state),
            "rejection_reason": case.rejection_reason,
        },
        "work": {"content_type": f"{ct.app_label}.{ct.model}", "object_id": case.object_id,
                 "file_name": case.file_name, "url": work_url,
                 "owner": users.get(case.owner_id) or None},
        "file": _file(case, facts),
        "verdict": {
            "label": case.label, "label_text": _choice_text(Label, case.label),
            "route": case.route, "route_text": _choice_text(Route, case.route),
            "declaration": case.declaration,
            "declaration_text": _choice_text(Declaration, case.declaration),
            "declared_tool": case.declared_tool, "ai_score": case.ai_score,
            "undisclosed_ai": case.undisclosed_ai, "needs_review": case.needs_review,
            "decided_at": iso(case.decided_at),
            "decided_by": users.get(case.decided_by_id) if viewer.full else None,
            "reasons": _reasons(case.reasons),
        },
        "provenance": _provenance(case, rows),
        "classifier": _classifier(rows),
        "evidence": [_evidence_entry(r, viewer) for r in rows],
        "matches": _matches(rows, case, viewer),
        "decisions": [e for e in timeline if e["action"] in DECISION_ACTIONS
                      or (A.registry.get(e["action"]) is not None
                          and A.registry[e["action"]].decides)],
        "appeals": _appeals(case, viewer, users),
        "strikes": _strikes(case, viewer, users),
        "timeline": {"entries": timeline, "chain": _chain(audit, segment)},
    }
