"""Verifying the audit log's hash chain (the primitives live in :mod:`moderation.hashchain`).

:func:`verify_chain` walks ``ModerationAction`` in insertion (``id``) order and reports
every break; ``manage.py moderation_verify_audit`` and the Celery task
``moderation.verify_audit_chain`` run it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from moderation.hashchain import GENESIS_HASH, chain_head_of, compute_row_hash
from moderation.models import ModerationAction

__all__ = ["GENESIS_HASH", "ChainProblem", "chain_head", "compute_row_hash", "verify_chain"]


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
