"""Public ids (core/ids.py): added empty, given to the rows that exist, then made unique and required."""

from django.db import migrations, models

import core.ids


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0005_payout_fee_reserve"),
    ]

    operations = [
        migrations.AddField(
            model_name="deposit", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.AddField(
            model_name="payout", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.AddField(
            model_name="withdrawlink", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.AddField(
            model_name="bonus", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.RunPython(
            core.ids.backfill_migration("payments", "Deposit", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.RunPython(
            core.ids.backfill_migration("payments", "Payout", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.RunPython(
            core.ids.backfill_migration("payments", "WithdrawLink", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.RunPython(
            core.ids.backfill_migration("payments", "Bonus", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.AlterField(
            model_name="deposit",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
        migrations.AlterField(
            model_name="payout",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
        migrations.AlterField(
            model_name="withdrawlink",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
        migrations.AlterField(
            model_name="bonus",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
    ]
