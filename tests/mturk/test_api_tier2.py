"""The Mechanical Turk requester API's Tier 2 operations (qualification types and scores, worker blocks, messages to
workers), called by the real boto3 client against the test server."""

from datetime import datetime

import pytest

from marketplace import qualifications
from marketplace.models import APPROVAL_RATE_TYPE_ID, QualificationGrant, QualificationType, WorkerBlock
from notifications.models import Notification, NotificationKind
from tasks import services
from tests.factories import make_job
from tests.factories.users import make_user
from tests.mturk.clients import mturk_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner(db):
    return make_user("owner")


@pytest.fixture
def turk(live_server, owner):
    return mturk_client(live_server.url, owner)


@pytest.fixture
def worker(db):
    return make_user("wendy")


def create_type(turk, name: str = "Knows birds", **extra) -> dict:
    params = {"Name": name, "Description": "Passed our bird quiz.", "QualificationTypeStatus": "Active", **extra}
    return turk.create_qualification_type(**params)["QualificationType"]


def refusal(turk, call, **params) -> str:
    with pytest.raises(turk.exceptions.RequestError) as refused:
        call(**params)
    return refused.value.response["Error"]["Message"]


# --- Qualification types -----------------------------------------------------------------------------------------


def test_a_qualification_type_is_created_read_updated_and_deleted_as_boltworks_own(turk, owner):
    created = create_type(turk, Keywords="birds, quiz", AutoGranted=True)

    stored = QualificationType.objects.get(public_id=created["QualificationTypeId"])
    assert (stored.owner, stored.name, stored.auto_grant_value) == (owner, "Knows birds", 1)
    assert created["QualificationTypeStatus"] == "Active"
    assert created["IsRequestable"] is True
    assert created["AutoGrantedValue"] == 1
    assert isinstance(created["CreationTime"], datetime)

    fetched = turk.get_qualification_type(QualificationTypeId=created["QualificationTypeId"])["QualificationType"]
    assert fetched == created

    updated = turk.update_qualification_type(
        QualificationTypeId=created["QualificationTypeId"], Description="Passed the hard quiz.", AutoGranted=False
    )["QualificationType"]
    assert (updated["Name"], updated["Description"], updated["AutoGranted"]) == (
        "Knows birds",
        "Passed the hard quiz.",
        False,
    )
    assert "AutoGrantedValue" not in updated
    assert updated["IsRequestable"] is False

    turk.delete_qualification_type(QualificationTypeId=created["QualificationTypeId"])
    assert not QualificationType.objects.filter(public_id=created["QualificationTypeId"]).exists()


def test_a_system_qualification_reads_as_one_and_cannot_be_changed(turk):
    system = turk.get_qualification_type(QualificationTypeId=APPROVAL_RATE_TYPE_ID)["QualificationType"]
    assert system["Name"] == qualifications.SYSTEM_TYPES[APPROVAL_RATE_TYPE_ID].name
    assert system["IsRequestable"] is False

    message = refusal(turk, turk.delete_qualification_type, QualificationTypeId=APPROVAL_RATE_TYPE_ID)
    assert "system qualification" in message


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"QualificationTypeStatus": "Inactive"}, "Inactive is not offered"),
        ({"Test": "<QuestionForm/>", "TestDurationInSeconds": 600}, "tests are not taken through"),
        ({"AnswerKey": "<AnswerKey/>"}, "tests are not taken through"),
    ],
)
def test_what_boltworks_types_do_not_have_is_refused_and_nothing_is_made(turk, owner, extra, message):
    params = {"Name": "X", "Description": "Y", "QualificationTypeStatus": "Active", **extra}

    assert message in refusal(turk, turk.create_qualification_type, **params)
    assert not QualificationType.objects.filter(owner=owner).exists()


def test_a_second_type_of_the_same_name_is_refused(turk):
    create_type(turk)

    assert "already have a qualification type named" in refusal(
        turk, turk.create_qualification_type, Name="Knows birds", Description="x", QualificationTypeStatus="Active"
    )


def test_listing_pages_through_the_callers_types_with_boto3s_paginator(turk, owner):
    for number in range(5):
        create_type(turk, f"Type {number}", AutoGranted=number % 2 == 0)
    qualifications.qualification_type_create(owner=make_user(), name="Someone else's")

    pages = list(
        turk.get_paginator("list_qualification_types").paginate(
            MustBeRequestable=False, MustBeOwnedByCaller=True, PaginationConfig={"PageSize": 2}
        )
    )

    assert [page["NumResults"] for page in pages] == [2, 2, 1]
    names = [item["Name"] for page in pages for item in page["QualificationTypes"]]
    assert names == [f"Type {number}" for number in range(5)]


