"""Issue 9: "1 sats" nowhere, in the messages of the views either."""

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from tests.factories import make_draft_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_a_one_sat_bonus_says_sat(client, requester, worker, job):
    assignment = make_submitted_assignment(job=job, worker=worker)
    client.force_login(requester)
    response = client.post(reverse("bonus_create", args=[assignment.public_id]), {"amount_sats": "1", "reason": "Thx"})
    assert messages_of(response) == ["Bonus of 1 sat sent."]


def test_a_balance_one_sat_short_of_publishing_says_sat(client, settings):
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000
    requester = make_user(funds_sats=32)
    draft = make_draft_job(requester=requester, tasks=3)  # 3 × (10 + 1) sats
    client.force_login(requester)
    response = client.post(reverse("job_action", args=[draft.public_id, "publish"]))
    assert messages_of(response) == ["Your balance is 1 sat short of this job's escrow. Add funds first."]
