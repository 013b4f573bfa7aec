"""Moderators see the money and can retry or fail payouts that wait for them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

MODERATOR_PERMISSIONS = [
    "view_account",
    "view_ledgertransaction",
    "view_ledgerentry",
    "view_deposit",
    "view_payout",
    "change_payout",
    "view_withdrawlink",
    "view_bonus",
]


def grant(apps, schema_editor):
    app_config = apps.get_app_config("payments")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="Moderators")
    for codename in MODERATOR_PERMISSIONS:
        group.permissions.add(Permission.objects.get(content_type__app_label="payments", codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_platform_accounts"),
        ("marketplace", "0002_moderators_group"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
