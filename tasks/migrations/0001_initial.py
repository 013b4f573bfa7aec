"""Tasks and assignments; moderators may see them."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from core.migration_operations import grant_to_moderators


class Migration(migrations.Migration):
    initial = True


    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("marketplace", "0001_squashed_0007_job_live_assignment_count"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="Task",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "position",
                    models.PositiveIntegerField(help_text="1-based row number in the order the tasks were added."),
                ),
                ("input", models.JSONField(default=dict)),
                ("slots_open", models.PositiveSmallIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="tasks", to="marketplace.job"
                    ),
                ),
            ],
            options={
                "ordering": ["job", "position"],
            },
        ),
        migrations.CreateModel(
            name="Assignment",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("accepted", "In progress"),
                            ("submitted", "Submitted"),
                            ("approved", "Approved"),
                            ("rejected", "Rejected"),
                            ("returned", "Returned"),
                            ("expired", "Expired"),
                        ],
                        default="accepted",
                        max_length=16,
                    ),
                ),
                ("accepted_at", models.DateTimeField()),
                ("deadline_at", models.DateTimeField()),
                ("answer", models.JSONField(blank=True, null=True)),
                ("submitted_at", models.DateTimeField(blank=True, null=True)),
                ("auto_approve_at", models.DateTimeField(blank=True, null=True)),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "review_source",
                    models.CharField(
                        blank=True, choices=[("requester", "Requester"), ("auto", "Auto-approved")], max_length=16
                    ),
                ),
                ("feedback", models.TextField(blank=True, max_length=2000)),
                ("ended_at", models.DateTimeField(blank=True, help_text="When it was returned or expired.", null=True)),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="assignments", to="marketplace.job"
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="assignments",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "task",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="assignments", to="tasks.task"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="task",
            index=models.Index(
                condition=models.Q(("slots_open__gt", 0)), fields=["job", "position"], name="task_open_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="task",
            constraint=models.UniqueConstraint(fields=("job", "position"), name="task_unique_position"),
        ),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(fields=["worker", "status", "-accepted_at"], name="assignment_worker_idx"),
        ),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(fields=["job", "status", "submitted_at"], name="assignment_job_status_idx"),
        ),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(("status", "accepted")), fields=["deadline_at"], name="assignment_overdue_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="assignment",
            index=models.Index(
                condition=models.Q(("status", "submitted")),
                fields=["auto_approve_at"],
                name="assignment_auto_approve_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.UniqueConstraint(fields=("worker", "task"), name="assignment_one_per_worker_and_task"),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("status__in", ["accepted", "submitted", "approved", "rejected", "returned", "expired"])
                ),
                name="assignment_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("status", "rejected"), _negated=True),
                    models.Q(("feedback", ""), _negated=True),
                    _connector="OR",
                ),
                name="assignment_rejection_has_reason",
            ),
        ),
        grant_to_moderators("tasks", ["view_task", "view_assignment"]),
    ]
