"""`manage.py load_demo_data`, which `make run` calls: real deposits, funded jobs, idempotent."""

from io import StringIO

import pytest
from django.core.management import call_command

from marketplace.models import Job, JobStatus, User
from payments.models import Deposit, DepositStatus, PayoutDestination
from payments.selectors import wallet_summary

pytestmark = pytest.mark.django_db


def test_demo_data_publishes_three_funded_jobs_and_can_be_loaded_again(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    out = StringIO()

    call_command("load_demo_data", stdout=out)
    call_command("load_demo_data", stdout=out)

    requester = User.objects.get(username="requester")
    jobs = Job.objects.filter(requester=requester)
    assert jobs.count() == 3
    assert set(jobs.values_list("status", flat=True)) == {JobStatus.PUBLISHED}
    assert {job.form_kind for job in jobs} == {"builder", "html"}
    assert Deposit.objects.get(user=requester).status == DepositStatus.PAID
    summary = wallet_summary(user=requester)
    assert summary["escrow_msat"] > 0
    assert summary["available_msat"] + summary["escrow_msat"] == 200_000_000
    assert PayoutDestination.objects.get(user__username="alice").address == "alice@127.0.0.1:8000"
    assert User.objects.get(username="bob").check_password("boltwork-demo")
    assert "boltwork-demo" in out.getvalue()
