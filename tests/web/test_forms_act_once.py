"""Issue 9's first money bug: a double click on "Send bonus" paid the bonus twice. Every form that moves money or
creates something carries a token rendered with it; a second sending of the same form acts not again but answers
with the first one's result."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from core.models import Event
from marketplace.models import Job, JobStatus
from payments import withdraw
from payments.models import Bonus, Deposit, Payout
from tasks import services as task_services
from tasks.models import Assignment, AssignmentStatus, Task
from tests.factories import give_earnings, make_draft_job, make_job, make_submitted_assignment, make_user
from tests.marketplace.requester_posts import terms_post
from web import once

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


def tokens_on(client, url: str) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200
    return TOKEN.findall(page.content.decode())


def send_twice(client, url: str, data: dict):
    first = client.post(url, data)
    second = client.post(url, data)
    assert first.status_code == 302, first.content.decode()[:500]
    assert second.status_code == 302
    assert second["Location"] == first["Location"], "the second sending answers with the first's result"
    return first, second


def said(client, response) -> list[str]:
    return [str(message) for message in get_messages(client.get(response["Location"]).wsgi_request)]


@pytest.fixture
def requester_client(client, requester):
    client.force_login(requester)
    return client


def test_a_double_clicked_bonus_is_paid_once(requester_client, requester):
    job = make_job(requester=requester, tasks=1)
    approved = task_services.assignment_review(
        assignment=make_submitted_assignment(job=job), reviewer=requester, approve=True
    )
    review_page = reverse("review_queue", args=[job.public_id]) + "?status=approved"
    token = tokens_on(requester_client, review_page)[0]

    _, second = send_twice(
        requester_client,
        reverse("bonus_create", args=[approved.public_id]),
        {"amount_sats": "100", "reason": "Careful work", once.FORM_TOKEN_FIELD: token},
    )

    assert Bonus.objects.count() == 1
    assert once.ALREADY_DONE in said(requester_client, second)


def test_a_double_clicked_publish_publishes_once_and_says_nothing_went_wrong(requester_client, requester):
    job = make_draft_job(requester=requester, tasks=2)
    token = tokens_on(requester_client, reverse("job_manage", args=[job.public_id]))[0]  # the Publish button's

    _, second = send_twice(
        requester_client, reverse("job_action", args=[job.public_id, "publish"]), {once.FORM_TOKEN_FIELD: token}
    )

    assert Job.objects.get(pk=job.pk).status == JobStatus.PUBLISHED
    assert Event.objects.filter(type="job.published", subject_id=job.public_id).count() == 1
    assert said(requester_client, second) == ["Published: your job is on the board.", once.ALREADY_DONE]


def test_a_double_clicked_close_closes_once(requester_client, requester):
    job = make_job(requester=requester, tasks=2)
    tokens = tokens_on(requester_client, reverse("job_manage", args=[job.public_id]))  # pause, close

    _, second = send_twice(
        requester_client, reverse("job_action", args=[job.public_id, "close"]), {once.FORM_TOKEN_FIELD: tokens[1]}
    )

    assert Event.objects.filter(type="job.closed", subject_id=job.public_id).count() == 1
    first_said, second_said = said(requester_client, second)
    assert "closed" in first_said.lower()
    assert second_said == once.ALREADY_DONE


def test_a_double_clicked_deposit_makes_one_invoice(requester_client, requester):
    token = tokens_on(requester_client, reverse("deposit_new"))[0]

    send_twice(requester_client, reverse("deposit_new"), {"amount_sats": "21", once.FORM_TOKEN_FIELD: token})

    assert Deposit.objects.filter(user=requester).count() == 1


def test_a_double_clicked_task_adds_one_task(requester_client, requester):
    job = make_draft_job(requester=requester, tasks=1)
    token = tokens_on(requester_client, reverse("job_tasks", args=[job.public_id]))[1]  # "Add one task"

    send_twice(
        requester_client,
        reverse("job_tasks", args=[job.public_id]),
        {"add_one": "1", "task-column_0": "Typed once", once.FORM_TOKEN_FIELD: token},
    )

    assert Task.objects.filter(job=job).count() == 2


def test_a_double_clicked_new_job_makes_one_draft(requester_client, requester):
    token = tokens_on(requester_client, reverse("job_create"))[0]

    send_twice(requester_client, reverse("job_create"), terms_post(**{once.FORM_TOKEN_FIELD: token}))

    assert Job.objects.filter(requester=requester).count() == 1


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_double_clicked_bulk_review_reviews_once(requester_client, requester, decision):
    job = make_job(requester=requester, tasks=3)
    submitted = [make_submitted_assignment(job=job) for _ in range(2)]
    review_page = reverse("review_queue", args=[job.public_id])
    bulk_token = tokens_on(requester_client, review_page)[0]

    _, second = send_twice(
        requester_client,
        review_page,
        {
            "selected": [assignment.public_id for assignment in submitted],
            "decision": decision,
            "reason": "Not what was asked.",
            once.FORM_TOKEN_FIELD: bulk_token,
        },
    )

    target = AssignmentStatus.APPROVED if decision == "approve" else AssignmentStatus.REJECTED
    assert set(Assignment.objects.filter(job=job).values_list("status", flat=True)) == {target}
    assert Event.objects.filter(type=f"assignment.{target}").count() == 2
    assert said(requester_client, second) == [f"2 submissions {target}.", once.ALREADY_DONE]


def test_a_double_clicked_single_review_reviews_once(requester_client, requester):
    job = make_job(requester=requester, tasks=1)
    assignment = make_submitted_assignment(job=job)
    review_page = reverse("review_queue", args=[job.public_id])
    review_token = tokens_on(requester_client, review_page)[1]  # the item's own form, after the bulk form

    send_twice(
        requester_client,
        reverse("assignment_review", args=[assignment.public_id]),
        {"decision": "approve", once.FORM_TOKEN_FIELD: review_token},
    )

    assert Event.objects.filter(type="assignment.approved", subject_id=assignment.public_id).count() == 1


def test_a_double_clicked_test_wallet_withdrawal_pays_once(client, settings):
    settings.WITHDRAW_MIN_MSAT = 1_000
    worker = make_user(funds_sats=0)
    give_earnings(worker, 21_000)
    client.force_login(worker)
    link = withdraw.withdraw_link_create(worker=worker)
    token = tokens_on(client, reverse("withdraw"))[0]

    send_twice(client, reverse("withdraw_with_dev_wallet", args=[link.public_id]), {once.FORM_TOKEN_FIELD: token})

    assert Payout.objects.filter(worker=worker).count() == 1


def test_each_rendering_of_a_form_has_a_token_of_its_own(requester_client):
    assert set(tokens_on(requester_client, reverse("deposit_new"))).isdisjoint(
        tokens_on(requester_client, reverse("deposit_new"))
    )


def test_a_form_re_shown_with_errors_acts_once_corrected(requester_client, requester):
    token = tokens_on(requester_client, reverse("deposit_new"))[0]
    refused = requester_client.post(reverse("deposit_new"), {"amount_sats": "0", once.FORM_TOKEN_FIELD: token})
    assert refused.status_code == 200
    send_twice(requester_client, reverse("deposit_new"), {"amount_sats": "21", once.FORM_TOKEN_FIELD: token})
    assert Deposit.objects.filter(user=requester).count() == 1


def test_a_second_sending_while_the_first_is_still_acting_waits_then_changes_nothing(
    requester_client, requester, monkeypatch
):
    from api.services import idempotency_begin, request_fingerprint

    monkeypatch.setattr(once, "WAIT_FOR_FIRST_SECONDS", 0.3)
    url = reverse("deposit_new")
    idempotency_begin(
        user=requester,
        key="form:first-still-acting",
        fingerprint=request_fingerprint(method="POST", path=url, body=b""),
    )

    response = requester_client.post(
        url, {"amount_sats": "21", once.FORM_TOKEN_FIELD: "first-still-acting"}, HTTP_REFERER=f"http://testserver{url}"
    )

    assert response.status_code == 302
    assert response["Location"] == f"http://testserver{url}"
    assert not Deposit.objects.exists()


def test_an_unreadable_token_changes_nothing(requester_client):
    response = requester_client.post(reverse("deposit_new"), {"amount_sats": "21", once.FORM_TOKEN_FIELD: "x\x01y"})
    assert response["Location"] == "/"
    assert not Deposit.objects.exists()