def test_listing_filters_by_requestable_query_and_owner(turk):
    create_type(turk, "Birds, auto", AutoGranted=True)
    create_type(turk, "Birds, by hand")
    create_type(turk, "Trees")
    qualifications.qualification_type_create(owner=make_user(), name="Birds of another", auto_grant_value=5)

    def names(**params) -> list[str]:
        answer = turk.list_qualification_types(**params)
        return sorted(item["Name"] for item in answer["QualificationTypes"])

    assert names(MustBeRequestable=True, MustBeOwnedByCaller=True) == ["Birds, auto"]
    assert names(MustBeRequestable=False, MustBeOwnedByCaller=True, Query="birds") == ["Birds, auto", "Birds, by hand"]
    assert names(MustBeRequestable=True, Query="Birds") == ["Birds of another", "Birds, auto"]


def test_another_requesters_type_can_be_read_but_not_changed_or_granted(live_server, turk, worker):
    theirs = create_type(turk)
    other = mturk_client(live_server.url, make_user("mallory"))

    assert other.get_qualification_type(QualificationTypeId=theirs["QualificationTypeId"])["QualificationType"]
    for call, params in [
        (other.update_qualification_type, {"Description": "mine now"}),
        (other.delete_qualification_type, {}),
        (other.associate_qualification_with_worker, {"WorkerId": worker.public_id, "IntegerValue": 100}),
        (other.list_workers_with_qualification_type, {}),
    ]:
        assert "does not exist among yours" in refusal(
            other, call, QualificationTypeId=theirs["QualificationTypeId"], **params
        )
    assert not QualificationGrant.objects.exists()
    assert QualificationType.objects.get(public_id=theirs["QualificationTypeId"]).description == "Passed our bird quiz."


# --- Scores -------------------------------------------------------------------------------------------------------


def test_a_score_is_granted_read_listed_changed_and_taken_back(turk, worker):
    type_id = create_type(turk)["QualificationTypeId"]

    turk.associate_qualification_with_worker(
        QualificationTypeId=type_id, WorkerId=worker.public_id, IntegerValue=85, SendNotification=False
    )
    score = turk.get_qualification_score(QualificationTypeId=type_id, WorkerId=worker.public_id)["Qualification"]
    assert (score["QualificationTypeId"], score["WorkerId"], score["IntegerValue"], score["Status"]) == (
        type_id,
        worker.public_id,
        85,
        "Granted",
    )
    assert isinstance(score["GrantTime"], datetime)
    # The same score the site's requirements check.
    assert qualifications.worker_values(worker)[type_id] == 85

    turk.associate_qualification_with_worker(QualificationTypeId=type_id, WorkerId=worker.public_id)
    assert QualificationGrant.objects.get(type__public_id=type_id, worker=worker).value == 1  # IntegerValue's default

    turk.disassociate_qualification_from_worker(QualificationTypeId=type_id, WorkerId=worker.public_id, Reason="x")
    assert type_id not in qualifications.worker_values(worker)
    assert "does not have" in refusal(
        turk, turk.get_qualification_score, QualificationTypeId=type_id, WorkerId=worker.public_id
    )
    assert "does not have" in refusal(
        turk, turk.disassociate_qualification_from_worker, QualificationTypeId=type_id, WorkerId=worker.public_id
    )


def test_the_workers_with_a_type_are_listed_page_by_page(turk):
    type_id = create_type(turk)["QualificationTypeId"]
    workers = [make_user() for _ in range(5)]
    for value, each in enumerate(workers):
        turk.associate_qualification_with_worker(
            QualificationTypeId=type_id, WorkerId=each.public_id, IntegerValue=value
        )

    pages = list(
        turk.get_paginator("list_workers_with_qualification_type").paginate(
            QualificationTypeId=type_id, PaginationConfig={"PageSize": 2}
        )
    )

    listed = [(item["WorkerId"], item["IntegerValue"]) for page in pages for item in page["Qualifications"]]
    assert listed == [(each.public_id, value) for value, each in enumerate(workers)]
    assert turk.list_workers_with_qualification_type(QualificationTypeId=type_id, Status="Revoked")["NumResults"] == 0


def test_a_score_for_an_unknown_worker_or_out_of_range_is_refused(turk):
    type_id = create_type(turk)["QualificationTypeId"]

    assert "No such worker" in refusal(
        turk, turk.associate_qualification_with_worker, QualificationTypeId=type_id, WorkerId="ANOSUCHWORKER1"
    )
    assert "whole number from" in refusal(
        turk,
        turk.associate_qualification_with_worker,
        QualificationTypeId=type_id,
        WorkerId=make_user().public_id,
        IntegerValue=2**31,
    )
    assert not QualificationGrant.objects.exists()


# --- Blocks -------------------------------------------------------------------------------------------------------


def test_a_worker_is_blocked_listed_and_unblocked(turk, owner, worker):
    turk.create_worker_block(WorkerId=worker.public_id, Reason="Copied answers from another worker.")
    turk.create_worker_block(WorkerId=worker.public_id, Reason="Again.")  # changes nothing

    block = WorkerBlock.objects.get(requester=owner)
    assert (block.worker, block.reason) == (worker, "Copied answers from another worker.")
    listed = turk.list_worker_blocks()
    assert listed["WorkerBlocks"] == [{"WorkerId": worker.public_id, "Reason": "Copied answers from another worker."}]

    turk.delete_worker_block(WorkerId=worker.public_id, Reason="Forgiven.")
    assert not WorkerBlock.objects.exists()
    turk.delete_worker_block(WorkerId=worker.public_id)  # not blocked: succeeds and changes nothing


