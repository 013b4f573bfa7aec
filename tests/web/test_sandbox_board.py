"""Issue 13: the sandbox board at /sandbox/, the play-money banner, the sandbox balance's top-up, and sandbox work
kept apart from everything real: the job board, the API's board, work alerts, earnings and reputations."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.selectors import jobs_not_matched_to_alerts
from alerts.services import job_alerts_match, saved_search_create
from marketplace.models import WorkerStats
from payments.sandbox import sandbox_balance_msat, sandbox_balance_target_msat
from tasks.models import RejectionReason
from tasks.reputations import reputations_refresh
from tasks.selectors import worker_stats
from tasks.services import assignment_review
from tests.api.conftest import api_client_for
from tests.balances import available
from tests.factories import make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db

BANNER = "Sandbox — play money, no real payment."


def listed(response) -> list[int]:
    assert response.status_code == 200
    return [job.pk for job in response.context["page"].object_list]


def test_the_sandbox_board_lists_sandbox_jobs_only_and_no_other_board_lists_them(client, requester, worker):
    real = make_job(requester=requester, title="Label real photos")
    play = make_job(requester=requester, title="Label sandbox photos", sandbox=True)

    sandbox_page = client.get(reverse("sandbox_board"))
    assert listed(sandbox_page) == [play.pk]
    assert BANNER in sandbox_page.content.decode()
    assert "play sats" in sandbox_page.content.decode()
    assert listed(client.get(reverse("board"))) == [real.pk]
    assert BANNER not in client.get(reverse("board")).content.decode()
    # The same filters, on sandbox jobs only.
    assert listed(client.get(reverse("sandbox_board"), {"q": "sandbox"})) == [play.pk]
    assert listed(client.get(reverse("sandbox_board"), {"q": "real"})) == []
    assert listed(client.get(reverse("board"), {"q": "sandbox"})) == []

    api_board = api_client_for(worker).get("/board")
    assert api_board.status_code == 200
    assert [item["id"] for item in api_board.json()["items"]] == [real.public_id]


def test_a_sandbox_jobs_pages_carry_the_play_money_banner_and_anyone_can_work_on_it(worker_client, requester, worker):
    play = make_job(requester=requester, sandbox=True)
    real = make_job(requester=requester)
    assert BANNER in worker_client.get(reverse("job_detail", args=[play.public_id])).content.decode()
    assert BANNER not in worker_client.get(reverse("job_detail", args=[real.public_id])).content.decode()
    assert BANNER in worker_client.get(reverse("job_task_preview", args=[play.public_id])).content.decode()

    # "Start working" claims a task of a sandbox job exactly as of a real one; its page says it is play money.
    started = worker_client.post(reverse("job_start", args=[play.public_id]))
    assert started.status_code == 302
    task_page = worker_client.get(started["Location"])
    assert task_page.status_code == 200
    assert BANNER in task_page.content.decode()


def test_a_requester_tops_up_their_sandbox_balance_from_their_dashboard(requester_client, requester):
    real_before = available(requester)
    dashboard = requester_client.get(reverse("requester_dashboard")).content.decode()
    assert "Top up my sandbox balance" in dashboard
    assert "play money" in dashboard

    assert requester_client.get(reverse("sandbox_top_up")).status_code == 405
    response = requester_client.post(reverse("sandbox_top_up"), follow=True)
    assert response.redirect_chain == [(reverse("requester_dashboard"), 302)]
    assert sandbox_balance_msat(user=requester) == sandbox_balance_target_msat()
    page = response.content.decode()
    assert "play sats to your sandbox balance" in page
    assert f'id="sandbox-balance">{sandbox_balance_target_msat() // 1000:,}<' in page
    assert "Top up my sandbox balance" not in page  # full: nothing to top up

    again = requester_client.post(reverse("sandbox_top_up"), follow=True)
    assert "already full" in again.content.decode()
    assert sandbox_balance_msat(user=requester) == sandbox_balance_target_msat()
    assert available(requester) == real_before


def test_a_sandbox_draft_is_published_from_the_sandbox_balance(requester_client, requester, settings):
    settings.SANDBOX_BALANCE_USD = 0  # nothing to spend yet
    draft = make_job(requester=requester, sandbox=True, publish=False)
    manage = reverse("job_manage", args=[draft.public_id])
    page = requester_client.get(manage).content.decode()
    assert BANNER in page
    assert "your sandbox balance: play money" in page
    assert "Top up my sandbox balance" in page
    assert reverse("deposit_new") not in page  # no deposit of real money offered for play money

    settings.SANDBOX_BALANCE_USD = 1
    real_before = available(requester)
    topped_up = requester_client.post(reverse("sandbox_top_up"), {"next": manage})
    assert topped_up["Location"] == manage  # back to the draft
    assert requester_client.post(reverse("sandbox_top_up"), {"next": "https://evil.example/"})["Location"] == (
        reverse("requester_dashboard")
    )
    requester_client.post(reverse("job_action", args=[draft.public_id, "publish"]))
    draft.refresh_from_db()
    assert draft.status == "published"
    spent = 3 * (draft.reward_msat + draft.fee_per_assignment_msat)
    assert sandbox_balance_msat(user=requester) == sandbox_balance_target_msat() - spent
    assert available(requester) == real_before


def test_the_worker_dashboard_shows_sandbox_earnings_apart(worker_client, requester, worker):
    for job in (make_job(requester=requester, reward_msat=10_000), make_job(requester=requester, sandbox=True)):
        assignment = make_submitted_assignment(job=job, worker=worker)
        assignment_review(assignment=assignment, reviewer=requester, approve=True)
    make_submitted_assignment(job=make_job(requester=requester, sandbox=True, reward_msat=30_000), worker=worker)

    response = worker_client.get(reverse("worker_dashboard"))
    stats = response.context["stats"]
    assert (stats["pending_msat"], stats["approved_msat"]) == (0, 10_000)
    assert (stats["sandbox_pending_msat"], stats["sandbox_approved_msat"]) == (30_000, 10_000)
    assert (stats["approved"], stats["approval_rate"]) == (2, 100)
    page = response.content.decode()
    assert 'id="approved-earnings">10<' in page
    assert 'id="sandbox-approved-earnings">10<' in page
    assert 'id="sandbox-pending-earnings">30<' in page
    assert page.count('<span class="badge">Sandbox</span>') == 2  # the two sandbox assignments in the list


def test_no_work_alert_for_a_sandbox_job(requester, worker):
    saved_search_create(worker=worker, keywords="review")
    play = make_job(requester=requester, sandbox=True)
    assert job_alerts_match(job_id=play.public_id) == []
    later = timezone.now() + timedelta(minutes=5)
    assert play.public_id not in jobs_not_matched_to_alerts(now=later)
    real = make_job(requester=requester)
    assert job_alerts_match(job_id=real.public_id) == [worker.pk]


def test_sandbox_work_counts_toward_no_reputation(requester):
    worker = make_user(funds_sats=0)
    play = make_job(requester=requester, sandbox=True, tasks=2)
    assignment_review(assignment=make_submitted_assignment(job=play, worker=worker), reviewer=requester, approve=True)
    assignment_review(
        assignment=make_submitted_assignment(job=play, worker=worker),
        reviewer=requester,
        approve=False,
        feedback="Empty.",
        rejection_reason=RejectionReason.INCOMPLETE,
    )
    reputations_refresh(full=True)
    assert not WorkerStats.objects.filter(worker=worker).exists()
    assert worker_stats(worker=worker)["approval_rate"] is None  # their dashboard's rate, too

    real = make_job(requester=requester, tasks=1)
    assignment_review(assignment=make_submitted_assignment(job=real, worker=worker), reviewer=requester, approve=True)
    reputations_refresh(full=True)
    stats = WorkerStats.objects.get(worker=worker)
    assert (stats.approved_count, stats.rejected_count, stats.approval_percent) == (1, 0, 100)
