"""Jobs count their live assignments (in progress or waiting for review), kept by the task services like the open
slots, so the escrow refund at close reads them from the locked job row. Existing jobs are counted once here."""

from django.db import migrations, models
from django.db.models import Count, Q


def count_live_assignments(apps, schema_editor):
    Job = apps.get_model("marketplace", "Job")
    live = Q(assignments__status__in=["accepted", "submitted"])
    for job_id, count in Job.objects.annotate(live=Count("assignments", filter=live)).values_list("pk", "live"):
        if count:
            Job.objects.filter(pk=job_id).update(live_assignment_count=count)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0006_job_asset_hosts"),
        ("tasks", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="live_assignment_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(count_live_assignments, migrations.RunPython.noop),
    ]
