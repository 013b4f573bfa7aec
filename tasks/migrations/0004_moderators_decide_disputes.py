from django.db import migrations

from core.migration_operations import grant_to_moderators


class Migration(migrations.Migration):
    """Moderators read disputes and their threads, and decide them (the admin's decision goes through
    tasks.disputes.dispute_decide; "change" is the permission that screen asks for)."""

    dependencies = [
        ("tasks", "0003_disputes_and_rejection_reasons"),
    ]

    operations = [
        grant_to_moderators("tasks", ["view_dispute", "change_dispute", "view_disputemessage"]),
    ]
