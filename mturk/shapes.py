"""Boltwork's objects in Mechanical Turk's shapes (and requirements the other way), exactly as botocore's service model
names their members. A member with no value is left out."""

from datetime import datetime

from marketplace.models import APPROVAL_RATE_TYPE_ID, APPROVED_COUNT_TYPE_ID, Job
from mturk import amounts
from mturk.protocol import Caller, RequestError, epoch, without_nones
from mturk.questions import answers_xml
from payments.models import Bonus
from tasks import hits
from tasks.models import Assignment, AssignmentStatus, Task

# Mechanical Turk's own system qualifications Boltwork does not keep.
UNSUPPORTED_TYPES = {
    "00000000000000000071": "Locale (Boltwork does not ask workers where they live)",
    "00000000000000000060": "Adult content (Boltwork has no adult-content consent)",
    "2F1QJWKUDD8XADTFD2Q0G6UTO95ALH": "Masters",
    "2ARFPLSP75KLA8M8DH1HTEQVJT3SY6": "Masters (sandbox)",
    "2NDP2L92HECWY8NS8H3CK0CP5L9GHO": "Masters",
    "21VZU98JHSTLZ5BPP4A9NOBJEK3DPG": "Masters",
}
ASSIGNMENT_STATUSES = {
    AssignmentStatus.SUBMITTED: "Submitted",
    AssignmentStatus.APPROVED: "Approved",
    AssignmentStatus.REJECTED: "Rejected",
}
REVIEWED_STATUSES = {value: key for key, value in ASSIGNMENT_STATUSES.items()}
MAX_REQUIREMENTS = 10


def requirements_from_params(value: object) -> list[dict]:
    """QualificationRequirements as sent, in the shape Boltwork keeps (marketplace.qualifications checks the rest:
    comparators, values, that a custom type is the caller's own)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_REQUIREMENTS:
        raise RequestError(f"QualificationRequirements must be a list of at most {MAX_REQUIREMENTS}.")
    requirements = []
    for number, requirement in enumerate(value, 1):
        if not isinstance(requirement, dict):
            raise RequestError(f"QualificationRequirements member {number} must be an object.")
        type_id = requirement.get("QualificationTypeId")
        if not isinstance(type_id, str) or not isinstance(requirement.get("Comparator"), str):
            raise RequestError(
                f"QualificationRequirements member {number}: QualificationTypeId and Comparator must be strings."
            )
        if type_id in UNSUPPORTED_TYPES:
            raise RequestError(
                f"QualificationTypeId {type_id} ({UNSUPPORTED_TYPES[type_id]}) is not offered on Boltwork. Its "
                f"system qualifications are {APPROVAL_RATE_TYPE_ID} (percent of assignments approved) and "
                f"{APPROVED_COUNT_TYPE_ID} (number approved), besides your own types."
            )
        if requirement.get("LocaleValues"):
            raise RequestError("LocaleValues are not offered on Boltwork: it keeps no worker locale.")
        guard = requirement.get("ActionsGuarded")
        if guard is not None and not isinstance(guard, str):
            raise RequestError(f"QualificationRequirements member {number}: ActionsGuarded must be a string.")
        if guard is None and requirement.get("RequiredToPreview") is True:
            guard = "PreviewAndAccept"
        requirements.append(
            {
                "qualification_type_id": type_id,
                "comparator": requirement.get("Comparator"),
                "integer_values": requirement.get("IntegerValues") or [],
                "actions_guarded": guard or "Accept",
            }
        )
    return requirements


def requirements_shape(job: Job) -> list[dict]:
    return [
        without_nones(
            {
                "QualificationTypeId": requirement["qualification_type_id"],
                "Comparator": requirement["comparator"],
                "IntegerValues": requirement["integer_values"] or None,
                "RequiredToPreview": requirement["actions_guarded"] != "Accept",
                "ActionsGuarded": requirement["actions_guarded"],
            }
        )
        for requirement in job.qualification_requirements
    ]


def money(msat: int, caller: Caller, job: Job | None = None) -> str:
    return amounts.from_msat(msat, currency=caller.currency, sats_per_usd=job.sats_per_usd if job else None)


def hit_shape(task: Task, job: Job, counts: hits.HitCounts, caller: Caller, *, now: datetime) -> dict:
    expiration = task.expires_at or job.expires_at
    return without_nones(
        {
            "HITId": task.public_id,
            "HITTypeId": job.public_id,
            "HITGroupId": job.public_id,
            "CreationTime": epoch(task.created_at),
            "Title": job.title,
            "Description": job.description,
            "Question": task.question_xml or None,
            "Keywords": job.keywords or None,
            "HITStatus": hits.hit_status(task, job, counts, now=now),
            "MaxAssignments": hits.hit_max_assignments(task, job),
            "Reward": money(job.reward_msat, caller, job),
            "AutoApprovalDelayInSeconds": job.auto_approve_seconds,
            "Expiration": epoch(expiration),
            "AssignmentDurationInSeconds": job.time_limit_seconds,
            "RequesterAnnotation": task.requester_annotation or None,
            "QualificationRequirements": requirements_shape(job),
            "HITReviewStatus": "NotReviewed",
            "NumberOfAssignmentsPending": counts.in_progress,
            "NumberOfAssignmentsAvailable": hits.hit_available(task, job, now=now),
            "NumberOfAssignmentsCompleted": counts.completed,
        }
    )


def assignment_shape(assignment: Assignment) -> dict:
    reviewed_at = assignment.reviewed_at
    return without_nones(
        {
            "AssignmentId": assignment.public_id,
            "WorkerId": assignment.worker.public_id,
            "HITId": assignment.task.public_id,
            "AssignmentStatus": ASSIGNMENT_STATUSES[assignment.status],
            "AutoApprovalTime": epoch(assignment.auto_approve_at),
            "AcceptTime": epoch(assignment.accepted_at),
            "SubmitTime": epoch(assignment.submitted_at),
            "ApprovalTime": epoch(reviewed_at) if assignment.status == AssignmentStatus.APPROVED else None,
            "RejectionTime": epoch(reviewed_at) if assignment.status == AssignmentStatus.REJECTED else None,
            "Deadline": epoch(assignment.deadline_at),
            "Answer": answers_xml(assignment.answer or {}, question=assignment.task.question),
            "RequesterFeedback": assignment.feedback or None,
        }
    )


def bonus_shape(bonus: Bonus, caller: Caller) -> dict:
    job = bonus.assignment.job if bonus.assignment is not None else None
    return without_nones(
        {
            "WorkerId": bonus.worker.public_id,
            "BonusAmount": money(bonus.amount_msat, caller, job),
            "AssignmentId": bonus.assignment.public_id if bonus.assignment is not None else None,
            "Reason": bonus.reason,
            "GrantTime": epoch(bonus.created_at),
        }
    )
