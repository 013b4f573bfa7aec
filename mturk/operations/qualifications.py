"""Qualification types and scores: CreateQualificationType, GetQualificationType, ListQualificationTypes,
UpdateQualificationType, DeleteQualificationType, AssociateQualificationWithWorker,
DisassociateQualificationFromWorker, GetQualificationScore, ListWorkersWithQualificationType.

A custom type is Boltwork's own (marketplace.qualifications): every change goes through its services, so the web
pages and the API see the same types and scores. What Boltwork's types do not have is refused in words rather than
dropped: an Inactive status and a QuestionForm test with an answer key (its tests are made on the site). Types are
not per book: the live and the sandbox endpoint list the same ones, as a sandbox HIT may require a live type.
"""

import hashlib

from django.db.models import Q

from core.errors import NotFound
from marketplace import qualifications
from marketplace.models import QualificationGrant, QualificationType
from mturk.protocol import (
    Caller,
    RequestError,
    after_key,
    entity_id,
    epoch,
    flag,
    listing,
    page,
    page_size,
    text,
    whole,
    without_nones,
)

MAX_QUERY_CHARS = 200
STATUSES = ("Active", "Inactive")


# Shapes --------------------------------------------------------------------------------------------------------


def qualification_type_shape(qualification: QualificationType) -> dict:
    auto_granted = qualification.auto_grant_value is not None
    return without_nones(
        {
            "QualificationTypeId": qualification.public_id,
            "CreationTime": epoch(qualification.created_at),
            "Name": qualification.name,
            "Description": qualification.description,
            "QualificationTypeStatus": "Active",
            # A worker can ask for it only when Boltwork grants it: automatically, or by its test.
            "IsRequestable": auto_granted or qualification.has_test,
            "AutoGranted": auto_granted,
            "AutoGrantedValue": qualification.auto_grant_value,
            "RetryDelayInSeconds": qualification.test_retry_delay_seconds if qualification.has_test else None,
        }
    )


def system_type_shape(system: qualifications.SystemType) -> dict:
    return {
        "QualificationTypeId": system.type_id,
        "Name": system.name,
        "Description": system.description,
        "QualificationTypeStatus": "Active",
        "IsRequestable": False,
        "AutoGranted": False,
    }


def qualification_shape(grant: QualificationGrant) -> dict:
    return {
        "QualificationTypeId": grant.type.public_id,
        "WorkerId": grant.worker.public_id,
        "GrantTime": epoch(grant.granted_at),
        "IntegerValue": grant.value,
        "Status": "Granted",
    }


# Reading parameters ----------------------------------------------------------------------------------------------


def _worker_id(params: dict) -> str:
    return text(params, "WorkerId", required=True, max_length=64)  # an unknown one is NotFound (worker_get)


def _status(params: dict, *, required: bool) -> None:
    """Boltwork's types are always Active: a worker sees them, and a job may require them, until they are deleted."""
    status = text(params, "QualificationTypeStatus", required=required)
    if status and status not in STATUSES:
        raise RequestError("QualificationTypeStatus must be Active or Inactive.")
    if status == "Inactive":
        raise RequestError(
            "QualificationTypeStatus Inactive is not offered on Boltwork: a qualification type is Active until you "
            "delete it (DeleteQualificationType)."
        )


def _no_test(params: dict) -> None:
    for name in ("Test", "AnswerKey", "TestDurationInSeconds"):
        if params.get(name) is not None:
            raise RequestError(
                f"{name}: qualification tests are not taken through the Mechanical Turk API on Boltwork. Make the "
                "test on the site (Qualifications, then the type's Test), or grant scores with "
                "AssociateQualificationWithWorker."
            )


def _auto_grant_value(params: dict, *, current: int | None) -> int | None:
    """The score Boltwork grants on request, or None. AutoGrantedValue defaults to 1, as on Mechanical Turk."""
    value = whole(params, "AutoGrantedValue")
    auto = flag(params, "AutoGranted", default=current is not None)
    if not auto:
        return None
    if value is not None:
        return value
    return current if current is not None else 1


def _own_type(caller: Caller, params: dict) -> QualificationType:
    type_id = entity_id(params, "QualificationTypeId")
    if type_id in qualifications.SYSTEM_TYPES:
        raise RequestError(f"QualificationType {type_id} is a system qualification: Boltwork computes its values.")
    try:
        return qualifications.qualification_type_of_owner_get(owner=caller.user, public_id=type_id)
    except NotFound:
        raise NotFound(f"QualificationType {type_id} does not exist among yours.") from None


# Operations ------------------------------------------------------------------------------------------------------


def create_qualification_type(caller: Caller, params: dict) -> dict:
    _status(params, required=True)
    _no_test(params)
    text(params, "Keywords", max_length=1_000)  # accepted for the caller's sake; Boltwork's types have none
    whole(params, "RetryDelayInSeconds")  # only a test's retake waits; the API makes no tests
    qualification = qualifications.qualification_type_create(
        owner=caller.user,
        name=text(params, "Name", required=True),
        description=text(params, "Description", required=True),
        auto_grant_value=_auto_grant_value(params, current=None),
    )
    return {"QualificationType": qualification_type_shape(qualification)}


def get_qualification_type(caller: Caller, params: dict) -> dict:
    """Any type, as Mechanical Turk shows every type to everyone: a custom one (anyone's) or a system one."""
    type_id = entity_id(params, "QualificationTypeId")
    system = qualifications.SYSTEM_TYPES.get(type_id)
    if system is not None:
        return {"QualificationType": system_type_shape(system)}
    try:
        qualification = qualifications.qualification_type_get(public_id=type_id)
    except NotFound:
        raise NotFound(f"QualificationType {type_id} does not exist.") from None
    return {"QualificationType": qualification_type_shape(qualification)}


