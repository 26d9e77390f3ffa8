"""Tamper evidence for the append-only audit log: the SHA-256 hash chain's primitives.

This module sits below the models (``ModerationAction.save`` seals each row with it);
walking and verifying the chain, which queries the models, lives in :mod:`moderation.audit`.

The triggers of migration 0002 stop the application (and anyone using its role) from
editing or deleting ``ModerationAction`` rows, but a database superuser can still
disable them. The hash chain makes such an edit *visible*: every row stores the hash of
the row before it (``prev_hash``) and a hash of its own content chained onto that
(``row_hash``)::

    row_hash = sha256(prev_hash + canonical JSON of the row's content)

Editing a row breaks its own ``row_hash``; deleting one breaks the ``prev_hash`` link of
the next row. :func:`verify_chain` walks the chain in insertion (``id``) order and
reports both (:mod:`moderation.audit`); ``manage.py moderation_verify_audit`` and the
Celery task ``moderation.verify_audit_chain`` run it (nightly in the demo's beat schedule).

Someone able to rewrite *every* hash after an edit defeats a chain kept only in the same
database, so the command prints the chain head: record it somewhere the database
superuser cannot write (logs shipped off the host) to anchor it.

The hash covers only id-independent content (``case_id``, ``actor_id``, ``action``,
``before``, ``after``, ``note``, ``created_at``), so a dump restored into a fresh table
with other ids still verifies.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from django.db import connections, router
from django.utils import timezone

#: ``prev_hash`` of the first row of the chain.
GENESIS_HASH = "0" * 64

#: Key of the PostgreSQL advisory lock that serialises chain appends. A fixed 64-bit
#: number derived from a name, so it cannot collide with a lock of another app by chance.
CHAIN_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"moderation.audit.chain").digest()[:8], "big", signed=True)


def _json_value(value: Any) -> Any:
    """``value`` as the database gives it back: JSON types only, integral floats as ints.

    A JSON column returns what it stored, not what was saved: tuples come back as lists,
    non-string keys as strings, and PostgreSQL's ``jsonb`` (a ``numeric``) turns
    ``1e20`` into ``100000000000000000000``. Hashing the normalised form makes the hash
    computed before the insert equal the one recomputed from the stored row.
    """
    def normalise(item: Any) -> Any:
        if isinstance(item, float) and item.is_integer():
            return int(item)
        if isinstance(item, dict):
            return {key: normalise(val) for key, val in item.items()}
        if isinstance(item, list):
            return [normalise(val) for val in item]
        return item

    return normalise(json.loads(json.dumps(value)))


def _id_value(value: Any) -> Any:
    """A foreign key as JSON: ints stay ints, anything else (a UUID) becomes its text."""
    if value is None or isinstance(value, int):
        return value
    return str(value)


def _timestamp(value: dt.datetime | None) -> str | None:
    """``created_at`` as ISO 8601 in UTC with microseconds, whatever zone it arrived in.

    Always six fractional digits: ``isoformat()`` drops them when they are zero, and the
    form must not depend on the clock's luck.
    """
    if value is None:
        return None
    if timezone.is_aware(value):
        value = value.astimezone(dt.UTC)
    return value.isoformat(timespec="microseconds")


def canonical_content(row: Any) -> bytes:
    """The bytes a row's hash covers: sorted-key, compact JSON of its hashed fields.

    ``row`` may be a ``ModerationAction`` or the historical model a migration gets.
    """
    content = {
        "case_id": _id_value(row.case_id),
        "actor_id": _id_value(row.actor_id),
        "action": row.action,
        "before": _json_value(row.before),
        "after": _json_value(row.after),
        "note": row.note,
        "created_at": _timestamp(row.created_at),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def compute_row_hash(prev_hash: str, row: Any) -> str:
    """``sha256(prev_hash + canonical content)`` as 64 lowercase hex digits."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical_content(row))
    return digest.hexdigest()


def lock_chain(using: str) -> None:
    """Serialise chain appends until the current transaction ends.

    Two inserts racing must not both read the same chain head and take the same
    ``prev_hash`` (the chain would fork and the verifier would report a break that is
    no tampering at all). Must be called inside ``transaction.atomic``.

    * PostgreSQL: a transaction-level advisory lock, released at commit/rollback. Not
      ``SELECT ... FOR UPDATE`` on the latest row: an empty table has no row to lock,
      and under READ COMMITTED a transaction that waited on that row lock re-checks the
      *same* row after the wait and misses the row the winner just inserted, so both
      would still chain onto the old head. After the advisory lock is granted, the next
      statement takes a fresh snapshot and sees the winner's committed row.
    * SQLite: writes are serialised by the database file lock; a transaction that read
      a head another writer has since moved cannot commit its own write ("database is
      locked"), so no fork is possible.
    * Other databases: ``SELECT ... FOR UPDATE`` of the head, which is the best they
      offer portably (the empty-table race remains).
    """
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])


def chain_head_of(model: Any, using: str = "default", *, for_update: bool = False) -> str:
    """``row_hash`` of the latest row, or :data:`GENESIS_HASH` for an empty log.

    ``model`` is ``ModerationAction`` (or a migration's historical model). ``for_update``
    (inside a transaction, from :func:`seal`) row-locks the head on
    databases other than PostgreSQL and SQLite, which :func:`lock_chain` covers.
    """
    # Rows without a hash (written by raw SQL, reported by the verifier) are skipped, so
    # the chain goes on from the last row the application sealed.
    qs = (model._default_manager.using(using).exclude(row_hash="").order_by("-id")
          .values_list("row_hash", flat=True))
    if for_update and connections[using].vendor not in ("postgresql", "sqlite"):
        qs = qs.select_for_update()
    head = qs.first()
    return head or GENESIS_HASH


def seal(entry: Any, using: str | None = None) -> None:
    """Stamp ``created_at``, ``prev_hash`` and ``row_hash`` on a row about to be inserted.

    Call inside the transaction that inserts it (``ModerationAction.save`` does), so the
    chain lock is held until the row is committed.
    """
    alias = using or router.db_for_write(type(entry), instance=entry)
    lock_chain(alias)
    # Stamped here, under the lock, like ``auto_now_add`` did: the insert time, not the
    # time the instance was built, and in chain order.
    entry.created_at = timezone.now()
    entry.prev_hash = chain_head_of(type(entry), alias, for_update=True)
    entry.row_hash = compute_row_hash(entry.prev_hash, entry)


def backfill_chain(model: Any, using: str) -> int:
    """Chain the rows of ``model`` (the historical model in a migration) that exist
    already, in ``id`` order. The caller lifts the append-only triggers around it.

    Returns how many rows were hashed.
    """
    prev = GENESIS_HASH
    count = 0
    for row in model._default_manager.using(using).order_by("id").iterator(chunk_size=2000):
        row_hash = compute_row_hash(prev, row)
        model._default_manager.using(using).filter(pk=row.pk).update(prev_hash=prev,
                                                                     row_hash=row_hash)
        prev = row_hash
        count += 1
    return count
