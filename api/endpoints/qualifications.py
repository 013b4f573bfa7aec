"""Qualifications, who may work on a job, and blocks (issue 11): a requester's custom qualification types and their
grants, the system types Boltwork computes, a worker's own values and their request for an auto-granted type, a job's
worker rules (requirements, excluded jobs, a cap on tasks per worker), and the workers a requester blocked.

The services live in marketplace.qualifications, marketplace.services and marketplace.blocks; they check ownership
and input and raise the domain errors the API answers with. Types, grants and blocks are listed newest first, like
every list of the API; the system types come first in the list of types.
"""

import base64
import csv

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status
from ninja.decorators import decorate_view

from api import schemas
from api.core import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, ApiError, encode_cursor, idempotent, page_of
from api.endpoints.common import ERRORS, READ, REQUESTER, WORK, own_job
from core.ids import is_worker_id
from marketplace import blocks, qualifications
from marketplace import selectors as job_selectors
from marketplace import services as job_services
from marketplace.models import QualificationGrant, QualificationType, WorkerBlock
from tasks.csv_import import decode_task_csv

router = Router(tags=["qualifications"])
SYSTEM_TYPES = list(qualifications.SYSTEM_TYPES.values())
NO_CONTENT = {204: None, **ERRORS}


# Qualification types ------------------------------------------------------------------------------------------------


