"""An adversarial review of the Mechanical Turk API's money paths and isolation (issue 13): sequences of calls that
could move money twice, strand escrow or cross from one requester (or book) to another, and bad input that must be a
RequestError (HTTP 400) that changes nothing, never a ServiceFault.

Calls go through the endpoint view with requests signed by botocore's own SigV4 signer (tests.mturk.sigv4), so
parameters boto3 would refuse before sending (wrong types, NaN, NUL characters) reach the server as a careless or
hostile client sends them. A probe that shows a bug is kept as `xfail(strict=True)` naming the bug.
"""

import json
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import DomainError
from core.money import MSAT_PER_SAT
from marketplace.escrow import escrow_per_slot_msat
from marketplace.models import Job, JobStatus
from marketplace.services import job_close, job_pause, job_resume
from moderation.services import user_ban
from mturk.credentials import credential_create, credential_revoke
from mturk.models import RequestToken
from mturk.views import live_endpoint, sandbox_endpoint
from payments.ledger import JobBook, ledger_check
from payments.models import Account, AccountKind, Bonus, LedgerEntry
from tasks import disputes, services
from tasks.hits import hits_expire_due
from tasks.models import SLOT_HOLDING_STATUSES, Assignment, AssignmentStatus, Dispute, Task
from tests.balances import available, earned
from tests.factories import make_moderator
from tests.factories.money import fund
from tests.factories.users import make_user
from tests.mturk.clients import HTML_QUESTION, hit_terms
from tests.mturk.sigv4 import django_request, signed_headers_for

pytestmark = pytest.mark.django_db

ANSWER = {"sentiment": "positive"}


# The client -------------------------------------------------------------------------------------------------------


class Turk:
    """A requester's signed calls to /mturk (or /sandbox/mturk), as raw JSON: what any client could send."""

    def __init__(self, user, *, sandbox: bool = False, currency: str = "usd") -> None:
        self.user = user
        self.sandbox = sandbox
        self.credential, self.secret = credential_create(user=user, currency=currency)

    def raw(self, operation: str, body: bytes) -> tuple[int, dict]:
        path = "/sandbox/mturk" if self.sandbox else "/mturk"
        headers = signed_headers_for(
            key=self.credential.access_key_id,
            secret=self.secret,
            body=body,
            operation=operation,
            url=f"http://testserver{path}",
        )
        view = sandbox_endpoint if self.sandbox else live_endpoint
        response = view(django_request(path=path, headers=headers, body=body))
        return response.status_code, json.loads(response.content)

    def call(self, operation: str, **params) -> tuple[int, dict]:
        return self.raw(operation, json.dumps(params).encode())

    def ok(self, operation: str, **params) -> dict:
        status, body = self.call(operation, **params)
        assert status == 200, body
        return body

    def refused(self, operation: str, **params) -> dict:
        status, body = self.call(operation, **params)
        assert (status, body.get("__type")) == (400, "RequestError"), body
        return body

    def create_hit(self, **overrides) -> dict:
        params = {**hit_terms(), "MaxAssignments": 1, "LifetimeInSeconds": 3600, "Question": HTML_QUESTION}
        params.update(overrides)
        return self.ok("CreateHIT", **params)["HIT"]


@pytest.fixture
def rate(settings):
    settings.MTURK_SATS_PER_USD = 1_000  # 0.05 USD is 50 sats; with the 10 % fee a slot's escrow is 55 sats
    settings.SANDBOX_BALANCE_USD = 10_000
    return 1_000


@pytest.fixture
def owner(db, rate):
    return make_user(funds_sats=10_000)


@pytest.fixture
def turk(owner):
    return Turk(owner)


# What the money must look like ------------------------------------------------------------------------------------


def escrow_msat(job: Job) -> int:
    return Account.objects.get(pk=JobBook(job).escrow().pk).balance_msat


def held_msat(job: Job) -> int:
    return Account.objects.get(pk=JobBook(job).dispute_hold().pk).balance_msat


def assert_money_sound(job: Job) -> None:
    """The ledger is sound, and the job's escrow holds exactly one slot's reward + fee for every slot a worker can
    still take and every assignment in progress or waiting for review (after the job closes: for those assignments
    only); a live dispute's money is in the hold, one slot's worth each."""
    assert ledger_check() == []
    job = Job.objects.get(pk=job.pk)
    per_slot = escrow_per_slot_msat(job)
    live = Assignment.objects.filter(job=job, status__in=[AssignmentStatus.ACCEPTED, AssignmentStatus.SUBMITTED])
    assert job.live_assignment_count == live.count()
    open_slots = sum(Task.objects.filter(job=job).values_list("slots_open", flat=True))
    if job.status in {JobStatus.PUBLISHED, JobStatus.PAUSED}:
        assert job.open_slot_count == open_slots
        assert escrow_msat(job) == per_slot * (open_slots + live.count())
    else:
        assert escrow_msat(job) == per_slot * live.count()
    live_disputes = Dispute.objects.filter(assignment__job=job).exclude(
        status__in=["withdrawn", "upheld", "overturned"]
    )
    assert held_msat(job) == per_slot * live_disputes.count()


def assert_within_max_assignments(task: Task) -> None:
    """A HIT never offers more slots than MaxAssignments less the assignments that hold one or a dispute holds."""
    task = Task.objects.get(pk=task.pk)
    holding = Assignment.objects.filter(task=task, status__in=SLOT_HOLDING_STATUSES).count()
    disputed = Dispute.objects.filter(assignment__task=task, status__in=["open", "answered", "escalated"]).count()
    assert task.slots_open + holding + disputed <= task.max_assignments


def task_of(hit: dict) -> Task:
    return Task.objects.select_related("job").get(public_id=hit["HITId"])


def claim(hit: dict) -> Assignment:
    task = task_of(hit)
    worker = make_user(funds_sats=0)
    assignment = services.assignment_claim(job=task.job, worker=worker)
    assert assignment.task_id == task.pk
    return assignment


def submitted(hit: dict) -> Assignment:
    assignment = claim(hit)
    return services.assignment_submit(assignment=assignment, worker=assignment.worker, data=dict(ANSWER))


def past() -> float:
    return (timezone.now() - timedelta(minutes=1)).timestamp()


def later(hours: int = 2) -> float:
    return (timezone.now() + timedelta(hours=hours)).timestamp()


# Sequences that could move money twice or strand it ------------------------------------------------------------


