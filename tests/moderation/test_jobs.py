"""Jobs a moderator hides are off the board, their page and the claim; a force-closed job refunds the escrow no one
holds through the job's own close, with the moderator as actor."""

import pytest
from django.urls import reverse

from core.errors import InvalidInput, InvalidTransition
from core.models import ActorKind, Event
from marketplace.errors import JobNotOpen
from marketplace.models import Job, JobStatus
from marketplace.selectors import board_jobs
from marketplace.services import job_pause, job_resume
from moderation.services import job_force_close, job_hide, job_show
from payments.ledger import account_of_job, balance_msat, ledger_check
from tasks.models import AssignmentStatus
from tasks.services import assignment_claim, assignment_review, assignment_submit
from tests.balances import available
from tests.factories import answer_data, make_draft_job, make_job, make_submitted_assignment

pytestmark = pytest.mark.django_db

REASON = "Asks workers for their phone numbers."


def test_a_hidden_job_is_off_the_board_its_page_and_the_api_board(client, moderator, worker):
    job = make_job(title="Collect phone numbers")
    other = make_job(title="Rate reviews")

    job_hide(job=job, moderator=moderator, reason=REASON)

    assert list(board_jobs()) == [other]
    client.force_login(worker)
    assert "Collect phone numbers" not in client.get(reverse("board")).content.decode()
    assert client.get(reverse("job_detail", args=[job.public_id])).status_code == 404
    assert client.post(reverse("job_start", args=[job.public_id])).status_code == 404
    job.refresh_from_db()
    assert (job.status, job.hidden_reason) == (JobStatus.PUBLISHED, REASON)
    assert job.takes_new_work is False


def test_a_hidden_job_takes_no_claim_even_from_a_job_read_before_it_was_hidden(moderator, worker):
    job = make_job(tasks=2)
    stale = Job.objects.get(pk=job.pk)

    job_hide(job=job, moderator=moderator, reason=REASON)

    with pytest.raises(JobNotOpen):
        assignment_claim(job=stale, worker=worker)
    job.refresh_from_db()
    assert (job.open_slot_count, job.live_assignment_count) == (2, 0)


def test_work_taken_before_the_job_was_hidden_can_still_be_submitted(moderator, worker):
    job = make_job(tasks=2)
    assignment = assignment_claim(job=job, worker=worker)

    job_hide(job=job, moderator=moderator, reason=REASON)

    assert assignment_submit(assignment=assignment, worker=worker, data=answer_data()).status == "submitted"


def test_hiding_and_showing_are_recorded_need_a_reason_and_happen_once(moderator):
    job = make_job()
    with pytest.raises(InvalidInput):
        job_hide(job=job, moderator=moderator, reason="")

    job_hide(job=job, moderator=moderator, reason=REASON)
    job_hide(job=job, moderator=moderator, reason="Again")
    job_show(job=job, moderator=moderator, reason="The requester removed the question.")
    job_show(job=job, moderator=moderator, reason="Again")

    job.refresh_from_db()
    assert (job.hidden_at, job.hidden_reason) == (None, "")
    assert list(board_jobs()) == [job]
    recorded = list(Event.objects.filter(type__in=["job.hidden", "job.shown"]).order_by("id"))
    assert [(event.type, event.actor_kind, event.actor_id) for event in recorded] == [
        ("job.hidden", ActorKind.MODERATOR, moderator.pk),
        ("job.shown", ActorKind.MODERATOR, moderator.pk),
    ]
    assert recorded[0].data == {"job_id": job.public_id, "reason": REASON}
    assert list(recorded[0].audience.values_list("user_id", flat=True)) == [job.requester_id]


def test_a_paused_hidden_job_stays_hidden_when_its_requester_resumes_it(moderator):
    job = make_job()
    job_pause(job=job, actor=job.requester)
    job_hide(job=job, moderator=moderator, reason=REASON)

    job_resume(job=job, actor=job.requester)

    assert list(board_jobs()) == []


def test_force_close_refunds_the_escrow_nobody_holds_and_keeps_what_live_work_can_claim(moderator, worker):
    job = make_job(tasks=4, reward_msat=10_000)
    requester = job.requester
    make_submitted_assignment(job=job, worker=worker)
    per_slot = job.reward_msat + job.fee_per_assignment_msat
    before = available(requester)

    job_force_close(job=job, moderator=moderator, reason=REASON)

    job.refresh_from_db()
    assert job.status == JobStatus.CLOSED
    assert available(requester) - before == 3 * per_slot
    assert balance_msat(account=account_of_job(job=job)) == per_slot
    closed, force_closed = Event.objects.filter(type__in=["job.closed", "job.force_closed"]).order_by("id")
    assert (closed.type, closed.actor_kind, closed.actor_id) == ("job.closed", ActorKind.MODERATOR, moderator.pk)
    assert (force_closed.type, force_closed.actor_kind, force_closed.actor_id) == (
        "job.force_closed",
        ActorKind.MODERATOR,
        moderator.pk,
    )
    assert force_closed.data == {"job_id": job.public_id, "reason": REASON, "refunded_msat": 3 * per_slot}
    assert ledger_check() == []


def test_the_work_left_on_a_force_closed_job_is_still_paid(moderator, worker):
    job = make_job(tasks=2)
    submitted = make_submitted_assignment(job=job, worker=worker)
    job_force_close(job=job, moderator=moderator, reason=REASON)

    approved = assignment_review(assignment=submitted, reviewer=job.requester, approve=True)

    assert approved.status == AssignmentStatus.APPROVED
    assert balance_msat(account=account_of_job(job=job)) == 0
    assert ledger_check() == []


def test_force_close_happens_once_and_not_to_a_draft(moderator):
    job = make_job()
    job_force_close(job=job, moderator=moderator, reason=REASON)
    job_force_close(job=job, moderator=moderator, reason="Again")
    assert Event.objects.filter(type="job.force_closed").count() == 1

    draft = make_draft_job()
    with pytest.raises(InvalidTransition):
        job_force_close(job=draft, moderator=moderator, reason=REASON)
    with pytest.raises(InvalidInput):
        job_force_close(job=make_job(), moderator=moderator, reason=" ")
    assert ledger_check() == []