@router.get("/qualification-types", response={200: schemas.QualificationTypePage, **ERRORS}, auth=READ)
def qualification_types(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    """The system types (`system: true`), then your own custom types, newest first."""
    return _types_page(QualificationType.objects.filter(owner=request.auth), cursor=cursor, limit=limit)


@router.post("/qualification-types", response={201: schemas.QualificationTypeOut, **ERRORS}, auth=REQUESTER)
@decorate_view(idempotent)
def qualification_type_create(request: HttpRequest, body: schemas.QualificationTypeIn):
    return Status(201, qualifications.qualification_type_create(owner=request.auth, **body.dict()))


@router.get("/qualification-types/{type_id}", response={200: schemas.QualificationTypeOut, **ERRORS}, auth=READ)
def qualification_type_get(request: HttpRequest, type_id: str):
    """A system type, or any requester's custom type (a worker reads what a job asks of them)."""
    system = qualifications.SYSTEM_TYPES.get(type_id)
    return system or qualifications.qualification_type_get(public_id=type_id)


@router.patch("/qualification-types/{type_id}", response={200: schemas.QualificationTypeOut, **ERRORS}, auth=REQUESTER)
def qualification_type_patch(request: HttpRequest, type_id: str, body: schemas.QualificationTypePatch):
    """Change your custom type's name, description or auto-grant value (null: no longer granted on request)."""
    qualification = _own_type(request, type_id)
    changes = body.dict(exclude_unset=True)
    nulls = sorted(name for name in ("name", "description") if name in changes and changes[name] is None)
    if nulls:
        raise ApiError(400, "validation_error", f"{', '.join(nulls)} cannot be null.", {"fields": nulls})
    current = {
        "name": qualification.name,
        "description": qualification.description,
        "auto_grant_value": qualification.auto_grant_value,
    }
    return qualifications.qualification_type_update(
        qualification=qualification, actor=request.auth, **{**current, **changes}
    )


@router.delete("/qualification-types/{type_id}", response=NO_CONTENT, auth=REQUESTER)
def qualification_type_delete(request: HttpRequest, type_id: str):
    """Delete your custom type and its grants; refused while a job that can still take work requires it."""
    qualifications.qualification_type_delete(qualification=_own_type(request, type_id), actor=request.auth)
    return Status(204, None)


def _own_type(request: HttpRequest, type_id: str) -> QualificationType:
    """The caller's own custom type: a system type is 403, anyone else's is 404 (as if it did not exist)."""
    if type_id in qualifications.SYSTEM_TYPES:
        raise ApiError(
            403,
            "system_qualification_type",
            "Boltwork computes the system qualification types for every worker: they cannot be changed or granted.",
        )
    return qualifications.qualification_type_of_owner_get(owner=request.auth, public_id=type_id)


def _types_page(custom: QuerySet[QualificationType], *, cursor: str | None, limit: int | None) -> dict:
    """The system types, then `custom` newest first, `limit` at a time. A cursor names the last item of the page
    before: a system type's id or a custom type's public id."""
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    after_system = _system_type_after(cursor)
    if after_system is None:  # the cursor is inside the custom types (or bad: page_of says so)
        return page_of(custom, cursor=cursor, limit=size)
    head = SYSTEM_TYPES[after_system:]
    if len(head) > size or (len(head) == size and custom.exists()):
        return {"items": head[:size], "next": encode_cursor(head[size - 1].type_id)}
    if len(head) == size:
        return {"items": head, "next": None}
    rest = page_of(custom, cursor=None, limit=size - len(head))
    return {"items": [*head, *rest["items"]], "next": rest["next"]}


def _system_type_after(cursor: str | None) -> int | None:
    """Where the system types resume after `cursor`: 0 for the first page, past the type it names, or None when the
    cursor names no system type."""
    if not cursor:
        return 0
    decoded = _cursor_text(cursor)
    for index, system in enumerate(SYSTEM_TYPES):
        if system.type_id == decoded:
            return index + 1
    return None


# Grants -------------------------------------------------------------------------------------------------------------


@router.get("/qualification-types/{type_id}/grants", response={200: schemas.GrantPage, **ERRORS}, auth=READ)
def qualification_grants(request: HttpRequest, type_id: str, cursor: str | None = None, limit: int | None = None):
    """Who has your custom type, with their scores; the workers who got it last come first (a changed score keeps
    its place)."""
    qualification = _own_type(request, type_id)
    grants = QualificationGrant.objects.filter(type=qualification).select_related("worker")
    return _page_by_worker(grants, cursor=cursor, limit=limit)


GRANTS_CSV_BODY = {
    "requestBody": {
        "description": "A `text/csv` body (UTF-8), one worker a row: `worker_id,value`. A header row "
        "(`worker_id,value`) is allowed, and a row without a value grants 1. Every row is checked first: one bad row "
        "grants nothing.",
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "required": True,
    }
}


@router.post(
    "/qualification-types/{type_id}/grants/csv",
    response={200: schemas.GrantedOut, 415: schemas.ErrorOut, **ERRORS},
    openapi_extra=GRANTS_CSV_BODY,
    auth=REQUESTER,
)
@decorate_view(idempotent)
def qualification_grants_csv(request: HttpRequest, type_id: str):
    """Grant your custom type to many workers at once from a `text/csv` body of `worker_id,value` rows: all of them,
    or none when a row is wrong."""
    qualification = _own_type(request, type_id)
    if (request.content_type or "") != "text/csv":
        raise ApiError(415, "unsupported_media_type", "Send the grants as text/csv: worker_id,value rows.")
    csv_text = decode_task_csv(request.body)
    try:
        granted = qualifications.qualification_grants_from_csv(
            qualification=qualification, actor=request.auth, csv_text=csv_text
        )
    except csv.Error as error:  # a field past the csv module's size limit, say
        raise ApiError(400, "validation_error", f"The CSV cannot be read: {error}.") from None
    return {"granted": granted}


@router.put(
    "/qualification-types/{type_id}/grants/{worker_id}", response={200: schemas.GrantOut, **ERRORS}, auth=REQUESTER
)
def qualification_grant(request: HttpRequest, type_id: str, worker_id: str, body: schemas.GrantIn):
    """Give a worker your custom type with a score, or change their score."""
    return qualifications.qualification_grant(
        qualification=_own_type(request, type_id), actor=request.auth, worker_id=worker_id, value=body.value
    )


@router.delete("/qualification-types/{type_id}/grants/{worker_id}", response=NO_CONTENT, auth=REQUESTER)
def qualification_revoke(request: HttpRequest, type_id: str, worker_id: str):
    """Take your custom type from a worker (204 also when they did not have it)."""
    qualifications.qualification_revoke(
        qualification=_own_type(request, type_id), actor=request.auth, worker_id=worker_id
    )
    return Status(204, None)


def _page_by_worker(queryset: QuerySet, *, cursor: str | None, limit: int | None) -> dict:
    """Keyset pagination, newest first, of rows that name one worker each (grants of a type, blocks of a requester):
    the cursor is the last row's worker id, so primary keys stay inside."""
    size = DEFAULT_PAGE_SIZE if limit is None else limit
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise ApiError(400, "validation_error", f"limit must be between 1 and {MAX_PAGE_SIZE}.")
    if cursor:
        worker_id = _cursor_text(cursor)
        last_seen = None
        if is_worker_id(worker_id):
            last_seen = queryset.filter(worker__public_id=worker_id).values_list("pk", flat=True).first()
        if last_seen is None:
            raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.")
        queryset = queryset.filter(pk__lt=last_seen)
    rows = list(queryset.order_by("-pk")[: size + 1])
    has_more = len(rows) > size
    rows = rows[:size]
    return {"items": rows, "next": encode_cursor(rows[-1].worker.public_id) if has_more else None}


def _cursor_text(cursor: str) -> str:
    """What a cursor of api.core.encode_cursor holds. api.core.decode_cursor takes only 30-character public ids; these
    cursors may hold a worker's id or a system type's."""
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_cursor", "The cursor is not one this API gave out.") from None


# A worker's side ----------------------------------------------------------------------------------------------------


@router.post("/qualification-types/{type_id}/request", response={200: schemas.MyQualificationOut, **ERRORS}, auth=WORK)
@decorate_view(idempotent)
def qualification_request(request: HttpRequest, type_id: str):
    """Ask for a custom type that is granted on request (it has an `auto_grant_value`): you get it with that score.
    Asking again changes nothing; a type without an auto-grant value is 403 `qualification_not_granted`."""
    if type_id in qualifications.SYSTEM_TYPES:
        raise qualifications.QualificationNotGranted("Boltwork computes the system qualifications: none is asked for.")
    qualification = qualifications.qualification_type_get(public_id=type_id)
    grant = qualifications.qualification_request(qualification=qualification, worker=request.auth)
    return _my_grant(grant)


@router.get("/me/qualifications", response={200: schemas.MyQualificationsOut, **ERRORS}, tags=["account"], auth=READ)
def my_qualifications(request: HttpRequest):
    """Your qualification values: each system type (null while you have none) and every custom type granted to you,
    by name."""
    values = qualifications.worker_values(request.auth)
    system = [
        {
            "qualification_type_id": system.type_id,
            "name": system.name,
            "system": True,
            "value": values.get(system.type_id),
            "granted_at": None,
        }
        for system in SYSTEM_TYPES
    ]
    granted = [_my_grant(grant) for grant in qualifications.grants_of_worker(worker=request.auth)]
    return {"items": [*system, *granted]}


def _my_grant(grant: QualificationGrant) -> dict:
    return {
        "qualification_type_id": grant.type.public_id,
        "name": grant.type.name,
        "system": False,
        "value": grant.value,
        "granted_at": grant.granted_at,
    }


# Who may work on a job ----------------------------------------------------------------------------------------------


@router.put("/jobs/{job_id}/worker-rules", response={200: schemas.JobOut, **ERRORS}, tags=["jobs"], auth=REQUESTER)
def job_worker_rules(request: HttpRequest, job_id: str, body: schemas.WorkerRules):
    """Set who may work on your job, all three rules at once (one left out is set to none): qualification
    requirements, the jobs whose workers it excludes, and the cap on tasks per worker. Allowed until the job is
    closed; claims from then on follow them (work already taken stays)."""
    job = job_services.job_set_worker_rules(job=own_job(request, job_id), actor=request.auth, **worker_rules(body))
    return job_selectors.job_of_requester_get(requester=request.auth, public_id=job.public_id)


def worker_rules(body: schemas.WorkerRules) -> dict:
    """The arguments of marketplace.services.job_set_worker_rules from a body that has the three rules."""
    return {
        "requirements": [requirement.dict() for requirement in body.qualification_requirements],
        "excluded_job_ids": body.excluded_job_ids,
        "max_tasks_per_worker": body.max_tasks_per_worker,
    }


# Blocks -------------------------------------------------------------------------------------------------------------


@router.get("/blocks", response={200: schemas.BlockPage, **ERRORS}, tags=["blocks"], auth=READ)
def worker_blocks(request: HttpRequest, cursor: str | None = None, limit: int | None = None):
    """The workers you blocked, most recent first."""
    mine = WorkerBlock.objects.filter(requester=request.auth).select_related("worker")
    return _page_by_worker(mine, cursor=cursor, limit=limit)


@router.put("/blocks/{worker_id}", response={200: schemas.BlockOut, **ERRORS}, tags=["blocks"], auth=REQUESTER)
def worker_block(request: HttpRequest, worker_id: str, body: schemas.BlockIn):
    """Block a worker from your jobs, with a reason (moderators see it; the worker is told a requester blocked them,
    not which one). They no longer see your jobs on the board nor claim their tasks. Blocking again changes nothing."""
    return blocks.worker_block(requester=request.auth, worker_id=worker_id, reason=body.reason)


@router.delete("/blocks/{worker_id}", response=NO_CONTENT, tags=["blocks"], auth=REQUESTER)
def worker_unblock(request: HttpRequest, worker_id: str):
    """Lift a block (204 also when the worker was not blocked)."""
    blocks.worker_unblock(requester=request.auth, worker_id=worker_id)
    return Status(204, None)
