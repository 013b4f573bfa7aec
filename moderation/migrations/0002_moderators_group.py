"""The Moderators group: what moderators may do in the admin, and what they never may.

They see users, jobs, tasks, assignments, reports, the audit log, payouts and the ledger; they change only what their
actions need (jobs: hide, show, force-close; reports: resolve; payouts: retry, fail) and ban users through a
permission of their own. They never add or delete anything, never edit the ledger or a user's account (a user's
change permission would let them set any password, a superuser's included), and never manage groups or
permissions. Each app's migrations grant what moderators need of it (core.migration_operations); this one takes
away whatever of the rest any earlier migration or hand gave.
"""

from django.db import migrations

from core.migration_operations import MODERATORS_GROUP, grant_to_moderators

# Apps whose every permission is a superuser's: accounts and their rights, sessions, Django's own admin log.
NEVER_APPS = ("auth", "contenttypes", "sessions", "admin")
# Change permissions that would let a moderator edit money or people directly instead of through a service.
NEVER_CHANGE = (
    ("marketplace", "change_user"),
    ("core", "change_event"),
    ("core", "change_eventaudience"),
    ("payments", "change_account"),
    ("payments", "change_ledgertransaction"),
    ("payments", "change_ledgerentry"),
)


def revoke_what_moderators_never_do(apps, schema_editor) -> None:
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=MODERATORS_GROUP)
    held = Permission.objects.filter(group=group).select_related("content_type")
    never = [
        permission.pk
        for permission in held
        if permission.codename.startswith(("add_", "delete_"))
        or permission.content_type.app_label in NEVER_APPS
        or (permission.content_type.app_label, permission.codename) in NEVER_CHANGE
    ]
    group.permissions.remove(*never)


class Migration(migrations.Migration):
    dependencies = [
        ("moderation", "0001_reports"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("core", "0001_squashed_0003_moderators_read_events"),
        ("marketplace", "0005_moderation_bans_and_hidden_jobs"),
        ("payments", "0003_bonuses_plural"),
        ("tasks", "0002_public_ids"),
    ]

    operations = [
        grant_to_moderators("moderation", ["view_report", "change_report", "ban_user"]),
        grant_to_moderators("marketplace", ["view_user", "view_job", "change_job", "view_tag"]),
        migrations.RunPython(revoke_what_moderators_never_do, migrations.RunPython.noop),
    ]
