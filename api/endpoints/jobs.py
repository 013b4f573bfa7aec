"""A requester's jobs: create and revise drafts, add tasks, publish, pause, resume, close, list, get results."""

import re

from django.db.models import Prefetch
from django.http import HttpRequest
from ninja import Router, Status
from ninja.decorators import decorate_view
from pydantic import ValidationError

from api import schemas
from api.core import UNSTORABLE_MESSAGE, ApiError, contains_unstorable_text, idempotent, page_of
from api.endpoints.common import ERRORS, READ, REQUESTER, own_job
from api.endpoints.qualifications import worker_rules
from marketplace import selectors as job_selectors
from marketplace import services as job_services
from marketplace.models import Job
from tasks import controls
from tasks import services as task_services
from tasks.csv_import import decode_task_csv
from tasks.results import results_csv_response

router = Router(tags=["jobs"])
# Fields that have no "empty" value: sending null for them in a PATCH is a mistake, not a change.
NOT_NULLABLE_IN_PATCH = frozenset(schemas.JobTerms.model_fields) - {"expires_at", "estimated_seconds_per_task"}
JOB_ACTION_RESPONSES = {200: schemas.JobOut, 402: schemas.ErrorOut, **ERRORS}


def _answer_form(
    form: schemas.FormIn | None, html_template: str | None, asset_hosts: list[str] | None
) -> job_services.AnswerFormChange:
    return job_services.AnswerFormChange(
        prompt=form.prompt if form else None,
        fields=[field.dict() for field in form.fields] if form else None,
        html_template=html_template,
        asset_hosts=asset_hosts,
    )


def _as_stored(request: HttpRequest, job: Job) -> Job:
    """The job as it is now in the database, with its tags, after a service changed it."""
    return job_selectors.job_of_requester_get(requester=request.auth, public_id=job.public_id)


@router.post("/jobs", response={201: schemas.JobOut, **ERRORS}, auth=REQUESTER)
@decorate_view(idempotent)
def job_create(request: HttpRequest, body: schemas.JobIn):
    has_rules = body.qualification_requirements or body.excluded_job_ids or body.max_tasks_per_worker is not None
    job = job_services.job_create_with_form(
        requester=request.auth,
        terms=body.dict(include=set(job_services.JOB_TERMS)),
        form=_answer_form(body.form, body.html_template, body.asset_hosts),
        worker_rules=worker_rules(body) if has_rules else None,
    )
    return Status(201, _as_stored(request, job))


@router.get("/jobs", response={200: schemas.JobPage, **ERRORS}, auth=READ)
def jobs(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    # The ids of the jobs each one excludes (JobOut.excluded_job_ids): one query for the page.
    excluded = Prefetch("excluded_jobs", queryset=Job.objects.only("id", "public_id"))
    listed = job_selectors.jobs_of_requester(requester=request.auth).prefetch_related(excluded)
    return page_of(listed, cursor=cursor, limit=limit)


@router.get("/jobs/{job_id}", response={200: schemas.JobOut, **ERRORS}, auth=READ)
def job_get(request: HttpRequest, job_id: str):
    return own_job(request, job_id)


@router.patch("/jobs/{job_id}", response={200: schemas.JobOut, **ERRORS}, auth=REQUESTER)
def job_patch(request: HttpRequest, job_id: str, body: schemas.JobPatch):
    job = own_job(request, job_id)
    changes = body.dict(exclude_unset=True)
    nulls = sorted(name for name, value in changes.items() if value is None and name in NOT_NULLABLE_IN_PATCH)
    if nulls:
        raise ApiError(400, "validation_error", f"{', '.join(nulls)} cannot be null.", {"fields": nulls})
    job = job_services.job_revise_draft(
        job=job,
        actor=request.auth,
        terms={name: value for name, value in changes.items() if name in job_services.JOB_TERMS},
        form=_answer_form(body.form, body.html_template, body.asset_hosts),
    )
    return _as_stored(request, job)


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
    openapi_extra=TASKS_BODY,
    auth=REQUESTER,
)
@decorate_view(idempotent)
def tasks_add(request: HttpRequest, job_id: str):
    """Add tasks, all or nothing: a JSON body `{"tasks": [{"input": {...}}, ...]}` or a `text/csv` body. A task with
    known answers (`gold`, or `Gold.<field>` columns in the CSV, with a `Training` column of "yes" for a training
    task) is a control or a training task."""
    job = own_job(request, job_id)
    content_type = request.content_type or ""
    if content_type == "text/csv":
        created = task_services.tasks_add_from_csv(job=job, actor=request.auth, csv_text=decode_task_csv(request.body))
    elif content_type == "application/json":
        tasks = _parse_tasks_json(request.body).tasks
        known = [
            controls.known_from_api(kind=task.kind, gold=task.gold, number=number)
            for number, task in enumerate(tasks, start=1)
        ]
        created = task_services.tasks_add_from_inputs(
            job=job, actor=request.auth, inputs=[task.input for task in tasks], known=known
        )
    else:
        raise ApiError(415, "unsupported_media_type", "Send application/json or text/csv.")
    return Status(201, {"created": created})