def list_qualification_types(caller: Caller, params: dict) -> dict:
    """Custom types, the caller's own with MustBeOwnedByCaller, everyone's otherwise; MustBeRequestable keeps those a
    worker can ask for; Query searches names and descriptions. System types are read with GetQualificationType."""
    if params.get("MustBeRequestable") is None:
        raise RequestError("Value null at 'MustBeRequestable' failed to satisfy constraint: Member must not be null")
    requestable = flag(params, "MustBeRequestable")
    owned = flag(params, "MustBeOwnedByCaller")
    query = text(params, "Query", max_length=MAX_QUERY_CHARS).strip()
    types = QualificationType.objects.all()
    if owned:
        types = types.filter(owner=caller.user)
    if requestable:
        types = types.exclude(auto_grant_value__isnull=True, test_questions=[])
    if query:
        types = types.filter(Q(name__icontains=query) | Q(description__icontains=query))
    query_key = hashlib.sha256(query.encode()).hexdigest()[:16]
    scope = f"ListQualificationTypes:{int(owned)}{int(requestable)}:{query_key}"
    size = page_size(params)
    after = after_key(params, scope=scope)
    if after is not None:
        types = types.filter(pk__gt=after)
    rows, next_token = page(types.order_by("pk")[: size + 1], size=size, scope=scope, key=lambda row: row.pk)
    return listing([qualification_type_shape(row) for row in rows], name="QualificationTypes", next_token=next_token)


def update_qualification_type(caller: Caller, params: dict) -> dict:
    qualification = _own_type(caller, params)
    _status(params, required=False)
    _no_test(params)
    whole(params, "RetryDelayInSeconds")
    description = params.get("Description")
    qualification = qualifications.qualification_type_update(
        qualification=qualification,
        actor=caller.user,
        name=qualification.name,  # Mechanical Turk never renames a type
        description=qualification.description if description is None else text(params, "Description"),
        auto_grant_value=_auto_grant_value(params, current=qualification.auto_grant_value),
    )
    return {"QualificationType": qualification_type_shape(qualification)}


def delete_qualification_type(caller: Caller, params: dict) -> dict:
    """Deletes the type and its scores at once (Mechanical Turk takes a while); refused while a job that can still
    take work requires it."""
    qualifications.qualification_type_delete(qualification=_own_type(caller, params), actor=caller.user)
    return {}


def associate_qualification_with_worker(caller: Caller, params: dict) -> dict:
    """Grant a score (IntegerValue, 1 by default) or change it. SendNotification is accepted; Boltwork tells no
    worker of a grant, from the site or the API (the job pages show what a worker qualifies for)."""
    qualification = _own_type(caller, params)
    worker_id = _worker_id(params)
    value = whole(params, "IntegerValue", default=1)
    flag(params, "SendNotification", default=True)
    qualifications.qualification_grant(qualification=qualification, actor=caller.user, worker_id=worker_id, value=value)
    return {}


def disassociate_qualification_from_worker(caller: Caller, params: dict) -> dict:
    qualification = _own_type(caller, params)
    worker_id = _worker_id(params)
    text(params, "Reason", max_length=1_000)  # Mechanical Turk emails it; Boltwork keeps no revocation reason
    if not qualifications.qualification_revoke(qualification=qualification, actor=caller.user, worker_id=worker_id):
        raise RequestError(f"Worker {worker_id} does not have QualificationType {qualification.public_id}.")
    return {}


def get_qualification_score(caller: Caller, params: dict) -> dict:
    """A worker's score on one of the caller's own types (Mechanical Turk shows only those)."""
    qualification = _own_type(caller, params)
    worker_id = _worker_id(params)
    grant = (
        QualificationGrant.objects.select_related("type", "worker")
        .filter(type=qualification, worker__public_id=worker_id)
        .first()
    )
    if grant is None:
        raise RequestError(f"Worker {worker_id} does not have QualificationType {qualification.public_id}.")
    return {"Qualification": qualification_shape(grant)}


def list_workers_with_qualification_type(caller: Caller, params: dict) -> dict:
    """The scores granted on one of the caller's types. A revoked score is deleted on Boltwork, so Status Revoked
    lists none."""
    qualification = _own_type(caller, params)
    status = text(params, "Status")
    if status and status not in {"Granted", "Revoked"}:
        raise RequestError("Status must be Granted or Revoked.")
    grants = QualificationGrant.objects.select_related("type", "worker").filter(type=qualification)
    if status == "Revoked":
        grants = grants.none()
    scope = f"ListWorkersWithQualificationType:{qualification.public_id}:{status}"
    size = page_size(params)
    after = after_key(params, scope=scope)
    if after is not None:
        grants = grants.filter(pk__gt=after)
    rows, next_token = page(grants.order_by("pk")[: size + 1], size=size, scope=scope, key=lambda grant: grant.pk)
    return listing([qualification_shape(grant) for grant in rows], name="Qualifications", next_token=next_token)


OPERATIONS = {
    "CreateQualificationType": create_qualification_type,
    "GetQualificationType": get_qualification_type,
    "ListQualificationTypes": list_qualification_types,
    "UpdateQualificationType": update_qualification_type,
    "DeleteQualificationType": delete_qualification_type,
    "AssociateQualificationWithWorker": associate_qualification_with_worker,
    "DisassociateQualificationFromWorker": disassociate_qualification_from_worker,
    "GetQualificationScore": get_qualification_score,
    "ListWorkersWithQualificationType": list_workers_with_qualification_type,
}
