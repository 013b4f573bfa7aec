"""The API's request and response shapes. Amounts are integers of millisatoshis; IDs are strings; times are ISO 8601
with an offset."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union

from django.conf import settings
from ninja import Field, Schema
from pydantic import AwareDatetime, ConfigDict, PlainSerializer, StrictInt, TypeAdapter, WithJsonSchema

from core.ids import PUBLIC_ID_LENGTH
from core.money import MSAT_PER_SAT
from core.text import MAX_DESCRIPTION_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_PROMPT_CHARS
from marketplace.answer_fields import FIELD_KINDS, answer_value_types
from marketplace.answer_forms import render_html_template
from marketplace.blocks import MAX_REASON_CHARS
from marketplace.models import (
    MAX_ASSIGNMENTS_PER_TASK,
    MAX_AUTO_APPROVE_SECONDS,
    MAX_QUALIFICATION_DESCRIPTION_CHARS,
    MAX_QUALIFICATION_NAME_CHARS,
    MAX_REWARD_MSAT,
    MAX_TIME_LIMIT_SECONDS,
    MIN_REWARD_MSAT,
    MIN_TIME_LIMIT_SECONDS,
    FormKind,
)
from marketplace.qualifications import (
    GUARDS,
    MAX_REQUIREMENTS_PER_JOB,
    MAX_SCORE,
    MAX_SET_VALUES,
    MIN_SCORE,
    Comparator,
    Guard,
    SystemType,
)
from marketplace.services import MAX_EXCLUDED_JOBS, MAX_TAGS
from payments.services import MAX_MINIMUM_PAYOUT_MSAT
from tasks.bonuses import MAX_BONUS_MSAT
from tasks.reputations import requester_reputation

MAX_TASKS_PER_REQUEST = settings.TASK_CSV_MAX_ROWS  # the same limit as a CSV upload


class InputSchema(Schema):
    """Request bodies refuse fields they do not know: a typo is a 400, not a silently ignored change."""

    model_config = ConfigDict(extra="forbid")


Timestamp = Annotated[datetime, PlainSerializer(lambda value: value.isoformat(), return_type=str)]
Msat = Annotated[int, Field(ge=0)]
# An answer's value, by the kind of its field (marketplace.answer_fields): text, a list of texts (multiple choice, or
# same-named controls of an HTML template), a number as exact decimal text, a checkbox's boolean, or null.
AnswerValue = Union[answer_value_types()]  # noqa: UP007 (a union built from the registry)
Answer = dict[str, AnswerValue]
# A submitted answer is checked by the job's answer form, field by field with its messages, not by pydantic: the
# document says what each kind takes (a number may also be sent as a JSON number), the form refuses the rest.
AnswerIn = Annotated[
    dict[str, Any],
    WithJsonSchema({"type": "object", "additionalProperties": TypeAdapter(AnswerValue).json_schema()}),
]


class ErrorDetail(Schema):
    code: str
    message: str
    details: dict


class ErrorOut(Schema):
    error: ErrorDetail


class MeOut(Schema):
    id: str
    username: str
    available_msat: int
    escrow_msat: int
    earned_msat: int


class DepositIn(InputSchema):
    amount_msat: int = Field(..., ge=1, le=10**15)  # a sanity bound: the settings' limits apply in the service


class DepositOut(Schema):
    id: str
    bolt11: str
    payment_hash: str
    amount_msat: int
    status: Literal["pending", "paid", "expired"]
    expires_at: Timestamp
    paid_at: Timestamp | None

    @staticmethod
    def resolve_id(deposit) -> str:
        return deposit.public_id


class FormField(InputSchema):
    name: str = Field(..., max_length=40)
    kind: Literal[tuple(FIELD_KINDS)]  # the registry's kinds, in its order
    label: str = Field(..., max_length=300)
    help_text: str = Field("", max_length=500)
    required: bool = False
    choices: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=100)
    min: Decimal | None = Field(None, max_digits=30, decimal_places=10)
    max: Decimal | None = Field(None, max_digits=30, decimal_places=10)


class FormIn(InputSchema):
    prompt: str = Field("", max_length=MAX_PROMPT_CHARS)
    fields: list[FormField] = Field(..., min_length=1, max_length=50)


class FormOut(Schema):
    prompt: str
    fields: list[dict]


class JobTerms(InputSchema):
    title: str = Field(..., min_length=1, max_length=200)
    description: str = Field(..., min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    instructions: str = Field("", max_length=MAX_INSTRUCTIONS_CHARS)
    reward_msat: int = Field(..., ge=MIN_REWARD_MSAT, le=MAX_REWARD_MSAT)
    assignments_per_task: int = Field(1, ge=1, le=MAX_ASSIGNMENTS_PER_TASK)
    time_limit_seconds: int = Field(600, ge=MIN_TIME_LIMIT_SECONDS, le=MAX_TIME_LIMIT_SECONDS)
    auto_approve_seconds: int = Field(3 * 24 * 3600, ge=0, le=MAX_AUTO_APPROVE_SECONDS)
    expires_at: AwareDatetime | None = None
    tags: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=MAX_TAGS)
    estimated_seconds_per_task: int | None = Field(
        None,
        ge=1,
        le=MAX_TIME_LIMIT_SECONDS,
        description="How long a task takes, at most the time limit: workers see it with the sats per hour it makes.",
    )


AssetHosts = list[Annotated[str, Field(max_length=300)]]
# A custom qualification's score, and what a requirement compares it with: a 32-bit integer, as on Mechanical Turk.
# Strict: true is not a score of 1.
Score = Annotated[StrictInt, Field(ge=MIN_SCORE, le=MAX_SCORE)]
# Mechanical Turk's comparators, in its order.
COMPARATOR_NAMES = tuple(value for name, value in vars(Comparator).items() if not name.startswith("_"))


class RequirementIn(InputSchema):
    """One qualification requirement: the worker's value of the type compared with `integer_values` (one value for the
    order and equality comparators, 1 to 15 for In and NotIn, none for Exists and DoesNotExist)."""

    qualification_type_id: str = Field(
        ..., max_length=PUBLIC_ID_LENGTH, description="A system type's id, or one of your own custom types' ids"
    )
    comparator: Literal[COMPARATOR_NAMES]
    integer_values: list[Score] = Field(default_factory=list, max_length=MAX_SET_VALUES)
    actions_guarded: Literal[tuple(GUARDS)] = Field(
        Guard.ACCEPT,
        description="What a worker who misses it may not do: accept; preview and accept; or even see the job on the "
        "board (DiscoverPreviewAndAccept)",
    )


class RequirementOut(Schema):
    qualification_type_id: str
    comparator: str
    integer_values: list[int]
    actions_guarded: str


class AccessOut(Schema):
    """Whether you may preview and take a job under its qualification requirements, and in words why not."""

    may_preview: bool
    may_accept: bool
    reasons: list[str] = Field(description='Each requirement you miss: "your approval rate is 93% and this job asks …"')


Requirements = list[RequirementIn]
ExcludedJobIds = list[Annotated[str, Field(max_length=PUBLIC_ID_LENGTH)]]
MaxTasksPerWorker = Annotated[int, Field(ge=1, le=MAX_SCORE)]


class WorkerRules(InputSchema):
    """Who may work on a job: all three at once (one left out is set to none)."""

    qualification_requirements: Requirements = Field(default_factory=list, max_length=MAX_REQUIREMENTS_PER_JOB)
    excluded_job_ids: ExcludedJobIds = Field(
        default_factory=list,
        max_length=MAX_EXCLUDED_JOBS,
        description="Your other jobs: a worker who took any task of them may not take this one",
    )
    max_tasks_per_worker: MaxTasksPerWorker | None = Field(
        None, description="How many tasks of this job one worker may take (returned and expired ones not counted)"
    )


class JobIn(JobTerms, WorkerRules):
    form: FormIn | None = None
    html_template: str | None = Field(None, max_length=200_000)
    asset_hosts: AssetHosts = Field(
        default_factory=list,
        max_length=10,
        description="With html_template: https origins the template may load from besides Boltwork "
        "(`https://host[:port]`); workers see them on the job page.",
    )


class JobPatch(InputSchema):
    title: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, min_length=1, max_length=MAX_DESCRIPTION_CHARS)
    instructions: str | None = Field(None, max_length=MAX_INSTRUCTIONS_CHARS)
    reward_msat: int | None = Field(None, ge=MIN_REWARD_MSAT, le=MAX_REWARD_MSAT)
    assignments_per_task: int | None = Field(None, ge=1, le=MAX_ASSIGNMENTS_PER_TASK)
    time_limit_seconds: int | None = Field(None, ge=MIN_TIME_LIMIT_SECONDS, le=MAX_TIME_LIMIT_SECONDS)
    auto_approve_seconds: int | None = Field(None, ge=0, le=MAX_AUTO_APPROVE_SECONDS)
    expires_at: AwareDatetime | None = None
    tags: list[Annotated[str, Field(max_length=40)]] | None = Field(None, max_length=MAX_TAGS)
    estimated_seconds_per_task: int | None = Field(None, ge=1, le=MAX_TIME_LIMIT_SECONDS)
    form: FormIn | None = None
    html_template: str | None = Field(None, max_length=200_000)
    asset_hosts: AssetHosts | None = Field(None, max_length=10)


class JobOut(Schema):
    id: str
    status: Literal["draft", "published", "paused", "closed", "cancelled"]
    title: str
    description: str
    instructions: str
    reward_msat: int
    fee_per_assignment_msat: int
    assignments_per_task: int
    time_limit_seconds: int
    auto_approve_seconds: int
    estimated_seconds_per_task: int | None
    expires_at: Timestamp | None
    tags: list[str]
    form: FormOut | None
    html_template: str | None
    asset_hosts: list[str]
    input_columns: list[str]
    task_count: int
    open_slot_count: int
    created_at: Timestamp
    published_at: Timestamp | None
    qualification_requirements: list[RequirementOut]
    excluded_job_ids: list[str]
    max_tasks_per_worker: int | None

    @staticmethod
    def resolve_id(job) -> str:
        return job.public_id

    @staticmethod
    def resolve_tags(job) -> list[str]:
        return [tag.name for tag in job.tags.all()]

    @staticmethod
    def resolve_excluded_job_ids(job) -> list[str]:
        return [excluded.public_id for excluded in job.excluded_jobs.all()]

    @staticmethod
    def resolve_form(job) -> dict | None:
        if job.form_kind == FormKind.BUILDER and job.form_fields:
            return {"prompt": job.prompt, "fields": job.form_fields}
        return None

    @staticmethod
    def resolve_html_template(job) -> str | None:
        return job.html_template if job.form_kind == FormKind.HTML else None

    @staticmethod
    def resolve_asset_hosts(job) -> list[str]:
        return job.asset_hosts if job.form_kind == FormKind.HTML else []


class JobPage(Schema):
    items: list[JobOut]
    next: str | None


class TaskIn(InputSchema):
    input: dict[str, str]
    kind: Literal["regular", "control", "training"] | None = Field(
        None,
        description="A control is served mixed among the other tasks and paid like them; a training task is answered "
        "unpaid on the job's training page and takes no escrow. Both need `gold`. Without a kind: control when `gold` "
        "is given, else regular.",
    )
    gold: AnswerIn | None = Field(
        None,
        description="The known answers, by answer field name, checked by the job's form like an answer (a number may "
        'carry a tolerance, "12.5±0.1"). Never shown to workers.',
    )


class TasksIn(InputSchema):
    tasks: list[TaskIn] = Field(..., min_length=1, max_length=MAX_TASKS_PER_REQUEST)


class CreatedOut(Schema):
    created: int


# A field's aggregated result (tasks.overlap): an answer's value as a worker gave it, or, for a text field kept as
# all its answers, the list of the distinct answers, most common first.
ResultValue = Union[(*answer_value_types(), list[Union[answer_value_types()]])]  # noqa: UP007 (from the registry)


class TaskResultOut(Schema):
    """A task's answers aggregated per answer field, with the job's aggregation method."""

    result: dict[str, ResultValue] = Field(..., description="Per answer field, the aggregated answer.")
    confidence: dict[str, float] = Field(
        ...,
        description="Per answer field, in [0, 1]: the winning answer's share of the votes (or of their weight), or "
        "its posterior probability under Dawid–Skene.",
    )
    agreement: float | None = Field(
        ..., description="The lowest confidence of the fields (fields kept as all their answers left out)."
    )
    answer_count: int = Field(..., description="The answers aggregated: submitted and approved, never rejected.")
    complete: bool = Field(
        ..., description="Whether the task has all the answers it wants and its overlap will not grow any more."
    )


class AssignmentOut(Schema):
    id: str
    task_id: str
    task_input: dict
    worker_id: str
    status: Literal["accepted", "submitted", "approved", "rejected", "returned", "expired"]
    answer: Answer | None
    accepted_at: Timestamp
    submitted_at: Timestamp | None
    reviewed_at: Timestamp | None
    feedback: str
    rejection_reason: str
    task_result: TaskResultOut | None = Field(
        ..., description="The task's aggregated result so far; null until one of its answers was aggregated."
    )

    @staticmethod
    def resolve_id(assignment) -> str:
        return assignment.public_id

    @staticmethod
    def resolve_task_id(assignment) -> str:
        return assignment.task.public_id

    @staticmethod
    def resolve_task_input(assignment) -> dict:
        return assignment.task.input

    @staticmethod
    def resolve_worker_id(assignment) -> str:
        return assignment.worker.public_id

    @staticmethod
    def resolve_task_result(assignment):
        return getattr(assignment.task, "result", None)  # read with the task (select_related); none yet: null


class AssignmentPage(Schema):
    items: list[AssignmentOut]
    next: str | None


class TaskWithResultOut(Schema):
    id: str
    position: int = Field(..., description="The task's row number in the job (the results CSV's TaskNumber).")
    input: dict
    answers_wanted: int = Field(
        ..., description="The answers the task wants so far: with dynamic overlap it grows while they disagree."
    )
    result: TaskResultOut | None

    @staticmethod
    def resolve_id(task) -> str:
        return task.public_id

    @staticmethod
    def resolve_answers_wanted(task) -> int:
        return task.wanted  # tasks.results.tasks_with_results: answers_wanted, or the job's assignments per task

    @staticmethod
    def resolve_result(task):
        return getattr(task, "result", None)


class TaskResultPage(Schema):
    items: list[TaskWithResultOut]
    next: str | None


class ApproveIn(InputSchema):
    feedback: str = Field("", max_length=2_000)


RejectionCategory = Literal["instructions", "wrong_checked_answer", "incomplete", "spam", "other"]
CATEGORY_HELP = "Why, from the list the worker sees (with `reason`, the message); `other` when not given."


class RejectIn(InputSchema):
    reason: str = Field(..., min_length=1, max_length=2_000)
    category: RejectionCategory = Field("other", description=CATEGORY_HELP)


class RejectItem(InputSchema):
    id: str = Field(..., max_length=PUBLIC_ID_LENGTH)
    reason: str = Field(..., min_length=1, max_length=2_000)
    category: RejectionCategory = Field("other", description=CATEGORY_HELP)


class BulkReviewIn(InputSchema):
    approve: list[Annotated[str, Field(max_length=PUBLIC_ID_LENGTH)]] = Field(default_factory=list, max_length=1_000)
    reject: list[RejectItem] = Field(default_factory=list, max_length=1_000)


class BulkReviewOut(Schema):
    items: list[AssignmentOut]


class BonusIn(InputSchema):
    worker_id: str = Field(..., max_length=20)
    amount_msat: int = Field(..., ge=1, le=MAX_BONUS_MSAT)
    reason: str = Field(..., min_length=1, max_length=1_000)
    assignment_id: str | None = Field(None, max_length=PUBLIC_ID_LENGTH)


class BonusOut(Schema):
    id: str
    worker_id: str
    assignment_id: str | None
    amount_msat: int
    fee_msat: int
    reason: str
    created_at: Timestamp

    @staticmethod
    def resolve_id(bonus) -> str:
        return bonus.public_id

    @staticmethod
    def resolve_worker_id(bonus) -> str:
        return bonus.worker.public_id

    @staticmethod
    def resolve_assignment_id(bonus) -> str | None:
        return bonus.assignment.public_id if bonus.assignment_id else None


class RequesterReputationOut(Schema):
    """The requester's reputation, computed by Boltwork from their assignments, payouts and disputes. `new`: fewer
    approved assignments than the platform's threshold, so not rated: the rates are null."""

    new: bool
    sats_per_hour: int | None = Field(
        description="The job's sats per hour: measured from its approved work, else the requester's estimate"
    )
    sats_per_hour_measured: bool
    approval_percent: int | None = Field(description="Percent of the submissions they reviewed that they approved")
    median_review_seconds: int | None = Field(description="Median time from submission to review")
    median_payment_seconds: int | None = Field(description="Median time from approval to the worker's payout settling")
    disputes_lost: int = Field(description="Disputes decided in the worker's favour")
    active_since: Timestamp | None = Field(description="When they first published a job")


