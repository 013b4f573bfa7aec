"""Issue 14: jobs whose rules approve work as it is submitted are marked on the board, at no query of their own."""

import pytest
from django.urls import reverse

from tests.factories import make_job
from tests.factories.quality import make_quality_job

pytestmark = pytest.mark.django_db


def test_a_job_whose_rules_approve_at_submission_is_marked_paid_within_seconds(client):
    by_rule = make_quality_job(
        regular=4, controls=4, control_rate_percent=50, approve_accuracy_percent=80, approve_after_controls=2,
        terms={"title": "Rated by its rules"},
    )  # fmt: skip
    plain = make_job(title="Reviewed by hand")
    page = client.get(reverse("board")).content.decode()
    cards = {title: page.split(title)[1].split("job-card card")[0] for title in (by_rule.title, plain.title)}
    assert "Paid within seconds" in cards[by_rule.title]
    assert "Paid within seconds" not in cards[plain.title]
