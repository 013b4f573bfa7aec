"""One gate per state machine: payouts, assignments and jobs change state only through one function each, which
checks the transitions table. These tests walk every move the tables forbid and see each refused, with nothing
saved and nothing recorded."""

import itertools

import pytest
from django.db import transaction

from core.errors import InvalidTransition
from core.events import Actor
from core.models import Event
from marketplace import services as job_services
from marketplace.models import JOB_TRANSITIONS, Job, JobStatus
from payments import payouts
from payments.models import PAYOUT_TRANSITIONS, Payout, PayoutKind, PayoutState
from tasks import services as task_services
from tasks.models import ASSIGNMENT_TRANSITIONS, Assignment, AssignmentStatus
from tests.factories import make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("a test")


def forbidden(table: dict[str, set[str]]) -> list[tuple[str, str]]:
    return [(start, end) for start, end in itertools.product(table, repeat=2) if end not in table[start]]


def refused_without_a_trace(move) -> None:
    events_before = Event.objects.count()
    with pytest.raises(InvalidTransition, match=r"not allowed|cannot be"), transaction.atomic():
        move()
    assert Event.objects.count() == events_before


@pytest.mark.parametrize(("start", "end"), forbidden(PAYOUT_TRANSITIONS))
def test_every_forbidden_payout_move_is_refused(start, end):
    worker = make_user(funds_sats=0)
    with_invoice = start in {PayoutState.INVOICE_VERIFIED, PayoutState.SENDING, PayoutState.SUCCEEDED}
    payout = Payout.objects.create(
        worker=worker,
        kind=PayoutKind.LNURL_PAY,
        amount_msat=21_000,
        destination="alice@wallet.example",
        state=start,
        payment_hash="ab" * 32 if with_invoice else None,
    )

    refused_without_a_trace(lambda: payouts._transition(payout, end, actor=SYSTEM))

    assert Payout.objects.get(pk=payout.pk).state == start


@pytest.mark.parametrize(("start", "end"), forbidden(ASSIGNMENT_TRANSITIONS))
def test_every_forbidden_assignment_move_is_refused(start, end):
    assignment = make_submitted_assignment(job=make_job(tasks=1))
    Assignment.objects.filter(pk=assignment.pk).update(status=start, feedback="a reason", rejection_reason="other")
    assignment.refresh_from_db()

    refused_without_a_trace(lambda: task_services.transition_assignment(assignment, end, actor=SYSTEM))

    assert Assignment.objects.get(pk=assignment.pk).status == start


@pytest.mark.parametrize(("start", "end"), forbidden(JOB_TRANSITIONS))
def test_every_forbidden_job_move_is_refused(start, end):
    job = make_job(tasks=1, publish=False)
    Job.objects.filter(pk=job.pk).update(status=start)
    job.refresh_from_db()

    refused_without_a_trace(lambda: job_services._transition(job, end, actor=SYSTEM, save=[]))

    assert Job.objects.get(pk=job.pk).status == start


def test_every_state_a_table_names_is_a_state_of_its_model():
    assert set(PAYOUT_TRANSITIONS) == set(PayoutState.values)
    assert set(ASSIGNMENT_TRANSITIONS) == set(AssignmentStatus.values)
    assert set(JOB_TRANSITIONS) == set(JobStatus.values)


def test_an_allowed_move_goes_through_the_gate_and_is_recorded():
    job = make_job(tasks=1)

    job_services.job_pause(job=job, actor=job.requester)

    assert Job.objects.get(pk=job.pk).status == JobStatus.PAUSED
    paused = Event.objects.get(type="job.paused")
    assert (paused.actor, paused.subject_id) == (job.requester, job.public_id)
