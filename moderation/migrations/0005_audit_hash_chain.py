"""Chain the audit log rows with SHA-256 hashes (tamper evidence, see moderation.audit).

The append-only triggers of 0002 refuse the UPDATE that fills in the hashes of rows
that already exist, so they are dropped first and recreated last, in this migration's
transaction (per vendor, with 0002's own SQL). Dropping them also matters on SQLite:
adding a column with a default rebuilds the table there, and a rebuilt table has no
triggers; recreating them at the end puts them back either way.

``created_at`` loses ``auto_now_add`` (no schema change): the hash covers it, so it
must be known before the INSERT (``moderation.hashchain.seal`` stamps it).
"""

import importlib
from typing import Any

import django.utils.timezone
from django.db import migrations, models

from moderation.hashchain import backfill_chain

guard = importlib.import_module("moderation.migrations.0002_audit_log_append_only")


def drop_guard(apps: Any, schema_editor: Any) -> None:
    guard.drop(apps, schema_editor)


def create_guard(apps: Any, schema_editor: Any) -> None:
    guard.create(apps, schema_editor)


def backfill(apps: Any, schema_editor: Any) -> None:
    model = apps.get_model("moderation", "ModerationAction")
    backfill_chain(model, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0004_moderators")]

    operations = [
        migrations.RunPython(drop_guard, create_guard),
        migrations.AddField(
            model_name="moderationaction",
            name="prev_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64,
                                   verbose_name="previous row's hash"),
        ),
        migrations.AddField(
            model_name="moderationaction",
            name="row_hash",
            field=models.CharField(blank=True, default="", editable=False, max_length=64,
                                   verbose_name="row hash"),
        ),
        migrations.AlterField(
            model_name="moderationaction",
            name="created_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now,
                                       editable=False),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.RunPython(create_guard, drop_guard),
    ]
