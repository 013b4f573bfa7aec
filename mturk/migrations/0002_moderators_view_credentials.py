from django.db import migrations

from core.migration_operations import grant_to_moderators


class Migration(migrations.Migration):
    """Moderators see which requesters hold Mechanical Turk credentials and when they were last used (never the
    secrets: the admin shows neither them nor their ciphertext)."""

    dependencies = [
        ("mturk", "0001_initial"),
    ]

    operations = [
        grant_to_moderators("mturk", ["view_mturkcredential"]),
    ]
