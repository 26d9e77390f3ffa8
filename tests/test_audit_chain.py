"""Tamper evidence for the immutable audit log: a SHA-256 hash chain, verified nightly.

The append-only triggers are tested in ``test_actions.py`` (ORM and raw SQL in a
rolled-back test) and ``test_api_permissions.py`` (API route, admin views). Here: the
chain itself, edits and deletions made *past* the triggers (as a database superuser
could), the backfill migration, racing appends, and the same refusals with committed
transactions (TransactionTestCase style, ``transactional_db``), TRUNCATE included.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor

from moderation import actions, audit
from moderation.models import ModerationAction
from moderation.tasks import verify_audit_chain
from tests.db_flush import AUDIT_TABLE
from tests.factories import make_case, make_user

GUARD = importlib.import_module("moderation.migrations.0002_audit_log_append_only")


@contextmanager
def triggers_lifted() -> Iterator[None]:
    """What a database superuser can do: switch the append-only guard off for a while."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"ALTER TABLE {AUDIT_TABLE} DISABLE TRIGGER USER")
        else:
            for sql in GUARD.SQLITE_DROP:
                cur.execute(sql)
        try:
            yield
        finally:
            if connection.vendor == "postgresql":
                cur.execute(f"ALTER TABLE {AUDIT_TABLE} ENABLE TRIGGER USER")
            else:
                for sql in GUARD.SQLITE_CREATE:
                    cur.execute(sql)


def superuser_sql(sql: str, params: Sequence[Any] = ()) -> None:
    with triggers_lifted(), connection.cursor() as cur:
        cur.execute(sql, list(params))


def three_entries(case: Any, moderator: Any) -> list[ModerationAction]:
    return [actions.AddNote(moderator, case, note=f"note {i}").run().entry for i in range(3)]


# -- the chain ---------------------------------------------------------------------------
@pytest.mark.django_db
def test_moderator_actions_build_an_intact_chain(case, moderator):
    actions.MarkHuman(moderator, case).run()
    actions.AddNote(moderator, case, note="ノート: checked the layers").run()
    actions.Hide(moderator, case, note="x").run()
    rows = list(ModerationAction.objects.order_by("id"))
    assert len(rows) >= 3
    assert rows[0].prev_hash == audit.GENESIS_HASH
    for before, row in zip([None, *rows], rows, strict=False):
        if before is not None:
            assert row.prev_hash == before.row_hash
        assert len(row.row_hash) == 64 and int(row.row_hash, 16) >= 0
        assert row.row_hash == audit.compute_row_hash(row.prev_hash, row)
    assert audit.verify_chain() == []
    assert audit.chain_head() == rows[-1].row_hash


@pytest.mark.django_db
def test_hash_is_the_same_before_insert_and_after_reading_back(case, moderator):
    """JSON and timestamps come back from the database in another form; the hash holds."""
    entry = ModerationAction.objects.create(
        case=case, actor=moderator, action="test",
        before={"b": 1.0, "a": [1, 2.5, None], "big": 1e20, "日本": "語"},
        after={"nested": {"z": True, "y": ("t", "u")}}, note="")
    stored = ModerationAction.objects.get(pk=entry.pk)
    assert stored.row_hash == entry.row_hash
    assert audit.compute_row_hash(stored.prev_hash, stored) == stored.row_hash
    assert audit.verify_chain() == []


@pytest.mark.django_db
def test_the_hash_covers_every_listed_field_and_not_the_id(case, moderator):
    entry = actions.AddNote(moderator, case, note="n").run().entry
    original = audit.compute_row_hash(entry.prev_hash, entry)
    for field, value in [("case_id", case.pk + 1), ("actor_id", None), ("action", "other"),
                         ("before", {"x": 1}), ("after", {"x": 1}), ("note", "m")]:
        changed = ModerationAction.objects.get(pk=entry.pk)
        setattr(changed, field, value)
        assert audit.compute_row_hash(entry.prev_hash, changed) != original, field
    later = ModerationAction.objects.get(pk=entry.pk)
    later.created_at = later.created_at.replace(microsecond=(later.created_at.microsecond + 1)
                                                % 1_000_000)
    assert audit.compute_row_hash(entry.prev_hash, later) != original
    moved = ModerationAction.objects.get(pk=entry.pk)
    moved.id = entry.pk + 1000
    assert audit.compute_row_hash(entry.prev_hash, moved) == original
    assert audit.compute_row_hash("f" * 64, entry) != original


