from django.conf import settings
from django.db import models
from django.db.models import Q

from core.ids import public_id_field
from marketplace.models import Job


class TaskKind(models.TextChoices):
    REGULAR = "regular", "Task"
    CONTROL = "control", "Control (known answers)"
    TRAINING = "training", "Training"


class Task(models.Model):
    """One item of a job, usually one CSV row of input data."""

    public_id = public_id_field()
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="tasks")
    position = models.PositiveIntegerField(help_text="1-based row number in the order the tasks were added.")
    input = models.JSONField(default=dict)
    # How many more assignments this task can take. Kept by the assignment services; the claim query reads it
    # through a partial index, so claiming never scans full tasks.
    slots_open = models.PositiveSmallIntegerField()
    # Quality control (issue 12). A control has known answers (`gold`, by answer field name) and is served mixed
    # among the other tasks, looking exactly like them; a training task has known answers too but is never claimed:
    # workers answer it unpaid on the job's training page and see the correct answer afterwards.
    kind = models.CharField(max_length=16, choices=TaskKind.choices, default=TaskKind.REGULAR)
    gold = models.JSONField(default=dict, blank=True)
    # With dynamic overlap, the answers this task wants so far (it grows by one while they disagree, up to the
    # job's assignments_per_task, whose escrow was funded); null: the job's assignments_per_task.
    answers_wanted = models.PositiveSmallIntegerField(null=True, blank=True)
    # A HIT made through the Mechanical Turk API (issue 13; the job's form_kind is "per_task"): its own question,
    # as the requester sent it (`question_xml`) and as Boltwork serves it (`question`: {"kind": "html" | "external"
    # | "form", ...}, see mturk.questions).
    # The task import writes rows with COPY and names only the columns it fills: the rest need database defaults.
    question = models.JSONField(default=dict, db_default={}, blank=True)
    question_xml = models.TextField(blank=True, db_default="")
    # The HIT's MaxAssignments (null: the job's assignments_per_task); CreateAdditionalAssignmentsForHIT raises it.
    max_assignments = models.PositiveIntegerField(null=True, blank=True)
    # The HIT's own end (null: the job's): no claim after it.
    expires_at = models.DateTimeField(null=True, blank=True)
    # UpdateHITReviewStatus: the requester marked it as being reviewed (HITStatus "Reviewing").
    reviewing = models.BooleanField(default=False, db_default=False)
    # DeleteHIT: gone from the requester's lists; its answers stay for the ledger and disputes.
    disposed_at = models.DateTimeField(null=True, blank=True)
    requester_annotation = models.CharField(max_length=255, blank=True, db_default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "position"]
        constraints = [
            models.UniqueConstraint(fields=["job", "position"], name="task_unique_position"),
            models.CheckConstraint(condition=Q(kind__in=TaskKind.values), name="task_kind_valid"),
            models.CheckConstraint(
                condition=Q(kind=TaskKind.REGULAR) | ~Q(gold={}), name="task_known_answers_have_gold"
            ),
        ]
        indexes = [
            # The claim query walks this index in row order and never sees a full task.
            models.Index(fields=["job", "position"], condition=Q(slots_open__gt=0), name="task_open_idx"),
            # A control draw walks the job's open controls only (tasks.controls).
            models.Index(
                fields=["job", "position"],
                condition=Q(slots_open__gt=0, kind="control"),
                name="task_open_control_idx",
            ),
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
    # Only a dispute's decision (tasks/disputes.py) approves rejected work: the requester withdrawing the rejection
    # or a moderator overturning it. A requester's review never does (assignment_review refuses it).
    AssignmentStatus.REJECTED: {AssignmentStatus.APPROVED},
    AssignmentStatus.RETURNED: set(),
    AssignmentStatus.EXPIRED: set(),
}

# Statuses that keep the task's slot taken. A rejected, returned or expired assignment gives its slot back, so
# the requester gets the number of approved answers they asked (and paid) for.
SLOT_HOLDING_STATUSES = frozenset({AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED, AssignmentStatus.APPROVED})


class ReviewSource(models.TextChoices):
    REQUESTER = "requester", "Requester"
    AUTO = "auto", "Auto-approved"
    DISPUTE = "dispute", "Approved after a dispute"
    RULE = "rule", "Decided by a rule"


