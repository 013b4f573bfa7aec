"""A worker's side: the job board, claiming a task, submitting or returning the assignment."""

from django.http import HttpRequest
from ninja import Field, Query, Router, Status

from api import schemas
from api.core import page_of
from api.endpoints.common import ERRORS, READ, WORK
from marketplace import selectors as job_selectors
from marketplace.models import MAX_REWARD_MSAT
from tasks import eligibility
from tasks import selectors as task_selectors
from tasks import services as task_services

router = Router(tags=["work"])


class BoardFilters(schemas.Schema):
    """The web board's filters; the API lists newest first (its cursor follows that order)."""

    q: str = ""
    tag: str = ""
    min_reward_msat: int | None = Field(None, ge=0, le=MAX_REWARD_MSAT)
    qualified_only: bool = Field(
        False, description="Only jobs you can take: their qualification requirements, exclusions and caps allow you"
    )


@router.get("/board", response={200: schemas.BoardPage, **ERRORS}, auth=READ)
def board(request: HttpRequest, filters: Query[BoardFilters], cursor: str | None = None, limit: int | None = None):
    """Published jobs with work left, newest first; not those a qualification requirement hides from you. Each says
    in `access` whether you may take it and, when not, why."""
    jobs_on_board = job_selectors.board_jobs(
        search=filters.q[:100],
        tag=filters.tag[:40],
        min_reward_msat=filters.min_reward_msat,
        sort="newest",
        viewer=request.auth,
    )
    # As the web board does: the caller's qualification values are read once, not per job.
    viewer = eligibility.BoardViewer.of(request.auth)
    jobs_on_board = eligibility.board_jobs_for(jobs_on_board, viewer, qualified_only=filters.qualified_only)
    page = page_of(jobs_on_board, cursor=cursor, limit=limit)
    access_by_job = eligibility.board_access(page["items"], viewer)
    for job in page["items"]:
        job.access = access_by_job.get(job.pk)
    return page


@router.post("/jobs/{job_id}/claim", response={201: schemas.ClaimOut, **ERRORS}, auth=WORK)
def job_claim(request: HttpRequest, job_id: str):
    # As the caller may see it: a requester who blocked them is not named by a refusal, their job is not found.
    job = job_selectors.job_to_claim_get(public_id=job_id, viewer=request.auth)
    assignment = task_services.assignment_claim(job=job, worker=request.auth)
    # The answer comes from the rows the claim holds: the task as it locked it (with its input) and the job as found
    # above (its form; a published job's form does not change), not from a second read of the assignment.
    assignment.job = job
    return Status(201, assignment)


@router.post("/assignments/{assignment_id}/submit", response={200: schemas.WorkerAssignmentOut, **ERRORS}, auth=WORK)
def assignment_submit(request: HttpRequest, assignment_id: str, body: schemas.SubmitIn):
    assignment = task_selectors.assignment_to_submit_get(worker=request.auth, public_id=assignment_id)
    return task_services.assignment_submit_json(assignment=assignment, worker=request.auth, answer=body.answer)


@router.post("/assignments/{assignment_id}/return", response={200: schemas.WorkerAssignmentOut, **ERRORS}, auth=WORK)
def assignment_return(request: HttpRequest, assignment_id: str):
    assignment = task_selectors.assignment_of_worker_get(worker=request.auth, public_id=assignment_id)
    return task_services.assignment_return(assignment=assignment, worker=request.auth)