# -- tampering past the triggers ---------------------------------------------------------
@pytest.mark.django_db
def test_superuser_edit_is_detected(case, moderator):
    _first, edited, _last = three_entries(case, moderator)
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET note = %s WHERE id = %s", ["rewritten", edited.pk])
    assert ModerationAction.objects.get(pk=edited.pk).note == "rewritten"
    problems = audit.verify_chain()
    assert [(p.row_id, p.kind) for p in problems] == [(edited.pk, "content_changed")]
    assert str(edited.pk) in problems[0].message


@pytest.mark.django_db
@pytest.mark.parametrize("column", ["created_at", "before", "case_id"])
def test_superuser_edit_of_any_hashed_column_is_detected(case, moderator, column):
    import datetime as dt

    _first, edited, _last = three_entries(case, moderator)
    value: Any = {
        "created_at": connection.ops.adapt_datetimefield_value(
            edited.created_at - dt.timedelta(seconds=1)),
        "before": '{"label": "human"}',
        "case_id": case.pk + 1,
    }[column]
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET {column} = %s WHERE id = %s", [value, edited.pk])
    assert [(p.row_id, p.kind) for p in audit.verify_chain()] == [
        (edited.pk, "content_changed")]


@pytest.mark.django_db
def test_deleted_middle_row_is_detected(case, moderator):
    first, deleted, last = three_entries(case, moderator)
    superuser_sql(f"DELETE FROM {AUDIT_TABLE} WHERE id = %s", [deleted.pk])
    problems = audit.verify_chain()
    assert [(p.row_id, p.kind) for p in problems] == [(last.pk, "broken_link")]
    assert str(first.pk) in problems[0].message and str(last.pk) in problems[0].message


@pytest.mark.django_db
def test_deleted_first_row_is_detected(case, moderator):
    first, second, _last = three_entries(case, moderator)
    assert first.prev_hash == audit.GENESIS_HASH
    superuser_sql(f"DELETE FROM {AUDIT_TABLE} WHERE id = %s", [first.pk])
    assert [(p.row_id, p.kind) for p in audit.verify_chain()] == [(second.pk, "broken_link")]


@pytest.mark.django_db
def test_row_inserted_by_raw_sql_is_reported_and_the_chain_goes_on(case, moderator):
    first = actions.AddNote(moderator, case, note="a").run().entry
    with connection.cursor() as cur:  # INSERT is allowed: the app role needs it
        cur.execute(f"INSERT INTO {AUDIT_TABLE} (action, before, after, note, created_at, "
                    "prev_hash, row_hash) VALUES ('forged', '{}', '{}', '', %s, '', '')",
                    [first.created_at])
    forged = ModerationAction.objects.get(action="forged")
    after = actions.AddNote(moderator, case, note="b").run().entry
    assert after.prev_hash == first.row_hash  # chained past the unsealed row
    assert [(p.row_id, p.kind) for p in audit.verify_chain()] == [(forged.pk, "missing_hash")]


@pytest.mark.django_db
def test_a_rewritten_chain_changes_the_head_that_operators_record(case, moderator):
    """The chain alone cannot stop someone who rehashes everything after an edit; the
    head the command prints, kept elsewhere, does."""
    three_entries(case, moderator)
    head = audit.chain_head()
    out = _run_command()
    assert head in out
    rows = list(ModerationAction.objects.order_by("id"))
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET note = %s WHERE id = %s", ["forged", rows[0].pk])
    prev = audit.GENESIS_HASH
    for row in ModerationAction.objects.order_by("id"):
        new_hash = audit.compute_row_hash(prev, row)
        superuser_sql(f"UPDATE {AUDIT_TABLE} SET prev_hash = %s, row_hash = %s WHERE id = %s",
                      [prev, new_hash, row.pk])
        prev = new_hash
    assert audit.verify_chain() == []
    assert audit.chain_head() != head


