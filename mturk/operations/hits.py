"""HIT types and HITs: CreateHITType, CreateHIT, CreateHITWithHITType, GetHIT, ListHITs, ListReviewableHITs,
UpdateExpirationForHIT, UpdateHITReviewStatus, CreateAdditionalAssignmentsForHIT, DeleteHIT."""

from django.db import transaction
from django.utils import timezone

from marketplace.models import Job
from mturk import amounts, shapes
from mturk.hit_types import DEFAULT_AUTO_APPROVE_SECONDS, HitTypeTerms, hit_type_get_or_create
from mturk.lookups import hit_shape, hit_shapes, hits_of, own_hit, own_hit_type
from mturk.protocol import (
    Caller,
    RequestError,
    after_key,
    entity_id,
    flag,
    listing,
    page,
    page_size,
    text,
    timestamp,
    whole,
)
from mturk.questions import parse_question
from mturk.tokens import once_per_token
from tasks import hits
from tasks.models import Task

MAX_QUESTION_CHARS = 131_072
REVIEWABLE_SCAN_BATCH = 500


def create_hit_type(caller: Caller, params: dict) -> dict:
    job = _hit_type(caller, params)
    return {"HITTypeId": job.public_id}


def create_hit(caller: Caller, params: dict) -> dict:
    """CreateHIT: the HIT type of these terms (made if new) and one HIT of it."""
    _refuse_layouts(params)
    made: dict[str, Task] = {}

    def act() -> str:
        job = _hit_type(caller, params)
        made["task"] = _add_hit(caller, params, job)
        return made["task"].public_id

    with transaction.atomic():
        once_per_token(caller, params, operation="CreateHIT", act=act, what="HIT ID")
    return {"HIT": hit_shape(caller, made["task"])}


def create_hit_with_hit_type(caller: Caller, params: dict) -> dict:
    _refuse_layouts(params)
    job = own_hit_type(caller, entity_id(params, "HITTypeId"))
    made: dict[str, Task] = {}

    def act() -> str:
        made["task"] = _add_hit(caller, params, job)
        return made["task"].public_id

    once_per_token(caller, params, operation="CreateHITWithHITType", act=act, what="HIT ID")
    return {"HIT": hit_shape(caller, made["task"])}


def get_hit(caller: Caller, params: dict) -> dict:
    task = own_hit(caller, entity_id(params, "HITId"), disposed_too=True)
    return {"HIT": hit_shape(caller, task)}


def list_hits(caller: Caller, params: dict) -> dict:
    size = page_size(params)
    after = after_key(params, scope="ListHITs")
    tasks = hits_of(caller).filter(disposed_at__isnull=True)
    if after is not None:
        tasks = tasks.filter(pk__gt=after)
    rows, next_token = page(tasks.order_by("pk")[: size + 1], size=size, scope="ListHITs", key=lambda task: task.pk)
    return listing(hit_shapes(caller, rows), name="HITs", next_token=next_token)


def list_reviewable_hits(caller: Caller, params: dict) -> dict:
    """HITs Reviewable (the default) or Reviewing, optionally of one HIT type. The status is computed per HIT, so the
    page is filled by walking the caller's HITs in order until it is full."""
    wanted = text(params, "Status", default=hits.HitStatus.REVIEWABLE)
    if wanted not in (hits.HitStatus.REVIEWABLE, hits.HitStatus.REVIEWING):
        raise RequestError("Status must be Reviewable or Reviewing.")
    size = page_size(params)
    scope = f"ListReviewableHITs:{wanted}:{params.get('HITTypeId') or ''}"
    after = after_key(params, scope=scope)
    tasks = hits_of(caller).filter(disposed_at__isnull=True)
    if params.get("HITTypeId") is not None:
        tasks = tasks.filter(job__public_id=entity_id(params, "HITTypeId"))
    if wanted == hits.HitStatus.REVIEWING:
        tasks = tasks.filter(reviewing=True)
    else:
        tasks = tasks.filter(reviewing=False)
    now = timezone.now()
    found: list[Task] = []
    walked_after = after or 0
    while len(found) <= size:
        chunk = list(tasks.filter(pk__gt=walked_after).order_by("pk")[:REVIEWABLE_SCAN_BATCH])
        counts = hits.hit_counts([task.pk for task in chunk])
        for task in chunk:
            if hits.hit_status(task, task.job, counts.get(task.pk, hits.HitCounts()), now=now) == wanted:
                found.append(task)
                if len(found) > size:
                    break
        if len(chunk) < REVIEWABLE_SCAN_BATCH:
            break
        walked_after = chunk[-1].pk
    rows, next_token = page(found, size=size, scope=scope, key=lambda task: task.pk)
    return listing(hit_shapes(caller, rows), name="HITs", next_token=next_token)


