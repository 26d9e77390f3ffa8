"""The JSON Schema of ``case.json`` (written into every bundle as ``case.schema.json``).

``schema_version`` is an integer raised on any change a reader must know about
(a field removed, renamed or given another meaning); new optional fields keep the
version. docs/evidence-export.md describes each field.
"""

from __future__ import annotations

from typing import Any

FORMAT = "tegaki-evidence-bundle"
SCHEMA_VERSION = 1

_TIME = {"type": ["string", "null"], "format": "date-time"}
_HEX64 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_TEXT = {"type": "string"}
_REASONS = {"type": "array", "items": {
    "type": "object", "required": ["code", "text"],
    "properties": {"code": _TEXT, "text": _TEXT}}}

_ACTOR = {
    "type": "object", "required": ["role", "role_text", "id", "name"],
    "properties": {"role": {"enum": ["system", "uploader", "moderator"]},
                   "role_text": _TEXT, "id": {"type": ["integer", "string", "null"]},
                   "name": {"type": ["string", "null"]}},
}

_TIMELINE_ENTRY = {
    "type": "object",
    "required": ["id", "at", "action", "action_text", "actor", "changes", "before", "after",
                 "note", "note_text", "prev_hash", "row_hash", "hash_verified", "canonical",
                 "withheld", "withheld_text"],
    "properties": {
        "id": {"type": "integer"}, "at": _TIME, "action": _TEXT, "action_text": _TEXT,
        "actor": _ACTOR, "changes": {"type": "array", "items": _TEXT},
        "before": {"type": "object"}, "after": {"type": "object"},
        "note": {"type": ["string", "null"]}, "note_text": {"type": ["string", "null"]},
        "prev_hash": _TEXT, "row_hash": _TEXT, "hash_verified": {"type": "boolean"},
        "canonical": {"type": ["string", "null"]},
        "withheld": {"type": "array", "items": {"enum": ["actor", "before", "after", "note"]}},
        "withheld_text": {"type": "array", "items": _TEXT},
    },
}

_OTHER_WORK = {
    "type": ["object", "null"],
    "required": ["case_id", "content_type", "object_id", "created_at", "owner", "public",
                 "same_owner"],
    "properties": {
        "case_id": {"type": ["integer", "string", "null"]},
        "content_type": {"type": ["string", "null"]},
        "object_id": {"type": ["string", "integer", "null"]},
        "created_at": {"type": ["string", "null"]}, "owner": _TEXT,
        "public": {"type": "boolean"}, "same_owner": {"type": "boolean"},
        "matched_record_time": _TEXT,
    },
}

_EVIDENCE = {
    "type": "object",
    "required": ["id", "source", "detector_version", "mode", "label", "label_text", "strength",
                 "strength_text", "score", "message", "message_params", "text", "generator",
                 "model", "loras", "reasons", "facts", "findings", "content_sha256",
                 "created_at", "error"],
    "properties": {
        "id": {"type": "integer"}, "source": _TEXT, "detector_version": _TEXT,
        "mode": {"enum": ["enforce", "shadow"]}, "label": _TEXT, "label_text": _TEXT,
        "strength": _TEXT, "strength_text": _TEXT, "score": {"type": ["number", "null"]},
        "message": _TEXT, "message_params": {"type": "object"}, "text": _TEXT,
        "generator": _TEXT, "model": _TEXT, "loras": {"type": "array", "items": _TEXT},
        "reasons": _REASONS,
        "facts": {"type": "array", "items": {"type": "object", "required": ["name", "value"],
                                             "properties": {"name": _TEXT, "value": _TEXT}}},
        "findings": {"type": "array", "items": _TEXT}, "content_sha256": _TEXT,
        "created_at": _TIME, "error": _TEXT,
        "details": {"type": "object"}, "private": {"type": "object"},
    },
}

_MATCH = {
    "type": "object",
    "required": ["evidence_id", "source", "bank", "kind", "distance", "threshold", "text",
                 "withheld", "other"],
    "properties": {
        "evidence_id": {"type": "integer"}, "source": _TEXT, "bank": _TEXT, "kind": _TEXT,
        "distance": {"type": ["number", "null"]}, "threshold": {"type": ["number", "null"]},
        "text": _TEXT, "withheld": {"type": "boolean"}, "other": _OTHER_WORK,
        "stored": {"type": "object"},
    },
}