def _run_command() -> str:
    from io import StringIO

    out = StringIO()
    call_command("moderation_verify_audit", stdout=out)
    return out.getvalue()


# -- command and nightly task ------------------------------------------------------------
@pytest.mark.django_db
def test_command_reports_an_intact_chain(case, moderator):
    three_entries(case, moderator)
    out = _run_command()
    assert "intact" in out and "3" in out and audit.chain_head() in out


@pytest.mark.django_db(transaction=True)
def test_command_exits_1_naming_the_first_broken_row(capsys):
    owner, moderator = make_user("owner"), make_user("mod", moderator=True)
    case = make_case(owner)
    _first, edited, last = three_entries(case, moderator)
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET note = %s WHERE id = %s", ["x", edited.pk])
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET note = %s WHERE id = %s", ["y", last.pk])
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["manage.py", "moderation_verify_audit"]).execute()
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert f"First broken row: id {edited.pk}." in err
    assert "BROKEN (2 problems)" in err
    with pytest.raises(CommandError) as raised:
        call_command("moderation_verify_audit")
    assert raised.value.returncode == 1


@pytest.mark.django_db
def test_nightly_task_logs_a_break_at_critical(case, moderator, caplog):
    _first, edited, _last = three_entries(case, moderator)
    assert verify_audit_chain() == 0
    superuser_sql(f"UPDATE {AUDIT_TABLE} SET note = %s WHERE id = %s", ["x", edited.pk])
    with caplog.at_level(logging.INFO, logger="moderation.tasks"):
        assert verify_audit_chain() == 1
    assert [r.levelno for r in caplog.records] == [logging.CRITICAL]
    assert f"first broken row id {edited.pk}" in caplog.records[0].getMessage()


def test_task_name_is_explicit_and_scheduled_nightly_in_the_demo():
    from celery.schedules import crontab

    assert verify_audit_chain.name == "moderation.verify_audit_chain"
    spec = importlib.util.spec_from_file_location(
        "demo_settings_for_beat", importlib.import_module("config").__path__[0] + "/settings.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    entries = [e for e in demo.CELERY_BEAT_SCHEDULE.values()
               if e["task"] == "moderation.verify_audit_chain"]
    assert len(entries) == 1
    assert entries[0]["schedule"] == crontab(hour=3, minute=0)


