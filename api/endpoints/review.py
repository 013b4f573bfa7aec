"""A requester's review of submitted work: list a job's assignments and its tasks' aggregated results, approve,
reject, review many at once."""

from django.http import HttpRequest
from ninja import Router
from ninja.decorators import decorate_view

from api import schemas
from api.core import idempotent, page_of
from api.endpoints.common import ERRORS, READ, REQUESTER, own_job
from tasks import results as task_results
from tasks import selectors as task_selectors
from tasks import services as task_services
from tasks.models import Assignment, AssignmentStatus

router = Router(tags=["review"])


@router.get("/jobs/{job_id}/assignments", response={200: schemas.AssignmentPage, **ERRORS}, auth=READ)
def job_assignments(
    request: HttpRequest,
    job_id: str,
    status: AssignmentStatus | None = None,
    cursor: str | None = None,
    limit: int | None = None,
):
    assignments = task_selectors.assignments_of_job(job=own_job(request, job_id), status=status)
    return page_of(assignments, cursor=cursor, limit=limit)


@router.get("/jobs/{job_id}/results", response={200: schemas.TaskResultPage, **ERRORS}, auth=READ)
def job_task_results(request: HttpRequest, job_id: str, cursor: str | None = None, limit: int | None = None):
    """The job's tasks, newest first, each with its answers aggregated per field (result, confidence, agreement), null
    until one of its answers was aggregated. results.csv has the same per assignment."""
    return page_of(task_results.tasks_with_results(job=own_job(request, job_id)), cursor=cursor, limit=limit)


def _review(
    request: HttpRequest, assignment_id: str, *, approve: bool, feedback: str, rejection_reason: str = ""
) -> Assignment:
    assignment = task_services.assignment_review(
        assignment=task_selectors.assignment_to_review_get(reviewer=request.auth, public_id=assignment_id),
        reviewer=request.auth,
        approve=approve,
        feedback=feedback,
        rejection_reason=rejection_reason,
    )
    return task_selectors.assignments_with_tasks(assignment_ids=[assignment.pk]).get()


@router.post("/assignments/{assignment_id}/approve", response={200: schemas.AssignmentOut, **ERRORS}, auth=REQUESTER)
@decorate_view(idempotent)
def assignment_approve(request: HttpRequest, assignment_id: str, body: schemas.ApproveIn | None = None):
    return _review(request, assignment_id, approve=True, feedback=body.feedback if body else "")


@router.post("/assignments/{assignment_id}/reject", response={200: schemas.AssignmentOut, **ERRORS}, auth=REQUESTER)
@decorate_view(idempotent)
def assignment_reject(request: HttpRequest, assignment_id: str, body: schemas.RejectIn):
    return _review(request, assignment_id, approve=False, feedback=body.reason, rejection_reason=body.category)


@router.post("/assignments/review", response={200: schemas.BulkReviewOut, **ERRORS}, auth=REQUESTER)
@decorate_view(idempotent)
def assignments_review(request: HttpRequest, body: schemas.BulkReviewIn):
    reviewed = task_services.assignments_review_many(
        reviewer=request.auth,
        approve_ids=body.approve,
        reject={item.id: item.reason for item in body.reject},
        rejection_reasons={item.id: item.category for item in body.reject},
    )
    return {"items": task_selectors.assignments_with_tasks(assignment_ids=reviewed)}
