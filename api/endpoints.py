"""Boltwork API v1: everything a requester (and a worker's tools) can do on the web pages, over JSON.

Endpoints parse, call one service or selector, and shape the answer; the services decide and raise domain errors,
which `api.core` turns into the error body and status. Each endpoint names the key scope it needs in its route
(`auth=READ`, ...); `api.core.ApiKeyAuth` enforces it. Every GET needs `read`; the scopes are separate.
"""

import re

from django.db import transaction
from django.http import HttpRequest
from ninja import Field, Query, Router, Status
from ninja.decorators import decorate_view

from api import schemas
from api.core import (
    UNSTORABLE_MESSAGE,
    ApiError,
    ApiKeyAuth,
    contains_unstorable_text,
    idempotent,
    page_of,
    parse_id,
)
from api.models import ApiScope
from core.errors import NotFound
from marketplace import selectors as job_selectors
from marketplace import services as job_services
from marketplace.answer_forms import answer_form_data, render_html_template
from marketplace.models import MAX_REWARD_MSAT, FormKind, Job, User
from payments import deposits
from payments import selectors as money_selectors
from payments import services as money_services
from payments.models import Deposit, Payout
from tasks import bonuses
from tasks import selectors as task_selectors
from tasks import services as task_services
from tasks.csv_import import decode_task_csv
from tasks.models import Assignment, AssignmentStatus
from tasks.results import results_csv_response

router = Router()
# The scope each endpoint needs, named in its route.
READ = ApiKeyAuth(ApiScope.READ)
WORK = ApiKeyAuth(ApiScope.WORK)
REQUESTER = ApiKeyAuth(ApiScope.REQUESTER)
MONEY = ApiKeyAuth(ApiScope.MONEY)
ERRORS = {
    400: schemas.ErrorOut,
    401: schemas.ErrorOut,
    403: schemas.ErrorOut,
    404: schemas.ErrorOut,
    409: schemas.ErrorOut,
    429: schemas.ErrorOut,
}
# tasks.bonuses.bonus_pay's words for a worker who never worked for the requester; a malformed id gets them too.
NO_SUCH_WORKER = "No such worker or assignment among your jobs."
# Fields that have no "empty" value: sending null for them in a PATCH is a mistake, not a change.
NOT_NULLABLE_IN_PATCH = frozenset(schemas.JobTerms.model_fields) - {"expires_at"}


# Shaping answers ---------------------------------------------------------------------------------------------


def job_out(job: Job) -> dict:
    builder = job.form_kind == FormKind.BUILDER and job.form_fields
    return {
        "id": str(job.pk),
        "status": job.status,
        "title": job.title,
        "description": job.description,
        "instructions": job.instructions,
        "reward_msat": job.reward_msat,
        "fee_per_assignment_msat": job.fee_per_assignment_msat,
        "assignments_per_task": job.assignments_per_task,
        "time_limit_seconds": job.time_limit_seconds,
        "auto_approve_seconds": job.auto_approve_seconds,
        "expires_at": job.expires_at,
        "tags": [tag.name for tag in job.tags.all()],
        "form": {"prompt": job.prompt, "fields": job.form_fields} if builder else None,
        "html_template": job.html_template if job.form_kind == FormKind.HTML else None,
        "asset_hosts": job.asset_hosts if job.form_kind == FormKind.HTML else [],
        "input_columns": job.input_columns,
        "task_count": job.task_count,
        "open_slot_count": job.open_slot_count,
        "created_at": job.created_at,
        "published_at": job.published_at,
    }


def assignment_out(assignment: Assignment) -> dict:
    return {
        "id": str(assignment.pk),
        "task_id": str(assignment.task_id),
        "task_input": assignment.task.input,
        "worker_id": str(assignment.worker_id),
        "status": assignment.status,
        "answer": assignment.answer,
        "accepted_at": assignment.accepted_at,
        "submitted_at": assignment.submitted_at,
        "reviewed_at": assignment.reviewed_at,
        "feedback": assignment.feedback,
    }


