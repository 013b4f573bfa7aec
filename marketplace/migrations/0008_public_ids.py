"""Public ids (core/ids.py): added empty, given to the rows that exist, then made unique and required."""

from django.db import migrations, models

import core.ids


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0007_job_live_assignment_count"),
    ]

    operations = [
        migrations.AddField(
            model_name="user", name="public_id", field=models.CharField(max_length=14, null=True, editable=False)
        ),
        migrations.RunPython(
            core.ids.backfill_migration("marketplace", "User", core.ids.new_worker_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.AlterField(
            model_name="user",
            name="public_id",
            field=models.CharField(default=core.ids.new_worker_id, editable=False, max_length=14, unique=True),
        ),
        migrations.AddField(
            model_name="job", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.RunPython(
            core.ids.backfill_migration("marketplace", "Job", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.AlterField(
            model_name="job",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
    ]
