"""Moderators' decisions: bans, reports, hiding and force-closing jobs (issue 10).

A ban lives on the user (`User.banned_at`, `User.ban_reason`) and a hidden job on the job (`Job.hidden_at`,
`Job.hidden_reason`); moderation/services.py is the only writer of those fields. Every decision is also an event
(core.events) with the moderator as actor: the audit log. What is here is what people report.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import public_id_field
from marketplace.models import MAX_MODERATION_REASON_CHARS, Job

MAX_REPORT_TEXT_CHARS = 2_000


class ReportReason(models.TextChoices):
    SPAM = "spam", "Spam"
    SCAM = "scam", "Scam or unfair pay"
    OFFENSIVE = "offensive", "Offensive content"
    PERSONAL_DATA = "personal_data", "Asks for personal data"
    OTHER = "other", "Other"


class ReportStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Report(models.Model):
    """Someone's report of a job or of a user, waiting for a moderator until it is resolved."""

    public_id = public_id_field()
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reports_filed")
    # What is reported: exactly one of the two.
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="reports_against"
    )
    reason = models.CharField(max_length=32, choices=ReportReason.choices)
    text = models.TextField(max_length=MAX_REPORT_TEXT_CHARS, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN)
    resolution_note = models.TextField(max_length=MAX_MODERATION_REASON_CHARS, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        # What moderators may do that is not a model's add/change/delete: given to the Moderators group by
        # moderation/migrations (the admin's ban and unban actions check it).
        permissions = [("ban_user", "Can ban and unban users and decide on a banned user's balance")]
        constraints = [
            models.CheckConstraint(
                condition=Q(job__isnull=False, user__isnull=True) | Q(job__isnull=True, user__isnull=False),
                name="report_has_one_target",
            ),
            models.CheckConstraint(condition=Q(reason__in=ReportReason.values), name="report_reason_valid"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="report_status_valid"),
            models.CheckConstraint(
                condition=Q(status=ReportStatus.OPEN, resolved_at__isnull=True, resolved_by__isnull=True)
                | (
                    Q(status=ReportStatus.RESOLVED, resolved_at__isnull=False, resolved_by__isnull=False)
                    & ~Q(resolution_note="")
                ),
                name="report_resolution_complete",
            ),
            # A double click, or the same person reporting the same thing again before a moderator has looked,
            # files one report.
            models.UniqueConstraint(
                fields=["reporter", "job"], condition=Q(status="open", job__isnull=False), name="report_open_job_once"
            ),
            models.UniqueConstraint(
                fields=["reporter", "user"],
                condition=Q(status="open", user__isnull=False),
                name="report_open_user_once",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"], name="report_queue_idx"),
            models.Index(fields=["reporter", "-created_at"], name="report_reporter_idx"),
        ]

    def __str__(self) -> str:
        return f"Report of {self.target_label} ({self.get_reason_display().lower()})"

    @property
    def target_label(self) -> str:
        if self.job_id is not None:
            return f"job “{self.job.title}”"
        return f"user {self.user.username}"

    @property
    def is_open(self) -> bool:
        return self.status == ReportStatus.OPEN
