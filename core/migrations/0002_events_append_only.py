"""Events are the audit log: the database refuses to change or remove one, whatever code (or admin) asks."""

from django.db import migrations

TABLES = ("core_event", "core_eventaudience")

# `%%`: the statement goes through the driver's parameter formatting, and plpgsql's RAISE wants one `%`.
POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION core_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the %% table is append-only: events are never changed or deleted', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION core_refuse_change()"
            )
    elif connection.vendor == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                schema_editor.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the {table} table is append-only'); END"
                )


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        schema_editor.execute("DROP FUNCTION IF EXISTS core_refuse_change()")
    elif connection.vendor == "sqlite":
        for table in TABLES:
            for action in ("update", "delete"):
                schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")


class Migration(migrations.Migration):
    dependencies = [("core", "0001_events")]

    operations = [migrations.RunPython(forwards, backwards)]
