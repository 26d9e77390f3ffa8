"""The audit log stays append-only, yet transactional tests can still clean up after it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from moderation.models import ModerationAction
from tests.db_flush import AUDIT_TABLE, wrap_flush_sql


def test_flush_sql_without_the_audit_table_is_left_alone():
    sql = ['TRUNCATE "auth_user";']
    assert wrap_flush_sql("postgresql", sql) == sql


def test_postgresql_flush_lifts_the_guard_only_around_itself():
    sql = [f'TRUNCATE "{AUDIT_TABLE}", "auth_user";']
    wrapped = wrap_flush_sql("postgresql", sql)
    assert wrapped[0].endswith("DISABLE TRIGGER USER")
    assert wrapped[1:-1] == sql
    assert wrapped[-1].endswith("ENABLE TRIGGER USER")


def test_sqlite_flush_recreates_the_guard_triggers():
    wrapped = wrap_flush_sql("sqlite", [f'DELETE FROM "{AUDIT_TABLE}";'])
    assert wrapped[0].startswith("DROP TRIGGER")
    assert "CREATE TRIGGER moderation_action_no_delete" in wrapped[-1]


@pytest.mark.django_db(transaction=True)
def test_guard_holds_during_a_transactional_test_and_teardown_still_flushes():
    entry = ModerationAction.objects.create(action="test", note="kept")
    with pytest.raises(DatabaseError), transaction.atomic():
        ModerationAction.objects.filter(pk=entry.pk).update(note="edited")
    # pytest-django's flush runs after this test; if the guard blocked it, teardown errors.
