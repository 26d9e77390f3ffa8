"""The case's audit timeline for the bundle, with the hash-chain values a reader checks.

Every audit row is sealed as ``row_hash = sha256(prev_hash + canonical JSON of the row)``
(:mod:`moderation.hashchain`). For each row whose content the reader may see, the bundle
carries the exact canonical text that was hashed, so anyone can recompute ``row_hash``
with a stock SHA-256 tool; a row edited after it was written no longer matches.

A case's rows are not consecutive in the log (other cases' rows sit between them), so a
deleted row of this case shows only as a broken link inside the log. The exporter walks
the log from the case's first row to the head and reports every break
(:func:`verify_segment`), up to ``EVIDENCE_EXPORT_VERIFY_MAX_ROWS`` rows; past that it
says so and names the command that checks the whole log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from moderation.audit import latest_checkpoint, verify_checkpoint
from moderation.conf import moderation_settings
from moderation.hashchain import GENESIS_HASH, canonical_content, compute_row_hash
from moderation.models import ModerationAction


@dataclass(frozen=True)
class SegmentCheck:
    """The log walked from ``from_id`` onwards: how far, and what broke."""

    from_id: int | None
    to_id: int | None
    rows: int
    complete: bool  # False: the row limit stopped the walk before the head
    problems: tuple[tuple[int, str], ...]  # (row id, kind)


def row_hash_ok(row: ModerationAction) -> bool:
    """Whether the row's content still hashes to its stored ``row_hash``."""
    return bool(row.row_hash and row.prev_hash) and (
        compute_row_hash(row.prev_hash, row) == row.row_hash)


def canonical_text(row: ModerationAction) -> str:
    """The exact text the row's hash covers (UTF-8 JSON, sorted keys, no spaces)."""
    return canonical_content(row).decode("utf-8")


def verify_segment(from_id: int | None, limit: int | None = None) -> SegmentCheck:
    """Walk the audit log in ``id`` order from ``from_id`` to the head.

    Checks each row's content against its hash and its ``prev_hash`` against the stored
    hash of the row before it (the first row's predecessor is read too, so a row deleted
    just before the case's first row is also caught).
    """
    if from_id is None:
        return SegmentCheck(None, None, 0, True, ())
    limit = moderation_settings.EVIDENCE_EXPORT_VERIFY_MAX_ROWS if limit is None else limit
    rows = ModerationAction.objects.order_by("id")
    before = rows.filter(id__lt=from_id).exclude(row_hash="").order_by("-id").values_list(
        "row_hash", flat=True).first()
    expected_prev = before or GENESIS_HASH
    problems: list[tuple[int, str]] = []
    count, last_id = 0, None
    complete = True
    for row in rows.filter(id__gte=from_id).iterator(chunk_size=2000):
        if count >= limit:
            complete = False
            break
        if not row.row_hash or not row.prev_hash:
            problems.append((row.id, "missing_hash"))
        else:
            if row.prev_hash != expected_prev:
                problems.append((row.id, "broken_link"))
            if compute_row_hash(row.prev_hash, row) != row.row_hash:
                problems.append((row.id, "content_changed"))
            expected_prev = row.row_hash
        count += 1
        last_id = row.id
    return SegmentCheck(from_id, last_id, count, complete, tuple(problems))


PROBLEM_TEXT = {
    "missing_hash": _("a row without a hash (written outside the application)"),
    "broken_link": _("a broken link (a row before it was deleted or reordered)"),
    "content_changed": _("changed content (it no longer matches its hash)"),
}


def problem_text(kind: str) -> str:
    return str(PROBLEM_TEXT.get(kind, kind))


def checkpoint_state() -> dict[str, Any] | None:
    """The latest external checkpoint and whether the log still reaches it (None: none)."""
    path = moderation_settings.AUDIT_CHECKPOINT_FILE
    if not path:
        return None
    checkpoint = latest_checkpoint(path)
    if checkpoint is None:
        return None
    return {"head": checkpoint.head, "count": checkpoint.count, "at": checkpoint.at,
            "reached": not verify_checkpoint(checkpoint)}
