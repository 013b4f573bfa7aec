"""Issue 10: the dispute pages and the moderators' dispute screen in the admin."""

import pytest
from django.urls import reverse

from payments.ledger import ledger_check
from tasks import disputes
from tasks.models import AssignmentStatus, Dispute, DisputeStatus
from tasks.services import assignment_review
from tests.balances import earned
from tests.factories import make_job, make_moderator, make_submitted_assignment, make_user
from tests.html_parsing import visible_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(db):
    return make_moderator("mod")


@pytest.fixture
def rejected(requester, worker):
    job = make_job(requester=requester, tasks=2, instructions="Label **every** photo.")
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(
        assignment=assignment,
        reviewer=requester,
        approve=False,
        feedback="You skipped it.",
        rejection_reason="incomplete",
    )


def test_the_rejected_worker_sees_the_reason_and_opens_a_dispute_once(client, worker, rejected):
    client.force_login(worker)
    page = visible_text(client.get(reverse("assignment_detail", args=[rejected.public_id])).content.decode())
    assert "Rejected: Incomplete" in page
    assert "You skipped it." in page
    url = reverse("dispute_open", args=[rejected.public_id])
    for _ in range(2):
        response = client.post(url, {"message": "I labelled it.", "form_token": "dispute-once"})
    dispute = Dispute.objects.get()
    assert response.status_code == 302
    assert dispute.messages.count() == 1
    page = visible_text(client.get(reverse("dispute_detail", args=[dispute.public_id])).content.decode())
    assert "Waiting for the requester" in page
    assert "I labelled it." in page
    assert "Label every photo." in page


def test_a_dispute_page_is_not_found_for_anyone_else(client, worker, rejected):
    dispute = disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="m")
    client.force_login(make_user())
    assert client.get(reverse("dispute_detail", args=[dispute.public_id])).status_code == 404
    response = client.post(reverse("dispute_act", args=[dispute.public_id]), {"action": "withdraw"})
    assert response.status_code == 302
    assert Dispute.objects.get().status == DisputeStatus.OPEN


def test_the_requester_answers_and_withdraws_from_the_page(client, requester, worker, rejected):
    dispute = disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="Please look.")
    client.force_login(requester)
    act = reverse("dispute_act", args=[dispute.public_id])
    client.post(act, {"action": "answer", "text": "Photo 3 has no label."})
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.ANSWERED
    client.post(act, {"action": "withdraw"})
    dispute.refresh_from_db()
    rejected.refresh_from_db()
    assert (dispute.status, rejected.status) == (DisputeStatus.WITHDRAWN, AssignmentStatus.APPROVED)
    assert earned(worker) == rejected.job.reward_msat
    assert ledger_check() == []


def test_a_moderator_overturns_in_the_admin_and_the_worker_is_paid_once(client, worker, rejected, moderator):
    dispute = disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="Look.")
    client.force_login(moderator)
    changelist = client.get(reverse("admin:tasks_dispute_changelist"))
    assert changelist.status_code == 200
    screen = client.get(reverse("admin:tasks_dispute_change", args=[dispute.pk])).content.decode()
    assert "You skipped it." in screen
    assert "Look." in screen
    decide = reverse("admin:tasks_dispute_decide", args=[dispute.pk])
    assert client.post(decide, {"decision": "overturn", "reason": ""}).status_code == 302
    assert Dispute.objects.get().status == DisputeStatus.OPEN  # no reason, no decision
    for _ in range(2):
        client.post(decide, {"decision": "overturn", "reason": "Every photo is labelled."})
    dispute.refresh_from_db()
    assert dispute.status == DisputeStatus.OVERTURNED
    assert dispute.decided_by == moderator
    assert earned(worker) == rejected.job.reward_msat
    assert ledger_check() == []


def test_a_worker_cannot_open_the_admin_nor_decide(client, worker, rejected):
    dispute = disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="m")
    client.force_login(worker)
    assert client.get(reverse("admin:tasks_dispute_changelist")).status_code == 302  # to the admin's login
    client.post(reverse("dispute_act", args=[dispute.public_id]), {"action": "overturn", "text": "Mine!"})
    assert Dispute.objects.get().status == DisputeStatus.OPEN


def test_the_list_shows_ones_own_disputes_and_the_queue_to_moderators(client, worker, rejected, moderator):
    disputes.dispute_open(assignment_id=rejected.public_id, worker=worker, message="m")
    client.force_login(worker)
    page = visible_text(client.get(reverse("dispute_list")).content.decode())
    assert "Task 1 of Rate a review" in page
    assert "For moderators" not in page
    client.force_login(moderator)
    assert "For moderators: live disputes" in visible_text(client.get(reverse("dispute_list")).content.decode())


def test_a_moderator_decides_a_held_mass_rejection_from_the_disputes_page(client, requester, worker, moderator):
    job = make_job(requester=requester, tasks=3)
    work = [make_submitted_assignment(job=job, worker=worker) for _ in range(3)]
    for assignment in work:
        assignment_review(assignment=assignment, reviewer=requester, approve=False, feedback="No.")
    held = work[2]
    client.force_login(moderator)
    page = visible_text(client.get(reverse("dispute_list")).content.decode())
    assert "For moderators: mass rejections held" in page
    client.post(reverse("rejection_hold_decide", args=[held.public_id]), {"decision": "approve", "note": "Fair work."})
    held.refresh_from_db()
    assert held.status == AssignmentStatus.APPROVED
    assert earned(worker) == job.reward_msat


def test_the_moderators_front_page_links_every_queue_and_each_opens(client, moderator):
    client.force_login(moderator)
    page = client.get(reverse("admin:index")).content.decode()
    queues = [
        reverse("admin:tasks_dispute_changelist"),
        reverse("dispute_list"),
        reverse("admin:moderation_report_changelist"),
        reverse("admin:payments_payout_changelist") + "?attention=waiting",
        reverse("admin:payments_reconciliation"),
    ]
    for url in queues:
        assert f'href="{url}"' in page.replace("&amp;", "&")
        assert client.get(url).status_code == 200, url
