from django.db import migrations, models

FOURTEEN_DAYS = 14 * 24 * 3600


def shorten_longer_delays(apps, schema_editor):
    """Jobs made under the old 30-day limit: their workers are paid at the latest 14 days after submitting too
    (shorter is only ever in the worker's favour; submissions already waiting keep their approval time)."""
    Job = apps.get_model("marketplace", "Job")
    Job.objects.filter(auto_approve_seconds__gt=FOURTEEN_DAYS).update(auto_approve_seconds=FOURTEEN_DAYS)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0003_job_estimated_time"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="job",
            name="job_auto_approve_in_range",
        ),
        migrations.RunPython(shorten_longer_delays, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="job",
            constraint=models.CheckConstraint(
                condition=models.Q(("auto_approve_seconds__lte", FOURTEEN_DAYS)), name="job_auto_approve_in_range"
            ),
        ),
    ]
