from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.ids import public_id_field, worker_id_field
from core.money import MSAT_PER_SAT
from core.text import EXCERPT_CHARS, MAX_DESCRIPTION_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_PROMPT_CHARS

MIN_REWARD_MSAT = 1 * MSAT_PER_SAT
MAX_REWARD_MSAT = 1_000_000 * MSAT_PER_SAT
MAX_ASSIGNMENTS_PER_TASK = 100
MIN_TIME_LIMIT_SECONDS = 60
MAX_TIME_LIMIT_SECONDS = 7 * 24 * 3600
# Whatever is not reviewed by then is approved and paid: a worker waits at most two weeks for their pay.
MAX_AUTO_APPROVE_SECONDS = 14 * 24 * 3600
# A moderator's written reason for a ban or for hiding a job.
MAX_MODERATION_REASON_CHARS = 2_000


class User(AbstractUser):
    """A person on Boltwork: any user can be a requester, a worker, or both. The profile lives here too."""

    # The id pages, the APIs, webhooks and exports show for this person as a worker (core/ids.py).
    public_id = worker_id_field()
    display_name = models.CharField(max_length=80, blank=True)
    # A moderator's ban (moderation.services.user_ban, the only writer): the account is inactive with it, so the
    # person cannot log in or use an API key; they cannot post, publish or claim, and are not paid out automatically.
    banned_at = models.DateTimeField(null=True, blank=True)
    ban_reason = models.TextField(max_length=MAX_MODERATION_REASON_CHARS, blank=True)

    class Meta(AbstractUser.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(banned_at__isnull=True) | Q(is_active=False), name="user_banned_is_inactive"
            ),
        ]

    @property
    def public_name(self) -> str:
        return self.display_name or self.username

    @property
    def is_banned(self) -> bool:
        return self.banned_at is not None


class WorkerBlock(models.Model):
    """A requester's block of a worker: the worker no longer sees or claims that requester's jobs (issue 11)."""

    requester = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_made")
    worker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="blocks_received")
    reason = models.TextField(max_length=1_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["requester", "worker"], name="block_one_per_requester_and_worker"),
            models.CheckConstraint(condition=~Q(requester=models.F("worker")), name="block_not_oneself"),
        ]
        indexes = [models.Index(fields=["worker", "requester"], name="block_worker_idx")]

    def __str__(self) -> str:
        return f"{self.requester_id} blocks {self.worker_id}"


