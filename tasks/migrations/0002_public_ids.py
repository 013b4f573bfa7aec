"""Public ids (core/ids.py) for the rows that exist: added empty, one made for each row, then unique and required."""

from django.db import migrations

from core.migration_operations import add_public_ids


class Migration(migrations.Migration):
    dependencies = [("tasks", "0001_initial")]

    operations = add_public_ids("tasks", ["Task", "Assignment"])
