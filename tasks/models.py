from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import public_id_field
from marketplace.models import Job


class Task(models.Model):
    """One item of a job, usually one CSV row of input data."""

    public_id = public_id_field()
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveIntegerField(help_text="1-based row number in the order the tasks were added.")
    input = models.JSONField(default=dict)
    # How many more assignments this task can take. Kept by the assignment services; the claim query reads it
    # through a partial index, so claiming never scans full tasks.
    slots_open = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="task_unique_position"),
        ]
        indexes = [
            # The claim query walks this index in row order and never sees a full task.
            models.Index(fields=["job", "position"], condition=Q(slots_open__gt=0), name="task_open_idx"),
        ]

    def __str__(self) -> str:
        return f"Task {self.position} of job {self.job_id}"


class AssignmentStatus(models.TextChoices):
    ACCEPTED = "accepted", "In progress"
    SUBMITTED = "submitted", "Submitted"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    RETURNED = "returned", "Returned"
    EXPIRED = "expired", "Expired"


ASSIGNMENT_TRANSITIONS: dict[str, set[str]] = {
    AssignmentStatus.ACCEPTED: {
        AssignmentStatus.SUBMITTED,
        AssignmentStatus.RETURNED,
        AssignmentStatus.EXPIRED,
    },
    AssignmentStatus.SUBMITTED: {AssignmentStatus.APPROVED, AssignmentStatus.REJECTED},
    AssignmentStatus.APPROVED: set(),
    AssignmentStatus.REJECTED: set(),
    AssignmentStatus.RETURNED: set(),
    AssignmentStatus.EXPIRED: set(),
}

# Statuses that keep the task's slot taken. A rejected, returned or expired assignment gives its slot back, so
# the requester gets the number of approved answers they asked (and paid) for.
SLOT_HOLDING_STATUSES = frozenset({AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED})


class ReviewSource(models.TextChoices):
    REQUESTER = "requester", "Requester"
    AUTO = "auto", "Auto-approved"


class Assignment(models.Model):
    """One worker's claim on one task: deadline, answer and review."""

    public_id = public_id_field()
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="assignments")
    job = models.ForeignKey(Job, on_delete=models.PROTECT, related_name="assignments")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="assignments")
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ACCEPTED)
    accepted_at = models.DateTimeField()
    deadline_at = models.DateTimeField()
    answer = models.JSONField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    auto_approve_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_source = models.CharField(max_length=16, choices=ReviewSource.choices, blank=True)
    feedback = models.TextField(max_length=2_000, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When it was returned or expired.")

    class Meta:
        constraints = [
            # A worker never gets the same task twice, even after returning it.
            models.UniqueConstraint(fields=["worker", "task"], name="assignment_one_per_worker_and_task"),
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=AssignmentStatus.REJECTED) | ~Q(feedback=""),
                name="assignment_rejection_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["worker", "status", "-accepted_at"], name="assignment_worker_idx"),
            models.Index(fields=["job", "status", "submitted_at"], name="assignment_job_status_idx"),
            models.Index(
                fields=["deadline_at"],
                condition=Q(status=AssignmentStatus.ACCEPTED),
                name="assignment_overdue_idx",
            ),
            models.Index(
                fields=["auto_approve_at"],
                condition=Q(status=AssignmentStatus.SUBMITTED),
                name="assignment_auto_approve_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == AssignmentStatus.ACCEPTED
