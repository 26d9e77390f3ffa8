"""Let the test runner's ``flush`` empty the append-only audit log, and nothing else.

Migration 0002 makes ``moderation_moderationaction`` refuse UPDATE, DELETE and (on
PostgreSQL) TRUNCATE, as production must. pytest-django's ``transactional_db`` and
``live_server`` clean up after each test with Django's ``flush``: one TRUNCATE of every
table on PostgreSQL, a DELETE per table on SQLite. Both hit the guard, so the teardown
of every transactional test would fail.

``execute_sql_flush`` is the one place ``flush`` runs its SQL, so the guard is lifted
there only, inside the flush's own transaction, and put back before it commits. Tests
that check the guard itself (raw UPDATE/DELETE/TRUNCATE) still see it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

AUDIT_TABLE = "moderation_moderationaction"


def _sqlite_guard() -> tuple[list[str], list[str]]:
    migration = importlib.import_module("moderation.migrations.0002_audit_log_append_only")
    return list(migration.SQLITE_DROP), list(migration.SQLITE_CREATE)


def wrap_flush_sql(vendor: str, sql_list: list[str]) -> list[str]:
    """Return ``sql_list`` with the audit-log guard lifted around it, when it is there."""
    if not any(AUDIT_TABLE in sql for sql in sql_list):
        return sql_list
    if vendor == "postgresql":
        return [f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER USER", *sql_list,
                f"ALTER TABLE {AUDIT_TABLE} ENABLE TRIGGER USER"]
    if vendor == "sqlite":
        drop, create = _sqlite_guard()
        return [*drop, *sql_list, *create]
    return sql_list


@contextmanager
def flushable_audit_log() -> Iterator[None]:
    """Patch ``execute_sql_flush`` for the duration of the block (a test session)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush

    def execute_sql_flush(self: BaseDatabaseOperations, sql_list: Iterable[str]) -> None:
        original(self, wrap_flush_sql(self.connection.vendor, list(sql_list)))

    BaseDatabaseOperations.execute_sql_flush = execute_sql_flush  # type: ignore[method-assign]
    try:
        yield
    finally:
        BaseDatabaseOperations.execute_sql_flush = original  # type: ignore[method-assign]
