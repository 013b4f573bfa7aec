"""Moderators read the audit log (the events) in the admin; nobody may change it (the database refuses anyway)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def let_moderators_read_events(apps, schema_editor):
    app_config = apps.get_app_config("core")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Moderators")
    group.permissions.add(Permission.objects.get(content_type__app_label="core", codename="view_event"))


def stop(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name="Moderators").first()
    if group is not None:
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="core", codename="view_event"))


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_events_append_only"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(let_moderators_read_events, stop)]