def test_expire_extend_add_reject_after_expiry_sweep_delete_keeps_escrow_exact(turk, owner):
    start = available(owner)
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    per_slot = escrow_per_slot_msat(job)
    assert start - available(owner) == 2 * per_slot
    first = submitted(hit)
    assert_money_sound(job)

    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())  # the open slot's escrow goes back
    assert start - available(owner) == per_slot
    assert_money_sound(job)
    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())  # again: nothing more moves
    assert start - available(owner) == per_slot

    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=later())  # paid for again
    assert start - available(owner) == 2 * per_slot
    assert_money_sound(job)
    turk.ok("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=2)
    assert start - available(owner) == 4 * per_slot
    assert_money_sound(job)

    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())
    assert start - available(owner) == per_slot  # only the submitted work is still funded
    turk.refused("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=1)

    # Rejected after the HIT expired: the slot re-opens funded, nobody can take it, and the sweeper gives it back.
    turk.ok("RejectAssignment", AssignmentId=first.public_id, RequesterFeedback="Wrong.")
    assert_money_sound(job)
    assert hits_expire_due() == 1
    assert hits_expire_due() == 0
    assert start - available(owner) == 0
    assert_money_sound(job)

    turk.ok("DeleteHIT", HITId=hit["HITId"])
    turk.ok("DeleteHIT", HITId=hit["HITId"])
    assert start - available(owner) == 0
    assert_money_sound(job)
    assert turk.ok("GetHIT", HITId=hit["HITId"])["HIT"]["HITStatus"] == "Disposed"
    turk.refused("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=later())
    turk.refused("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=1)


def test_expiring_a_hit_of_a_closed_job_leaves_the_work_in_progress_funded(turk, owner):
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    in_progress = claim(hit)
    job_close(job=job, actor=owner)  # the open slot's escrow goes back; the claimed one stays funded
    assert_money_sound(job)
    before = available(owner)

    turk.call("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())
    assert available(owner) == before  # nothing left to give back
    assert_money_sound(job)
    services.assignment_submit(assignment=in_progress, worker=in_progress.worker, data=dict(ANSWER))
    turk.ok("ApproveAssignment", AssignmentId=in_progress.public_id)
    assert earned(in_progress.worker) == job.reward_msat


def test_a_slot_rejected_on_a_closed_job_is_refunded_once(turk, owner):
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    rejected = submitted(hit)
    in_progress = claim(hit)
    job_close(job=job, actor=owner)
    turk.ok("RejectAssignment", AssignmentId=rejected.public_id, RequesterFeedback="Wrong.")
    assert_money_sound(job)
    before = available(owner)
    turk.call("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())
    assert available(owner) == before
    assert_money_sound(job)
    services.assignment_submit(assignment=in_progress, worker=in_progress.worker, data=dict(ANSWER))
    turk.ok("ApproveAssignment", AssignmentId=in_progress.public_id)


def test_delete_hit_of_a_closed_job_moves_no_money(turk, owner):
    hit = turk.create_hit(MaxAssignments=3)
    job = task_of(hit).job
    job_close(job=job, actor=owner)
    before = available(owner)
    turk.ok("DeleteHIT", HITId=hit["HITId"])
    assert available(owner) == before
    assert_money_sound(job)


def test_more_assignments_with_a_token_reused_after_a_day_are_paid_for(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    turk.ok(
        "CreateAdditionalAssignmentsForHIT",
        HITId=hit["HITId"],
        NumberOfAdditionalAssignments=1,
        UniqueRequestToken="more-1",
    )
    turk.refused(
        "CreateAdditionalAssignmentsForHIT",
        HITId=hit["HITId"],
        NumberOfAdditionalAssignments=1,
        UniqueRequestToken="more-1",
    )
    RequestToken.objects.filter(token="more-1").update(created_at=timezone.now() - timedelta(hours=25))
    before = available(owner)
    turk.ok(
        "CreateAdditionalAssignmentsForHIT",
        HITId=hit["HITId"],
        NumberOfAdditionalAssignments=1,
        UniqueRequestToken="more-1",
    )
    assert before - available(owner) == escrow_per_slot_msat(job)
    assert_money_sound(job)


def test_more_assignments_without_a_token_are_each_paid_for(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    before = available(owner)
    for _ in range(3):
        turk.ok("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=1)
    assert before - available(owner) == 3 * escrow_per_slot_msat(job)
    assert turk.ok("GetHIT", HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 4
    assert_money_sound(job)


def test_more_assignments_than_the_balance_pays_for_change_nothing(rate):
    poor = make_user(funds_sats=60)  # one slot of 55 sats, not two
    turk = Turk(poor)
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    before = available(poor)
    turk.refused("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=1)
    assert available(poor) == before
    assert turk.ok("GetHIT", HITId=hit["HITId"])["HIT"]["MaxAssignments"] == 1
    assert_money_sound(job)
    turk.refused(
        "CreateHIT", **{**hit_terms(), "MaxAssignments": 1, "LifetimeInSeconds": 3600, "Question": HTML_QUESTION}
    )
    assert Task.objects.filter(job__requester=poor).count() == 1
    assert available(poor) == before


def test_extending_an_expired_hit_does_not_reopen_a_disputed_slot(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    task = task_of(hit)
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    disputes.dispute_open(assignment_id=work.public_id, worker=work.worker, message="It was right.")
    assert_within_max_assignments(task)
    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())
    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=later())
    assert_money_sound(task.job)
    assert_within_max_assignments(task)


def test_a_deleted_hit_never_takes_work_again(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    task = task_of(hit)
    job = task.job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    dispute = disputes.dispute_open(assignment_id=work.public_id, worker=work.worker, message="It was right.")
    job_pause(job=job, actor=owner)
    turk.ok("DeleteHIT", HITId=hit["HITId"])  # paused: nobody can take it, nothing in progress
    disputes.dispute_decide(dispute_id=dispute.public_id, moderator=make_moderator(), overturn=False, reason="No.")
    job_resume(job=job, actor=owner)
    assert_money_sound(job)
    with pytest.raises(DomainError):
        services.assignment_claim(job=job, worker=make_user(funds_sats=0))


def test_extending_an_expired_hit_without_the_funds_changes_nothing(rate):
    requester = make_user(funds_sats=110)  # two slots of 55 sats
    turk = Turk(requester)
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    turk.ok("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past())
    other = turk.create_hit(Title="Another", MaxAssignments=2)  # spends what the expiry gave back
    assert available(requester) == 0
    before = Task.objects.get(public_id=hit["HITId"]).expires_at
    turk.refused("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=later())
    task = Task.objects.get(public_id=hit["HITId"])
    assert (task.expires_at, task.slots_open) == (before, 0)
    assert available(requester) == 0
    assert_money_sound(job)
    assert_money_sound(task_of(other).job)


# OverrideRejection ------------------------------------------------------------------------------------------------


def test_override_rejection_twice_pays_once(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    before = available(owner)
    turk.refused("ApproveAssignment", AssignmentId=work.public_id)  # without OverrideRejection
    turk.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id)
    assert earned(work.worker) == job.reward_msat
    assert available(owner) == before  # paid from the slot the rejection re-opened
    assert turk.ok("GetAssignment", AssignmentId=work.public_id)["Assignment"]["AssignmentStatus"] == "Approved"
    assert_money_sound(job)
    turk.refused("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Changed my mind.")
    assert earned(work.worker) == job.reward_msat


def test_override_rejection_with_a_live_dispute_withdraws_it_and_pays_once(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    dispute = disputes.dispute_open(assignment_id=work.public_id, worker=work.worker, message="It was right.")
    assert_money_sound(job)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    dispute.refresh_from_db()
    assert dispute.status == "withdrawn"
    assert earned(work.worker) == job.reward_msat
    assert_money_sound(job)


def test_override_rejection_after_the_slot_was_taken_again_pays_from_the_balance(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    again = submitted(hit)  # another worker took the re-opened slot
    before = available(owner)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    assert before - available(owner) == escrow_per_slot_msat(job)
    assert earned(work.worker) == job.reward_msat
    assert_money_sound(job)
    turk.ok("ApproveAssignment", AssignmentId=again.public_id)
    assert earned(again.worker) == job.reward_msat
    assert_money_sound(job)


def test_override_rejection_without_funds_changes_nothing(rate):
    poor = make_user(funds_sats=55)  # exactly one slot
    turk = Turk(poor)
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    submitted(hit)  # the re-opened slot is taken: the override must be paid from a balance of 0
    turk.refused("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    work.refresh_from_db()
    assert work.status == AssignmentStatus.REJECTED
    assert not Dispute.objects.filter(assignment=work).exists()
    assert earned(work.worker) == 0
    assert_money_sound(job)


def test_override_rejection_after_a_moderator_upheld_it_is_refused(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    dispute = disputes.dispute_open(assignment_id=work.public_id, worker=work.worker, message="It was right.")
    disputes.dispute_decide(dispute_id=dispute.public_id, moderator=make_moderator(), overturn=False, reason="No.")
    before = available(owner)
    turk.refused("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    assert available(owner) == before
    assert earned(work.worker) == 0
    assert_money_sound(job)


def test_override_rejection_on_a_closed_job_pays_from_the_balance(turk, owner):
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    work = submitted(hit)
    job_close(job=job, actor=owner)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    assert_money_sound(job)
    before = available(owner)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    assert before - available(owner) == escrow_per_slot_msat(job)
    assert earned(work.worker) == job.reward_msat
    assert_money_sound(job)


# Bonuses ----------------------------------------------------------------------------------------------------------


def test_a_bonus_token_replayed_pays_once_and_a_bonus_never_takes_the_balance_below_zero(rate):
    requester = make_user(funds_sats=200)
    turk = Turk(requester)
    hit = turk.create_hit(MaxAssignments=1)
    work = submitted(hit)
    bonus = {"WorkerId": work.worker.public_id, "AssignmentId": work.public_id, "Reason": "Thanks"}
    turk.ok("SendBonus", BonusAmount="0.10", UniqueRequestToken="b-1", **bonus)
    turk.refused("SendBonus", BonusAmount="0.10", UniqueRequestToken="b-1", **bonus)
    assert Bonus.objects.count() == 1
    before = available(requester)
    turk.refused("SendBonus", BonusAmount="10.00", **bonus)  # 10,000 sats: far more than the balance
    assert available(requester) == before
    assert Bonus.objects.count() == 1
    turk.refused("SendBonus", BonusAmount="0.00", **bonus)
    turk.refused("SendBonus", BonusAmount="99999999999999999999", **bonus)
    assert Bonus.objects.count() == 1
    assert ledger_check() == []


def test_a_bonus_on_someone_elses_assignment_or_to_another_worker_is_refused(turk, owner, rate):
    hit = turk.create_hit(MaxAssignments=2)
    work = submitted(hit)
    other = submitted(hit)
    stranger = Turk(make_user(funds_sats=10_000))
    stranger.refused(
        "SendBonus", WorkerId=work.worker.public_id, AssignmentId=work.public_id, BonusAmount="1.00", Reason="Hi"
    )
    # The assignment is the owner's, but of another worker.
    turk.refused(
        "SendBonus", WorkerId=other.worker.public_id, AssignmentId=work.public_id, BonusAmount="1.00", Reason="Hi"
    )
    assert not Bonus.objects.exists()
    assert stranger.ok("ListBonusPayments", AssignmentId=work.public_id)["NumResults"] == 0


# Isolation --------------------------------------------------------------------------------------------------------


def test_another_requester_can_neither_read_nor_act_on_a_hit(turk, owner, rate):
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok(
        "SendBonus", WorkerId=work.worker.public_id, AssignmentId=work.public_id, BonusAmount="0.01", Reason="Thanks"
    )
    intruder_user = make_user(funds_sats=10_000)
    intruder = Turk(intruder_user)
    intruder_before = available(intruder_user)
    owner_before = available(owner)
    hit_id, assignment_id = hit["HITId"], work.public_id

    for operation, params in [
        ("GetHIT", {"HITId": hit_id}),
        ("ListAssignmentsForHIT", {"HITId": hit_id}),
        ("GetAssignment", {"AssignmentId": assignment_id}),
        ("ApproveAssignment", {"AssignmentId": assignment_id}),
        ("ApproveAssignment", {"AssignmentId": assignment_id, "OverrideRejection": True}),
        ("RejectAssignment", {"AssignmentId": assignment_id, "RequesterFeedback": "No."}),
        ("ListBonusPayments", {"HITId": hit_id}),
        ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": past()}),
        ("UpdateHITReviewStatus", {"HITId": hit_id}),
        ("CreateAdditionalAssignmentsForHIT", {"HITId": hit_id, "NumberOfAdditionalAssignments": 1}),
        ("DeleteHIT", {"HITId": hit_id}),
        (
            "CreateHITWithHITType",
            {"HITTypeId": hit["HITTypeId"], "MaxAssignments": 1, "LifetimeInSeconds": 600, "Question": HTML_QUESTION},
        ),
        ("ListReviewableHITs", {"HITTypeId": hit["HITTypeId"]}),
    ]:
        status, body = intruder.call(operation, **params)
        if operation == "ListReviewableHITs":
            assert (status, body["NumResults"]) == (200, 0)
        else:
            assert (status, body.get("__type")) == (400, "RequestError"), (operation, body)
    assert intruder.ok("ListHITs")["NumResults"] == 0
    assert intruder.ok("ListBonusPayments", AssignmentId=assignment_id)["NumResults"] == 0
    # A guessed HIT type of A with the intruder's own terms still makes the intruder's own type, never A's.
    own = intruder.create_hit()
    assert own["HITTypeId"] != hit["HITTypeId"]

    work.refresh_from_db()
    assert work.status == AssignmentStatus.SUBMITTED
    task = Task.objects.get(pk=work.task_id)
    assert (task.max_assignments, task.disposed_at, task.reviewing) == (2, None, False)
    assert task.expires_at > timezone.now()
    assert Task.objects.filter(job=job).count() == 1
    assert available(owner) == owner_before
    assert intruder_before - available(intruder_user) == escrow_per_slot_msat(
        Job.objects.get(public_id=own["HITTypeId"])
    )
    assert_money_sound(job)


def test_the_live_endpoint_never_touches_a_sandbox_hit_nor_the_reverse(owner, rate):
    live = Turk(owner)
    sandbox = Turk(owner, sandbox=True)
    live_hit = live.create_hit(MaxAssignments=2)
    play_hit = sandbox.create_hit(MaxAssignments=2)
    assert live_hit["HITTypeId"] != play_hit["HITTypeId"]  # the same terms, two books: two HIT types
    live_work = submitted(live_hit)
    play_work = submitted(play_hit)
    real_before = available(owner)
    for client, hit, work in [(live, play_hit, play_work), (sandbox, live_hit, live_work)]:
        for operation, params in [
            ("GetHIT", {"HITId": hit["HITId"]}),
            ("GetAssignment", {"AssignmentId": work.public_id}),
            ("ApproveAssignment", {"AssignmentId": work.public_id}),
            ("RejectAssignment", {"AssignmentId": work.public_id, "RequesterFeedback": "No."}),
            (
                "SendBonus",
                {
                    "WorkerId": work.worker.public_id,
                    "AssignmentId": work.public_id,
                    "BonusAmount": "1.00",
                    "Reason": "Hi",
                },
            ),
            ("UpdateExpirationForHIT", {"HITId": hit["HITId"], "ExpireAt": past()}),
            ("CreateAdditionalAssignmentsForHIT", {"HITId": hit["HITId"], "NumberOfAdditionalAssignments": 1}),
            ("DeleteHIT", {"HITId": hit["HITId"]}),
            (
                "CreateHITWithHITType",
                {
                    "HITTypeId": hit["HITTypeId"],
                    "MaxAssignments": 1,
                    "LifetimeInSeconds": 600,
                    "Question": HTML_QUESTION,
                },
            ),
        ]:
            client.refused(operation, **params)
        assert client.ok("ListBonusPayments", AssignmentId=work.public_id)["NumResults"] == 0
    assert available(owner) == real_before
    assert not Bonus.objects.exists()
    for work in (live_work, play_work):
        work.refresh_from_db()
        assert work.status == AssignmentStatus.SUBMITTED
    assert_money_sound(task_of(live_hit).job)
    assert_money_sound(task_of(play_hit).job)


def test_a_revoked_credential_or_a_banned_requester_cannot_act(owner, rate):
    turk = Turk(owner)
    hit = turk.create_hit(MaxAssignments=1)
    work = submitted(hit)
    revoked = Turk(owner)
    credential_revoke(user=owner, access_key_id=revoked.credential.access_key_id)
    revoked.refused("ApproveAssignment", AssignmentId=work.public_id)
    revoked.refused("GetAccountBalance")
    user_ban(user=owner, moderator=make_moderator(), reason="Fraud.")
    turk.refused("ApproveAssignment", AssignmentId=work.public_id)
    turk.refused(
        "CreateHIT", **{**hit_terms(), "MaxAssignments": 1, "LifetimeInSeconds": 600, "Question": HTML_QUESTION}
    )
    work.refresh_from_db()
    assert work.status == AssignmentStatus.SUBMITTED
    assert Task.objects.filter(job__requester=owner).count() == 1


# Pagination -------------------------------------------------------------------------------------------------------


def test_next_tokens_stay_in_their_listing_and_with_their_requester(turk, owner, rate):
    hits = [turk.create_hit(Title=f"HIT {number}") for number in range(3)]
    first = turk.ok("ListHITs", MaxResults=1)
    assert first["NumResults"] == 1
    token = first["NextToken"]
    # Another requester's listing with A's token: still only their own (no) HITs.
    other = Turk(make_user(funds_sats=10_000))
    assert other.ok("ListHITs", NextToken=token)["NumResults"] == 0
    # A ListHITs token on another listing is refused.
    turk.refused("ListAssignmentsForHIT", HITId=hits[0]["HITId"], NextToken=token)
    turk.refused("ListReviewableHITs", NextToken=token)
    turk.refused("ListBonusPayments", HITId=hits[0]["HITId"], NextToken=token)
    # The sandbox endpoint with a live token: none of the live HITs.
    assert Turk(owner, sandbox=True).ok("ListHITs", NextToken=token)["NumResults"] == 0
    for bad in (0, 101, -1, 10**30, "10", 1.5, True, None):
        if bad is None:
            continue
        turk.refused("ListHITs", MaxResults=bad)
    for bad in ("garbage", token[:-2] + "xx", 5, ["a"], "a" * 300):
        turk.refused("ListHITs", NextToken=bad)
    seen = []
    token = None
    while True:
        page = turk.ok("ListHITs", MaxResults=1, **({"NextToken": token} if token else {}))
        seen += [each["HITId"] for each in page.get("HITs", [])]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [each["HITId"] for each in hits]


# Bad input: a RequestError that changes nothing, never a ServiceFault ------------------------------------------

NUL = "a\x00b"
HUGE = 10**30


def create_hit_params(**overrides):
    params = {**hit_terms(), "MaxAssignments": 1, "LifetimeInSeconds": 3600, "Question": HTML_QUESTION}
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not ...}


BAD_CREATE_HIT = {
    "Reward 1e5": {"Reward": "1e5"},
    "Reward 0.001": {"Reward": "0.001"},
    "Reward negative": {"Reward": "-1"},
    "Reward a number": {"Reward": 5},
    "Reward a list": {"Reward": ["0.05"]},
    "Reward null": {"Reward": None},
    "Reward unicode digits": {"Reward": "\u0663.\u0660\u0665"},
    "Reward fullwidth digits": {"Reward": "\uff10.\uff10\uff15"},
    "Reward huge": {"Reward": "99999999999999999999"},
    "Reward huge with cents": {"Reward": "9999999999999999.99"},
    "Reward with a newline": {"Reward": "0.05\n"},
    "MaxAssignments huge": {"MaxAssignments": HUGE},
    "MaxAssignments zero": {"MaxAssignments": 0},
    "MaxAssignments negative": {"MaxAssignments": -1},
    "MaxAssignments a string": {"MaxAssignments": "2"},
    "MaxAssignments a float": {"MaxAssignments": 2.0},
    "MaxAssignments true": {"MaxAssignments": True},
    "MaxAssignments a list": {"MaxAssignments": [2]},
    "LifetimeInSeconds huge": {"LifetimeInSeconds": HUGE},
    "LifetimeInSeconds negative": {"LifetimeInSeconds": -3600},
    "LifetimeInSeconds null": {"LifetimeInSeconds": None},
    "LifetimeInSeconds NaN": {"LifetimeInSeconds": float("nan")},
    "AssignmentDurationInSeconds huge": {"AssignmentDurationInSeconds": HUGE},
    "AssignmentDurationInSeconds 2**40": {"AssignmentDurationInSeconds": 2**40},
    "AssignmentDurationInSeconds negative": {"AssignmentDurationInSeconds": -5},
    "AssignmentDurationInSeconds zero": {"AssignmentDurationInSeconds": 0},
    "AssignmentDurationInSeconds a string": {"AssignmentDurationInSeconds": "600"},
    "AutoApprovalDelayInSeconds negative": {"AutoApprovalDelayInSeconds": -1},
    "AutoApprovalDelayInSeconds huge negative": {"AutoApprovalDelayInSeconds": -HUGE},
    "AutoApprovalDelayInSeconds a float": {"AutoApprovalDelayInSeconds": 3600.5},
    "Title a list": {"Title": ["a"]},
    "Title an object": {"Title": {"a": 1}},
    "Title empty": {"Title": ""},
    "Title blank": {"Title": "   "},
    "Title with NUL": {"Title": NUL},
    "Description with NUL": {"Description": NUL},
    "Keywords with NUL": {"Keywords": NUL},
    "Title with half a surrogate pair": {"Title": "a\ud800b"},
    "Description with half a surrogate pair": {"Description": "a\udfffb"},
    "Keywords a number": {"Keywords": 5},
    "RequesterAnnotation with NUL": {"RequesterAnnotation": NUL},
    "RequesterAnnotation too long": {"RequesterAnnotation": "a" * 256},
    "Question not XML": {"Question": "<not xml"},
    "Question with NUL": {"Question": HTML_QUESTION.replace("Is this review", "Is\x00this review")},
    "Question a list": {"Question": [HTML_QUESTION]},
    "Question with an entity": {
        "Question": '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>' + HTML_QUESTION.replace("Positive", "&e;")
    },
    "UniqueRequestToken with NUL": {"UniqueRequestToken": NUL},
    "UniqueRequestToken a number": {"UniqueRequestToken": 5},
    "UniqueRequestToken too long": {"UniqueRequestToken": "a" * 65},
    "QualificationRequirements a string": {"QualificationRequirements": "abc"},
    "QualificationRequirements member a string": {"QualificationRequirements": ["abc"]},
    "QualificationRequirements type a number": {
        "QualificationRequirements": [{"QualificationTypeId": 5, "Comparator": "Exists"}]
    },
    "QualificationRequirements type a list": {
        "QualificationRequirements": [{"QualificationTypeId": ["x"], "Comparator": "Exists"}]
    },
    "QualificationRequirements type with NUL": {
        "QualificationRequirements": [{"QualificationTypeId": NUL, "Comparator": "Exists"}]
    },
    "QualificationRequirements unknown comparator": {
        "QualificationRequirements": [{"QualificationTypeId": "000000000000000000L0", "Comparator": "Bogus"}]
    },
    "QualificationRequirements comparator a list": {
        "QualificationRequirements": [{"QualificationTypeId": "000000000000000000L0", "Comparator": ["x"]}]
    },
    "QualificationRequirements values strings": {
        "QualificationRequirements": [
            {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThan", "IntegerValues": ["90"]}
        ]
    },
    "QualificationRequirements values huge": {
        "QualificationRequirements": [
            {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThan", "IntegerValues": [HUGE]}
        ]
    },
    "QualificationRequirements values not a list": {
        "QualificationRequirements": [
            {"QualificationTypeId": "000000000000000000L0", "Comparator": "GreaterThan", "IntegerValues": 90}
        ]
    },
    "QualificationRequirements guard a number": {
        "QualificationRequirements": [
            {
                "QualificationTypeId": "000000000000000000L0",
                "Comparator": "GreaterThan",
                "IntegerValues": [90],
                "ActionsGuarded": 5,
            }
        ]
    },
    "QualificationRequirements locale": {
        "QualificationRequirements": [
            {
                "QualificationTypeId": "00000000000000000071",
                "Comparator": "EqualTo",
                "LocaleValues": [{"Country": "US"}],
            }
        ]
    },
    "HITLayoutId": {"HITLayoutId": "X"},
}


KNOWN_BUGS: dict[str, str] = {}  # by case name: the bug it shows (none open now)


def cases(names):
    """Parameters by name, the ones that show a known bug marked as a strict xfail naming it."""
    return [
        pytest.param(name, id=name, marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[name])])
        if name in KNOWN_BUGS
        else pytest.param(name, id=name)
        for name in names
    ]


@pytest.mark.parametrize("name", cases(BAD_CREATE_HIT))
def test_bad_create_hit_parameters_are_request_errors_that_change_nothing(turk, owner, name):
    overrides = BAD_CREATE_HIT[name]
    before = available(owner)
    entries = LedgerEntry.objects.count()
    status, body = turk.call("CreateHIT", **create_hit_params(**overrides))
    assert (status, body.get("__type")) == (400, "RequestError"), body
    assert body["Message"]
    assert available(owner) == before
    assert LedgerEntry.objects.count() == entries
    assert not Task.objects.exists()
    assert not Job.objects.exists()
    assert not RequestToken.objects.exists()


SAT_AMOUNTS_REFUSED = ["21.5", "0.01", "1e3", "-21", "", " 21", "99999999999999999999"]


@pytest.mark.parametrize("amount", SAT_AMOUNTS_REFUSED)
def test_bad_amounts_in_sats_are_request_errors(owner, amount):
    turk = Turk(owner, currency="sat")
    before = available(owner)
    turk.refused("CreateHIT", **create_hit_params(Reward=amount))
    assert available(owner) == before
    assert not Task.objects.exists()


def test_an_amount_in_sats_is_whole_sats(owner):
    turk = Turk(owner, currency="sat")
    before = available(owner)
    hit = turk.create_hit(Reward="21")
    assert hit["Reward"] == "21"
    job = task_of(hit).job
    assert job.reward_msat == 21 * MSAT_PER_SAT
    assert before - available(owner) == escrow_per_slot_msat(job)


@pytest.fixture
def reviewed_setup(turk):
    hit = turk.create_hit(MaxAssignments=2)
    work = submitted(hit)
    return hit, work


def bad_calls(hit: dict, assignment_id: str, worker_id: str) -> dict[str, tuple[str, dict]]:
    hit_id = hit["HITId"]
    bonus = {"WorkerId": worker_id, "AssignmentId": assignment_id, "Reason": "Thanks", "BonusAmount": "0.10"}
    return {
        "GetHIT id a list": ("GetHIT", {"HITId": [hit_id]}),
        "GetHIT id lower case": ("GetHIT", {"HITId": hit_id.lower()}),
        "GetHIT id too long": ("GetHIT", {"HITId": "A" * 1_000}),
        "GetHIT id with NUL": ("GetHIT", {"HITId": NUL}),
        "GetHIT id null": ("GetHIT", {"HITId": None}),
        "ExpireAt huge": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": HUGE}),
        "ExpireAt 1e300": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": 1e300}),
        "ExpireAt NaN": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": float("nan")}),
        "ExpireAt infinity": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": float("inf")}),
        "ExpireAt minus infinity": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": float("-inf")}),
        "ExpireAt a string": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": "2030-01-01"}),
        "ExpireAt a list": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": [1]}),
        "ExpireAt null": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": None}),
        "ExpireAt in two years": ("UpdateExpirationForHIT", {"HITId": hit_id, "ExpireAt": later(24 * 800)}),
        "Revert a string": ("UpdateHITReviewStatus", {"HITId": hit_id, "Revert": "yes"}),
        "more assignments huge": (
            "CreateAdditionalAssignmentsForHIT",
            {"HITId": hit_id, "NumberOfAdditionalAssignments": HUGE},
        ),
        "more assignments zero": (
            "CreateAdditionalAssignmentsForHIT",
            {"HITId": hit_id, "NumberOfAdditionalAssignments": 0},
        ),
        "more assignments a string": (
            "CreateAdditionalAssignmentsForHIT",
            {"HITId": hit_id, "NumberOfAdditionalAssignments": "1"},
        ),
        "more assignments past the cap": (
            "CreateAdditionalAssignmentsForHIT",
            {"HITId": hit_id, "NumberOfAdditionalAssignments": 999},
        ),
        "more assignments token with NUL": (
            "CreateAdditionalAssignmentsForHIT",
            {"HITId": hit_id, "NumberOfAdditionalAssignments": 1, "UniqueRequestToken": NUL},
        ),
        "approve feedback with NUL": ("ApproveAssignment", {"AssignmentId": assignment_id, "RequesterFeedback": NUL}),
        "approve feedback too long": (
            "ApproveAssignment",
            {"AssignmentId": assignment_id, "RequesterFeedback": "a" * 1_025},
        ),
        "approve override a string": ("ApproveAssignment", {"AssignmentId": assignment_id, "OverrideRejection": "1"}),
        "reject without feedback": ("RejectAssignment", {"AssignmentId": assignment_id}),
        "reject blank feedback": ("RejectAssignment", {"AssignmentId": assignment_id, "RequesterFeedback": "  "}),
        "reject feedback with NUL": ("RejectAssignment", {"AssignmentId": assignment_id, "RequesterFeedback": NUL}),
        "reject feedback with half a surrogate pair": (
            "RejectAssignment",
            {"AssignmentId": assignment_id, "RequesterFeedback": "\ud800"},
        ),
        "bonus reason with half a surrogate pair": ("SendBonus", {**bonus, "Reason": "\udc00"}),
        "reject feedback a list": ("RejectAssignment", {"AssignmentId": assignment_id, "RequesterFeedback": ["x"]}),
        "bonus amount 1e5": ("SendBonus", {**bonus, "BonusAmount": "1e5"}),
        "bonus amount negative": ("SendBonus", {**bonus, "BonusAmount": "-0.10"}),
        "bonus amount a number": ("SendBonus", {**bonus, "BonusAmount": 0.1}),
        "bonus amount 0.001": ("SendBonus", {**bonus, "BonusAmount": "0.001"}),
        "bonus amount huge": ("SendBonus", {**bonus, "BonusAmount": "99999999999999999999"}),
        "bonus reason with NUL": ("SendBonus", {**bonus, "Reason": NUL}),
        "bonus reason blank": ("SendBonus", {**bonus, "Reason": "   "}),
        "bonus worker a number": ("SendBonus", {**bonus, "WorkerId": 5}),
        "bonus worker with NUL": ("SendBonus", {**bonus, "WorkerId": NUL}),
        "bonus to an unknown worker": ("SendBonus", {**bonus, "WorkerId": "A" + "B" * 13}),
        "bonus token with NUL": ("SendBonus", {**bonus, "UniqueRequestToken": NUL}),
        "bonus list both ids": ("ListBonusPayments", {"HITId": hit_id, "AssignmentId": assignment_id}),
        "bonus list no id": ("ListBonusPayments", {}),
        "bonus list id a list": ("ListBonusPayments", {"AssignmentId": [assignment_id]}),
        "statuses a string": ("ListAssignmentsForHIT", {"HITId": hit_id, "AssignmentStatuses": "Submitted"}),
        "statuses bogus": ("ListAssignmentsForHIT", {"HITId": hit_id, "AssignmentStatuses": ["Bogus"]}),
        "statuses empty": ("ListAssignmentsForHIT", {"HITId": hit_id, "AssignmentStatuses": []}),
        "statuses unhashable": ("ListAssignmentsForHIT", {"HITId": hit_id, "AssignmentStatuses": [["Submitted"]]}),
        "reviewable status a list": ("ListReviewableHITs", {"Status": ["Reviewable"]}),
        "reviewable status bogus": ("ListReviewableHITs", {"Status": "Assignable"}),
        "reviewable type a list": ("ListReviewableHITs", {"HITTypeId": ["X"]}),
        "reviewable type an object": ("ListReviewableHITs", {"HITTypeId": {"a": 1}}),
        "with type: type with NUL": (
            "CreateHITWithHITType",
            {"HITTypeId": NUL, "MaxAssignments": 1, "LifetimeInSeconds": 600, "Question": HTML_QUESTION},
        ),
        "with type: MaxAssignments huge": (
            "CreateHITWithHITType",
            {
                "HITTypeId": hit["HITTypeId"],
                "MaxAssignments": HUGE,
                "LifetimeInSeconds": 600,
                "Question": HTML_QUESTION,
            },
        ),
        "with type: lifetime a string": (
            "CreateHITWithHITType",
            {
                "HITTypeId": hit["HITTypeId"],
                "MaxAssignments": 1,
                "LifetimeInSeconds": "600",
                "Question": HTML_QUESTION,
            },
        ),
        "with type: annotation with NUL": (
            "CreateHITWithHITType",
            {
                "HITTypeId": hit["HITTypeId"],
                "MaxAssignments": 1,
                "LifetimeInSeconds": 600,
                "Question": HTML_QUESTION,
                "RequesterAnnotation": NUL,
            },
        ),
        "with type: token with NUL": (
            "CreateHITWithHITType",
            {
                "HITTypeId": hit["HITTypeId"],
                "MaxAssignments": 1,
                "LifetimeInSeconds": 600,
                "Question": HTML_QUESTION,
                "UniqueRequestToken": NUL,
            },
        ),
        "hit type: reward huge": ("CreateHITType", {**hit_terms(), "Reward": "99999999999999999999"}),
        "hit type: duration huge": ("CreateHITType", {**hit_terms(), "AssignmentDurationInSeconds": HUGE}),
        "hit type: title with NUL": ("CreateHITType", {**hit_terms(), "Title": NUL}),
    }


BAD_CALL_NAMES = list(bad_calls({"HITId": "X", "HITTypeId": "X"}, "X", "X"))


@pytest.mark.parametrize("name", cases(BAD_CALL_NAMES))
def test_bad_parameters_of_other_operations_are_request_errors_that_change_nothing(turk, owner, reviewed_setup, name):
    hit, work = reviewed_setup
    operation, params = bad_calls(hit, work.public_id, work.worker.public_id)[name]
    before = available(owner)
    entries = LedgerEntry.objects.count()
    tasks = list(Task.objects.values())
    jobs = Job.objects.count()
    status, body = turk.call(operation, **params)
    assert (status, body.get("__type")) == (400, "RequestError"), body
    assert available(owner) == before
    assert LedgerEntry.objects.count() == entries
    assert list(Task.objects.values()) == tasks
    assert Job.objects.count() == jobs
    work.refresh_from_db()
    assert work.status == AssignmentStatus.SUBMITTED
    assert not Bonus.objects.exists()


@pytest.mark.parametrize(
    "body",
    [b"[]", b"null", b"5", b'"x"', b"{bad", b"\xff\xfe", b"[" * 100_000, b'{"HITId": "' + b"A" * 200_000 + b'"}'],
    ids=["list", "null", "number", "string", "broken", "not utf-8", "deep", "huge id"],
)
def test_bodies_that_are_not_json_objects_are_request_errors(turk, body):
    status, answer = turk.raw("GetHIT", body)
    assert (status, answer["__type"]) == (400, "RequestError"), answer


# Races ------------------------------------------------------------------------------------------------------------


def run_at_once(calls: list) -> list:
    """Run each callable in its own thread (its own database connection), started together."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(number, call):
        try:
            barrier.wait()
            results[number] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(number, call)) for number, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.django_db(transaction=True)
def test_create_hit_with_one_token_from_two_threads_makes_one_hit(turk, owner):
    before = available(owner)
    params = create_hit_params(UniqueRequestToken="same-token")
    results = run_at_once([lambda: turk.call("CreateHIT", **params) for _ in range(4)])
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 400, 400, 400], results
    assert Task.objects.count() == 1
    task = Task.objects.select_related("job").get()
    assert before - available(owner) == escrow_per_slot_msat(task.job)
    refused = [body for status, body in results if status == 400]
    assert all(task.public_id in body["Message"] for body in refused), refused
    assert_money_sound(task.job)


@pytest.mark.django_db(transaction=True)
def test_a_bonus_token_sent_from_four_threads_pays_once(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    work = submitted(hit)
    before = available(owner)
    params = {
        "WorkerId": work.worker.public_id,
        "AssignmentId": work.public_id,
        "Reason": "Thanks",
        "BonusAmount": "0.10",
        "UniqueRequestToken": "bonus-once",
    }
    results = run_at_once([lambda: turk.call("SendBonus", **params) for _ in range(4)])
    assert sorted(status for status, _ in results) == [200, 400, 400, 400], results
    assert Bonus.objects.count() == 1
    assert before - available(owner) == 110 * MSAT_PER_SAT  # 100 sats and the 10 % fee
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_more_assignments_and_expiry_at_once_keep_escrow_exact(turk, owner):
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    submitted(hit)
    calls = [
        lambda: turk.call("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=1),
        lambda: turk.call("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past()),
        lambda: turk.call("CreateAdditionalAssignmentsForHIT", HITId=hit["HITId"], NumberOfAdditionalAssignments=2),
        lambda: turk.call("DeleteHIT", HITId=hit["HITId"]),
    ]
    results = run_at_once(calls)
    assert all(status in (200, 400) for status, _ in results), results
    assert_money_sound(job)


@pytest.mark.django_db(transaction=True)
def test_two_overrides_at_once_pay_once(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    results = run_at_once(
        [lambda: turk.call("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True) for _ in range(3)]
    )
    assert all(status in (200, 400) for status, _ in results), results
    assert earned(work.worker) == job.reward_msat
    assert Dispute.objects.filter(assignment=work).count() == 1
    assert_money_sound(job)


# A whole HIT type's life, to the job's close ----------------------------------------------------------------------


def test_every_path_of_a_hit_types_money_ends_with_its_escrow_and_hold_empty(turk, owner):
    """Two HITs of one type through expiry, extension, more assignments, a returned assignment on an expired HIT, a
    rejection, a dispute, the close of the job, reviews after the close and the sweepers: at every step the escrow
    pays exactly for what can still be approved, and at the end nothing is left in it or in the hold."""
    start = available(owner)
    first = turk.create_hit(MaxAssignments=3)
    second = turk.create_hit(MaxAssignments=2, Question=HTML_QUESTION.replace("positive?", "positive, really?"))
    job = task_of(first).job
    assert task_of(second).job == job
    approved_later = submitted(first)
    returned_later = claim(first)
    disputed = submitted(first)
    turk.ok("RejectAssignment", AssignmentId=disputed.public_id, RequesterFeedback="Wrong.")
    assert_money_sound(job)
    dispute = disputes.dispute_open(assignment_id=disputed.public_id, worker=disputed.worker, message="It was right.")
    assert_money_sound(job)

    turk.ok("UpdateExpirationForHIT", HITId=second["HITId"], ExpireAt=past())
    turk.ok("UpdateExpirationForHIT", HITId=second["HITId"], ExpireAt=later())
    rejected_after_close = submitted(second)
    turk.ok("CreateAdditionalAssignmentsForHIT", HITId=second["HITId"], NumberOfAdditionalAssignments=1)
    assert_money_sound(job)

    turk.ok("UpdateExpirationForHIT", HITId=first["HITId"], ExpireAt=past())
    services.assignment_return(assignment=returned_later, worker=returned_later.worker)  # re-opens an expired slot
    assert_money_sound(job)
    assert hits_expire_due() == 1
    assert_money_sound(job)

    job_close(job=job, actor=owner)
    assert_money_sound(job)
    assert hits_expire_due() == 0
    turk.ok("ApproveAssignment", AssignmentId=approved_later.public_id)
    turk.ok("RejectAssignment", AssignmentId=rejected_after_close.public_id, RequesterFeedback="Wrong.")
    assert_money_sound(job)
    disputes.dispute_decide(dispute_id=dispute.public_id, moderator=make_moderator(), overturn=True, reason="Right.")
    assert_money_sound(job)
    assert hits_expire_due() == 0
    turk.ok("DeleteHIT", HITId=first["HITId"])
    turk.ok("DeleteHIT", HITId=second["HITId"])

    assert (escrow_msat(job), held_msat(job)) == (0, 0)
    assert earned(approved_later.worker) == earned(disputed.worker) == job.reward_msat
    assert start - available(owner) == 2 * escrow_per_slot_msat(job)  # two approvals, nothing else kept
    assert_money_sound(job)


def test_a_reward_of_zero_moves_no_money_and_breaks_nothing(turk, owner):
    before = available(owner)
    status, body = turk.call("CreateHIT", **create_hit_params(Reward="0.00"))
    assert status in (200, 400), body
    if status == 200:
        work = submitted(body["HIT"])
        turk.ok("ApproveAssignment", AssignmentId=work.public_id)
        assert available(owner) == before
        assert_money_sound(task_of(body["HIT"]).job)
    assert ledger_check() == []


# Tier 2: the same rules -------------------------------------------------------------------------------------------


@pytest.fixture
def qualification_setup(turk):
    hit = turk.create_hit(MaxAssignments=1)
    work = submitted(hit)
    type_id = turk.ok(
        "CreateQualificationType", Name="Good", Description="Good workers", QualificationTypeStatus="Active"
    )["QualificationType"]["QualificationTypeId"]
    return type_id, work.worker.public_id


def bad_tier2_calls(type_id: str, worker_id: str) -> dict[str, tuple[str, dict]]:
    terms = {"Description": "Good workers", "QualificationTypeStatus": "Active"}
    return {
        "type name with NUL": ("CreateQualificationType", {"Name": NUL, **terms}),
        "type name a list": ("CreateQualificationType", {"Name": ["a"], **terms}),
        "type status a list": ("CreateQualificationType", {"Name": "x", **terms, "QualificationTypeStatus": ["x"]}),
        "auto grant value huge": (
            "CreateQualificationType",
            {"Name": "x", "AutoGranted": True, "AutoGrantedValue": HUGE, **terms},
        ),
        "score huge": (
            "AssociateQualificationWithWorker",
            {"QualificationTypeId": type_id, "WorkerId": worker_id, "IntegerValue": HUGE},
        ),
        "score a string": (
            "AssociateQualificationWithWorker",
            {"QualificationTypeId": type_id, "WorkerId": worker_id, "IntegerValue": "1"},
        ),
        "score worker with NUL": (
            "AssociateQualificationWithWorker",
            {"QualificationTypeId": type_id, "WorkerId": NUL},
        ),
        "get score worker with NUL": ("GetQualificationScore", {"QualificationTypeId": type_id, "WorkerId": NUL}),
        "block worker with NUL": ("CreateWorkerBlock", {"WorkerId": NUL, "Reason": "Spam"}),
        "block reason with NUL": ("CreateWorkerBlock", {"WorkerId": worker_id, "Reason": NUL}),
        "unblock worker with NUL": ("DeleteWorkerBlock", {"WorkerId": NUL}),
        "notify subject with NUL": ("NotifyWorkers", {"WorkerIds": [worker_id], "Subject": NUL, "MessageText": "Hi"}),
        "notify 101 workers": ("NotifyWorkers", {"WorkerIds": [worker_id] * 101, "Subject": "Hi", "MessageText": "Hi"}),
        "list types query with NUL": ("ListQualificationTypes", {"MustBeRequestable": False, "Query": NUL}),
        "list types requestable a string": ("ListQualificationTypes", {"MustBeRequestable": "no"}),
    }


TIER2_NAMES = list(bad_tier2_calls("X", "X"))


@pytest.mark.parametrize("name", cases(TIER2_NAMES))
def test_bad_tier2_parameters_are_request_errors(turk, qualification_setup, name):
    operation, params = bad_tier2_calls(*qualification_setup)[name]
    status, body = turk.call(operation, **params)
    assert (status, body.get("__type")) == (400, "RequestError"), body


def test_another_requesters_qualification_type_is_out_of_reach(turk, owner, qualification_setup):
    type_id, worker_id = qualification_setup
    intruder = Turk(make_user(funds_sats=10_000))
    for operation, params in [
        ("UpdateQualificationType", {"QualificationTypeId": type_id, "Description": "Mine now"}),
        ("DeleteQualificationType", {"QualificationTypeId": type_id}),
        ("AssociateQualificationWithWorker", {"QualificationTypeId": type_id, "WorkerId": worker_id}),
        ("DisassociateQualificationFromWorker", {"QualificationTypeId": type_id, "WorkerId": worker_id}),
        ("GetQualificationScore", {"QualificationTypeId": type_id, "WorkerId": worker_id}),
        ("ListWorkersWithQualificationType", {"QualificationTypeId": type_id}),
        ("NotifyWorkers", {"WorkerIds": [worker_id], "Subject": "Hi", "MessageText": "Hi"}),
    ]:
        status, body = intruder.call(operation, **params)
        if operation == "NotifyWorkers":  # answered per worker, as Mechanical Turk does
            assert status == 200
            assert [each["WorkerId"] for each in body["NotifyWorkersFailureStatuses"]] == [worker_id]
        else:
            assert (status, body.get("__type")) == (400, "RequestError"), (operation, body)
    # Types are public, as on Mechanical Turk (ListQualificationTypes lists everyone's): reading one is allowed.
    assert intruder.ok("GetQualificationType", QualificationTypeId=type_id)["QualificationType"]["Name"] == "Good"
    requirement = {"QualificationTypeId": type_id, "Comparator": "Exists"}
    intruder.refused("CreateHIT", **create_hit_params(QualificationRequirements=[requirement]))
    assert not Task.objects.filter(job__requester=intruder.user).exists()


# More sequences ---------------------------------------------------------------------------------------------------


def test_a_token_whose_call_failed_can_be_used_again(rate):
    requester = make_user(funds_sats=50)  # less than one slot of 55 sats
    turk = Turk(requester)
    turk.refused("CreateHIT", **create_hit_params(UniqueRequestToken="retry-me"))
    assert not RequestToken.objects.exists()
    turk.refused("CreateHIT", **create_hit_params(UniqueRequestToken="retry-me"))
    fund(requester, 100 * MSAT_PER_SAT)
    hit = turk.ok("CreateHIT", **create_hit_params(UniqueRequestToken="retry-me"))["HIT"]
    refusal = turk.refused("CreateHIT", **create_hit_params(UniqueRequestToken="retry-me"))
    assert hit["HITId"] in refusal["Message"]
    assert Task.objects.count() == 1
    assert_money_sound(task_of(hit).job)


def test_an_override_in_the_sandbox_moves_play_money_only(owner, rate):
    sandbox = Turk(owner, sandbox=True)
    real_before = available(owner)
    hit = sandbox.create_hit(MaxAssignments=1)
    job = task_of(hit).job
    work = submitted(hit)
    sandbox.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    submitted(hit)  # the re-opened slot taken again: the override is held from the (play) balance
    sandbox.ok("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    assert available(owner) == real_before
    assert earned(work.worker) == 0
    play_earned = Account.objects.get(user=work.worker, kind=AccountKind.SANDBOX_WORKER_EARNED).balance_msat
    assert play_earned == job.reward_msat
    assert_money_sound(job)


def test_a_dispute_upheld_after_the_job_closed_goes_back_to_the_requester(turk, owner):
    hit = turk.create_hit(MaxAssignments=2)
    job = task_of(hit).job
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    dispute = disputes.dispute_open(assignment_id=work.public_id, worker=work.worker, message="It was right.")
    job_close(job=job, actor=owner)
    assert_money_sound(job)
    before = available(owner)
    disputes.dispute_decide(dispute_id=dispute.public_id, moderator=make_moderator(), overturn=False, reason="No.")
    assert available(owner) - before == escrow_per_slot_msat(job)
    assert (escrow_msat(job), held_msat(job)) == (0, 0)
    assert_money_sound(job)
    turk.refused("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True)
    assert earned(work.worker) == 0


@pytest.mark.django_db(transaction=True)
def test_an_expiry_racing_claims_keeps_escrow_exact(turk, owner):
    hit = turk.create_hit(MaxAssignments=6)
    task = task_of(hit)
    workers = [make_user(funds_sats=0) for _ in range(5)]

    def take(worker):
        def run():
            try:
                return services.assignment_claim(job=Job.objects.get(pk=task.job_id), worker=worker).pk
            except DomainError as error:
                return error.message

        return run

    calls = [take(worker) for worker in workers]
    calls.insert(2, lambda: turk.call("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=past()))
    run_at_once(calls)
    assert_money_sound(task.job)
    assert Task.objects.get(pk=task.pk).slots_open == 0


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_racing_an_extension_keeps_escrow_exact(turk, owner):
    hit = turk.create_hit(MaxAssignments=3)
    task = task_of(hit)
    submitted(hit)
    Task.objects.filter(pk=task.pk).update(expires_at=timezone.now() - timedelta(seconds=1))  # expired, not swept
    run_at_once(
        [
            hits_expire_due,
            lambda: turk.call("UpdateExpirationForHIT", HITId=hit["HITId"], ExpireAt=later()),
            hits_expire_due,
        ]
    )
    assert_money_sound(task.job)
    assert Task.objects.get(pk=task.pk).slots_open in (0, 2)


@pytest.mark.django_db(transaction=True)
def test_bonuses_at_once_never_take_the_balance_below_zero(rate):
    requester = make_user(funds_sats=55 + 150)  # one slot, then 150 sats: room for two bonuses of 66 sats
    turk = Turk(requester)
    hit = turk.create_hit(MaxAssignments=1)
    work = submitted(hit)
    bonus = {"WorkerId": work.worker.public_id, "AssignmentId": work.public_id, "Reason": "Thanks"}
    results = run_at_once([lambda: turk.call("SendBonus", BonusAmount="0.06", **bonus) for _ in range(4)])
    assert sorted(status for status, _ in results) == [200, 200, 400, 400], results
    assert Bonus.objects.count() == 2
    assert available(requester) == 150 * MSAT_PER_SAT - 2 * 66 * MSAT_PER_SAT
    assert ledger_check() == []


@pytest.mark.django_db(transaction=True)
def test_hits_at_once_with_funds_for_one_make_one(rate):
    requester = make_user(funds_sats=100)  # one slot of 55 sats
    turk = Turk(requester)
    turk.ok("CreateHITType", **hit_terms())  # the HIT type exists: the race is on the money only
    results = run_at_once([lambda: turk.call("CreateHIT", **create_hit_params()) for _ in range(4)])
    assert sorted(status for status, _ in results) == [200, 400, 400, 400], results
    assert Task.objects.count() == 1
    assert available(requester) == 45 * MSAT_PER_SAT
    assert_money_sound(Task.objects.get().job)


@pytest.mark.django_db(transaction=True)
def test_the_same_new_terms_at_once_make_one_hit_type(turk):
    results = run_at_once([lambda: turk.call("CreateHIT", **create_hit_params()) for _ in range(3)])
    assert [status for status, _ in results] == [200, 200, 200], results
    assert len({body["HIT"]["HITTypeId"] for _, body in results}) == 1


@pytest.mark.django_db(transaction=True)
def test_an_override_racing_claims_of_the_reopened_slot_and_a_dispute_keeps_money_exact(turk, owner):
    hit = turk.create_hit(MaxAssignments=1)
    task = task_of(hit)
    work = submitted(hit)
    turk.ok("RejectAssignment", AssignmentId=work.public_id, RequesterFeedback="Wrong.")
    workers = [make_user(funds_sats=0) for _ in range(3)]

    def take(worker):
        def run():
            try:
                return services.assignment_claim(job=Job.objects.get(pk=task.job_id), worker=worker).pk
            except DomainError as error:
                return error.message

        return run

    def dispute():
        try:
            return disputes.dispute_open(assignment_id=work.public_id, worker=work.worker, message="Right.").pk
        except DomainError as error:
            return error.message

    calls = [take(worker) for worker in workers]
    calls.insert(1, lambda: turk.call("ApproveAssignment", AssignmentId=work.public_id, OverrideRejection=True))
    calls.insert(3, dispute)
    run_at_once(calls)
    work.refresh_from_db()
    assert work.status == AssignmentStatus.APPROVED
    assert earned(work.worker) == task.job.reward_msat
    assert Assignment.objects.filter(task=task, status=AssignmentStatus.ACCEPTED).count() <= 1
    assert_money_sound(task.job)


def test_a_worker_id_that_cannot_be_stored_is_a_hard_failure_of_notify_workers(turk, qualification_setup):
    _, worker_id = qualification_setup
    body = turk.ok("NotifyWorkers", WorkerIds=[NUL, worker_id], Subject="Hi", MessageText="Hello")
    assert [each["WorkerId"] for each in body["NotifyWorkersFailureStatuses"]] == [NUL]


# The web side on a HIT type's job ---------------------------------------------------------------------------------


def test_a_hit_types_draft_edited_on_the_site_keeps_every_hits_escrow(turk, owner):
    """A HIT type made over the API is a draft job its requester can also edit on the site (terms, quality control).
    Whatever they set there, each HIT's slots stay paid for exactly, through a pause and a resume and its answers."""
    from marketplace.services import job_update_draft
    from tasks.overlap import task_result_update
    from tasks.quality import job_quality_set

    hit_type_id = turk.ok("CreateHITType", **hit_terms())["HITTypeId"]
    job = Job.objects.get(public_id=hit_type_id)
    # Each HIT pays for its own MaxAssignments: the job's assignments per task and dynamic overlap are refused.
    with pytest.raises(DomainError, match="MaxAssignments"):
        job_update_draft(
            job=job,
            actor=owner,
            title=job.title,
            description=job.description,
            instructions=job.instructions,
            reward_msat=job.reward_msat,
            assignments_per_task=3,
            time_limit_seconds=job.time_limit_seconds,
            auto_approve_seconds=job.auto_approve_seconds,
            expires_at=None,
            tags=[],
        )
    with pytest.raises(DomainError):
        job_quality_set(job=job, actor=owner, overlap_start=1)
    params = {"HITTypeId": hit_type_id, "MaxAssignments": 1, "LifetimeInSeconds": 3600, "Question": HTML_QUESTION}
    first = turk.ok("CreateHITWithHITType", **params)["HIT"]
    turk.ok("CreateHITWithHITType", **params)
    assert_money_sound(job)
    job_pause(job=job, actor=owner)
    job_resume(job=job, actor=owner)
    assert_money_sound(job)
    work = submitted(first)
    task_result_update(task_id=work.task_id)  # the quality pipeline's step after a submission
    assert_money_sound(job)
    turk.ok("ApproveAssignment", AssignmentId=work.public_id)
    assert_money_sound(job)


def test_next_tokens_are_bound_to_their_hit_assignment_and_filters(turk, owner):
    first = turk.create_hit(MaxAssignments=2)
    second = turk.create_hit(MaxAssignments=2, Title="Another")
    works = [submitted(first) for _ in range(2)]
    for _ in range(2):
        submitted(second)
    for work in works:
        for _ in range(2):
            turk.ok("SendBonus", WorkerId=work.worker.public_id, AssignmentId=work.public_id, BonusAmount="0.01",
                    Reason="Thanks")  # fmt: skip
    token = turk.ok("ListAssignmentsForHIT", HITId=first["HITId"], MaxResults=1)["NextToken"]
    turk.refused("ListAssignmentsForHIT", HITId=second["HITId"], NextToken=token)
    turk.refused("ListAssignmentsForHIT", HITId=first["HITId"], NextToken=token, AssignmentStatuses=["Approved"])
    assert turk.ok("ListAssignmentsForHIT", HITId=first["HITId"], NextToken=token)["NumResults"] == 1

    token = turk.ok("ListBonusPayments", AssignmentId=works[0].public_id, MaxResults=1)["NextToken"]
    turk.refused("ListBonusPayments", AssignmentId=works[1].public_id, NextToken=token)
    turk.refused("ListBonusPayments", HITId=first["HITId"], NextToken=token)
    assert turk.ok("ListBonusPayments", AssignmentId=works[0].public_id, NextToken=token)["NumResults"] == 1

    token = turk.ok("ListReviewableHITs", MaxResults=1)["NextToken"]
    turk.refused("ListReviewableHITs", Status="Reviewing", NextToken=token)
    turk.refused("ListReviewableHITs", HITTypeId=first["HITTypeId"], NextToken=token)
    assert turk.ok("ListReviewableHITs", NextToken=token)["NumResults"] == 1


def test_a_deactivated_requester_cannot_act_in_either_book(owner, rate):
    live = Turk(owner)
    sandbox = Turk(owner, sandbox=True)
    hit = live.create_hit(MaxAssignments=1)
    play_hit = sandbox.create_hit(MaxAssignments=1)
    work, play_work = submitted(hit), submitted(play_hit)
    type(owner).objects.filter(pk=owner.pk).update(is_active=False)
    live.refused("ApproveAssignment", AssignmentId=work.public_id)
    sandbox.refused("ApproveAssignment", AssignmentId=play_work.public_id)
    sandbox.refused("SendBonus", WorkerId=play_work.worker.public_id, AssignmentId=play_work.public_id,
                    BonusAmount="1.00", Reason="Hi")  # fmt: skip
    for each in (work, play_work):
        each.refresh_from_db()
        assert each.status == AssignmentStatus.SUBMITTED
    assert not Bonus.objects.exists()