class BoardJobOut(Schema):
    id: str
    title: str
    description: str
    requester: str
    reward_msat: int
    time_limit_seconds: int
    auto_approve_seconds: int
    estimated_seconds_per_task: int | None
    sats_per_hour: int | None
    tasks_left: int
    tags: list[str]
    published_at: Timestamp | None
    requester_reputation: RequesterReputationOut
    qualification_requirements: list[RequirementOut]
    access: AccessOut | None = Field(
        None, description="What you may do with the job under its requirements; null on your own jobs"
    )

    @staticmethod
    def resolve_id(job) -> str:
        return job.public_id

    @staticmethod
    def resolve_requester(job) -> str:
        return job.requester.public_name

    @staticmethod
    def resolve_requester_reputation(job) -> RequesterReputationOut:
        return requester_reputation(job)

    @staticmethod
    def resolve_tasks_left(job) -> int:
        return job.open_slot_count

    @staticmethod
    def resolve_access(job):
        return getattr(job, "access", None)

    @staticmethod
    def resolve_tags(job) -> list[str]:
        return [tag.name for tag in job.tags.all()]


class BoardPage(Schema):
    items: list[BoardJobOut]
    next: str | None


class WorkersAssignment(Schema):
    """What a worker's views of an assignment start with: its id, its job's and its task's; and its deadline."""

    id: str
    job_id: str
    task_id: str

    @staticmethod
    def resolve_id(assignment) -> str:
        return assignment.public_id

    @staticmethod
    def resolve_job_id(assignment) -> str:
        return assignment.job.public_id

    @staticmethod
    def resolve_task_id(assignment) -> str:
        return assignment.task.public_id

    @staticmethod
    def resolve_deadline(assignment):
        return assignment.deadline_at


