"""Events, which are the audit log: the database refuses to change or remove one, whatever code (or admin) asks;
moderators read them.

The migrations of the project's first months, squashed into one (issue 8); a database that had them all
skips it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_operations import grant_to_moderators


TABLES = ("core_event", "core_eventaudience")

# `%%`: the statement goes through the driver's parameter formatting, and plpgsql's RAISE wants one `%`.
POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION core_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the %% table is append-only: events are never changed or deleted', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;
"""


def refuse_changes_to_events(apps, schema_editor):
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


def allow_changes_to_events(apps, schema_editor):
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
    initial = True

    replaces = [
        ("core", "0001_events"),
        ("core", "0002_events_append_only"),
        ("core", "0003_moderators_read_events"),
    ]

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Event",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("type", models.CharField(max_length=60)),
                (
                    "actor_kind",
                    models.CharField(
                        choices=[("user", "User"), ("moderator", "Moderator"), ("system", "System")], max_length=16
                    ),
                ),
                ("rule", models.CharField(blank=True, max_length=100)),
                ("subject_type", models.CharField(max_length=40)),
                ("subject_id", models.CharField(max_length=64)),
                ("data", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "actor",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="EventAudience",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="audience", to="core.event"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["subject_type", "subject_id", "id"], name="event_subject_idx"),
        ),
        migrations.AddIndex(
            model_name="event",
            index=models.Index(fields=["type", "id"], name="event_type_idx"),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(("actor_kind__in", ["user", "moderator", "system"])), name="event_actor_kind_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("actor_kind", "system"), _negated=True), ("actor__isnull", True), _connector="OR"
                ),
                name="event_system_has_no_user",
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(("actor_kind", "system"), ("actor__isnull", False), _connector="OR"),
                name="event_person_has_a_user",
            ),
        ),
        migrations.AddIndex(
            model_name="eventaudience",
            index=models.Index(fields=["user", "-event"], name="event_audience_user_idx"),
        ),
        migrations.AddConstraint(
            model_name="eventaudience",
            constraint=models.UniqueConstraint(fields=("event", "user"), name="event_audience_once"),
        ),
        migrations.RunPython(refuse_changes_to_events, allow_changes_to_events),
        grant_to_moderators("core", ["view_event"]),
    ]
