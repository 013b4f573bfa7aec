"""Qualifications (issue 11): the system types Boltwork computes, a requester's custom types and their grants, and the
requirements a job puts on workers, with Mechanical Turk's comparators and guarded actions.

A worker's qualification values are a dict from type id to an integer; a type the worker does not have is absent.
The comparators run on such a dict in Python (`requirement_met`), so that the board, the job page, the claim and work
alerts decide alike; what differs is only how the values are read: `worker_values` for pages (two queries),
`value_annotations` for the claim, which reads them in its worker-lock query (tasks.eligibility).
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Subquery
from django.utils import timezone

from core.errors import DomainError, InvalidInput, NotFound
from core.events import Actor, record_event
from core.ids import is_public_id, is_worker_id
from marketplace.models import (
    ACCOUNT_AGE_TYPE_ID,
    APPROVAL_RATE_TYPE_ID,
    APPROVED_COUNT_TYPE_ID,
    MAX_QUALIFICATION_DESCRIPTION_CHARS,
    MAX_QUALIFICATION_NAME_CHARS,
    PAYOUT_DESTINATION_TYPE_ID,
    Job,
    JobStatus,
    QualificationGrant,
    QualificationType,
    User,
    WorkerStats,
)
from marketplace.users import worker_get
from payments.models import PayoutDestination

MAX_REQUIREMENTS_PER_JOB = 10
MAX_SET_VALUES = 15  # In and NotIn, as on Mechanical Turk
MAX_TYPES_PER_REQUESTER = 200
MAX_GRANTS_PER_CSV = 10_000
MIN_SCORE = -(2**31)
MAX_SCORE = 2**31 - 1


class QualificationNotGranted(DomainError):
    code = "qualification_not_granted"
    status = 403


# The registry of system types: adding one touches this table, `worker_values` and `value_annotations`.
@dataclass(frozen=True)
class SystemType:
    type_id: str
    name: str
    description: str
    # How a value reads in "your approval rate is 93%": a format with {value}.
    shows_as: str
    missing_as: str


SYSTEM_TYPES: dict[str, SystemType] = {
    system.type_id: system
    for system in [
        SystemType(
            APPROVAL_RATE_TYPE_ID,
            "Approval rate (%)",
            "The percent of the worker's reviewed assignments that were approved (rounded down). A worker has none "
            "until some of their work was reviewed.",
            shows_as="your approval rate is {value}%",
            missing_as="you have no approval rate yet (none of your work was reviewed)",
        ),
        SystemType(
            APPROVED_COUNT_TYPE_ID,
            "Approved assignments",
            "How many of the worker's assignments were approved.",
            shows_as="you have {value} approved assignments",
            missing_as="you have no approved assignments",
        ),
        SystemType(
            ACCOUNT_AGE_TYPE_ID,
            "Account age (days)",
            "Whole days since the worker signed up.",
            shows_as="your account is {value} days old",
            missing_as="your account is new",
        ),
        SystemType(
            PAYOUT_DESTINATION_TYPE_ID,
            "Has a payout destination",
            "The worker has set a Lightning Address or LNURL-pay for their pay (value 1; absent without one).",
            shows_as="you have a payout destination",
            missing_as="you have no payout destination",
        ),
    ]
}


# How the values a requirement asks of a system type read: "at least 95%", "more than 30 days".
UNITS = {APPROVAL_RATE_TYPE_ID: "%", ACCOUNT_AGE_TYPE_ID: " days"}


class Comparator:
    LESS_THAN = "LessThan"
    LESS_THAN_OR_EQUAL_TO = "LessThanOrEqualTo"
    GREATER_THAN = "GreaterThan"
    GREATER_THAN_OR_EQUAL_TO = "GreaterThanOrEqualTo"
    EQUAL_TO = "EqualTo"
    NOT_EQUAL_TO = "NotEqualTo"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    IN = "In"
    NOT_IN = "NotIn"


# comparator: (test on a value the worker has, how the job's ask reads)
COMPARATORS = {
    Comparator.LESS_THAN: (lambda value, values: value < values[0], "less than {0}"),
    Comparator.LESS_THAN_OR_EQUAL_TO: (lambda value, values: value <= values[0], "at most {0}"),
    Comparator.GREATER_THAN: (lambda value, values: value > values[0], "more than {0}"),
    Comparator.GREATER_THAN_OR_EQUAL_TO: (lambda value, values: value >= values[0], "at least {0}"),
    Comparator.EQUAL_TO: (lambda value, values: value == values[0], "exactly {0}"),
    Comparator.NOT_EQUAL_TO: (lambda value, values: value != values[0], "anything but {0}"),
    Comparator.EXISTS: (lambda value, values: True, "that you have it"),
    Comparator.IN: (lambda value, values: value in values, "one of {all}"),
    Comparator.NOT_IN: (lambda value, values: value not in values, "none of {all}"),
}
SINGLE_VALUE_COMPARATORS = {
    Comparator.LESS_THAN,
    Comparator.LESS_THAN_OR_EQUAL_TO,
    Comparator.GREATER_THAN,
    Comparator.GREATER_THAN_OR_EQUAL_TO,
    Comparator.EQUAL_TO,
    Comparator.NOT_EQUAL_TO,
}
SET_COMPARATORS = {Comparator.IN, Comparator.NOT_IN}
NO_VALUE_COMPARATORS = {Comparator.EXISTS, Comparator.DOES_NOT_EXIST}
ALL_COMPARATORS = SINGLE_VALUE_COMPARATORS | SET_COMPARATORS | NO_VALUE_COMPARATORS


class Guard:
    """What a requirement guards, from least to most (Mechanical Turk's ActionsGuarded): a worker who does not meet
    it cannot accept; cannot preview or accept; or does not even see the job on the board."""

    ACCEPT = "Accept"
    PREVIEW_AND_ACCEPT = "PreviewAndAccept"
    DISCOVER_PREVIEW_AND_ACCEPT = "DiscoverPreviewAndAccept"


GUARDS = [Guard.ACCEPT, Guard.PREVIEW_AND_ACCEPT, Guard.DISCOVER_PREVIEW_AND_ACCEPT]
GUARD_LABELS = {
    Guard.ACCEPT: "accepting",
    Guard.PREVIEW_AND_ACCEPT: "previewing and accepting",
    Guard.DISCOVER_PREVIEW_AND_ACCEPT: "seeing it on the board, previewing and accepting",
}


# Reading a worker's values ----------------------------------------------------------------------------------------


def worker_values(worker: User | None, *, now: datetime | None = None) -> dict[str, int]:
    """Every qualification value `worker` has (system and custom), by type id: two queries. Nobody logged in has
    none."""
    if worker is None or not worker.is_authenticated:
        return {}
    now = now or timezone.now()
    row = (
        User.objects.filter(pk=worker.pk)
        .annotate(**_system_value_annotations())
        .values("date_joined", *_SYSTEM_ANNOTATION_NAMES)
        .get()
    )
    values = _system_values(row, now=now)
    grants = QualificationGrant.objects.filter(worker=worker).values_list("type__public_id", "value")
    values.update(dict(grants))
    return values


_SYSTEM_ANNOTATION_NAMES = ("q_approval_percent", "q_approved_count", "q_has_destination")


def _system_value_annotations() -> dict:
    stats = WorkerStats.objects.filter(worker=OuterRef("pk"))
    return {
        "q_approval_percent": Subquery(stats.values("approval_percent")[:1]),
        "q_approved_count": Subquery(stats.values("approved_count")[:1]),
        "q_has_destination": Exists(PayoutDestination.objects.filter(user=OuterRef("pk")).exclude(address="")),
    }


def value_annotations(type_ids: list[str]) -> dict:
    """Annotations on a User queryset that read the values of these types (`values_from_row` turns them into the
    dict): the claim adds them to its worker-lock query, so requirements cost it no query of their own."""
    annotations = _system_value_annotations()
    for index, type_id in enumerate(sorted(set(type_ids) - SYSTEM_TYPES.keys())):
        grant = QualificationGrant.objects.filter(worker=OuterRef("pk"), type__public_id=type_id)
        annotations[f"q_grant_{index}"] = Subquery(grant.values("value")[:1])
    return annotations


def values_from_row(row, type_ids: list[str], *, now: datetime) -> dict[str, int]:
    """The values dict from a User row read with `value_annotations(type_ids)` (a model instance)."""
    fields = {name: getattr(row, name) for name in _SYSTEM_ANNOTATION_NAMES}
    fields["date_joined"] = row.date_joined
    values = _system_values(fields, now=now)
    for index, type_id in enumerate(sorted(set(type_ids) - SYSTEM_TYPES.keys())):
        value = getattr(row, f"q_grant_{index}")
        if value is not None:
            values[type_id] = value
    return values


def _system_values(row: dict, *, now: datetime) -> dict[str, int]:
    values = {
        APPROVED_COUNT_TYPE_ID: row["q_approved_count"] or 0,
        ACCOUNT_AGE_TYPE_ID: max((now - row["date_joined"]).days, 0),
    }
    if row["q_approval_percent"] is not None:
        values[APPROVAL_RATE_TYPE_ID] = row["q_approval_percent"]
    if row["q_has_destination"]:
        values[PAYOUT_DESTINATION_TYPE_ID] = 1
    return values


# Deciding ------------------------------------------------------------------------------------------------------------


def requirement_met(requirement: dict, values: dict[str, int]) -> bool:
    """Whether a worker with these values meets one requirement. Every comparator but DoesNotExist needs the worker
    to have the qualification, as on Mechanical Turk."""
    comparator = requirement["comparator"]
    value = values.get(requirement["qualification_type_id"])
    if comparator == Comparator.DOES_NOT_EXIST:
        return value is None
    if value is None:
        return False
    test, _ = COMPARATORS[comparator]
    return test(value, requirement.get("integer_values") or [])


def requirement_shortfall(requirement: dict, values: dict[str, int], *, type_names: dict[str, str]) -> str:
    """Why a worker does not meet a requirement, in words: "your approval rate is 93% and this job asks at least
    95%"."""
    type_id = requirement["qualification_type_id"]
    value = values.get(type_id)
    comparator = requirement["comparator"]
    system = SYSTEM_TYPES.get(type_id)
    name = system.name if system else type_names.get(type_id, "a qualification")
    if comparator == Comparator.DOES_NOT_EXIST:
        if system:
            return f"{system.shows_as.format(value=value)} and this job is only for workers without that"
        return f"you have the qualification “{name}” and this job is only for workers without it"
    if value is None:
        if system:
            return f"{system.missing_as} and this job asks for it"
        return f"you do not have the qualification “{name}” this job asks for"
    _, asks = COMPARATORS[comparator]
    unit = UNITS.get(type_id, "")
    shown = [f"{each}{unit}" for each in requirement.get("integer_values") or []]
    asked = asks.format(*shown, all=", ".join(shown))
    if system:
        return f"{system.shows_as.format(value=value)} and this job asks {asked}"
    return f"your score on “{name}” is {value} and this job asks {asked}"


@dataclass(frozen=True)
class Access:
    """What a worker may do with a job under its qualification requirements, and why not."""

    may_discover: bool
    may_preview: bool
    may_accept: bool
    reasons: tuple[str, ...]

    @property
    def qualifies(self) -> bool:
        return self.may_accept


EVERYTHING = Access(may_discover=True, may_preview=True, may_accept=True, reasons=())


def requirements_access(
    requirements: list[dict], values: dict[str, int], *, type_names: dict[str, str] | None = None
) -> Access:
    """Apply a job's requirements to a worker's values: each requirement the worker misses takes away the actions it
    guards (a worker who misses a DiscoverPreviewAndAccept one cannot do anything)."""
    if not requirements:
        return EVERYTHING
    missed = [requirement for requirement in requirements if not requirement_met(requirement, values)]
    if not missed:
        return EVERYTHING
    guards = {requirement.get("actions_guarded") or Guard.ACCEPT for requirement in missed}
    names = type_names or {}
    return Access(
        may_discover=Guard.DISCOVER_PREVIEW_AND_ACCEPT not in guards,
        may_preview=not guards & {Guard.PREVIEW_AND_ACCEPT, Guard.DISCOVER_PREVIEW_AND_ACCEPT},
        may_accept=False,
        reasons=tuple(requirement_shortfall(requirement, values, type_names=names) for requirement in missed),
    )


def type_names_of(requirement_lists: list[list[dict]]) -> dict[str, str]:
    """The names of the custom types these requirements use, by id (one query; none when only system types)."""
    type_ids = {
        requirement["qualification_type_id"]
        for requirements in requirement_lists
        for requirement in requirements
        if requirement["qualification_type_id"] not in SYSTEM_TYPES
    }
    if not type_ids:
        return {}
    return dict(QualificationType.objects.filter(public_id__in=type_ids).values_list("public_id", "name"))


def type_name(type_id: str, type_names: dict[str, str]) -> str:
    system = SYSTEM_TYPES.get(type_id)
    return system.name if system else type_names.get(type_id, type_id)


@dataclass(frozen=True)
class RequirementText:
    """A requirement as a page lists it: "Approval rate (%): at least 95", guarding "accepting"."""

    type_id: str
    name: str
    asks: str
    guards: str
    is_custom: bool


def requirements_described(requirements: list[dict]) -> list[RequirementText]:
    """A job's requirements in words (one query for the names of custom types, none without them)."""
    names = type_names_of([requirements])
    described = []
    for requirement in requirements:
        type_id, comparator = requirement["qualification_type_id"], requirement["comparator"]
        integer_values = requirement.get("integer_values") or []
        if comparator == Comparator.DOES_NOT_EXIST:
            asks = "not held"
        else:
            _, asks_format = COMPARATORS[comparator]
            asks = asks_format.format(*integer_values, all=", ".join(str(each) for each in integer_values))
            asks = "held" if comparator == Comparator.EXISTS else asks
        described.append(
            RequirementText(
                type_id=type_id,
                name=type_name(type_id, names),
                asks=asks,
                guards=GUARD_LABELS[requirement.get("actions_guarded") or Guard.ACCEPT],
                is_custom=type_id not in SYSTEM_TYPES,
            )
        )
    return described


# Requirements on a job -----------------------------------------------------------------------------------------------


def requirements_clean(*, owner: User, requirements) -> list[dict]:
    """Check a list of requirements as a requester (or the API) gives them and return them in the stored shape:
    {"qualification_type_id", "comparator", "integer_values", "actions_guarded"}. A type is a system type or one of
    the requester's own custom types."""
    if not isinstance(requirements, list):
        raise InvalidInput("Qualification requirements must be a list.")
    if len(requirements) > MAX_REQUIREMENTS_PER_JOB:
        raise InvalidInput(f"A job can have at most {MAX_REQUIREMENTS_PER_JOB} qualification requirements.")
    custom_ids = {
        requirement.get("qualification_type_id")
        for requirement in requirements
        if isinstance(requirement, dict) and requirement.get("qualification_type_id") not in SYSTEM_TYPES
    }
    owned = set(
        QualificationType.objects.filter(
            owner=owner, public_id__in=[i for i in custom_ids if is_public_id(i)]
        ).values_list("public_id", flat=True)
    )
    return [_requirement_clean(requirement, number, owned) for number, requirement in enumerate(requirements, 1)]


def _requirement_clean(requirement, number: int, owned: set[str]) -> dict:
    where = f"Requirement {number}"
    if not isinstance(requirement, dict):
        raise InvalidInput(f"{where} must be an object.")
    type_id = requirement.get("qualification_type_id")
    if type_id not in SYSTEM_TYPES and type_id not in owned:
        raise InvalidInput(f"{where}: no such qualification type among the system ones and yours.")
    comparator = requirement.get("comparator")
    if comparator not in ALL_COMPARATORS:
        raise InvalidInput(f"{where}: the comparator must be one of {', '.join(sorted(ALL_COMPARATORS))}.")
    integer_values = requirement.get("integer_values") or []
    if not isinstance(integer_values, list) or not all(_is_score(value) for value in integer_values):
        raise InvalidInput(f"{where}: the values must be whole numbers.")
    if comparator in NO_VALUE_COMPARATORS and integer_values:
        raise InvalidInput(f"{where}: {comparator} takes no value.")
    if comparator in SINGLE_VALUE_COMPARATORS and len(integer_values) != 1:
        raise InvalidInput(f"{where}: {comparator} takes exactly one value.")
    if comparator in SET_COMPARATORS and not 1 <= len(integer_values) <= MAX_SET_VALUES:
        raise InvalidInput(f"{where}: {comparator} takes from 1 to {MAX_SET_VALUES} values.")
    guard = requirement.get("actions_guarded") or Guard.ACCEPT
    if guard not in GUARDS:
        raise InvalidInput(f"{where}: what it guards must be one of {', '.join(GUARDS)}.")
    return {
        "qualification_type_id": type_id,
        "comparator": comparator,
        "integer_values": [int(value) for value in integer_values],
        "actions_guarded": guard,
    }


def _is_score(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and MIN_SCORE <= value <= MAX_SCORE


# Custom types and grants ---------------------------------------------------------------------------------------------


def qualification_type_create(
    *, owner: User, name: str, description: str = "", auto_grant_value: int | None = None
) -> QualificationType:
    """A requester's new custom qualification type. Names are unique per requester."""
    name, description = _type_texts(name, description)
    _check_score(auto_grant_value, allow_none=True, what="The auto-grant value")
    if QualificationType.objects.filter(owner=owner).count() >= MAX_TYPES_PER_REQUESTER:
        raise InvalidInput(f"You can have at most {MAX_TYPES_PER_REQUESTER} qualification types.")
    try:
        with transaction.atomic():
            qualification = QualificationType.objects.create(
                owner=owner, name=name, description=description, auto_grant_value=auto_grant_value
            )
    except IntegrityError:
        raise InvalidInput(f"You already have a qualification type named “{name}”.") from None
    record_event(
        type="qualification_type.created",
        actor=Actor.of(owner),
        subject=("qualification_type", qualification.public_id),
        audience=[owner.pk],
        data={"qualification_type_id": qualification.public_id, "name": name},
    )
    return qualification


def qualification_type_update(
    *, qualification: QualificationType, actor: User, name: str, description: str, auto_grant_value: int | None
) -> QualificationType:
    _check_owner(qualification, actor)
    name, description = _type_texts(name, description)
    _check_score(auto_grant_value, allow_none=True, what="The auto-grant value")
    if auto_grant_value is not None and qualification.has_test:
        raise InvalidInput("This qualification is granted by its test: remove the test to grant it on request.")
    qualification.name, qualification.description = name, description
    qualification.auto_grant_value = auto_grant_value
    try:
        with transaction.atomic():
            qualification.save(update_fields=["name", "description", "auto_grant_value"])
    except IntegrityError:
        raise InvalidInput(f"You already have a qualification type named “{name}”.") from None
    return qualification


def qualification_type_delete(*, qualification: QualificationType, actor: User) -> None:
    """Delete a custom type and its grants, unless a job that can still take work requires it."""
    _check_owner(qualification, actor)
    live_jobs = Job.objects.filter(requester=actor).exclude(status__in=[JobStatus.CLOSED, JobStatus.CANCELLED])
    for title, requirements in live_jobs.values_list("title", "qualification_requirements"):
        if any(requirement["qualification_type_id"] == qualification.public_id for requirement in requirements):
            raise InvalidInput(f"The job “{title}” requires this qualification: change or close it first.")
    qualification.delete()


def _type_texts(name: str, description: str) -> tuple[str, str]:
    name, description = (name or "").strip(), (description or "").strip()
    if not name:
        raise InvalidInput("Give the qualification a name.")
    if len(name) > MAX_QUALIFICATION_NAME_CHARS:
        raise InvalidInput(f"A name is limited to {MAX_QUALIFICATION_NAME_CHARS} characters.")
    if len(description) > MAX_QUALIFICATION_DESCRIPTION_CHARS:
        raise InvalidInput(f"A description is limited to {MAX_QUALIFICATION_DESCRIPTION_CHARS:,} characters.")
    return name, description


def _check_score(value, *, allow_none: bool = False, what: str = "A score") -> None:
    if value is None and allow_none:
        return
    if not _is_score(value):
        raise InvalidInput(f"{what} must be a whole number from {MIN_SCORE:,} to {MAX_SCORE:,}.")


def _check_owner(qualification: QualificationType, actor: User) -> None:
    if qualification.owner_id != actor.pk:
        raise NotFound("No such qualification type.")


def qualification_type_of_owner_get(*, owner: User, public_id: str) -> QualificationType:
    qualification = (
        QualificationType.objects.filter(owner=owner, public_id=public_id).first() if is_public_id(public_id) else None
    )
    if qualification is None:
        raise NotFound("No such qualification type.")
    return qualification


def qualification_type_get(*, public_id: str) -> QualificationType:
    """Any custom type, as a worker sees it (its name, description, auto-grant and test)."""
    qualification = (
        QualificationType.objects.select_related("owner").filter(public_id=public_id).first()
        if is_public_id(public_id)
        else None
    )
    if qualification is None:
        raise NotFound("No such qualification type.")
    return qualification


def qualification_grant(
    *, qualification: QualificationType, actor: User | None, worker_id: str, value: int, rule: str = ""
) -> QualificationGrant:
    """Give a worker a score on a custom type, or change it. `actor` is the type's owner, or None when Boltwork
    grants it by `rule` (auto-grant, a test)."""
    if actor is not None:
        _check_owner(qualification, actor)
    _check_score(value)
    worker = worker_get(worker_id=worker_id)
    now = timezone.now()
    with transaction.atomic():
        grant, _ = QualificationGrant.objects.update_or_create(
            type=qualification, worker=worker, defaults={"value": value, "granted_at": now}
        )
        _record_grant_event("qualification.granted", qualification, worker, actor, rule=rule, value=value)
    return grant


def qualification_revoke(*, qualification: QualificationType, actor: User, worker_id: str) -> bool:
    """Take a custom qualification from a worker; False when they did not have it."""
    _check_owner(qualification, actor)
    worker = worker_get(worker_id=worker_id)
    with transaction.atomic():
        deleted, _ = QualificationGrant.objects.filter(type=qualification, worker=worker).delete()
        if deleted:
            _record_grant_event("qualification.revoked", qualification, worker, actor)
    return bool(deleted)


def qualification_grants_from_csv(*, qualification: QualificationType, actor: User, csv_text: str) -> int:
    """Grant (or change) scores from a CSV of `worker_id,value` rows (a header row is allowed; a row without a value
    grants 1). Every row is checked first: one bad row refuses the whole file and grants nothing."""
    _check_owner(qualification, actor)
    rows = _grant_rows(csv_text)
    worker_ids = [worker_id for worker_id, _ in rows]
    workers = dict(User.objects.filter(public_id__in=worker_ids).values_list("public_id", "pk"))
    unknown = [worker_id for worker_id, _ in rows if worker_id not in workers]
    if unknown:
        raise InvalidInput(f"No such worker: {', '.join(unknown[:5])}{' …' if len(unknown) > 5 else ''}.")
    now = timezone.now()
    with transaction.atomic():
        QualificationGrant.objects.bulk_create(
            [
                QualificationGrant(type=qualification, worker_id=workers[worker_id], value=value, granted_at=now)
                for worker_id, value in rows
            ],
            update_conflicts=True,
            unique_fields=["type", "worker"],
            update_fields=["value", "granted_at"],
        )
        record_event(
            type="qualification.granted_many",
            actor=Actor.of(actor),
            subject=("qualification_type", qualification.public_id),
            audience=[actor.pk],
            data={"qualification_type_id": qualification.public_id, "count": len(rows)},
        )
    return len(rows)


def _grant_rows(csv_text: str) -> list[tuple[str, int]]:
    try:
        return _grant_rows_read(csv.reader(io.StringIO(csv_text or "")))
    except csv.Error as error:
        raise InvalidInput(f"The file cannot be read as CSV: {error}.") from None


def _grant_rows_read(reader) -> list[tuple[str, int]]:
    rows: dict[str, int] = {}
    for number, row in enumerate(reader, 1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and not is_worker_id(cells[0]) and cells[0].lower() in {"worker_id", "workerid", "worker"}:
            continue
        if not is_worker_id(cells[0]):
            raise InvalidInput(f"Row {number}: “{cells[0][:40]}” is not a worker id (they look like A1B2C3D4E5F6G7).")
        value_text = cells[1] if len(cells) > 1 and cells[1] else "1"
        try:
            value = int(value_text)
        except ValueError:
            raise InvalidInput(f"Row {number}: the score “{value_text[:20]}” is not a whole number.") from None
        if not MIN_SCORE <= value <= MAX_SCORE:
            raise InvalidInput(f"Row {number}: the score is out of range.")
        rows[cells[0]] = value
        if len(rows) > MAX_GRANTS_PER_CSV:
            raise InvalidInput(f"A file can grant to at most {MAX_GRANTS_PER_CSV:,} workers.")
    if not rows:
        raise InvalidInput("The file has no worker ids.")
    return list(rows.items())


def qualification_request(*, qualification: QualificationType, worker: User) -> QualificationGrant:
    """A worker asks for a custom qualification that is granted automatically: they get the auto-grant value (a
    type without one, or with a test, is refused). Asking again changes nothing."""
    if qualification.has_test:
        raise QualificationNotGranted("This qualification is granted by its test: take the test to get it.")
    if qualification.auto_grant_value is None:
        raise QualificationNotGranted("This qualification is not granted on request.")
    if qualification.owner_id == worker.pk:
        raise InvalidInput("This is your own qualification type.")
    existing = QualificationGrant.objects.filter(type=qualification, worker=worker).first()
    if existing is not None:
        return existing
    return qualification_grant(
        qualification=qualification,
        actor=None,
        worker_id=worker.public_id,
        value=qualification.auto_grant_value,
        rule="auto_grant",
    )


def _record_grant_event(event_type, qualification, worker, actor, *, rule: str = "", value=None) -> None:
    data = {"qualification_type_id": qualification.public_id, "worker_id": worker.public_id}
    if value is not None:
        data["value"] = value
    record_event(
        type=event_type,
        actor=Actor.of(actor) if actor is not None else Actor.system(rule),
        subject=("qualification_type", qualification.public_id),
        audience=[qualification.owner_id, worker.pk],
        data=data,
    )


def grants_of_worker(*, worker: User):
    """The worker's custom qualifications with their scores (their "My qualifications" page)."""
    return (
        QualificationGrant.objects.filter(worker=worker)
        .select_related("type", "type__owner")
        .order_by(F("type__name").asc())
    )