class ClaimOut(WorkersAssignment):
    task_input: dict
    form: FormOut | None
    html: str | None
    deadline: Timestamp

    @staticmethod
    def resolve_task_input(assignment) -> dict:
        return assignment.task.input

    @staticmethod
    def resolve_form(assignment) -> dict | None:
        job = assignment.job
        return {"prompt": job.prompt, "fields": job.form_fields} if job.form_kind == FormKind.BUILDER else None

    @staticmethod
    def resolve_html(assignment) -> str | None:
        job = assignment.job
        if job.form_kind == FormKind.BUILDER:
            return None
        return render_html_template(job.html_template, assignment.task.input)


class SubmitIn(InputSchema):
    answer: AnswerIn


class WorkerAssignmentOut(WorkersAssignment):
    status: Literal["accepted", "submitted", "approved", "rejected", "returned", "expired"]
    answer: Answer | None
    deadline: Timestamp
    submitted_at: Timestamp | None
    reviewed_at: Timestamp | None
    feedback: str


class PayoutOut(Schema):
    id: str
    amount_msat: int
    status: str
    payment_hash: str | None
    preimage: str | None
    fee_msat: int | None
    created_at: Timestamp
    settled_at: Timestamp | None

    @staticmethod
    def resolve_id(payout) -> str:
        return payout.public_id

    @staticmethod
    def resolve_status(payout) -> str:
        return payout.state

    @staticmethod
    def resolve_preimage(payout) -> str | None:
        return payout.preimage or None