def deposit_out(deposit: Deposit) -> dict:
    return {
        "id": str(deposit.pk),
        "bolt11": deposit.bolt11,
        "payment_hash": deposit.payment_hash,
        "amount_msat": deposit.amount_msat,
        "status": deposit.status,
        "expires_at": deposit.expires_at,
        "paid_at": deposit.paid_at,
    }


def payout_out(payout: Payout) -> dict:
    return {
        "id": str(payout.pk),
        "amount_msat": payout.amount_msat,
        "status": payout.state,
        "payment_hash": payout.payment_hash,
        "preimage": payout.preimage or None,
        "fee_msat": payout.fee_msat,
        "created_at": payout.created_at,
        "settled_at": payout.settled_at,
    }


def own_job(request: HttpRequest, job_id: str) -> Job:
    return job_selectors.job_of_requester_get(requester=request.auth, job_id=parse_id(job_id))


# Me and money ------------------------------------------------------------------------------------------------


@router.get("/me", response={200: schemas.MeOut, **ERRORS}, tags=["account"], auth=READ)
def me(request: HttpRequest):
    summary = money_selectors.wallet_summary(user=request.auth)
    return {
        "id": str(request.auth.pk),
        "username": request.auth.username,
        "available_msat": summary["available_msat"],
        "escrow_msat": summary["escrow_msat"],
        "earned_msat": summary["earned_msat"],
    }


@router.post(
    "/deposits", response={201: schemas.DepositOut, 503: schemas.ErrorOut, **ERRORS}, tags=["money"], auth=MONEY
)
@decorate_view(idempotent)
def deposit_create(request: HttpRequest, body: schemas.DepositIn):
    return Status(201, deposit_out(deposits.deposit_create(user=request.auth, amount_msat=body.amount_msat)))


@router.get("/deposits/{deposit_id}", response={200: schemas.DepositOut, **ERRORS}, tags=["money"], auth=READ)
def deposit_get(request: HttpRequest, deposit_id: str):
    deposit = Deposit.objects.filter(pk=parse_id(deposit_id), user=request.auth).first()
    if deposit is None:
        raise NotFound("No such deposit.")
    return deposit_out(deposits.deposit_refresh(deposit=deposit))


@router.post("/bonuses", response={201: schemas.BonusOut, 402: schemas.ErrorOut, **ERRORS}, tags=["money"], auth=MONEY)
@decorate_view(idempotent)
def bonus_create(request: HttpRequest, body: schemas.BonusIn):
    worker_pk = _worker_pk(body.worker_id)
    # A user id that names nobody is handed on as a user who never worked for this requester: the service then
    # refuses it with its own answer, after its own checks in its own order, exactly as it refuses a real but
    # unrelated user, so the answer never tells whether an account exists. (The instance is never saved: the
    # service finds no assignment of it and stops.)
    worker = User.objects.filter(pk=worker_pk).first() or User(pk=worker_pk)
    bonus = bonuses.bonus_pay(
        requester=request.auth,
        worker=worker,
        amount_msat=body.amount_msat,
        reason=body.reason,
        assignment_id=parse_id(body.assignment_id) if body.assignment_id else None,
    )
    return Status(
        201,
        {
            "id": str(bonus.pk),
            "worker_id": str(bonus.worker_id),
            "assignment_id": str(bonus.assignment_id) if bonus.assignment_id else None,
            "amount_msat": bonus.amount_msat,
            "fee_msat": bonus.fee_msat,
            "reason": bonus.reason,
            "created_at": bonus.created_at,
        },
    )


def _worker_pk(worker_id: str) -> int:
    try:
        return parse_id(worker_id)
    except NotFound:
        raise NotFound(NO_SUCH_WORKER) from None


