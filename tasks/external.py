"""How external studies end (issue 13): the study's POST to {turkSubmitTo}/mturk/externalSubmit, and a completion
link {SITE_URL}/complete/<code>. Both submit through tasks.services.assignment_submit, as the assignment's worker.

The externalSubmit POST comes from a page on another site, in a frame, with no cookie of ours: the assignment's
public id (random, 30 characters, only in the worker's own frame URL) is the only credential. So a refusal never
says more than "no such open assignment" to a caller on the wrong endpoint, and the answer is taken once.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.errors import NotFound
from core.ids import is_public_id
from marketplace import external_studies
from marketplace.models import FormKind, User
from tasks import services
from tasks.models import Assignment, AssignmentStatus

EXTERNAL_SUBMIT_FORM_KINDS = (FormKind.PER_TASK, FormKind.EXTERNAL)
# The review rule named on an assignment a completion code approved (review_source "rule"): the requester set the
# code's action before the worker took the task, as they set a job's quality rules.
RULE_COMPLETION_CODE = "completion_code"
COMPLETION_CODE_FEEDBACK = (
    "Approved at once: you finished the study with a completion code the requester set to approve."
)
NO_SUCH_OPEN_ASSIGNMENT = "No such open assignment."


def assignment_submit_external(
    *, assignment_id: str, sandbox: bool, answer: dict, now: datetime | None = None
) -> Assignment:
    """The externalSubmit POST: submit the answer of the assignment `assignment_id` of a per-task (Mechanical Turk
    API) or external study job, as its worker. `sandbox` says which endpoint was called; a sandbox job's
    assignment is found only at the sandbox's, a live one only at the live one, and otherwise, as for an unknown id
    or another kind of job, NotFound says only that there is no such open assignment. Once submitted, a second POST
    is refused (AlreadySubmitted) and so is one after the deadline (DeadlinePassed): assignment_submit's rules,
    under its lock of the assignment."""
    assignment = (
        Assignment.objects.select_related("job", "task", "worker")
        .filter(
            public_id=assignment_id if is_public_id(assignment_id) else None,
            job__form_kind__in=EXTERNAL_SUBMIT_FORM_KINDS,
            job__sandbox=sandbox,
        )
        .first()
    )
    if assignment is None:
        raise NotFound(NO_SUCH_OPEN_ASSIGNMENT)
    return services.assignment_submit(assignment=assignment, worker=assignment.worker, data=answer, now=now)


@dataclass(frozen=True)
class CompletionTarget:
    assignment: Assignment
    code: str
    action: str  # "approve" | "review"


def completion_target(*, worker: User, code: str, now: datetime | None = None) -> CompletionTarget | None:
    """The worker's open, unexpired assignment on an external study whose completion code `code` is (in any case),
    or None. Codes are unique within a job, not across jobs, so only the worker's own open assignments are looked
    at: a worker has few at a time, and the codes are compared here, in Python, the same on every database."""
    now = now or timezone.now()
    candidates = Assignment.objects.select_related("job", "task").filter(
        worker=worker, status=AssignmentStatus.ACCEPTED, deadline_at__gt=now, job__form_kind=FormKind.EXTERNAL
    )
    for assignment in candidates.order_by("-accepted_at"):
        entry = external_studies.completion_code_of(assignment.job.completion_codes, code)
        if entry is not None:
            return CompletionTarget(assignment=assignment, code=entry["code"], action=entry["action"])
    return None


def assignment_complete_with_code(*, worker: User, code: str, now: datetime | None = None) -> CompletionTarget:
    """A worker arrived at {SITE_URL}/complete/<code>: submit their open assignment on the study with that code,
    with the answer {"completion_code": code}; a code whose action is "approve" approves it in the same
    transaction, by the rule path of assignment_review (review_source "rule", review_rule "completion_code", the
    system as the actor: the requester decided when they set the code, not now), so it is paid as any approval;
    "review" leaves it for the requester. NotFound, with nothing changed, when the worker has no open assignment
    with that code."""
    now = now or timezone.now()
    target = completion_target(worker=worker, code=code, now=now)
    if target is None:
        raise NotFound("No open task of yours ends with this completion code.")
    with transaction.atomic():
        assignment = services.assignment_submit(
            assignment=target.assignment, worker=worker, data={"completion_code": target.code}, now=now
        )
        if target.action == "approve":
            assignment = services.assignment_review(
                assignment=assignment,
                reviewer=None,
                rule=RULE_COMPLETION_CODE,
                approve=True,
                feedback=COMPLETION_CODE_FEEDBACK,
                now=now,
            )
    return CompletionTarget(assignment=assignment, code=target.code, action=target.action)