CASE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Tegaki evidence bundle: case.json",
    "type": "object",
    "required": ["format", "schema_version", "generated_at", "generated_by", "language",
                 "audience", "redactions", "case", "work", "file", "verdict", "provenance",
                 "classifier", "evidence", "matches", "decisions", "appeals", "strikes",
                 "timeline"],
    "properties": {
        "format": {"const": FORMAT},
        "schema_version": {"const": SCHEMA_VERSION},
        "generated_at": _TIME,
        "generated_by": {"type": "object", "required": ["software", "version", "site"],
                         "properties": {"software": _TEXT, "version": _TEXT, "site": _TEXT}},
        "language": _TEXT,
        "audience": {"enum": ["moderator", "uploader", "operator"]},
        "redactions": {"type": "array", "items": {
            "type": "object", "required": ["code", "text"],
            "properties": {"code": _TEXT, "text": _TEXT}}},
        "case": {"type": "object",
                 "required": ["id", "created_at", "scanned_at", "updated_at", "state",
                              "state_text", "rejection_reason"],
                 "properties": {"id": {"type": "integer"}, "created_at": _TIME,
                                "scanned_at": _TIME, "updated_at": _TIME, "state": _TEXT,
                                "state_text": _TEXT, "rejection_reason": _TEXT}},
        "work": {"type": "object",
                 "required": ["content_type", "object_id", "file_name", "url", "owner"],
                 "properties": {"content_type": _TEXT, "object_id": _TEXT,
                                "file_name": _TEXT, "url": _TEXT,
                                "owner": {"type": ["string", "null"]}}},
        "file": {"type": "object",
                 "required": ["available", "problem", "size", "sha256", "recorded_sha256",
                              "matches_recorded", "format", "width", "height", "pdq",
                              "pdq_status", "preview"],
                 "properties": {
                     "available": {"type": "boolean"}, "problem": _TEXT,
                     "size": {"type": ["integer", "null"]},
                     "sha256": {"anyOf": [_HEX64, {"type": "null"}]},
                     "recorded_sha256": _TEXT,
                     "matches_recorded": {"type": ["boolean", "null"]},
                     "format": _TEXT, "width": {"type": ["integer", "null"]},
                     "height": {"type": ["integer", "null"]},
                     "pdq": {"anyOf": [{"type": "null"}, {
                         "type": "object",
                         "required": ["hash", "quality", "usable_for_matching"],
                         "properties": {"hash": _HEX64,
                                        "quality": {"type": "integer", "minimum": 0,
                                                    "maximum": 100},
                                        "usable_for_matching": {"type": "boolean"}}}]},
                     "pdq_status": {"enum": ["computed", "unavailable", "not_decoded"]},
                     "preview": {"type": ["string", "null"]}}},
        "verdict": {"type": "object",
                    "required": ["label", "label_text", "route", "route_text", "declaration",
                                 "declaration_text", "declared_tool", "ai_score",
                                 "undisclosed_ai", "needs_review", "decided_at",
                                 "decided_by", "reasons"],
                    "properties": {"ai_score": {"type": ["number", "null"]},
                                   "decided_at": _TIME,
                                   "decided_by": {"type": ["string", "null"]},
                                   "reasons": _REASONS}},
        "provenance": {"type": "object",
                       "required": ["generator", "model", "loras", "c2pa", "found"],
                       "properties": {
                           "generator": _TEXT, "model": _TEXT,
                           "loras": {"type": "array", "items": _TEXT},
                           "c2pa": {"type": "array", "items": {
                               "type": "object", "required": ["signer", "validation_state"],
                               "properties": {"signer": _TEXT, "validation_state": _TEXT}}},
                           "found": {"type": "array"}}},
        "classifier": {"type": "array", "items": {
            "type": "object", "required": ["source", "detector_version", "score", "threshold",
                                           "model", "model_version", "text"],
            "properties": {"score": {"type": ["number", "null"]},
                           "threshold": {"type": ["number", "null"]}}}},
        "evidence": {"type": "array", "items": _EVIDENCE},
        "matches": {"type": "array", "items": _MATCH},
        "decisions": {"type": "array", "items": _TIMELINE_ENTRY},
        "appeals": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "submitted_at", "status", "status_text", "message",
                         "decided_at", "decision_note", "decided_by", "files"],
            "properties": {"submitted_at": _TIME, "decided_at": _TIME,
                           "decided_by": {"type": ["string", "null"]},
                           "files": {"type": "array"}}}},
        "strikes": {"type": "array", "items": {
            "type": "object",
            "required": ["id", "recorded_at", "reason", "reason_text", "note", "recorded_by",
                         "revoked_at", "lifted_at"],
            "properties": {"note": {"type": ["string", "null"]},
                           "recorded_by": {"type": ["string", "null"]}}}},
        "timeline": {
            "type": "object", "required": ["entries", "chain"],
            "properties": {
                "entries": {"type": "array", "items": _TIMELINE_ENTRY},
                "chain": {
                    "type": "object",
                    "required": ["algorithm", "formula", "genesis", "entries_verified",
                                 "segment", "head", "checkpoint"],
                    "properties": {
                        "algorithm": {"const": "sha256"}, "formula": _TEXT,
                        "genesis": _HEX64, "entries_verified": {"type": "boolean"},
                        "segment": {
                            "type": "object",
                            "required": ["from_id", "to_id", "rows", "complete", "problems"],
                            "properties": {"rows": {"type": "integer"},
                                           "complete": {"type": "boolean"},
                                           "problems": {"type": "array"}}},
                        "head": {"type": ["object", "null"]},
                        "checkpoint": {"type": ["object", "null"]}}}}},
    },
}
