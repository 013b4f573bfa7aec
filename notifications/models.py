"""What users are told, in the site and by email, when events concern them (issue 10)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import public_id_field


class NotificationKind(models.TextChoices):
    """Each kind is switched on or off by each user, in the site and by email separately (notifications/kinds.py
    says when each is sent)."""

    WORK_APPROVED = "work_approved", "Work approved"
    WORK_REJECTED = "work_rejected", "Work rejected"
    BONUS_RECEIVED = "bonus_received", "Bonus received"
    PAYOUT_SENT = "payout_sent", "Payout sent"
    PAYOUT_FAILED = "payout_failed", "Payout failed"
    PAYOUT_NEEDS_MODERATOR = "payout_needs_moderator", "Payout waiting for a moderator"
    DISPUTE_OPENED = "dispute_opened", "Dispute opened"
    DISPUTE_ANSWERED = "dispute_answered", "Dispute answered"
    DISPUTE_ESCALATED = "dispute_escalated", "Dispute sent to the moderators"
    DISPUTE_MESSAGE = "dispute_message", "New message in a dispute"
    DISPUTE_DECIDED = "dispute_decided", "Dispute decided"
    DEPOSIT_RECEIVED = "deposit_received", "Deposit received"
    JOB_FINISHED = "job_finished", "Job finished"
    JOB_FUNDS_LOW = "job_funds_low", "Job's funds running out"
    BLOCKED = "blocked", "Blocked by a requester"
    WORK_ALERT = "work_alert", "Work alert"
    STOPPED_ON_JOB = "stopped_on_job", "Stopped on a job for accuracy"
    REQUESTER_MESSAGE = "requester_message", "Message from a requester"


class EmailState(models.TextChoices):
    NOT_WANTED = "not_wanted", "Not sent (switched off, or no email address)"
    PENDING = "pending", "Waiting to be sent"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"


class Notification(models.Model):
    """One thing one user is told about, made from one event after it committed.

    `in_app` is False when the user switched this kind off in the site but still wants its email: the row then
    exists only to send that email once, and the bell and the list never show it.
    """

    public_id = public_id_field()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event = models.ForeignKey("core.Event", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    # The public id of what it is about (an assignment, a payout, a job…).
    subject_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, help_text="A path on this site: what the notification is about.")
    in_app = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    email_state = models.CharField(max_length=16, choices=EmailState.choices, default=EmailState.NOT_WANTED)
    email_attempts = models.PositiveSmallIntegerField(default=0)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A handler run twice for the same event tells nobody twice.
            models.UniqueConstraint(fields=["user", "event"], name="notification_once_per_event"),
            # Each job's funds running out is said once, however many claims see it low.
            models.UniqueConstraint(
                fields=["user", "subject_id"],
                condition=Q(kind="job_funds_low"),
                name="notification_funds_low_once_per_job",
            ),
            models.CheckConstraint(condition=Q(kind__in=NotificationKind.values), name="notification_kind_valid"),
            models.CheckConstraint(
                condition=Q(email_state__in=EmailState.values), name="notification_email_state_valid"
            ),
            models.CheckConstraint(condition=Q(link__startswith="/"), name="notification_link_is_a_path"),
        ]
        indexes = [
            # The bell's unread count.
            models.Index(
                fields=["user", "read_at", "-created_at"], condition=Q(in_app=True), name="notification_unread_idx"
            ),
            # The list, newest first.
            models.Index(fields=["user", "-created_at", "-id"], condition=Q(in_app=True), name="notification_list_idx"),
            # The sweeper's emails still to send.
            models.Index(fields=["created_at"], condition=Q(email_state="pending"), name="notification_email_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}: {self.title}"

    @property
    def is_unread(self) -> bool:
        return self.read_at is None


class NotificationPreference(models.Model):
    """A user's choice for one kind. No row means the default: on in the site and by email."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    in_app = models.BooleanField(default=True)
    email = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "kind"], name="notification_preference_once_per_kind"),
            models.CheckConstraint(
                condition=Q(kind__in=NotificationKind.values), name="notification_preference_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}: in app {self.in_app}, email {self.email}"