# -- races -------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_racing_appends_never_share_a_prev_hash():
    """A holds the chain (its transaction is open); B must wait, then chain onto A."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers itself; the lock under test is PostgreSQL's")
    ModerationAction.objects.create(action="seed")
    a_inserted, release_a, b_done = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer_a() -> None:
        try:
            with transaction.atomic():
                ModerationAction.objects.create(action="a")
                a_inserted.set()
                release_a.wait(10)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    def writer_b() -> None:
        try:
            a_inserted.wait(10)
            ModerationAction.objects.create(action="b")
            b_done.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer_a), threading.Thread(target=writer_b)]
    for t in threads:
        t.start()
    assert a_inserted.wait(10)
    assert not b_done.wait(0.5), "B appended while A still held the chain"
    release_a.set()
    for t in threads:
        t.join(15)
    assert not errors
    a, b = ModerationAction.objects.get(action="a"), ModerationAction.objects.get(action="b")
    assert b.prev_hash == a.row_hash and a.pk < b.pk
    assert audit.verify_chain() == []


@pytest.mark.django_db(transaction=True)
def test_many_concurrent_appends_keep_one_chain():
    if connection.vendor != "postgresql":
        pytest.skip("needs concurrent writers (PostgreSQL)")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        try:
            barrier.wait(10)
            for j in range(5):
                ModerationAction.objects.create(action="race", note=f"{i}-{j}")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    prevs = list(ModerationAction.objects.values_list("prev_hash", flat=True))
    assert len(prevs) == 30 and len(set(prevs)) == 30
    assert audit.verify_chain() == []


# -- the guard with committed transactions (TransactionTestCase style) --------------------
@pytest.mark.django_db(transaction=True)
def test_committed_rows_refuse_every_kind_of_change():
    owner, moderator = make_user("owner"), make_user("mod", moderator=True)
    entry = actions.AddNote(moderator, make_case(owner), note="kept").run().entry
    attempts: list[tuple[str, Any]] = [
        ("orm update", lambda: ModerationAction.objects.filter(pk=entry.pk)
         .update(row_hash="0" * 64)),
        ("orm delete", lambda: ModerationAction.objects.filter(pk=entry.pk).delete()),
        ("raw update", lambda: connection.cursor().execute(
            f"UPDATE {AUDIT_TABLE} SET prev_hash = row_hash WHERE id = %s", [entry.pk])),
        ("raw delete", lambda: connection.cursor().execute(
            f"DELETE FROM {AUDIT_TABLE} WHERE id = %s", [entry.pk])),
        # SQLite has no TRUNCATE; its "truncate optimisation" of an unqualified DELETE
        # is off while a DELETE trigger exists, so the trigger refuses it too.
        ("truncate", lambda: connection.cursor().execute(
            f"TRUNCATE {AUDIT_TABLE}" if connection.vendor == "postgresql"
            else f"DELETE FROM {AUDIT_TABLE}")),
    ]
    for label, attempt in attempts:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
        assert ModerationAction.objects.filter(pk=entry.pk).exists(), label
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    assert audit.verify_chain() == []


# -- the admin and the API give no way to change the log ---------------------------------
@pytest.mark.django_db
def test_admin_has_no_change_delete_or_bulk_action_for_the_log(site_admin, rf):
    from django.contrib import admin

    model_admin = admin.site._registry[ModerationAction]
    request = rf.get("/admin/")
    request.user = site_admin
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    assert model_admin.get_actions(request) == {}
    readonly = set(model_admin.get_readonly_fields(request))
    assert {"prev_hash", "row_hash", "note", "before", "after", "created_at"} <= readonly


def test_api_has_no_write_route_to_the_log():
    """Every API route is a DRF view: none of those touching the log maps a write method,
    and the audit serializer has no writable field."""
    from django.urls import URLPattern, URLResolver, get_resolver

    from moderation.api import serializers

    def patterns(resolver: URLResolver) -> Iterator[URLPattern]:
        for item in resolver.url_patterns:
            if isinstance(item, URLResolver):
                yield from patterns(item)
            else:
                yield item

    seen_audit = False
    for pattern in patterns(get_resolver("moderation.api.urls")):
        mapping = getattr(pattern.callback, "actions", None) or {}
        view_cls = getattr(pattern.callback, "cls", None)
        queryset = getattr(view_cls, "queryset", None)
        assert queryset is None or queryset.model is not ModerationAction
        if "audit" in str(pattern.pattern):
            seen_audit = True
            assert set(mapping) <= {"get", "head", "options"}, mapping  # read-only verbs
    assert seen_audit
    fields = serializers.AuditSerializer().fields
    assert all(field.read_only for field in fields.values())


# -- the migration backfills rows that predate the chain ---------------------------------
@pytest.mark.django_db(transaction=True)
def test_migration_0005_backfills_existing_rows_and_restores_the_guard():
    executor = MigrationExecutor(connection)
    before = [("moderation", "0004_moderators")]
    latest = [key for key in executor.loader.graph.leaf_nodes() if key[0] == "moderation"]
    executor.migrate(before)
    try:
        old_model = executor.loader.project_state(before).apps.get_model(
            "moderation", "ModerationAction")
        for i in range(4):
            old_model.objects.create(action="legacy", note=f"old {i}", before={"i": i})
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(latest)
    rows = list(ModerationAction.objects.order_by("id"))
    assert [r.note for r in rows] == [f"old {i}" for i in range(4)]
    assert rows[0].prev_hash == audit.GENESIS_HASH
    assert all(r.row_hash for r in rows)
    assert audit.verify_chain() == []
    new = ModerationAction.objects.create(action="new")
    assert new.prev_hash == rows[-1].row_hash
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ModerationAction.objects.filter(pk=new.pk).update(note="x")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ModerationAction.objects.filter(pk=rows[0].pk).delete()
