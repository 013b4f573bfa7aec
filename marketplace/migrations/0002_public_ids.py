"""Public ids (core/ids.py) for the rows that exist: added empty, one made for each row, then unique and required."""

from django.db import migrations

from core.ids import WORKER_ID_LENGTH, new_worker_id
from core.migration_operations import add_public_ids


class Migration(migrations.Migration):
    # Its name for a while, before the first months' migrations were squashed.
    replaces = [("marketplace", "0008_public_ids")]

    dependencies = [("marketplace", "0001_squashed_0007_job_live_assignment_count")]

    operations = [
        *add_public_ids("marketplace", ["User"], make=new_worker_id, length=WORKER_ID_LENGTH),
        *add_public_ids("marketplace", ["Job"]),
    ]
