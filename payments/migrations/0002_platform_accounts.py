"""The platform's own ledger accounts exist from the start, so no money movement ever has to create one."""

from django.db import migrations

PLATFORM_KINDS = ["payouts_in_flight", "platform_fees", "routing_fees", "lightning_in", "lightning_out"]


def create_platform_accounts(apps, schema_editor):
    Account = apps.get_model("payments", "Account")
    for kind in PLATFORM_KINDS:
        Account.objects.get_or_create(kind=kind, user=None, job=None)


class Migration(migrations.Migration):
    dependencies = [("payments", "0001_initial")]

    operations = [migrations.RunPython(create_platform_accounts, migrations.RunPython.noop)]
