"""Disputes: each step tells the side that did not take it (a moderator's steps tell both)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from core.migration_operations import MODERATORS_GROUP
from notifications.models import NotificationKind
from tasks import disputes
from tasks.models import RejectionReason
from tasks.services import assignment_review
from tests.factories import make_job, make_submitted_assignment, make_user
from tests.notifications.conftest import notifications_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def rejected(requester, worker):
    job = make_job(requester=requester, tasks=2, reward_msat=21_000)
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(
        assignment=assignment,
        reviewer=requester,
        approve=False,
        feedback="Wrong sentiment.",
        rejection_reason=RejectionReason.WRONG_CHECKED_ANSWER,
    )


@pytest.fixture
def dispute(rejected, worker):
    return disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="It was positive.")


@pytest.fixture
def moderator(db):
    user = make_user("moderator")
    user.groups.add(Group.objects.get_or_create(name=MODERATORS_GROUP)[0])
    return user


def test_a_dispute_opened_tells_the_requester_with_the_workers_message(committed, rejected, requester, worker):
    with committed():
        dispute = disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="It was positive.")

    [notification] = notifications_of(requester)
    assert notification.kind == NotificationKind.DISPUTE_OPENED
    assert notification.title == "Dispute opened: “Rate a review”"
    assert "A worker disputes your rejection of task 1 of “Rate a review”." in notification.body
    assert "Their message: It was positive." in notification.body
    assert notification.subject_id == dispute.public_id
    assert notification.link == reverse("dispute_detail", args=[dispute.public_id])
    assert notifications_of(worker) == []  # they opened it


def test_a_dispute_answered_tells_the_worker(committed, dispute, requester, worker):
    with committed():
        disputes.dispute_answer(dispute_id=dispute.public_id, requester=requester, message="It said 'awful'.")

    [notification] = notifications_of(worker)
    assert notification.kind == NotificationKind.DISPUTE_ANSWERED
    assert "Their answer: It said 'awful'." in notification.body
    assert notifications_of(requester) == []


def test_a_dispute_sent_to_the_moderators_tells_both_sides(committed, dispute, requester, worker):
    with committed():
        assert disputes.disputes_escalate_due(now=timezone.now() + timedelta(days=30)) == 1

    for user in (worker, requester):
        [notification] = notifications_of(user)
        assert notification.kind == NotificationKind.DISPUTE_ESCALATED
        assert "the dispute went to the moderators" in notification.body


def test_a_moderators_message_in_a_dispute_tells_both_sides(committed, dispute, moderator, requester, worker):
    with committed():
        disputes.dispute_message_add(dispute_id=dispute.public_id, author=moderator, body="Please send the review.")

    for user in (worker, requester):
        [notification] = notifications_of(user)
        assert notification.kind == NotificationKind.DISPUTE_MESSAGE
        assert "A moderator wrote in the dispute" in notification.body
        assert "Please send the review." in notification.body


def test_a_rejection_withdrawn_tells_the_worker_they_were_paid(committed, dispute, requester, worker):
    with committed():
        disputes.dispute_withdraw_rejection(dispute_id=dispute.public_id, requester=requester)

    decided = notifications_of(worker, kind=NotificationKind.DISPUTE_DECIDED)
    withdrawn = "The requester withdrew the rejection of task 1 of “Rate a review”: the work is approved"
    assert [n.body for n in decided] == [f"{withdrawn} and you were paid 21 sats."]
    [approved] = notifications_of(worker, kind=NotificationKind.WORK_APPROVED)
    assert "was approved after your dispute" in approved.body
    assert notifications_of(requester, kind=NotificationKind.DISPUTE_DECIDED) == []


@pytest.mark.parametrize(
    ("overturn", "to_worker", "to_requester"),
    [
        (True, "the work is approved and you were paid 21 sats.", "the work is approved and paid from the held sats."),
        (False, ": it stands.", ": the held sats went back to the job's escrow or your balance."),
    ],
    ids=["overturned", "upheld"],
)
def test_a_moderators_decision_tells_both_sides_with_the_reason(
    committed, dispute, moderator, requester, worker, overturn, to_worker, to_requester
):
    with committed():
        disputes.dispute_decide(
            dispute_id=dispute.public_id, moderator=moderator, overturn=overturn, reason="The review was clear."
        )

    [for_worker] = notifications_of(worker, kind=NotificationKind.DISPUTE_DECIDED)
    [for_requester] = notifications_of(requester, kind=NotificationKind.DISPUTE_DECIDED)
    assert for_worker.title == for_requester.title == "Dispute decided: “Rate a review”"
    assert to_worker in for_worker.body
    assert to_requester in for_requester.body
    for notification in (for_worker, for_requester):
        assert notification.body.endswith("The moderator's reason: The review was clear.")
    assert notifications_of(moderator) == []