class PayoutPage(Schema):
    items: list[PayoutOut]
    next: str | None


class PayoutDestinationIn(InputSchema):
    lightning_address: str | None = Field(None, max_length=320)
    lnurl: str | None = Field(None, max_length=2_000)
    auto_payout: bool = True
    minimum_payout_msat: int = Field(MSAT_PER_SAT, ge=MSAT_PER_SAT, le=MAX_MINIMUM_PAYOUT_MSAT)


class PayoutDestinationOut(Schema):
    address: str
    wallet_name: str
    auto_payout: bool
    minimum_payout_msat: int


# Qualifications and blocks (issue 11) ---------------------------------------------------------------------------


class QualificationTypeIn(InputSchema):
    name: str = Field(..., min_length=1, max_length=MAX_QUALIFICATION_NAME_CHARS)
    description: str = Field("", max_length=MAX_QUALIFICATION_DESCRIPTION_CHARS)
    auto_grant_value: Score | None = Field(
        None, description="When set, any worker who asks (POST …/request) gets the qualification with this score"
    )


class QualificationTypePatch(InputSchema):
    name: str | None = Field(None, min_length=1, max_length=MAX_QUALIFICATION_NAME_CHARS)
    description: str | None = Field(None, max_length=MAX_QUALIFICATION_DESCRIPTION_CHARS)
    auto_grant_value: Score | None = Field(None, description="null: no longer granted on request")


