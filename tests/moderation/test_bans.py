"""Bans: a banned user cannot log in, post, claim or use the API; their work in progress goes back to the pool; their
earned balance stays theirs, and what happens to it is a moderator's recorded decision."""

import pytest
from django.urls import reverse

from api.services import api_key_create
from core.errors import InvalidInput, InvalidTransition
from core.models import ActorKind, Event
from marketplace import services as job_services
from marketplace.models import User
from marketplace.users import AccountBanned
from moderation.services import BalanceDecision, NotAModerator, user_balance_decision, user_ban, user_unban
from payments.ledger import ledger_check
from payments.models import Payout, PayoutKind
from tasks.models import AssignmentStatus
from tasks.services import assignment_claim, assignment_submit
from tests.balances import earned
from tests.factories import (
    PASSWORD,
    answer_data,
    give_earnings,
    make_bare_draft,
    make_draft_job,
    make_job,
    make_submitted_assignment,
    make_user,
    set_payout_destination,
)

pytestmark = pytest.mark.django_db

REASON = "Posted the same scam job under three accounts."


def events(event_type: str) -> list[Event]:
    return list(Event.objects.filter(type=event_type).order_by("id"))


def test_a_ban_is_recorded_with_its_reason_and_the_moderator_as_actor(moderator, worker):
    user_ban(user=worker, moderator=moderator, reason=f"  {REASON}  ")

    worker.refresh_from_db()
    assert worker.banned_at is not None
    assert worker.ban_reason == REASON
    assert worker.is_active is False
    [event] = events("user.banned")
    assert (event.actor_kind, event.actor_id) == (ActorKind.MODERATOR, moderator.pk)
    assert (event.subject_type, event.subject_id) == ("user", worker.public_id)
    assert event.data["reason"] == REASON
    assert list(event.audience.values_list("user_id", flat=True)) == [worker.pk]


def test_a_ban_needs_a_reason_and_a_second_ban_changes_nothing(moderator, worker):
    with pytest.raises(InvalidInput):
        user_ban(user=worker, moderator=moderator, reason="   ")
    worker.refresh_from_db()
    assert worker.banned_at is None
    assert worker.is_active

    user_ban(user=worker, moderator=moderator, reason=REASON)
    first = User.objects.get(pk=worker.pk).banned_at
    user_ban(user=worker, moderator=moderator, reason="Another reason")

    worker.refresh_from_db()
    assert (worker.banned_at, worker.ban_reason) == (first, REASON)
    assert len(events("user.banned")) == 1


def test_moderators_cannot_ban_themselves_or_staff_and_only_staff_can_ban(moderator, worker, superuser):
    with pytest.raises(InvalidInput):
        user_ban(user=moderator, moderator=moderator, reason=REASON)
    with pytest.raises(InvalidTransition):
        user_ban(user=superuser, moderator=moderator, reason=REASON)
    with pytest.raises(NotAModerator):
        user_ban(user=worker, moderator=make_user(), reason=REASON)
    assert not User.objects.filter(banned_at__isnull=False).exists()


def test_a_ban_returns_the_tasks_in_progress_and_leaves_submitted_work_to_be_reviewed(moderator, worker):
    job = make_job(tasks=3)
    in_progress = assignment_claim(job=job, worker=worker)
    other_job = make_job(tasks=2)
    submitted = make_submitted_assignment(job=other_job, worker=worker)

    user_ban(user=worker, moderator=moderator, reason=REASON)

    in_progress.refresh_from_db()
    submitted.refresh_from_db()
    job.refresh_from_db()
    assert in_progress.status == AssignmentStatus.RETURNED
    assert submitted.status == AssignmentStatus.SUBMITTED
    assert (job.open_slot_count, job.live_assignment_count) == (3, 0)
    [banned] = events("user.banned")
    assert banned.data["returned_assignment_ids"] == [in_progress.public_id]
    assert [event.subject_id for event in events("assignment.returned")] == [in_progress.public_id]
    # The audit log names the moderator whose ban released it, not the worker.
    assert [event.actor_id for event in events("assignment.returned")] == [moderator.pk]
    assert ledger_check() == []


def test_a_banned_user_cannot_log_in_and_is_told_why(client, moderator, worker):
    user_ban(user=worker, moderator=moderator, reason=REASON)

    response = client.post(reverse("account_login"), {"login": worker.username, "password": PASSWORD})

    assert response.status_code == 403
    page = response.content.decode()
    assert "This account is banned" in page
    assert REASON in page
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_for_a_banned_account_says_nothing_of_the_ban(client, moderator, worker):
    user_ban(user=worker, moderator=moderator, reason=REASON)

    response = client.post(reverse("account_login"), {"login": worker.username, "password": "not the password"})

    assert "banned" not in response.content.decode()
    assert REASON not in response.content.decode()