class RejectionReason(models.TextChoices):
    INSTRUCTIONS = "instructions", "Did not follow the instructions"
    WRONG_CHECKED_ANSWER = "wrong_checked_answer", "Wrong answer on a checked item"
    INCOMPLETE = "incomplete", "Incomplete"
    SPAM = "spam", "Spam or copied"
    OTHER = "other", "Other"


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
    rejection_reason = models.CharField(max_length=32, choices=RejectionReason.choices, blank=True)
    # A mass rejection waiting for a moderator (tasks.services.rejection_hold_decide): the assignment stays submitted,
    # with the requester's reason and message kept here, and is neither rejected nor auto-approved meanwhile.
    rejection_held_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True, help_text="When it was returned or expired.")
    # Quality control (issue 12): on a control, whether the answer matched the known one (set at submission);
    # the rule that decided a review by rule (review_source "rule"); why a rule sent it to the requester instead.
    control_correct = models.BooleanField(null=True, blank=True)
    review_rule = models.CharField(max_length=40, blank=True)
    flag_reason = models.CharField(max_length=200, blank=True)
    # When the quality pipeline (controls, aggregation, rules) ran on the submission; a sweeper runs it on
    # submissions it missed.
    quality_checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # A worker never gets the same task twice, even after returning it.
            models.UniqueConstraint(fields=["worker", "task"], name="assignment_one_per_worker_and_task"),
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="assignment_status_valid"),
            models.CheckConstraint(
                condition=~Q(status=AssignmentStatus.REJECTED) | ~Q(feedback=""),
                name="assignment_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status=AssignmentStatus.REJECTED) | ~Q(rejection_reason=""),
                name="assignment_rejection_has_reason_kind",
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
            # The quality pipeline's sweeper: submissions it has not checked yet (tasks.quality).
            models.Index(
                fields=["submitted_at"],
                condition=Q(status=AssignmentStatus.SUBMITTED, quality_checked_at__isnull=True),
                name="assignment_unchecked_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Assignment {self.pk} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == AssignmentStatus.ACCEPTED


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Waiting for the requester"
    ANSWERED = "answered", "Answered by the requester"
    ESCALATED = "escalated", "With the moderators"
    WITHDRAWN = "withdrawn", "Rejection withdrawn: paid"
    UPHELD = "upheld", "Rejection upheld"
    OVERTURNED = "overturned", "Rejection overturned: paid"


DISPUTE_TRANSITIONS: dict[str, set[str]] = {
    DisputeStatus.OPEN: {
        DisputeStatus.ANSWERED,
        DisputeStatus.ESCALATED,
        DisputeStatus.WITHDRAWN,
        DisputeStatus.UPHELD,
        DisputeStatus.OVERTURNED,
    },
    DisputeStatus.ANSWERED: {
        DisputeStatus.ESCALATED,
        DisputeStatus.WITHDRAWN,
        DisputeStatus.UPHELD,
        DisputeStatus.OVERTURNED,
    },
    DisputeStatus.ESCALATED: {DisputeStatus.WITHDRAWN, DisputeStatus.UPHELD, DisputeStatus.OVERTURNED},
    DisputeStatus.WITHDRAWN: set(),
    DisputeStatus.UPHELD: set(),
    DisputeStatus.OVERTURNED: set(),
}
DISPUTE_LIVE_STATUSES = frozenset({DisputeStatus.OPEN, DisputeStatus.ANSWERED, DisputeStatus.ESCALATED})


class HeldFrom(models.TextChoices):
    """Where the dispute hold came from, so that an upheld rejection gives it back to the same place."""

    SLOT = "slot", "The rejected slot's escrow (the slot is off the board meanwhile)"
    BALANCE = "balance", "The requester's balance"


class Dispute(models.Model):
    """A rejected worker's appeal, with the slot's reward + fee held in the ledger until it ends."""

    public_id = public_id_field()
    assignment = models.OneToOneField(Assignment, on_delete=models.PROTECT, related_name="dispute")
    status = models.CharField(max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    held_msat = models.PositiveBigIntegerField()
    held_from = models.CharField(max_length=16, choices=HeldFrom.choices)
    opened_at = models.DateTimeField()
    # Without the rejection withdrawn by then, the dispute goes to the moderators.
    requester_deadline_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decision_reason = models.TextField(max_length=2_000, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DisputeStatus.values), name="dispute_status_valid"),
            models.CheckConstraint(
                condition=Q(status__in=sorted(DISPUTE_LIVE_STATUSES)) | Q(decided_at__isnull=False),
                name="dispute_ended_has_decision_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "opened_at"], name="dispute_queue_idx"),
            models.Index(
                fields=["requester_deadline_at"],
                condition=Q(status__in=["open", "answered"]),
                name="dispute_escalation_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispute {self.public_id} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in DISPUTE_LIVE_STATUSES


class DisputeRole(models.TextChoices):
    WORKER = "worker", "Worker"
    REQUESTER = "requester", "Requester"
    MODERATOR = "moderator", "Moderator"


class DisputeMessage(models.Model):
    """One plain-text message of a dispute's thread."""

    dispute = models.ForeignKey(Dispute, on_delete=models.CASCADE, related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=DisputeRole.choices)
    body = models.TextField(max_length=4_000)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_role_display()} on dispute {self.dispute_id}"


class AggregationMethod(models.TextChoices):
    MAJORITY = "majority", "Majority vote"
    WEIGHTED = "weighted", "Majority vote weighted by control accuracy"
    DAWID_SKENE = "dawid_skene", "Dawid–Skene"


class TextAggregation(models.TextChoices):
    ALL = "all", "All answers"
    MOST_COMMON = "most_common", "Most common after normalising"


class JobQuality(models.Model):
    """A job's quality control and review rules (issue 12); a job without a row has none. tasks.quality holds every
    change. The claim reads it with the job (select_related), so it costs no query of its own."""

    job = models.OneToOneField(Job, primary_key=True, on_delete=models.CASCADE, related_name="quality")
    # Controls: the percent of claims served a control while the worker has one left to do.
    control_rate_percent = models.PositiveSmallIntegerField(default=0)
    # Accuracy: over the worker's most recent `accuracy_window` controls in the job; below `stop_below_percent`
    # (once they answered `stop_after_controls`), they are stopped from claiming more of the job, and with
    # `hold_pending_when_stopped` their pending work waits for the requester instead of any automatic approval.
    accuracy_window = models.PositiveSmallIntegerField(default=20)
    stop_below_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    stop_after_controls = models.PositiveSmallIntegerField(default=3)
    hold_pending_when_stopped = models.BooleanField(default=False)
    # Training: a worker must score at least this on the job's training tasks before its real tasks.
    training_pass_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    # Overlap: aggregation per field, and dynamic overlap (start with `overlap_start` answers, add one while the
    # confidence is below `agreement_percent`, up to the job's assignments_per_task).
    aggregation_method = models.CharField(
        max_length=16, choices=AggregationMethod.choices, default=AggregationMethod.MAJORITY
    )
    text_aggregation = models.CharField(
        max_length=16, choices=TextAggregation.choices, default=TextAggregation.MOST_COMMON
    )
    overlap_start = models.PositiveSmallIntegerField(null=True, blank=True)
    agreement_percent = models.PositiveSmallIntegerField(default=70)
    # Review rules.
    approve_accuracy_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    approve_after_controls = models.PositiveSmallIntegerField(default=5)
    approve_on_agreement = models.BooleanField(default=False)
    reject_wrong_controls = models.BooleanField(default=False)
    flag_faster_than_seconds = models.PositiveIntegerField(null=True, blank=True)
    flag_outliers_below_median = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(control_rate_percent__lte=50), name="quality_control_rate_at_most_half"),
            models.CheckConstraint(
                condition=Q(accuracy_window__gte=1, accuracy_window__lte=1000), name="quality_window_in_range"
            ),
            models.CheckConstraint(
                condition=Q(stop_below_percent__isnull=True) | Q(stop_below_percent__lte=100),
                name="quality_stop_percent_in_range",
            ),
            models.CheckConstraint(
                condition=Q(training_pass_percent__isnull=True) | Q(training_pass_percent__lte=100),
                name="quality_training_percent_in_range",
            ),
            models.CheckConstraint(
                condition=Q(approve_accuracy_percent__isnull=True) | Q(approve_accuracy_percent__lte=100),
                name="quality_approve_percent_in_range",
            ),
            models.CheckConstraint(condition=Q(agreement_percent__lte=100), name="quality_agreement_in_range"),
            models.CheckConstraint(
                condition=Q(overlap_start__isnull=True) | Q(overlap_start__gte=1), name="quality_overlap_start_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Quality rules of job {self.job_id}"


class WorkerJobAccuracy(models.Model):
    """A worker's answers on a job's controls: the recent window and the accuracy over it, kept by the submission
    (tasks.quality), so the claim and the rules read one row instead of counting."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_accuracies")
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="worker_accuracies")
    controls_answered = models.PositiveIntegerField(default=0)
    controls_correct = models.PositiveIntegerField(default=0)
    # The most recent results, newest last, at most the job's accuracy_window of them.
    recent = models.JSONField(default=list)
    accuracy_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    training_score = models.PositiveSmallIntegerField(null=True, blank=True)
    training_passed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "job"], name="worker_job_accuracy_one_per_pair"),
        ]

    def __str__(self) -> str:
        return f"Accuracy of {self.worker_id} on job {self.job_id}"


class TrainingAnswer(models.Model):
    """A worker's unpaid answer to a training task, and whether it matched the known answer."""

    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="training_answers")
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="training_answers")
    answer = models.JSONField()
    correct = models.BooleanField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["worker", "task"], name="training_answer_one_per_worker_and_task"),
        ]

    def __str__(self) -> str:
        return f"Training answer of {self.worker_id} to task {self.task_id}"


class TaskResult(models.Model):
    """A task's answers aggregated per answer field (tasks.aggregation), with a confidence per field and the
    agreement (the lowest field confidence); `complete` once its overlap is done."""

    task = models.OneToOneField(Task, primary_key=True, on_delete=models.CASCADE, related_name="result")
    result = models.JSONField(default=dict)
    confidence = models.JSONField(default=dict)
    agreement = models.FloatField(null=True, blank=True)
    answer_count = models.PositiveSmallIntegerField(default=0)
    complete = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Result of task {self.task_id}"
