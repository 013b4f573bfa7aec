"""Issue 9: a requester edits or removes tasks nobody has claimed; removing one from a live job refunds its escrow."""

import pytest
from django.urls import reverse

from core.errors import InvalidInput, InvalidTransition, NotFound
from marketplace import services as job_services
from marketplace.escrow import escrow_per_slot_msat
from payments.ledger import account_of_job, balance_msat, ledger_check
from tasks import services as task_services
from tests.balances import available
from tests.factories import make_claimed_assignment, make_draft_job, make_job, make_user

pytestmark = pytest.mark.django_db


def first_task(job):
    return job.tasks.order_by("position").first()


def test_removing_an_unclaimed_task_of_a_live_job_refunds_its_escrow(requester):
    job = make_job(requester=requester, tasks=3, assignments_per_task=2)
    before = available(requester)
    task = first_task(job)
    task_services.task_remove(job=job, actor=requester, task_id=task.public_id)
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count) == (2, 4)
    assert available(requester) == before + 2 * escrow_per_slot_msat(job)
    assert balance_msat(account=account_of_job(job=job)) == 4 * escrow_per_slot_msat(job)
    assert not job.tasks.filter(pk=task.pk).exists()
    assert ledger_check() == []


def test_a_claimed_task_can_be_neither_edited_nor_removed(requester, worker):
    job = make_job(requester=requester, tasks=1, assignments_per_task=2)
    make_claimed_assignment(job=job, worker=worker)
    task = first_task(job)
    with pytest.raises(InvalidTransition, match="already taken"):
        task_services.task_remove(job=job, actor=requester, task_id=task.public_id)
    with pytest.raises(InvalidTransition, match="already taken"):
        task_services.task_update(job=job, actor=requester, task_id=task.public_id, row={"review": "changed"})
    task.refresh_from_db()
    assert task.input == {"review": "Review number 1"}


def test_a_closed_jobs_tasks_cannot_change(requester):
    job = make_job(requester=requester, tasks=2)
    job_services.job_close(job=job, actor=requester)
    with pytest.raises(InvalidTransition, match="closed"):
        task_services.task_remove(job=job, actor=requester, task_id=first_task(job).public_id)


def test_someone_elses_task_is_not_found(requester):
    job = make_job(requester=requester, tasks=1)
    stranger = make_user()
    with pytest.raises(NotFound):
        task_services.task_remove(job=job, actor=stranger, task_id=first_task(job).public_id)
    with pytest.raises(NotFound):
        task_services.task_remove(job=job, actor=requester, task_id="not-an-id")


def test_editing_checks_the_row_like_adding_does(requester):
    job = make_draft_job(requester=requester, tasks=2)
    task = first_task(job)
    with pytest.raises(InvalidInput, match="empty"):
        task_services.task_update(job=job, actor=requester, task_id=task.public_id, row={"review": "  "})
    task_services.task_update(job=job, actor=requester, task_id=task.public_id, row={"review": "Fixed typo"})
    task.refresh_from_db()
    assert task.input == {"review": "Fixed typo"}


def test_tasks_added_after_a_removal_go_after_the_last_one(requester):
    job = make_draft_job(requester=requester, tasks=3)
    middle = job.tasks.get(position=2)
    task_services.task_remove(job=job, actor=requester, task_id=middle.public_id)
    task_services.tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "new"}])
    assert list(job.tasks.order_by("position").values_list("position", flat=True)) == [1, 3, 4]
    job.refresh_from_db()
    assert job.task_count == 3


def test_the_tasks_page_offers_edit_only_for_unclaimed_tasks_and_removal_acts_once(client, requester, worker):
    job = make_job(requester=requester, tasks=2)
    make_claimed_assignment(job=job, worker=worker)
    claimed, unclaimed = job.tasks.order_by("position")
    client.force_login(requester)
    page = client.get(reverse("job_tasks", args=[job.public_id])).content.decode()
    assert reverse("job_task_edit", args=[job.public_id, unclaimed.public_id]) in page
    assert reverse("job_task_edit", args=[job.public_id, claimed.public_id]) not in page

    url = reverse("job_task_edit", args=[job.public_id, unclaimed.public_id])
    before = available(requester)
    for _ in range(2):
        response = client.post(url, {"remove": "1", "form_token": "remove-once"})
        assert response.status_code == 302
    assert available(requester) == before + escrow_per_slot_msat(job)
    job.refresh_from_db()
    assert job.task_count == 1

    response = client.post(reverse("job_task_edit", args=[job.public_id, claimed.public_id]), {"remove": "1"})
    assert response.status_code == 302
    assert job.tasks.filter(pk=claimed.pk).exists()


def test_the_edit_page_saves_new_inputs(client, requester):
    job = make_draft_job(requester=requester, tasks=1)
    task = first_task(job)
    client.force_login(requester)
    url = reverse("job_task_edit", args=[job.public_id, task.public_id])
    assert "Review number 1" in client.get(url).content.decode()
    response = client.post(url, {"save": "1", "task-column_0": "Better review"})
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.input == {"review": "Better review"}