class Tag(models.Model):
    name = models.SlugField(max_length=40, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class JobStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    PAUSED = "paused", "Paused"
    CLOSED = "closed", "Closed"
    CANCELLED = "cancelled", "Cancelled"


# A job is cancelled only before anyone could work on it; once published it is closed instead, which lets
# live assignments finish and be reviewed.
JOB_TRANSITIONS: dict[str, set[str]] = {
    JobStatus.DRAFT: {JobStatus.PUBLISHED, JobStatus.CANCELLED},
    JobStatus.PUBLISHED: {JobStatus.PAUSED, JobStatus.CLOSED},
    JobStatus.PAUSED: {JobStatus.PUBLISHED, JobStatus.CLOSED},
    JobStatus.CLOSED: set(),
    JobStatus.CANCELLED: set(),
}


class FormKind(models.TextChoices):
    BUILDER = "builder", "Form builder"
    HTML = "html", "HTML template (Mechanical Turk style)"
    # An outside study (Qualtrics, jsPsych, oTree…) in a frame: `external_url` with the ids filled in; it ends with
    # a POST to externalSubmit or at a completion link (issue 13).
    EXTERNAL = "external", "External study (a link to your own site)"
    # Made through the Mechanical Turk API: every task carries its own question (Task.question), as HITs do.
    PER_TASK = "per_task", "Each task's own question (Mechanical Turk API)"


class Job(models.Model):
    public_id = public_id_field()
    requester = models.ForeignKey(User, on_delete=models.PROTECT, related_name="jobs")
    title = models.CharField(max_length=200)
    description = models.TextField(
        max_length=MAX_DESCRIPTION_CHARS, help_text="Markdown: what the job is, shown on the board."
    )
    instructions = models.TextField(
        max_length=MAX_INSTRUCTIONS_CHARS, blank=True, help_text="Markdown: how to do a task."
    )
    # Rendered by the services when the Markdown is saved, so that showing a job never renders Markdown.
    description_html = models.TextField(blank=True, editable=False)
    description_excerpt = models.CharField(max_length=EXCERPT_CHARS, blank=True, editable=False)
    instructions_html = models.TextField(blank=True, editable=False)
    reward_msat = models.PositiveBigIntegerField()
    assignments_per_task = models.PositiveSmallIntegerField(default=1)
    time_limit_seconds = models.PositiveIntegerField(default=600)
    auto_approve_seconds = models.PositiveIntegerField(default=3 * 24 * 3600)
    # The requester's estimate of how long a task takes: workers see it, with the sats per hour it makes.
    estimated_seconds_per_task = models.PositiveIntegerField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="jobs")
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.DRAFT)

    form_kind = models.CharField(max_length=16, choices=FormKind.choices, default=FormKind.BUILDER)
    prompt = models.TextField(max_length=MAX_PROMPT_CHARS, blank=True)
    # The prompt rendered when saved, with tokens where its placeholders are (see answer_forms.fill_prompt).
    prompt_html = models.TextField(blank=True, editable=False)
    form_fields = models.JSONField(default=list, blank=True)
    html_template = models.TextField(max_length=200_000, blank=True)
    # https origins an HTML template may load from and send to, besides this site; workers see them on the job page.
    asset_hosts = models.JSONField(default=list, blank=True)
    # An external study (form_kind "external"): the study's https URL, with {worker_id}, {assignment_id}, {task_id}
    # and {job_id} placeholders named as the study wants them; and the completion codes a worker may end with, each
    # {"code", "action": "approve" | "review"}.
    external_url = models.CharField(max_length=2000, blank=True)
    completion_codes = models.JSONField(default=list, blank=True)
    # The sandbox (issue 13): a job of play money, on the sandbox board only, never paid over Lightning.
    sandbox = models.BooleanField(default=False)
    # A job made through the Mechanical Turk API with USD amounts: the sats per dollar its reward was converted at,
    # fixed when it was made and shown on the job. Null: priced in sats.
    sats_per_usd = models.PositiveBigIntegerField(null=True, blank=True)
    # Mechanical Turk's free-text keywords, as the requester gave them (the tags are derived from them).
    keywords = models.CharField(max_length=1000, blank=True)
    # The answer field names, derived from the form when it is saved: the Answer.* columns of the results.
    answer_fields = models.JSONField(default=list, blank=True)
    # The CSV header of the job's tasks, fixed by the first tasks added: the Input.* columns of the results.
    input_columns = models.JSONField(default=list, blank=True)

    # The platform fee on each approved assignment, fixed when the job is published (escrow holds reward + fee).
    fee_per_assignment_msat = models.PositiveBigIntegerField(default=0)

    # Kept by the task services in the same transaction as the rows they count, so the board never counts tasks.
    task_count = models.PositiveIntegerField(default=0)
    open_slot_count = models.PositiveIntegerField(default=0)
    # Assignments in progress or waiting for review: the slots whose escrow can still be claimed by an approval.
    live_assignment_count = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Hidden by a moderator (moderation.services.job_hide, the only writer): off the board and its page, and no new
    # claims, whatever its status; work already taken can still be submitted and reviewed.
    hidden_at = models.DateTimeField(null=True, blank=True)
    hidden_reason = models.TextField(max_length=MAX_MODERATION_REASON_CHARS, blank=True)

    # Who may work on it (issue 11; marketplace.qualifications writes them): a list of Mechanical Turk shaped
    # requirements {"qualification_type_id", "comparator", "integer_values", "actions_guarded"}, kept on the row so
    # that the claim and the board read them with the job, without a query of their own.
    qualification_requirements = models.JSONField(default=list, blank=True)
    # Whether a requirement hides the job from the board from those who do not meet it (DiscoverPreviewAndAccept).
    hides_from_unqualified = models.BooleanField(default=False)
    # Nobody who took any of these jobs may take this one (a study series).
    excluded_jobs = models.ManyToManyField("self", symmetrical=False, blank=True, related_name="excluded_by")
    max_tasks_per_worker = models.PositiveIntegerField(null=True, blank=True)
    # What approved work earned per hour (reward over the median working time), written by the reputation sweeper
    # once enough was approved; null before.
    effective_sats_per_hour = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "-published_at"], name="job_board_idx"),
            models.Index(fields=["requester", "-created_at"], name="job_requester_idx"),
            models.Index(fields=["sandbox", "status", "-published_at"], name="job_sandbox_board_idx"),
            # The board's distinct requirement lists (tasks.eligibility.board_hiding_requirements) read only the
            # jobs that have any, not every published job (benchmarks/board.py).
            models.Index(
                fields=["status"], condition=~Q(qualification_requirements=[]), name="job_with_requirements_idx"
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(reward_msat__gte=MIN_REWARD_MSAT, reward_msat__lte=MAX_REWARD_MSAT),
                name="job_reward_in_range",
            ),
            models.CheckConstraint(
                condition=Q(assignments_per_task__gte=1, assignments_per_task__lte=MAX_ASSIGNMENTS_PER_TASK),
                name="job_assignments_per_task_in_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    time_limit_seconds__gte=MIN_TIME_LIMIT_SECONDS,
                    time_limit_seconds__lte=MAX_TIME_LIMIT_SECONDS,
                ),
                name="job_time_limit_in_range",
            ),
            models.CheckConstraint(
                condition=Q(estimated_seconds_per_task__isnull=True)
                | Q(estimated_seconds_per_task__gte=1, estimated_seconds_per_task__lte=MAX_TIME_LIMIT_SECONDS),
                name="job_estimated_seconds_in_range",
            ),
            models.CheckConstraint(
                condition=Q(auto_approve_seconds__lte=MAX_AUTO_APPROVE_SECONDS),
                name="job_auto_approve_in_range",
            ),
            models.CheckConstraint(
                condition=Q(status__in=JobStatus.values),
                name="job_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(max_tasks_per_worker__isnull=True) | Q(max_tasks_per_worker__gte=1),
                name="job_max_tasks_per_worker_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def reward_sats(self) -> int:
        return self.reward_msat // MSAT_PER_SAT

    @property
    def sats_per_hour(self) -> int | None:
        """What the reward makes per hour at the requester's estimated time per task (rounded down)."""
        if not self.estimated_seconds_per_task:
            return None
        return self.reward_msat * 3600 // (self.estimated_seconds_per_task * MSAT_PER_SAT)

    @property
    def shown_sats_per_hour(self) -> int | None:
        """Sats per hour as the board shows and sorts it: what approved work earned (effective_sats_per_hour) once
        enough was approved, the requester's estimate before that."""
        if self.effective_sats_per_hour is not None:
            return self.effective_sats_per_hour
        return self.sats_per_hour

    @property
    def is_draft(self) -> bool:
        return self.status == JobStatus.DRAFT

    @property
    def takes_new_work(self) -> bool:
        """Whether "Start working" can succeed now (the claim service checks it again under a lock)."""
        not_expired = self.expires_at is None or self.expires_at > timezone.now()
        return (
            self.status == JobStatus.PUBLISHED and self.open_slot_count > 0 and not_expired and self.hidden_at is None
        )

    @property
    def pays_on_submission(self) -> bool:
        """Whether a rule of the job approves work the moment it is checked (its quality rules, tasks.quality: by the
        worker's accuracy on controls, or by agreement), so its sats are on their way within seconds. Reads the
        job's JobQuality row selected with it (the board selects it: no query of its own)."""
        quality = getattr(self, "quality", None)  # tasks' JobQuality, one-to-one; none for most jobs
        return quality is not None and (quality.approve_accuracy_percent is not None or quality.approve_on_agreement)

    @property
    def is_hidden(self) -> bool:
        return self.hidden_at is not None

    @property
    def has_form(self) -> bool:
        if self.form_kind == FormKind.HTML:
            return bool(self.html_template.strip())
        if self.form_kind == FormKind.EXTERNAL:
            return bool(self.external_url)
        if self.form_kind == FormKind.PER_TASK:
            return True
        return bool(self.form_fields)


# Qualifications (issue 11). A requirement names a type by its id: one of the system types below, whose values
# Boltwork computes (the first two ids are Mechanical Turk's own for the same figures), or a requester's custom type.
APPROVAL_RATE_TYPE_ID = "000000000000000000L0"
APPROVED_COUNT_TYPE_ID = "00000000000000000040"
ACCOUNT_AGE_TYPE_ID = "0000000000000000AGE0"
PAYOUT_DESTINATION_TYPE_ID = "000000000000000DEST0"
MAX_QUALIFICATION_NAME_CHARS = 100
MAX_QUALIFICATION_DESCRIPTION_CHARS = 2_000


class QualificationType(models.Model):
    """A requester's custom qualification: a score they grant to workers (by hand, by CSV, automatically on request,
    or from a test). marketplace.qualifications holds every change."""

    public_id = public_id_field()
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="qualification_types")
    name = models.CharField(max_length=MAX_QUALIFICATION_NAME_CHARS)
    description = models.TextField(max_length=MAX_QUALIFICATION_DESCRIPTION_CHARS, blank=True)
    # Any worker who asks gets the qualification at once with this score (Mechanical Turk's AutoGranted).
    auto_grant_value = models.IntegerField(null=True, blank=True)
    # A short test with known answers whose score (0-100) becomes the worker's score: a list of
    # {"question", "options", "answer"} (marketplace.qualification_tests). Empty: no test.
    test_questions = models.JSONField(default=list, blank=True)
    test_retry_delay_seconds = models.PositiveIntegerField(default=24 * 3600)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="qualification_type_name_per_owner"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def has_test(self) -> bool:
        return bool(self.test_questions)


