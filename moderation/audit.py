"""Verifying the audit log's hash chain (the primitives live in :mod:`moderation.hashchain`).

:func:`verify_chain` walks ``ModerationAction`` in insertion (``id``) order and reports
every break; ``manage.py moderation_verify_audit`` and the Celery task
``moderation.verify_audit_chain`` run it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from moderation.hashchain import GENESIS_HASH, chain_head_of, compute_row_hash
from moderation.models import ModerationAction

__all__ = ["GENESIS_HASH", "ChainProblem", "Checkpoint", "chain_head", "compute_row_hash",
           "current_checkpoint", "latest_checkpoint", "verify_chain", "verify_checkpoint",
           "write_checkpoint"]


@dataclass(frozen=True)
class ChainProblem:
    """One break in the chain: which row, what kind of break, and a sentence for people."""

    row_id: int
    kind: str  # "missing_hash", "broken_link" (row deleted/inserted) or "content_changed"
    message: str

    def __str__(self) -> str:
        return self.message


def chain_head(using: str = "default") -> str:
    """``row_hash`` of the latest sealed audit row, or :data:`GENESIS_HASH` when empty."""
    return chain_head_of(ModerationAction, using)


def _rows(using: str) -> Iterable[Any]:
    return ModerationAction.objects.using(using).order_by("id").iterator(chunk_size=2000)


def verify_chain(using: str = "default") -> list[ChainProblem]:
    """Walk the audit log in ``id`` order and return every break, first one first.

    An empty list means the chain is intact. Each row is checked against the *stored*
    hash of its predecessor, so one edited row yields one ``content_changed`` problem
    and one deleted row one ``broken_link`` problem (on the row after the gap), rather
    than every later row failing too.
    """
    problems: list[ChainProblem] = []
    expected_prev = GENESIS_HASH
    previous_id: int | None = None
    for row in _rows(using):
        if not row.row_hash or not row.prev_hash:
            problems.append(ChainProblem(row.id, "missing_hash", _(
                "Audit row %(id)s has no hash: it was written outside the application "
                "(raw SQL or bulk insert).") % {"id": row.id}))
        else:
            if row.prev_hash != expected_prev:
                if previous_id is None:
                    message = _("Audit row %(id)s does not link to the start of the chain: "
                                "earlier rows were deleted.") % {"id": row.id}
                else:
                    message = _("Audit row %(id)s does not link to row %(prev)s: a row "
                                "between them was deleted or the order was changed."
                                ) % {"id": row.id, "prev": previous_id}
                problems.append(ChainProblem(row.id, "broken_link", message))
            if compute_row_hash(row.prev_hash, row) != row.row_hash:
                problems.append(ChainProblem(row.id, "content_changed", _(
                    "Audit row %(id)s was changed after it was written: its content no "
                    "longer matches its hash.") % {"id": row.id}))
        expected_prev = row.row_hash or expected_prev
        previous_id = row.id
    return problems


# --- checkpoints: the head kept outside the database -------------------------------------
#
# A chain verified only against itself cannot show that its newest rows were deleted: the
# shorter chain is intact. A checkpoint (the head hash and the number of rows up to it),
# written somewhere the database's superuser cannot rewrite, can: every later
# verification must still find that row, at that position.


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment: ``count`` rows, the last of them hashing to ``head``."""

    head: str
    count: int
    at: str = ""

    def __str__(self) -> str:
        return f"{self.head}:{self.count}"


def current_checkpoint(using: str = "default") -> Checkpoint:
    """The head and row count of the log now, read consistently (count up to the head)."""
    latest = (ModerationAction.objects.using(using).exclude(row_hash="").order_by("-id")
              .values_list("id", "row_hash").first())
    if latest is None:
        return Checkpoint(GENESIS_HASH, 0, timezone.now().isoformat())
    count = ModerationAction.objects.using(using).filter(id__lte=latest[0]).count()
    return Checkpoint(latest[1], count, timezone.now().isoformat())


def write_checkpoint(path: str | os.PathLike[str], using: str = "default") -> Checkpoint:
    """Append the current checkpoint to ``path`` (one JSON object a line) and fsync it."""
    checkpoint = current_checkpoint(using)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(asdict(checkpoint), sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return checkpoint


def latest_checkpoint(path: str | os.PathLike[str]) -> Checkpoint | None:
    """The last well-formed checkpoint in ``path``; None when there is none yet."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return None
    for line in reversed(lines):
        try:
            entry = json.loads(line)
            return Checkpoint(str(entry["head"]), int(entry["count"]), str(entry.get("at", "")))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line (crash mid-write): the one before still counts
    return None


def parse_expected_head(value: str) -> Checkpoint:
    """``HEAD`` or ``HEAD:COUNT`` as the command line gives it; ValueError if malformed."""
    head, _sep, count = value.strip().partition(":")
    head = head.lower()
    if len(head) != 64 or any(c not in "0123456789abcdef" for c in head):
        raise ValueError(_("The expected head must be 64 hexadecimal digits."))
    if count and not count.isdigit():
        raise ValueError(_("The row count after the head must be a whole number."))
    return Checkpoint(head, int(count) if count else -1)


def verify_checkpoint(expected: Checkpoint, using: str = "default") -> list[ChainProblem]:
    """Problems if the log no longer reaches ``expected`` (count -1 = not checked).

    The row that hashed to the expected head must still exist and, when a count is
    given, be the ``count``-th row. Rows deleted from the end of the log (a truncated
    tail) remove that row; rows deleted or inserted before it shift its position; a chain
    rewritten from scratch has no row with that hash at all. Run it together with
    :func:`verify_chain`, which checks the links between the rows.
    """
    if expected.count == 0 or expected.head == GENESIS_HASH:
        return []
    rows = ModerationAction.objects.using(using)
    row_id = rows.filter(row_hash=expected.head).values_list("id", flat=True).first()
    if row_id is None:
        total = rows.count()
        return [ChainProblem(0, "head_missing", _(
            "The audit log no longer contains the checkpoint's head %(head)s (it had "
            "%(count)s rows then, %(now)s now): rows were deleted from its end, or the "
            "log was rewritten.") % {"head": expected.head, "count": expected.count
                                     if expected.count >= 0 else "?", "now": total})]
    if expected.count >= 0:
        position = rows.filter(id__lte=row_id).count()
        if position != expected.count:
            return [ChainProblem(row_id, "count_changed", _(
                "The checkpoint's head is audit row %(id)s, number %(position)s in the "
                "log, but the checkpoint counted %(count)s rows up to it: rows before it "
                "were deleted or inserted.") % {"id": row_id, "position": position,
                                                "count": expected.count})]
    return []
