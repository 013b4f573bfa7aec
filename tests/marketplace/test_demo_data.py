"""`manage.py load_demo_data`, which `make run` calls: real deposits, funded jobs, idempotent."""

from io import StringIO

import pytest
from django.core.management import call_command

from marketplace.escrow import escrow_per_slot_msat
from marketplace.models import Job, JobStatus, User
from payments.models import Deposit, DepositStatus, PayoutDestination
from payments.selectors import wallet_summary
from tasks.models import Assignment, AssignmentStatus, ReviewSource, TaskKind

pytestmark = pytest.mark.django_db


def test_demo_data_publishes_four_funded_jobs_and_can_be_loaded_again(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    out = StringIO()

    call_command("load_demo_data", stdout=out)
    call_command("load_demo_data", stdout=out)

    requester = User.objects.get(username="requester")
    jobs = Job.objects.filter(requester=requester)
    assert jobs.count() == 4
    assert set(jobs.values_list("status", flat=True)) == {JobStatus.PUBLISHED}
    assert {job.form_kind for job in jobs} == {"builder", "html"}
    assert Deposit.objects.get(user=requester).status == DepositStatus.PAID
    summary = wallet_summary(user=requester)
    assert summary["escrow_msat"] > 0
    # What the rules approved on the checked job was paid out of its escrow (reward and fee of each).
    approved = Assignment.objects.filter(job__requester=requester, status=AssignmentStatus.APPROVED).select_related(
        "job"
    )
    spent = sum(escrow_per_slot_msat(assignment.job) for assignment in approved)
    assert summary["available_msat"] + summary["escrow_msat"] + spent == 200_000_000
    assert PayoutDestination.objects.get(user__username="alice").address == "alice@127.0.0.1:8000"
    assert User.objects.get(username="bob").check_password("boltwork-demo")
    assert "boltwork-demo" in out.getvalue()


def test_demo_data_has_a_checked_job_whose_rules_approved_most_work_and_sent_the_rest_to_the_requester(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    call_command("load_demo_data", stdout=StringIO())

    job = Job.objects.get(title__startswith="Is this review positive? Checked answers")
    assert job.quality.approve_accuracy_percent == 80
    assert job.tasks.filter(kind=TaskKind.CONTROL).count() == 10
    dana = list(Assignment.objects.filter(job=job, worker__username="dana").select_related("task").order_by("pk"))
    eve = Assignment.objects.filter(job=job, worker__username="eve")
    assert len(dana) == 10
    assert all(assignment.quality_checked_at for assignment in dana)
    # The careful worker's work waits until two controls went by (right), then each answer is approved by the rule
    # as it is submitted. Which tasks were controls is drawn at random, so the test follows the draw.
    controls_seen = 0
    for assignment in dana:
        controls_seen += assignment.task.kind == TaskKind.CONTROL
        if controls_seen >= 2:
            assert (assignment.status, assignment.review_source) == (AssignmentStatus.APPROVED, ReviewSource.RULE)
        else:
            assert (assignment.status, assignment.flag_reason) == (AssignmentStatus.SUBMITTED, "")
    # The hurried worker's answers went to the requester.
    assert eve.count() == eve.exclude(flag_reason="").filter(status=AssignmentStatus.SUBMITTED).count() == 3
