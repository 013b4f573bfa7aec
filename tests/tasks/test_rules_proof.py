"""The proof of issue 12's promise: on a job whose rules are on, most work is approved by a rule and paid within
seconds of its submission, and the rest goes to the requester.

A crowd works through the real pages: each worker takes a task (30 s ago, as if they had been reading it) and
submits it through the site; the quality pipeline runs on commit of the submission, in the same request; the
approval's payout job runs at once (Celery eager) and pays the worker's Lightning Address at the development
backend's test wallet served by the live server. Honest workers answer right, a sloppy one gets the controls wrong
(rejected, with the right answer), a hurried one answers in a second (flagged for the requester). The figures (share
approved by a rule, median seconds from submission to approval and to the sats arriving) are printed (`-s`) and
kept in docs/figures.md.
"""

import statistics
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from payments.models import Payout, PayoutState
from tasks.models import Assignment, AssignmentStatus, ReviewSource
from tasks.services import assignment_claim
from tests.factories import answer_data, make_quality_job, make_user, set_payout_destination
from tests.html_parsing import visible_text

pytestmark = pytest.mark.django_db(transaction=True)

HONEST, TASKS_EACH = 3, 25


@pytest.fixture
def test_wallets(live_server, settings):
    """Workers are paid to the live server's development test wallet (the development Lightning backend)."""
    host = urlsplit(live_server.url).netloc
    settings.LIGHTNING_BACKEND = "dev"
    settings.BITCOIN_NETWORK = "mainnet"
    settings.LNURL_ALLOWED_INSECURE_HOSTS = [host]
    return host


def work_through_the_site(job, worker, *, sentiment: str, seconds: float) -> Assignment:
    """Take a task `seconds` ago and submit it through the page, as the worker's browser does."""
    assignment = assignment_claim(job=job, worker=worker, now=timezone.now() - timedelta(seconds=seconds))
    browser = Client()
    browser.force_login(worker)
    response = browser.post(reverse("assignment_submit", args=[assignment.public_id]), answer_data(sentiment))
    assert response.status_code == 302
    return assignment


def paid_at(assignment: Assignment):
    """When the sats of an approved assignment arrived: the first payout to its worker created at or after the
    approval that succeeded (a payout takes the worker's whole balance)."""
    payout = (
        Payout.objects.filter(worker_id=assignment.worker_id, created_at__gte=assignment.reviewed_at)
        .filter(state=PayoutState.SUCCEEDED)
        .order_by("created_at")
        .first()
    )
    return payout.settled_at if payout else None


def test_rules_approve_and_pay_most_work_within_seconds_and_send_the_rest_to_the_requester(
    test_wallets, background_jobs_run_at_once
):
    requester = make_user("lab")
    job = make_quality_job(
        requester=requester,
        regular=60,
        controls=60,
        terms={"title": "Is this review positive?", "auto_approve_seconds": 3 * 24 * 3600},
        control_rate_percent=50,
        accuracy_window=10,
        approve_accuracy_percent=80,
        approve_after_controls=2,
        reject_wrong_controls=True,
        flag_faster_than_seconds=3,
    )
    honest = [make_user(f"honest{n}", funds_sats=0) for n in range(HONEST)]
    sloppy, hurried = make_user("sloppy", funds_sats=0), make_user("hurried", funds_sats=0)
    for worker in (*honest, sloppy, hurried):
        set_payout_destination(worker, f"{worker.username}@{test_wallets}")

    work = []
    for round_number in range(TASKS_EACH):
        for worker in honest:
            work.append(work_through_the_site(job, worker, sentiment="Positive", seconds=20 + round_number))
        if round_number < 8:
            work.append(work_through_the_site(job, sloppy, sentiment="Negative", seconds=25))
        if round_number < 6:
            work.append(work_through_the_site(job, hurried, sentiment="Positive", seconds=1))

    done = list(Assignment.objects.filter(pk__in=[item.pk for item in work]).select_related("task"))
    by_rule = [item for item in done if item.review_source == ReviewSource.RULE and item.status == "approved"]
    rejected = [item for item in done if item.status == AssignmentStatus.REJECTED]
    to_requester = [item for item in done if item.status == AssignmentStatus.SUBMITTED]
    flagged = [item for item in to_requester if item.flag_reason]
    share = len(by_rule) / len(done)
    to_approval = [(item.reviewed_at - item.submitted_at).total_seconds() for item in by_rule]
    to_paid = [(paid_at(item) - item.submitted_at).total_seconds() for item in by_rule]
    print(
        f"\n{len(done)} submissions: {len(by_rule)} approved by a rule ({share:.0%}), {len(rejected)} rejected by a "
        f"rule, {len(to_requester)} for the requester ({len(flagged)} flagged); submission → approved: median "
        f"{statistics.median(to_approval):.3f} s, max {max(to_approval):.3f} s; submission → paid: median "
        f"{statistics.median(to_paid):.3f} s, max {max(to_paid):.3f} s"
    )

    assert share > 0.5
    assert max(to_approval) < 5
    assert max(to_paid) < 10
    assert all(item.worker_id in {worker.pk for worker in honest} for item in by_rule)
    assert {item.worker_id for item in rejected} == {sloppy.pk}
    assert all(item.task.kind == "control" for item in rejected)
    assert {item.worker_id for item in flagged} == {hurried.pk}
    assert len(flagged) == 6
    # Each approval paid exactly once: every sat the rules approved reached the workers' wallets, no more.
    approved_msat = len(by_rule) * job.reward_msat
    paid_msat = sum(Payout.objects.filter(state=PayoutState.SUCCEEDED).values_list("amount_msat", flat=True))
    assert paid_msat == approved_msat
    # The rest is on the requester's review screen, the flagged ones saying why.
    boss = Client()
    boss.force_login(requester)
    queue = visible_text(boss.get(reverse("review_queue", args=[job.public_id])).content.decode())
    assert queue.count("Sent to you by a rule") == len(flagged)