class QualificationTypeOut(Schema):
    """A qualification type: a system one (`system: true`, computed by Boltwork for every worker) or a requester's
    custom one (a score they grant)."""

    id: str
    name: str
    description: str
    system: bool
    auto_grant_value: int | None
    has_test: bool
    created_at: Timestamp | None

    @staticmethod
    def resolve_id(qualification) -> str:
        return qualification.type_id if isinstance(qualification, SystemType) else qualification.public_id

    @staticmethod
    def resolve_system(qualification) -> bool:
        return isinstance(qualification, SystemType)

    @staticmethod
    def resolve_auto_grant_value(qualification) -> int | None:
        return None if isinstance(qualification, SystemType) else qualification.auto_grant_value

    @staticmethod
    def resolve_has_test(qualification) -> bool:
        return False if isinstance(qualification, SystemType) else qualification.has_test

    @staticmethod
    def resolve_created_at(qualification):
        return None if isinstance(qualification, SystemType) else qualification.created_at


class QualificationTypePage(Schema):
    items: list[QualificationTypeOut]
    next: str | None


class GrantIn(InputSchema):
    value: Score


class GrantOut(Schema):
    worker_id: str
    value: int
    granted_at: Timestamp

    @staticmethod
    def resolve_worker_id(grant) -> str:
        return grant.worker.public_id


class GrantPage(Schema):
    items: list[GrantOut]
    next: str | None


class GrantedOut(Schema):
    granted: int = Field(description="How many workers the file granted to (or changed the score of)")


class MyQualificationOut(Schema):
    """One of your qualification values: a system one (null while you have none, such as an approval rate before any
    review) or a custom one a requester granted you."""

    qualification_type_id: str
    name: str
    system: bool
    value: int | None
    granted_at: Timestamp | None


class MyQualificationsOut(Schema):
    items: list[MyQualificationOut]


class BlockIn(InputSchema):
    reason: str = Field(..., min_length=1, max_length=MAX_REASON_CHARS, description="Moderators see it; the worker not")


class BlockOut(Schema):
    worker_id: str
    reason: str
    created_at: Timestamp

    @staticmethod
    def resolve_worker_id(block) -> str:
        return block.worker.public_id


class BlockPage(Schema):
    items: list[BlockOut]
    next: str | None