def update_expiration_for_hit(caller: Caller, params: dict) -> dict:
    task = own_hit(caller, entity_id(params, "HITId"))
    expires_at = timestamp(params, "ExpireAt", required=True)
    hits.hit_expiry_set(task=task, actor=caller.user, expires_at=expires_at)
    return {}


def update_hit_review_status(caller: Caller, params: dict) -> dict:
    task = own_hit(caller, entity_id(params, "HITId"))
    hits.hit_reviewing_set(task=task, actor=caller.user, reviewing=not flag(params, "Revert"))
    return {}


def create_additional_assignments_for_hit(caller: Caller, params: dict) -> dict:
    task = own_hit(caller, entity_id(params, "HITId"))
    count = whole(params, "NumberOfAdditionalAssignments", required=True)

    def act() -> str:
        hits.hit_assignments_add(task=task, actor=caller.user, count=count)
        return task.public_id

    once_per_token(caller, params, operation="CreateAdditionalAssignmentsForHIT", act=act, what="HIT ID")
    return {}


def delete_hit(caller: Caller, params: dict) -> dict:
    task = own_hit(caller, entity_id(params, "HITId"), disposed_too=True)
    hits.hit_dispose(task=task, actor=caller.user)
    return {}


OPERATIONS = {
    "CreateHITType": create_hit_type,
    "CreateHIT": create_hit,
    "CreateHITWithHITType": create_hit_with_hit_type,
    "GetHIT": get_hit,
    "ListHITs": list_hits,
    "ListReviewableHITs": list_reviewable_hits,
    "UpdateExpirationForHIT": update_expiration_for_hit,
    "UpdateHITReviewStatus": update_hit_review_status,
    "CreateAdditionalAssignmentsForHIT": create_additional_assignments_for_hit,
    "DeleteHIT": delete_hit,
}


# Helpers ----------------------------------------------------------------------------------------------------------


def _hit_type(caller: Caller, params: dict) -> Job:
    sats_per_usd = amounts.current_sats_per_usd() if caller.currency == "usd" else None
    reward_msat = amounts.to_msat(
        text(params, "Reward", required=True), currency=caller.currency, sats_per_usd=sats_per_usd
    )
    terms = HitTypeTerms(
        title=text(params, "Title", required=True, max_length=128),
        description=text(params, "Description", required=True, max_length=2_000),
        keywords=text(params, "Keywords", max_length=1_000),
        reward_msat=reward_msat,
        sats_per_usd=sats_per_usd,
        assignment_duration_seconds=whole(params, "AssignmentDurationInSeconds", required=True),
        auto_approval_delay_seconds=whole(params, "AutoApprovalDelayInSeconds", default=DEFAULT_AUTO_APPROVE_SECONDS),
        requirements=shapes.requirements_from_params(params.get("QualificationRequirements")),
    )
    return hit_type_get_or_create(requester=caller.user, sandbox=caller.sandbox, terms=terms)


def _add_hit(caller: Caller, params: dict, job: Job) -> Task:
    question_xml = text(params, "Question", required=True, max_length=MAX_QUESTION_CHARS)
    return hits.hit_add(
        job=job,
        actor=caller.user,
        question=parse_question(question_xml),
        question_xml=question_xml,
        max_assignments=whole(params, "MaxAssignments", default=1),
        lifetime_seconds=whole(params, "LifetimeInSeconds", required=True),
        annotation=text(params, "RequesterAnnotation", max_length=hits.MAX_ANNOTATION_CHARS),
    )


def _refuse_layouts(params: dict) -> None:
    if params.get("HITLayoutId") or params.get("HITLayoutParameters"):
        raise RequestError("HIT layouts (HITLayoutId) are not offered on Boltwork: send the Question itself.")
    if params.get("AssignmentReviewPolicy") or params.get("HITReviewPolicy"):
        raise RequestError(
            "Review policies are not offered through this API on Boltwork: set the job's quality rules on its page."
        )
