"""Assignments: ListAssignmentsForHIT, GetAssignment, ApproveAssignment (with OverrideRejection), RejectAssignment.

Reviews go through the same services as the review screen (tasks.services.assignment_review), so everything the web
side does (auto-approval, rules, disputes, mass-rejection holds) holds here too, and the other way round.
"""

from mturk import shapes
from mturk.lookups import assignments_of, hit_shape, own_assignment, own_hit
from mturk.protocol import Caller, RequestError, after_key, entity_id, flag, listing, page, page_size, text
from tasks import disputes, services
from tasks.models import AssignmentStatus, RejectionReason

MAX_FEEDBACK_CHARS = 1_024


def list_assignments_for_hit(caller: Caller, params: dict) -> dict:
    task = own_hit(caller, entity_id(params, "HITId"), disposed_too=True)
    statuses = _statuses(params.get("AssignmentStatuses"))
    size = page_size(params)
    scope = f"ListAssignmentsForHIT:{task.public_id}:{','.join(sorted(statuses))}"
    after = after_key(params, scope=scope)
    assignments = assignments_of(caller).filter(task=task, status__in=statuses)
    if after is not None:
        assignments = assignments.filter(pk__gt=after)
    rows, next_token = page(assignments.order_by("pk")[: size + 1], size=size, scope=scope, key=lambda a: a.pk)
    return listing([shapes.assignment_shape(a) for a in rows], name="Assignments", next_token=next_token)


def get_assignment(caller: Caller, params: dict) -> dict:
    assignment = own_assignment(caller, entity_id(params, "AssignmentId"))
    return {"Assignment": shapes.assignment_shape(assignment), "HIT": hit_shape(caller, assignment.task)}


def approve_assignment(caller: Caller, params: dict) -> dict:
    """Approve submitted work; with OverrideRejection, take back a rejection: the reward is held and paid through the
    dispute rules (tasks.disputes.rejection_override), as a requester's withdrawal of a rejection is."""
    assignment = own_assignment(caller, entity_id(params, "AssignmentId"))
    feedback = text(params, "RequesterFeedback", max_length=MAX_FEEDBACK_CHARS)
    override = flag(params, "OverrideRejection")
    if assignment.status == AssignmentStatus.REJECTED:
        if not override:
            raise RequestError(
                f"This operation can be called with a status of: Submitted (assignment {assignment.public_id} is "
                "Rejected; send OverrideRejection=true to approve it anyway)."
            )
        disputes.rejection_override(assignment_id=assignment.public_id, requester=caller.user, feedback=feedback)
        return {}
    services.assignment_review(assignment=assignment, reviewer=caller.user, approve=True, feedback=feedback)
    return {}


def reject_assignment(caller: Caller, params: dict) -> dict:
    assignment = own_assignment(caller, entity_id(params, "AssignmentId"))
    feedback = text(params, "RequesterFeedback", required=True, max_length=MAX_FEEDBACK_CHARS)
    services.assignment_review(
        assignment=assignment,
        reviewer=caller.user,
        approve=False,
        feedback=feedback,
        rejection_reason=RejectionReason.OTHER,
    )
    return {}


OPERATIONS = {
    "ListAssignmentsForHIT": list_assignments_for_hit,
    "GetAssignment": get_assignment,
    "ApproveAssignment": approve_assignment,
    "RejectAssignment": reject_assignment,
}


def _statuses(value: object) -> list[str]:
    if value is None:
        return list(shapes.ASSIGNMENT_STATUSES)
    if (
        not isinstance(value, list)
        or not value
        or any(not isinstance(each, str) or each not in shapes.REVIEWED_STATUSES for each in value)
    ):
        raise RequestError("AssignmentStatuses must be a list of Submitted, Approved and Rejected.")
    return [shapes.REVIEWED_STATUSES[each] for each in value]