class QualificationGrant(models.Model):
    """A worker's score on a custom qualification type (system types are computed, never granted)."""

    type = models.ForeignKey(QualificationType, on_delete=models.CASCADE, related_name="grants")
    worker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="qualification_grants")
    value = models.IntegerField()
    granted_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["type", "worker"], name="qualification_grant_one_per_worker"),
        ]
        indexes = [models.Index(fields=["worker", "type"], name="qualification_grant_worker_idx")]

    def __str__(self) -> str:
        return f"{self.worker_id} has {self.type_id} = {self.value}"


class QualificationTestAttempt(models.Model):
    """One worker's try at a qualification type's test: the score it gave, kept so a retake waits its delay."""

    type = models.ForeignKey(QualificationType, on_delete=models.CASCADE, related_name="test_attempts")
    worker = models.ForeignKey(User, on_delete=models.CASCADE, related_name="qualification_test_attempts")
    score = models.PositiveSmallIntegerField()
    answers = models.JSONField(default=list)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["worker", "type", "-created_at"], name="qual_test_attempt_idx")]

    def __str__(self) -> str:
        return f"{self.worker_id} scored {self.score} on {self.type_id}"


class WorkerStats(models.Model):
    """A worker's figures from their reviewed assignments, written by the reputation sweeper only: the approval-rate
    and approved-count qualifications and the review screen read them, so neither counts assignments."""

    worker = models.OneToOneField(User, primary_key=True, on_delete=models.CASCADE, related_name="worker_stats")
    approved_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # Percent of reviewed assignments approved, rounded down; null until something was reviewed.
    approval_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Stats of worker {self.worker_id}"


class RequesterStats(models.Model):
    """A requester's reputation, computed from their assignments, payouts and disputes by the reputation sweeper
    (the only writer), so the board shows it without counting anything."""

    requester = models.OneToOneField(User, primary_key=True, on_delete=models.CASCADE, related_name="requester_stats")
    approved_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    # Percent of reviewed submissions approved, rounded down; null until something was reviewed.
    approval_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    # Null until enough assignments were approved to say (settings.REPUTATION_MIN_APPROVED).
    effective_sats_per_hour = models.PositiveBigIntegerField(null=True, blank=True)
    median_work_seconds = models.PositiveIntegerField(null=True, blank=True)
    median_review_seconds = models.PositiveIntegerField(null=True, blank=True)
    median_payment_seconds = models.PositiveIntegerField(null=True, blank=True)
    disputes_lost = models.PositiveIntegerField(default=0)
    active_since = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Stats of requester {self.requester_id}"
