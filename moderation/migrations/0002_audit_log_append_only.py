"""Make the audit log append-only in the database itself.

A convention ("never call .update() on ModerationAction") does not survive a raw query,
an admin bulk action or a buggy migration; a trigger does. PostgreSQL and SQLite get
triggers; on other databases the model's ``save``/``delete`` guards remain.
"""

from django.db import migrations

PG_CREATE = """
CREATE OR REPLACE FUNCTION moderation_action_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'moderation_moderationaction is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_action_no_update BEFORE UPDATE OR DELETE
    ON moderation_moderationaction FOR EACH ROW EXECUTE FUNCTION moderation_action_append_only();
CREATE TRIGGER moderation_action_no_truncate BEFORE TRUNCATE
    ON moderation_moderationaction FOR EACH STATEMENT
    EXECUTE FUNCTION moderation_action_append_only();
"""
PG_DROP = """
DROP TRIGGER IF EXISTS moderation_action_no_update ON moderation_moderationaction;
DROP TRIGGER IF EXISTS moderation_action_no_truncate ON moderation_moderationaction;
DROP FUNCTION IF EXISTS moderation_action_append_only();
"""
SQLITE_CREATE = [
    """CREATE TRIGGER moderation_action_no_update BEFORE UPDATE ON moderation_moderationaction
       BEGIN SELECT RAISE(ABORT, 'moderation_moderationaction is append-only (UPDATE refused)');
       END;""",
    """CREATE TRIGGER moderation_action_no_delete BEFORE DELETE ON moderation_moderationaction
       BEGIN SELECT RAISE(ABORT, 'moderation_moderationaction is append-only (DELETE refused)');
       END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS moderation_action_no_update;",
    "DROP TRIGGER IF EXISTS moderation_action_no_delete;",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # params=None: psycopg 3 would read the "%" of RAISE EXCEPTION as a placeholder.
        schema_editor.execute(PG_CREATE, params=None)
    elif vendor == "sqlite":
        for sql in SQLITE_CREATE:
            schema_editor.execute(sql)


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(PG_DROP)
    elif vendor == "sqlite":
        for sql in SQLITE_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