def test_a_ban_ends_the_sessions_the_user_has(client, moderator, worker):
    client.force_login(worker)
    assert client.get(reverse("worker_dashboard")).status_code == 200

    user_ban(user=worker, moderator=moderator, reason=REASON)

    response = client.get(reverse("worker_dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


def test_a_banned_worker_cannot_claim_even_through_a_user_read_before_the_ban(moderator, worker):
    job = make_job(tasks=2)
    stale = User.objects.get(pk=worker.pk)

    user_ban(user=worker, moderator=moderator, reason=REASON)

    with pytest.raises(AccountBanned):
        assignment_claim(job=job, worker=stale)
    job.refresh_from_db()
    assert job.live_assignment_count == 0


def test_a_banned_requester_cannot_post_or_publish(moderator, requester):
    draft = make_draft_job(requester=requester)

    user_ban(user=requester, moderator=moderator, reason=REASON)
    requester.refresh_from_db()

    with pytest.raises(AccountBanned):
        make_bare_draft(requester=requester)
    with pytest.raises(AccountBanned):
        job_services.job_publish(job=draft, actor=requester)
    draft.refresh_from_db()
    assert draft.is_draft


def test_the_api_refuses_a_banned_users_keys(client, moderator, worker):
    _, secret = api_key_create(user=worker, name="script")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/board", headers=headers).status_code == 200

    user_ban(user=worker, moderator=moderator, reason=REASON)

    response = client.get("/api/v1/board", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"


def test_an_unban_lets_the_user_back_in(client, moderator, worker):
    user_ban(user=worker, moderator=moderator, reason=REASON)

    with pytest.raises(InvalidInput):
        user_unban(user=worker, moderator=moderator, reason="")
    user_unban(user=worker, moderator=moderator, reason="Appeal accepted: a shared household IP.")
    user_unban(user=worker, moderator=moderator, reason="Again")

    worker.refresh_from_db()
    assert (worker.banned_at, worker.ban_reason, worker.is_active) == (None, "", True)
    [event] = events("user.unbanned")
    assert (event.actor_kind, event.actor_id) == (ActorKind.MODERATOR, moderator.pk)
    response = client.post(reverse("account_login"), {"login": worker.username, "password": PASSWORD})
    assert response.status_code == 302
    assignment = assignment_claim(job=make_job(), worker=worker)
    assert assignment_submit(assignment=assignment, worker=worker, data=answer_data()).status == "submitted"


def test_holding_a_banned_workers_balance_is_recorded_and_moves_nothing(moderator, worker):
    give_earnings(worker, 21_500)
    user_ban(user=worker, moderator=moderator, reason=REASON)

    payout = user_balance_decision(
        user=worker, moderator=moderator, decision=BalanceDecision.HOLD, note="Held until the appeal."
    )

    assert payout is None
    assert earned(worker) == 21_500
    [event] = events("user.balance_decided")
    assert (event.actor_kind, event.actor_id) == (ActorKind.MODERATOR, moderator.pk)
    assert event.data | {"note": ""} == {
        "user_id": worker.public_id,
        "decision": "hold",
        "note": "",
        "earned_msat": 21_500,
        "payout_id": None,
    }


def test_paying_a_banned_workers_balance_out_goes_through_the_payouts(moderator, worker):
    give_earnings(worker, 21_500)
    set_payout_destination(worker, "worker@wallet.example", auto_payout=False)
    user_ban(user=worker, moderator=moderator, reason=REASON)

    payout = user_balance_decision(
        user=worker, moderator=moderator, decision=BalanceDecision.PAY_OUT, note="Earned honestly before the scam."
    )

    assert (payout.kind, payout.amount_msat, payout.destination) == (
        PayoutKind.LNURL_PAY,
        21_000,
        "worker@wallet.example",
    )
    assert earned(worker) == 500  # the fraction of a sat waits, as with every payout
    assert events("user.balance_decided")[0].data["payout_id"] == payout.public_id
    assert ledger_check() == []


def test_a_balance_decision_is_for_banned_users_and_paying_out_needs_an_address(moderator, worker):
    give_earnings(worker, 5_000)
    with pytest.raises(InvalidTransition):
        user_balance_decision(user=worker, moderator=moderator, decision=BalanceDecision.HOLD, note="Hold")
    user_ban(user=worker, moderator=moderator, reason=REASON)
    with pytest.raises(InvalidInput):
        user_balance_decision(user=worker, moderator=moderator, decision=BalanceDecision.PAY_OUT, note="Pay")
    with pytest.raises(InvalidInput):
        user_balance_decision(user=worker, moderator=moderator, decision="forfeit", note="Keep it")
    assert not Payout.objects.exists()
    assert not events("user.balance_decided")