def test_blocks_are_listed_page_by_page(turk):
    workers = [make_user() for _ in range(3)]
    for each in workers:
        turk.create_worker_block(WorkerId=each.public_id, Reason=f"Reason {each.public_id}")

    pages = list(turk.get_paginator("list_worker_blocks").paginate(PaginationConfig={"PageSize": 2}))

    assert [page["NumResults"] for page in pages] == [2, 1]
    assert [item["WorkerId"] for page in pages for item in page["WorkerBlocks"]] == [w.public_id for w in workers]


def test_a_block_needs_a_reason_and_a_real_worker(turk, owner):
    assert "Say why" in refusal(turk, turk.create_worker_block, WorkerId=make_user().public_id, Reason=" ")
    assert "No such worker" in refusal(turk, turk.create_worker_block, WorkerId="ANOSUCHWORKER1", Reason="Spam")
    assert "block yourself" in refusal(turk, turk.create_worker_block, WorkerId=owner.public_id, Reason="Test")
    assert not WorkerBlock.objects.exists()


# --- Messages to workers -------------------------------------------------------------------------------------------


def test_workers_who_worked_for_the_requester_are_told_and_the_others_are_hard_failures(turk, owner, worker):
    job = make_job(requester=owner, tasks=1)
    services.assignment_claim(job=job, worker=worker)
    stranger = make_user("stranger")

    answer = turk.notify_workers(
        Subject="A new batch is up",
        MessageText="Thanks for your work on the bird photos: a new batch is up.",
        WorkerIds=[worker.public_id, stranger.public_id, "ANOSUCHWORKER1", worker.public_id],
    )

    failures = {item["WorkerId"]: item["NotifyWorkersFailureCode"] for item in answer["NotifyWorkersFailureStatuses"]}
    assert failures == {stranger.public_id: "HardFailure", "ANOSUCHWORKER1": "HardFailure"}
    told = Notification.objects.get(kind=NotificationKind.REQUESTER_MESSAGE)
    assert told.user == worker
    assert told.title == f"{owner.public_name}: A new batch is up"
    assert "a new batch is up" in told.body
    assert not Notification.objects.filter(user=stranger).exists()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"WorkerIds": [f"A{number:013d}" for number in range(101)]}, "1 to 100 workers"),
        ({"WorkerIds": []}, "1 to 100 workers"),
        ({"Subject": "x" * 201}, "at most 200 characters"),
        ({"MessageText": "x" * 4097}, "at most 4,096 characters"),
    ],
)
def test_a_message_over_mturks_limits_is_refused_and_nobody_is_told(turk, owner, worker, params, message):
    job = make_job(requester=owner, tasks=1)
    services.assignment_claim(job=job, worker=worker)
    call = {"Subject": "Hello", "MessageText": "Hello there.", "WorkerIds": [worker.public_id], **params}

    assert message in refusal(turk, turk.notify_workers, **call)
    assert not Notification.objects.filter(kind=NotificationKind.REQUESTER_MESSAGE).exists()


# --- Text PostgreSQL cannot store: a RequestError, never a ServiceFault ----------------------------------------------


@pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["NUL", "lone surrogate"])
def test_text_a_database_cannot_store_is_a_request_error_that_changes_nothing(turk, owner, worker, bad):
    type_id = create_type(turk)["QualificationTypeId"]
    job = make_job(requester=owner, tasks=1)
    services.assignment_claim(job=job, worker=worker)
    calls = [
        (turk.create_qualification_type, {"Name": bad, "Description": "d", "QualificationTypeStatus": "Active"}),
        (turk.create_qualification_type, {"Name": "n", "Description": bad, "QualificationTypeStatus": "Active"}),
        (turk.update_qualification_type, {"QualificationTypeId": type_id, "Description": bad}),
        (turk.list_qualification_types, {"MustBeRequestable": False, "Query": bad}),
        (turk.get_qualification_score, {"QualificationTypeId": type_id, "WorkerId": bad}),
        (turk.create_worker_block, {"WorkerId": worker.public_id, "Reason": bad}),
        (turk.notify_workers, {"Subject": bad, "MessageText": "m", "WorkerIds": [worker.public_id]}),
        (turk.notify_workers, {"Subject": "s", "MessageText": bad, "WorkerIds": [worker.public_id]}),
    ]
    for call, params in calls:
        refusal(turk, call, **params)

    # A worker id that cannot be one is a failure of that worker alone.
    answer = turk.notify_workers(Subject="s", MessageText="m", WorkerIds=[bad, worker.public_id])
    assert [item["WorkerId"] for item in answer["NotifyWorkersFailureStatuses"]] == [bad]
    assert list(QualificationType.objects.values_list("name", "description")) == [
        ("Knows birds", "Passed our bird quiz.")
    ]
    assert not WorkerBlock.objects.exists()
