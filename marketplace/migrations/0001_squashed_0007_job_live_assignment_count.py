"""Users, tags and jobs; the Moderators group with what it may see and change of them.

The migrations of the project's first months, squashed into one (issue 8); a database that had them all
skips it."""

import django.contrib.auth.models
import django.contrib.auth.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.migration_operations import grant_to_moderators


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("marketplace", "0001_initial"),
        ("marketplace", "0002_moderators_group"),
        ("marketplace", "0003_job_fee_per_assignment_msat"),
        ("marketplace", "0004_job_rendered_markdown"),
        ("marketplace", "0005_render_job_markdown"),
        ("marketplace", "0006_job_asset_hosts"),
        ("marketplace", "0007_job_live_assignment_count"),
    ]

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.CreateModel(
            name="Tag",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.SlugField(max_length=40, unique=True)),
            ],
            options={
                "ordering": ["name"],
            },
        ),
        migrations.CreateModel(
            name="User",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("password", models.CharField(max_length=128, verbose_name="password")),
                ("last_login", models.DateTimeField(blank=True, null=True, verbose_name="last login")),
                (
                    "is_superuser",
                    models.BooleanField(
                        default=False,
                        help_text="Designates that this user has all permissions without explicitly assigning them.",
                        verbose_name="superuser status",
                    ),
                ),
                (
                    "username",
                    models.CharField(
                        error_messages={"unique": "A user with that username already exists."},
                        help_text="Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only.",
                        max_length=150,
                        unique=True,
                        validators=[django.contrib.auth.validators.UnicodeUsernameValidator()],
                        verbose_name="username",
                    ),
                ),
                ("first_name", models.CharField(blank=True, max_length=150, verbose_name="first name")),
                ("last_name", models.CharField(blank=True, max_length=150, verbose_name="last name")),
                ("email", models.EmailField(blank=True, max_length=254, verbose_name="email address")),
                (
                    "is_staff",
                    models.BooleanField(
                        default=False,
                        help_text="Designates whether the user can log into this admin site.",
                        verbose_name="staff status",
                    ),
                ),
                (
                    "is_active",
                    models.BooleanField(
                        default=True,
                        help_text="Designates whether this user should be treated as active. Unselect this instead of deleting accounts.",
                        verbose_name="active",
                    ),
                ),
                ("date_joined", models.DateTimeField(default=django.utils.timezone.now, verbose_name="date joined")),
                ("display_name", models.CharField(blank=True, max_length=80)),
                (
                    "groups",
                    models.ManyToManyField(
                        blank=True,
                        help_text="The groups this user belongs to. A user will get all permissions granted to each of their groups.",
                        related_name="user_set",
                        related_query_name="user",
                        to="auth.group",
                        verbose_name="groups",
                    ),
                ),
                (
                    "user_permissions",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Specific permissions for this user.",
                        related_name="user_set",
                        related_query_name="user",
                        to="auth.permission",
                        verbose_name="user permissions",
                    ),
                ),
            ],
            options={
                "verbose_name": "user",
                "verbose_name_plural": "users",
                "abstract": False,
            },
            managers=[
                ("objects", django.contrib.auth.models.UserManager()),
            ],
        ),
        migrations.CreateModel(
            name="Job",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("title", models.CharField(max_length=200)),
                (
                    "description",
                    models.TextField(help_text="Markdown: what the job is, shown on the board.", max_length=5000),
                ),
                (
                    "instructions",
                    models.TextField(blank=True, help_text="Markdown: how to do a task.", max_length=50000),
                ),
                ("description_html", models.TextField(blank=True, editable=False)),
                ("description_excerpt", models.CharField(blank=True, editable=False, max_length=300)),
                ("instructions_html", models.TextField(blank=True, editable=False)),
                ("reward_msat", models.PositiveBigIntegerField()),
                ("assignments_per_task", models.PositiveSmallIntegerField(default=1)),
                ("time_limit_seconds", models.PositiveIntegerField(default=600)),
                ("auto_approve_seconds", models.PositiveIntegerField(default=259200)),
                ("expires_at", models.DateTimeField(blank=True, null=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("draft", "Draft"),
                            ("published", "Published"),
                            ("paused", "Paused"),
                            ("closed", "Closed"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="draft",
                        max_length=16,
                    ),
                ),
                (
                    "form_kind",
                    models.CharField(
                        choices=[("builder", "Form builder"), ("html", "HTML template (Mechanical Turk style)")],
                        default="builder",
                        max_length=16,
                    ),
                ),
                ("prompt", models.TextField(blank=True, max_length=20000)),
                ("prompt_html", models.TextField(blank=True, editable=False)),
                ("form_fields", models.JSONField(blank=True, default=list)),
                ("html_template", models.TextField(blank=True, max_length=200000)),
                ("asset_hosts", models.JSONField(blank=True, default=list)),
                ("answer_fields", models.JSONField(blank=True, default=list)),
                ("input_columns", models.JSONField(blank=True, default=list)),
                ("fee_per_assignment_msat", models.PositiveBigIntegerField(default=0)),
                ("task_count", models.PositiveIntegerField(default=0)),
                ("open_slot_count", models.PositiveIntegerField(default=0)),
                ("live_assignment_count", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("published_at", models.DateTimeField(blank=True, null=True)),
                ("closed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "requester",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="jobs", to=settings.AUTH_USER_MODEL
                    ),
                ),
                ("tags", models.ManyToManyField(blank=True, related_name="jobs", to="marketplace.tag")),
            ],
            options={
                "indexes": [
                    models.Index(fields=["status", "-published_at"], name="job_board_idx"),
                    models.Index(fields=["requester", "-created_at"], name="job_requester_idx"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("reward_msat__gte", 1000), ("reward_msat__lte", 1000000000)),
                        name="job_reward_in_range",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("assignments_per_task__gte", 1), ("assignments_per_task__lte", 100)),
                        name="job_assignments_per_task_in_range",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("time_limit_seconds__gte", 60), ("time_limit_seconds__lte", 604800)),
                        name="job_time_limit_in_range",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("auto_approve_seconds__lte", 2592000)), name="job_auto_approve_in_range"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("status__in", ["draft", "published", "paused", "closed", "cancelled"])),
                        name="job_status_valid",
                    ),
                ],
            },
        ),
        grant_to_moderators("marketplace", ["view_user", "view_job", "change_job", "view_tag"]),
    ]
