"""Issue 10: a rejection through the API carries its reason from the list, and the review period binds it too."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.models import Assignment
from tests.api.conftest import error_of
from tests.factories import make_job, make_submitted_assignment

pytestmark = pytest.mark.django_db


def test_a_rejection_names_its_category_and_answers_it(requester_api, requester):
    assignment = make_submitted_assignment(job=make_job(requester=requester))
    response = requester_api.post(
        f"/assignments/{assignment.public_id}/reject", {"reason": "Copied text.", "category": "spam"}
    )
    assert response.status_code == 200
    assert (response.json()["feedback"], response.json()["rejection_reason"]) == ("Copied text.", "spam")


def test_an_unknown_category_is_refused_and_changes_nothing(requester_api, requester):
    assignment = make_submitted_assignment(job=make_job(requester=requester))
    response = requester_api.post(f"/assignments/{assignment.public_id}/reject", {"reason": "x", "category": "meh"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert Assignment.objects.get(pk=assignment.pk).status == "submitted"


def test_bulk_rejections_carry_each_category(requester_api, requester):
    job = make_job(requester=requester, tasks=2)
    first, second = make_submitted_assignment(job=job), make_submitted_assignment(job=job)
    body = {
        "reject": [
            {"id": first.public_id, "reason": "a", "category": "incomplete"},
            {"id": second.public_id, "reason": "b"},
        ]
    }
    assert requester_api.post("/assignments/review", body).status_code == 200
    reasons = dict(Assignment.objects.filter(job=job).values_list("public_id", "rejection_reason"))
    assert reasons == {first.public_id: "incomplete", second.public_id: "other"}


def test_a_rejection_after_the_review_period_is_refused(requester_api, requester):
    assignment = make_submitted_assignment(job=make_job(requester=requester, auto_approve_seconds=3600))
    Assignment.objects.filter(pk=assignment.pk).update(auto_approve_at=timezone.now() - timedelta(seconds=1))
    response = requester_api.post(f"/assignments/{assignment.public_id}/reject", {"reason": "Too late."})
    assert response.status_code == 409
    assert error_of(response)["code"] == "review_period_over"
