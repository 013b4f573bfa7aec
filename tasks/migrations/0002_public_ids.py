"""Public ids (core/ids.py): added empty, given to the rows that exist, then made unique and required."""

from django.db import migrations, models

import core.ids


class Migration(migrations.Migration):
    dependencies = [
        ("tasks", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="task", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.AddField(
            model_name="assignment", name="public_id", field=models.CharField(max_length=30, null=True, editable=False)
        ),
        migrations.RunPython(
            core.ids.backfill_migration("tasks", "Task", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.RunPython(
            core.ids.backfill_migration("tasks", "Assignment", core.ids.new_public_id), migrations.RunPython.noop, elidable=True
        ),
        migrations.AlterField(
            model_name="task",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
        migrations.AlterField(
            model_name="assignment",
            name="public_id",
            field=models.CharField(default=core.ids.new_public_id, editable=False, max_length=30, unique=True),
        ),
    ]