def _parse_tasks_json(raw: bytes) -> schemas.TasksIn:
    _check_tasks_json_shape(raw)
    try:
        tasks = schemas.TasksIn.model_validate_json(raw)
    except ValidationError as error:
        details = {"errors": error.errors(include_context=False, include_url=False, include_input=False)}
        raise ApiError(400, "validation_error", "The tasks are not valid.", details) from None
    if contains_unstorable_text([[task.input, task.gold] for task in tasks.tasks]):
        raise ApiError(400, "validation_error", UNSTORABLE_MESSAGE)
    return tasks


JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
# Known answers hold a list per multiple choice field: a few per task (and so per object) on average.
GOLD_ARRAYS_PER_OBJECT = 2


def _check_tasks_json_shape(raw: bytes) -> None:
    """Before the body becomes Python objects (tens of times its size): outside its strings, a list of tasks has
    one array and two objects per task, three with known answers (`gold`), whose multiple choices are arrays. A 20 MB
    body of empty objects would otherwise cost a process a gigabyte."""
    structure = JSON_STRING.sub(b"", raw)
    with_gold = b'"gold"' in raw
    most_objects = (3 if with_gold else 2) * schemas.MAX_TASKS_PER_REQUEST + 1
    objects = structure.count(b"{")
    most_arrays = 1 + GOLD_ARRAYS_PER_OBJECT * objects if with_gold else 1
    if objects > most_objects or structure.count(b"[") > most_arrays:
        raise ApiError(
            400,
            "validation_error",
            f'The body must be {{"tasks": [{{"input": {{...}}}}, ...]}} with at most '
            f"{schemas.MAX_TASKS_PER_REQUEST:,} tasks.",
        )


@router.post("/jobs/{job_id}/publish", response=JOB_ACTION_RESPONSES, auth=REQUESTER)
@decorate_view(idempotent)
def job_publish(request: HttpRequest, job_id: str):
    return _as_stored(request, job_services.job_publish(job=own_job(request, job_id), actor=request.auth))


@router.post("/jobs/{job_id}/pause", response=JOB_ACTION_RESPONSES, auth=REQUESTER)
@decorate_view(idempotent)
def job_pause(request: HttpRequest, job_id: str):
    return _as_stored(request, job_services.job_pause(job=own_job(request, job_id), actor=request.auth))


@router.post("/jobs/{job_id}/resume", response=JOB_ACTION_RESPONSES, auth=REQUESTER)
@decorate_view(idempotent)
def job_resume(request: HttpRequest, job_id: str):
    return _as_stored(request, job_services.job_resume(job=own_job(request, job_id), actor=request.auth))


@router.post("/jobs/{job_id}/close", response=JOB_ACTION_RESPONSES, auth=REQUESTER)
@decorate_view(idempotent)
def job_close(request: HttpRequest, job_id: str):
    return _as_stored(request, job_services.job_close(job=own_job(request, job_id), actor=request.auth))


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