@router.get("/payouts", response={200: schemas.PayoutPage, **ERRORS}, tags=["money"], auth=READ)
def payouts(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    return page_of(
        money_selectors.payouts_of_worker(worker=request.auth), cursor=cursor, limit=limit, serialize=payout_out
    )


@router.put(
    "/me/payout-destination", response={200: schemas.PayoutDestinationOut, **ERRORS}, tags=["money"], auth=MONEY
)
def payout_destination_set(request: HttpRequest, body: schemas.PayoutDestinationIn):
    if body.lightning_address and body.lnurl:
        raise ApiError(400, "validation_error", "Give either lightning_address or lnurl, not both.")
    destination = money_services.payout_destination_set(
        user=request.auth,
        address=body.lightning_address or body.lnurl or "",
        auto_payout=body.auto_payout,
        minimum_payout_msat=body.minimum_payout_msat,
    )
    return {
        "address": destination.address,
        "wallet_name": destination.wallet_name,
        "auto_payout": destination.auto_payout,
        "minimum_payout_msat": destination.minimum_payout_msat,
    }


# Jobs --------------------------------------------------------------------------------------------------------


@router.post("/jobs", response={201: schemas.JobOut, **ERRORS}, tags=["jobs"], auth=REQUESTER)
@decorate_view(idempotent)
def job_create(request: HttpRequest, body: schemas.JobIn):
    if (body.form is None) == (body.html_template is None):
        raise ApiError(400, "validation_error", "Give exactly one of form and html_template.")
    if body.asset_hosts and body.html_template is None:
        raise ApiError(400, "validation_error", "asset_hosts go with an html_template.")
    with transaction.atomic():  # the job and its form, or nothing
        job = job_services.job_create(requester=request.auth, **body.dict(include=set(schemas.JobTerms.model_fields)))
        job = _set_form(request, job, body.form, body.html_template, body.asset_hosts)
    return Status(201, job_out(Job.objects.prefetch_related("tags").get(pk=job.pk)))


def _set_form(
    request: HttpRequest,
    job: Job,
    form: schemas.FormIn | None,
    html_template: str | None,
    asset_hosts: list[str] | None,
) -> Job:
    if form is not None:
        fields = [field.dict() for field in form.fields]
        return job_services.job_set_builder_form(job=job, actor=request.auth, prompt=form.prompt, fields=fields)
    if html_template is None and asset_hosts is not None and job.form_kind == FormKind.HTML and job.html_template:
        html_template = job.html_template  # only the hosts change
    if html_template is not None:
        return job_services.job_set_html_template(
            job=job, actor=request.auth, html_template=html_template, asset_hosts=asset_hosts
        )
    return job


@router.get("/jobs", response={200: schemas.JobPage, **ERRORS}, tags=["jobs"], auth=READ)
def jobs(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    mine = Job.objects.filter(requester=request.auth).prefetch_related("tags")
    return page_of(mine, cursor=cursor, limit=limit, serialize=job_out)


@router.get("/jobs/{job_id}", response={200: schemas.JobOut, **ERRORS}, tags=["jobs"], auth=READ)
def job_get(request: HttpRequest, job_id: str):
    return job_out(own_job(request, job_id))


@router.patch("/jobs/{job_id}", response={200: schemas.JobOut, **ERRORS}, tags=["jobs"], auth=REQUESTER)
def job_patch(request: HttpRequest, job_id: str, body: schemas.JobPatch):
    job = own_job(request, job_id)
    changes = body.dict(exclude_unset=True)
    nulls = sorted(name for name, value in changes.items() if value is None and name in NOT_NULLABLE_IN_PATCH)
    if nulls:
        raise ApiError(400, "validation_error", f"{', '.join(nulls)} cannot be null.", {"fields": nulls})
    if changes.get("form") is not None and changes.get("html_template") is not None:
        raise ApiError(400, "validation_error", "Give at most one of form and html_template.")
    terms = {name: changes.get(name, getattr(job, name)) for name in schemas.JobTerms.model_fields if name != "tags"}
    terms["tags"] = changes["tags"] if "tags" in changes else [tag.name for tag in job.tags.all()]
    with transaction.atomic():
        job = job_services.job_update_draft(job=job, actor=request.auth, **terms)
        job = _set_form(request, job, body.form, body.html_template, body.asset_hosts)
    return job_out(Job.objects.prefetch_related("tags").get(pk=job.pk))


TASKS_BODY = {
    "requestBody": {
        "content": {
            "application/json": {"schema": schemas.TasksIn.model_json_schema()},
            "text/csv": {"schema": {"type": "string"}},
        },
        "required": True,
    }
}


@router.post(
    "/jobs/{job_id}/tasks",
    response={201: schemas.CreatedOut, 402: schemas.ErrorOut, 415: schemas.ErrorOut, **ERRORS},
    tags=["jobs"],
    openapi_extra=TASKS_BODY,
    auth=REQUESTER,
)
@decorate_view(idempotent)
def tasks_add(request: HttpRequest, job_id: str):
    """Add tasks, all or nothing: a JSON body `{"tasks": [{"input": {...}}, ...]}` or a `text/csv` body."""
    job = own_job(request, job_id)
    content_type = request.content_type or ""
    if content_type == "text/csv":
        created = task_services.tasks_add_from_csv(job=job, actor=request.auth, csv_text=decode_task_csv(request.body))
        return Status(201, {"created": created})
    if content_type != "application/json":
        raise ApiError(415, "unsupported_media_type", "Send application/json or text/csv.")
    body = _parse_tasks_json(request.body)
    columns = job.input_columns or sorted({name for task in body.tasks for name in task.input})
    rows = [_row_with_columns(task.input, columns, number) for number, task in enumerate(body.tasks, start=1)]
    created = task_services.tasks_add(job=job, actor=request.auth, columns=columns, rows=rows)
    return Status(201, {"created": created})


def _parse_tasks_json(raw: bytes) -> schemas.TasksIn:
    from pydantic import ValidationError

    _check_tasks_json_shape(raw)
    try:
        tasks = schemas.TasksIn.model_validate_json(raw)
    except ValidationError as error:
        details = {"errors": error.errors(include_context=False, include_url=False, include_input=False)}
        raise ApiError(400, "validation_error", "The tasks are not valid.", details) from None
    if contains_unstorable_text([task.input for task in tasks.tasks]):
        raise ApiError(400, "validation_error", UNSTORABLE_MESSAGE)
    return tasks


JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def _check_tasks_json_shape(raw: bytes) -> None:
    """Before the body becomes Python objects (tens of times its size): outside its strings, a list of tasks has
    one array and two objects per task. A 20 MB body of empty objects would otherwise cost a process a gigabyte."""
    structure = JSON_STRING.sub(b"", raw)
    most_objects = 2 * schemas.MAX_TASKS_PER_REQUEST + 1
    if structure.count(b"{") > most_objects or structure.count(b"[") > 1:
        raise ApiError(
            400,
            "validation_error",
            f'The body must be {{"tasks": [{{"input": {{...}}}}, ...]}} with at most '
            f"{schemas.MAX_TASKS_PER_REQUEST:,} tasks.",
        )


def _row_with_columns(task_input: dict[str, str], columns: list[str], number: int) -> dict[str, str]:
    unknown = sorted(set(task_input) - set(columns))
    if unknown:
        raise ApiError(
            400,
            "validation_error",
            f"Task {number}: unknown input {', '.join(unknown)}; the job's columns are {', '.join(columns)}.",
            {"task": number, "unknown": unknown},
        )
    return {column: task_input.get(column, "") for column in columns}


JOB_ACTION_RESPONSES = {200: schemas.JobOut, 402: schemas.ErrorOut, **ERRORS}


def _job_after(job: Job) -> dict:
    return job_out(Job.objects.prefetch_related("tags").get(pk=job.pk))


@router.post("/jobs/{job_id}/publish", response=JOB_ACTION_RESPONSES, tags=["jobs"], auth=REQUESTER)
@decorate_view(idempotent)
def job_publish(request: HttpRequest, job_id: str):
    return _job_after(job_services.job_publish(job=own_job(request, job_id), actor=request.auth))


@router.post("/jobs/{job_id}/pause", response=JOB_ACTION_RESPONSES, tags=["jobs"], auth=REQUESTER)
@decorate_view(idempotent)
def job_pause(request: HttpRequest, job_id: str):
    return _job_after(job_services.job_pause(job=own_job(request, job_id), actor=request.auth))


@router.post("/jobs/{job_id}/resume", response=JOB_ACTION_RESPONSES, tags=["jobs"], auth=REQUESTER)
@decorate_view(idempotent)
def job_resume(request: HttpRequest, job_id: str):
    return _job_after(job_services.job_resume(job=own_job(request, job_id), actor=request.auth))


@router.post("/jobs/{job_id}/close", response=JOB_ACTION_RESPONSES, tags=["jobs"], auth=REQUESTER)
@decorate_view(idempotent)
def job_close(request: HttpRequest, job_id: str):
    return _job_after(job_services.job_close(job=own_job(request, job_id), actor=request.auth))


@router.get("/jobs/{job_id}/assignments", response={200: schemas.AssignmentPage, **ERRORS}, tags=["review"], auth=READ)
def job_assignments(
    request: HttpRequest,
    job_id: str,
    status: AssignmentStatus | None = None,
    cursor: str | None = None,
    limit: int | None = None,
):
    job = own_job(request, job_id)
    assignments = Assignment.objects.filter(job=job).select_related("task")
    if status:
        assignments = assignments.filter(status=status)
    return page_of(assignments, cursor=cursor, limit=limit, serialize=assignment_out)


CSV_RESPONSE = {
    "responses": {
        200: {
            "description": "The results in Mechanical Turk's CSV shape",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }
}


@router.get(
    "/jobs/{job_id}/results.csv", tags=["review"], response={200: str, **ERRORS}, openapi_extra=CSV_RESPONSE, auth=READ
)
def job_results(request: HttpRequest, job_id: str):
    return results_csv_response(job=own_job(request, job_id))


# Review ------------------------------------------------------------------------------------------------------


def _review(request: HttpRequest, assignment_id: str, *, approve: bool, feedback: str) -> dict:
    assignment = task_services.assignment_review(
        assignment=Assignment(pk=parse_id(assignment_id)), reviewer=request.auth, approve=approve, feedback=feedback
    )
    return assignment_out(Assignment.objects.select_related("task").get(pk=assignment.pk))


@router.post(
    "/assignments/{assignment_id}/approve",
    response={200: schemas.AssignmentOut, **ERRORS},
    tags=["review"],
    auth=REQUESTER,
)
@decorate_view(idempotent)
def assignment_approve(request: HttpRequest, assignment_id: str, body: schemas.ApproveIn | None = None):
    return _review(request, assignment_id, approve=True, feedback=body.feedback if body else "")


@router.post(
    "/assignments/{assignment_id}/reject",
    response={200: schemas.AssignmentOut, **ERRORS},
    tags=["review"],
    auth=REQUESTER,
)
@decorate_view(idempotent)
def assignment_reject(request: HttpRequest, assignment_id: str, body: schemas.RejectIn):
    return _review(request, assignment_id, approve=False, feedback=body.reason)


@router.post("/assignments/review", response={200: schemas.BulkReviewOut, **ERRORS}, tags=["review"], auth=REQUESTER)
@decorate_view(idempotent)
def assignments_review(request: HttpRequest, body: schemas.BulkReviewIn):
    approve_ids = [parse_id(value) for value in body.approve]
    reject = {parse_id(item.id): item.reason for item in body.reject}
    wanted = {*approve_ids, *reject}
    if not wanted:
        raise ApiError(400, "validation_error", "Give at least one assignment to approve or reject.")
    job_of = dict(Assignment.objects.filter(pk__in=wanted, job__requester=request.auth).values_list("pk", "job_id"))
    if set(job_of) != wanted:
        raise NotFound("Some of the assignments are not in your jobs.")
    with transaction.atomic():  # all the jobs' reviews, or none
        for job_id in sorted(set(job_of.values())):
            task_services.assignments_review_bulk(
                job=Job(pk=job_id),
                reviewer=request.auth,
                approve_ids=[pk for pk in approve_ids if job_of[pk] == job_id],
                reject={pk: reason for pk, reason in reject.items() if job_of[pk] == job_id},
            )
    items = Assignment.objects.filter(pk__in=wanted).select_related("task").order_by("pk")
    return {"items": [assignment_out(item) for item in items]}


# Workers -----------------------------------------------------------------------------------------------------


class BoardFilters(schemas.Schema):
    """The web board's filters; the API lists newest first (its cursor follows that order)."""

    q: str = ""
    tag: str = ""
    min_reward_msat: int | None = Field(None, ge=0, le=MAX_REWARD_MSAT)


@router.get("/board", response={200: schemas.BoardPage, **ERRORS}, tags=["work"], auth=READ)
def board(request: HttpRequest, filters: Query[BoardFilters], cursor: str | None = None, limit: int | None = None):
    jobs_on_board = job_selectors.board_jobs(
        search=filters.q[:100], tag=filters.tag[:40], min_reward_msat=filters.min_reward_msat, sort="newest"
    )

    def serialize(job: Job) -> dict:
        return {
            "id": str(job.pk),
            "title": job.title,
            "description": job.description,
            "requester": job.requester.public_name,
            "reward_msat": job.reward_msat,
            "time_limit_seconds": job.time_limit_seconds,
            "tasks_left": job.open_slot_count,
            "tags": [tag.name for tag in job.tags.all()],
            "published_at": job.published_at,
        }

    return page_of(jobs_on_board, cursor=cursor, limit=limit, serialize=serialize)


@router.post("/jobs/{job_id}/claim", response={201: schemas.ClaimOut, **ERRORS}, tags=["work"], auth=WORK)
def job_claim(request: HttpRequest, job_id: str):
    job = job_selectors.job_public_get(job_id=parse_id(job_id))
    assignment = task_services.assignment_claim(job=job, worker=request.auth)
    assignment = Assignment.objects.select_related("task", "job").get(pk=assignment.pk)
    builder = job.form_kind == FormKind.BUILDER
    return Status(
        201,
        {
            "id": str(assignment.pk),
            "job_id": str(job.pk),
            "task_id": str(assignment.task_id),
            "task_input": assignment.task.input,
            "form": {"prompt": job.prompt, "fields": job.form_fields} if builder else None,
            "html": None if builder else render_html_template(job.html_template, assignment.task.input),
            "deadline": assignment.deadline_at,
        },
    )


def worker_assignment_out(assignment: Assignment) -> dict:
    return {
        "id": str(assignment.pk),
        "job_id": str(assignment.job_id),
        "task_id": str(assignment.task_id),
        "status": assignment.status,
        "answer": assignment.answer,
        "deadline": assignment.deadline_at,
        "submitted_at": assignment.submitted_at,
        "reviewed_at": assignment.reviewed_at,
        "feedback": assignment.feedback,
    }


@router.post(
    "/assignments/{assignment_id}/submit",
    response={200: schemas.WorkerAssignmentOut, **ERRORS},
    tags=["work"],
    auth=WORK,
)
def assignment_submit(request: HttpRequest, assignment_id: str, body: schemas.SubmitIn):
    assignment = task_selectors.assignment_of_worker_get(worker=request.auth, assignment_id=parse_id(assignment_id))
    data = body.answer
    if assignment.job.form_kind == FormKind.BUILDER:
        data = answer_form_data(assignment.job.form_fields, body.answer)
    submitted = task_services.assignment_submit(assignment=assignment, worker=request.auth, data=data)
    return worker_assignment_out(submitted)


@router.post(
    "/assignments/{assignment_id}/return",
    response={200: schemas.WorkerAssignmentOut, **ERRORS},
    tags=["work"],
    auth=WORK,
)
def assignment_return(request: HttpRequest, assignment_id: str):
    assignment = task_selectors.assignment_of_worker_get(worker=request.auth, assignment_id=parse_id(assignment_id))
    return worker_assignment_out(task_services.assignment_return(assignment=assignment, worker=request.auth))
