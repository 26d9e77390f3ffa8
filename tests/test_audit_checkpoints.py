"""Audit checkpoints: the head kept outside the database shows a truncated tail.

Regression test of the hardening issue's defect 5: deleting the newest audit rows left
a shorter chain that still verified as intact, and there was no way to check the log
against a head kept elsewhere.
"""

from __future__ import annotations

import json
import logging
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from moderation import actions, audit
from moderation.tasks import checkpoint_audit, verify_audit_chain
from tests.db_flush import AUDIT_TABLE
from tests.test_audit_chain import superuser_sql, three_entries

pytest_plugins = ["tests.moderators_fixtures"]
pytestmark = pytest.mark.django_db


def verify(*args: str) -> str:
    out = StringIO()
    call_command("moderation_verify_audit", *args, stdout=out)
    return out.getvalue()


def test_truncated_tail_fails_against_the_expected_head(case, moderator):
    three_entries(case, moderator)
    printed = verify().strip().splitlines()[-1]  # HEAD:COUNT, the form --expect-head takes
    head, count = printed.split(":")
    assert head == audit.chain_head() and int(count) == audit.current_checkpoint().count
    assert "still reaches" in verify("--expect-head", printed)
    newest = audit.ModerationAction.objects.order_by("-id").first()
    assert newest is not None
    superuser_sql(f"DELETE FROM {AUDIT_TABLE} WHERE id = %s", [newest.pk])
    assert audit.verify_chain() == [], "a truncated chain is intact on its own"
    with pytest.raises(CommandError, match="BROKEN"):
        verify("--expect-head", printed)
    with pytest.raises(CommandError, match="BROKEN"):
        verify("--expect-head", head)  # the head alone is enough to see it


def test_a_rewritten_chain_that_verifies_misses_the_checkpoint(case, moderator):
    three_entries(case, moderator)
    expected = str(audit.current_checkpoint())
    # Delete the first row and rehash every later one, as a careful superuser would.
    rows = list(audit.ModerationAction.objects.order_by("id"))
    superuser_sql(f"DELETE FROM {AUDIT_TABLE} WHERE id = %s", [rows[0].pk])
    prev = audit.GENESIS_HASH
    for row in rows[1:]:
        new_hash = audit.compute_row_hash(prev, row)
        superuser_sql(f"UPDATE {AUDIT_TABLE} SET prev_hash = %s, row_hash = %s WHERE id = %s",
                      [prev, new_hash, row.pk])
        prev = new_hash
    assert audit.verify_chain() == []
    problems = audit.verify_checkpoint(audit.parse_expected_head(expected))
    assert [p.kind for p in problems] == ["head_missing"]


def test_rows_deleted_before_the_head_change_its_position(case, moderator):
    first, _middle, _last = three_entries(case, moderator)
    expected = audit.parse_expected_head(str(audit.current_checkpoint()))
    superuser_sql(f"DELETE FROM {AUDIT_TABLE} WHERE id <= %s", [first.pk])
    problems = audit.verify_checkpoint(expected)
    assert [p.kind for p in problems] == ["count_changed"]
    assert f"counted {expected.count} rows" in problems[0].message


def test_a_bad_expected_head_is_a_clear_error(case, moderator):
    with pytest.raises(CommandError, match="64 hexadecimal"):
        verify("--expect-head", "abc")
    with pytest.raises(CommandError, match="whole number"):
        verify("--expect-head", "0" * 63 + "1:many")


def test_scheduled_checkpoints_are_written_outside_and_checked_nightly(
        case, moderator, settings, tmp_path: Path, caplog):
    path = tmp_path / "off-host" / "audit-checkpoints.jsonl"
    settings.MODERATION = {"AUDIT_CHECKPOINT_FILE": str(path)}
    three_entries(case, moderator)
    first = checkpoint_audit()
    actions.AddNote(moderator, case, note="later").run()
    second = checkpoint_audit()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [f"{e['head']}:{e['count']}" for e in lines] == [first, second]
    assert audit.latest_checkpoint(path) == audit.Checkpoint(
        lines[-1]["head"], lines[-1]["count"], lines[-1]["at"])
    assert verify_audit_chain() == 0
    assert "still reaches" in verify()  # the command reads the same file by default
    newest = audit.ModerationAction.objects.order_by("-id").first()
    assert newest is not None
    superuser_sql(f"DELETE FROM {AUDIT_TABLE} WHERE id = %s", [newest.pk])
    with caplog.at_level(logging.INFO, logger="moderation.tasks"):
        assert verify_audit_chain() == 1
    assert caplog.records[-1].levelno == logging.CRITICAL
    assert "no longer contains the checkpoint's head" in caplog.records[-1].getMessage()


def test_a_torn_last_line_falls_back_to_the_one_before(tmp_path: Path):
    path = tmp_path / "cp.jsonl"
    path.write_text('{"head": "' + "a" * 64 + '", "count": 5, "at": "t"}\n{"head": "b')
    assert audit.latest_checkpoint(path) == audit.Checkpoint("a" * 64, 5, "t")
    assert audit.latest_checkpoint(tmp_path / "missing.jsonl") is None


def test_demo_beat_writes_checkpoints_hourly():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "demo_settings_for_checkpoints",
        Path(__file__).resolve().parent.parent / "config" / "settings.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    entries = [e for e in demo.CELERY_BEAT_SCHEDULE.values()
               if e["task"] == "moderation.checkpoint_audit"]
    assert len(entries) == 1 and entries[0]["schedule"] == 3600.0
    assert demo.MODERATION["AUDIT_CHECKPOINT_FILE"]
