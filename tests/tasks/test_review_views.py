"""Review pages and the results CSV, through the Django test client."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import services as job_services
from tasks import services
from tasks.models import Assignment, AssignmentStatus
from tests.factories import answer_data, make_job, make_submitted_assignment, make_user
from tests.pages import messages_of

pytestmark = pytest.mark.django_db


def review(client, assignment, decision, feedback="", **headers):
    return client.post(
        reverse("assignment_review", args=[assignment.public_id]),
        {"decision": decision, "feedback": feedback},
        **headers,
    )


def test_review_queue_lists_submissions_by_status(requester_client, requester):
    job = make_job(requester=requester, tasks=4)
    waiting = make_submitted_assignment(job=job)
    approved = make_submitted_assignment(job=job)
    services.assignment_review(assignment=approved, reviewer=requester, approve=True)
    in_progress = services.assignment_claim(job=job, worker=make_user())
    url = reverse("review_queue", args=[job.public_id])
    assert [item.pk for item in requester_client.get(url).context["page"].object_list] == [waiting.pk]
    listed = requester_client.get(url, {"status": "approved"}).context["page"].object_list
    assert [item.pk for item in listed] == [approved.pk]
    listed = requester_client.get(url, {"status": "accepted"}).context["page"].object_list
    assert in_progress.pk not in [item.pk for item in listed]


def test_approve_one(requester_client, requester):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job)
    response = review(requester_client, assignment, "approve", "Good")
    assert response.status_code == 302
    assert response["Location"] == reverse("review_queue", args=[job.public_id])
    assignment.refresh_from_db()
    assert (assignment.status, assignment.feedback) == (AssignmentStatus.APPROVED, "Good")


def test_reject_one_needs_a_reason(requester_client, requester):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job)
    response = review(requester_client, assignment, "reject", "  ")
    assert any("reason" in message for message in messages_of(requester_client.get(response["Location"])))
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    review(requester_client, assignment, "reject", "Not English.")
    assignment.refresh_from_db()
    assert (assignment.status, assignment.feedback) == (AssignmentStatus.REJECTED, "Not English.")


def test_review_needs_a_decision_and_a_post(requester_client, requester):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job)
    review(requester_client, assignment, "maybe")
    assert requester_client.get(reverse("assignment_review", args=[assignment.public_id])).status_code == 405
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED


def test_review_with_htmx_returns_the_updated_item_only(requester_client, requester):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job, sentiment="Mixed")
    response = review(requester_client, assignment, "approve", "Thanks", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert "<html" not in content
    assert "<body" not in content
    assert f'id="review-{assignment.public_id}"' in content
    assert "Approved" in content
    assert "Mixed" in content
    assert f'action="{reverse("assignment_review", args=[assignment.public_id])}"' not in content, (
        "no buttons once done"
    )
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED


def test_htmx_review_error_comes_back_in_the_item(requester_client, requester):
    job = make_job(requester=requester)
    assignment = make_submitted_assignment(job=job)
    response = review(requester_client, assignment, "reject", "", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    content = response.content.decode()
    assert "A rejection needs a reason" in content
    assert f'id="review-{assignment.public_id}"' in content
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED


def bulk(client, job, ids, decision, reason=""):
    return client.post(
        reverse("review_queue", args=[job.public_id]),
        {"selected": list(ids), "decision": decision, "reason": reason},
    )


def test_bulk_approve_and_reject(requester_client, requester):
    job = make_job(requester=requester, tasks=5)
    a, b, c, d = (make_submitted_assignment(job=job) for _ in range(4))
    response = bulk(requester_client, job, [a.public_id, b.public_id], "approve")
    assert response["Location"] == reverse("review_queue", args=[job.public_id])
    assert any("2 submissions approved" in m for m in messages_of(requester_client.get(response["Location"])))
    bulk(requester_client, job, [c.public_id], "reject")  # no reason: refused
    bulk(requester_client, job, [c.public_id], "reject", "Copied answers.")
    statuses = dict(Assignment.objects.values_list("pk", "status"))
    assert statuses == {
        a.pk: AssignmentStatus.APPROVED,
        b.pk: AssignmentStatus.APPROVED,
        c.pk: AssignmentStatus.REJECTED,
        d.pk: AssignmentStatus.SUBMITTED,
    }


def test_bulk_review_with_a_foreign_id_reviews_nothing(requester_client, requester, stranger):
    job = make_job(requester=requester, tasks=3)
    mine = [make_submitted_assignment(job=job) for _ in range(2)]
    foreign = make_submitted_assignment(job=make_job(requester=stranger))
    response = bulk(requester_client, job, [mine[0].public_id, foreign.public_id, mine[1].public_id], "approve")
    assert response.status_code == 302
    assert set(Assignment.objects.values_list("status", flat=True)) == {AssignmentStatus.SUBMITTED}


# Results CSV ----------------------------------------------------------------------------------------------------


def download(client, job):
    response = client.get(reverse("results_csv", args=[job.public_id]))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_results_csv_has_mechanical_turk_columns_and_only_finished_work(requester_client, requester):
    job = make_job(requester=requester, tasks=6, auto_approve_seconds=3600)
    worker = make_user()
    submitted = make_submitted_assignment(job=job, worker=worker, sentiment="Mixed")
    approved = make_submitted_assignment(job=job, sentiment="Positive")
    services.assignment_review(assignment=approved, reviewer=requester, approve=True, feedback="Great")
    rejected = make_submitted_assignment(job=job, sentiment="Negative")
    services.assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback="Wrong")
    services.assignment_claim(job=job, worker=make_user())  # in progress
    returner = make_user()
    services.assignment_return(assignment=services.assignment_claim(job=job, worker=returner), worker=returner)
    services.assignment_claim(job=job, worker=make_user(), now=timezone.now() - timedelta(hours=1))
    services.assignments_expire_overdue()

    rows = download(requester_client, job)
    assert list(rows[0]) == [
        "AssignmentId", "WorkerId", "AssignmentStatus", "AcceptTime", "SubmitTime", "ReviewTime",
        "RequesterFeedback", "RejectionReason", "TaskNumber", "Input.review", "Answer.sentiment", "Answer.notes",
        "Result.sentiment", "Result.notes", "Confidence.sentiment", "Confidence.notes", "Agreement",
    ]  # fmt: skip
    assert sorted(row["AssignmentId"] for row in rows) == sorted(
        [submitted.public_id, approved.public_id, rejected.public_id]
    )
    by_id = {row["AssignmentId"]: row for row in rows}
    first = by_id[submitted.public_id]
    assert first["WorkerId"] == worker.public_id
    assert first["AssignmentStatus"] == "submitted"
    assert first["Answer.sentiment"] == "Mixed"
    assert first["Input.review"] == "Review number 1"
    assert first["AcceptTime"]
    assert first["SubmitTime"]
    assert first["ReviewTime"] == ""
    assert (by_id[approved.public_id]["AssignmentStatus"], by_id[approved.public_id]["RequesterFeedback"]) == (
        "approved",
        "Great",
    )
    assert by_id[rejected.public_id]["AssignmentStatus"] == "rejected"
    # Issue 10: the rejection's reason from the list is in the export ("other" when the requester gave none).
    assert by_id[rejected.public_id]["RejectionReason"] == "other"
    assert by_id[approved.public_id]["RejectionReason"] == ""


def test_results_csv_escapes_formulas(requester_client, requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    services.tasks_add(
        job=job, actor=requester, columns=["review"],
        rows=[{"review": "=HYPERLINK(\"http://evil\")"}, {"review": "+1+1"}, {"review": "-2"}, {"review": "@SUM(A1)"},
              {"review": "plain = text"}],
    )  # fmt: skip
    job_services.job_publish(job=job, actor=requester)
    notes = ["=1+2", "+cmd", "-3", "@me", "fine"]
    for note in notes:
        worker = make_user()
        assignment = services.assignment_claim(job=job, worker=worker)
        services.assignment_submit(assignment=assignment, worker=worker, data=answer_data("Positive", note))
    rejected = Assignment.objects.filter(job=job).order_by("pk").first()
    services.assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback="=WEBSERVICE(1)")

    rows = sorted(download(requester_client, job), key=lambda row: int(row["TaskNumber"]))
    assert [row["Input.review"] for row in rows] == [
        "'=HYPERLINK(\"http://evil\")", "'+1+1", "'-2", "'@SUM(A1)", "plain = text",
    ]  # fmt: skip
    assert [row["Answer.notes"] for row in rows] == ["'=1+2", "'+cmd", "'-3", "'@me", "fine"]
    assert rows[0]["RequesterFeedback"] == "'=WEBSERVICE(1)"


def test_results_csv_of_a_job_without_results_has_just_the_header(requester_client, requester):
    job = make_job(requester=requester)
    response = requester_client.get(reverse("results_csv", args=[job.public_id]))
    text = b"".join(response.streaming_content).decode()
    header = (
        "AssignmentId,WorkerId,AssignmentStatus,AcceptTime,SubmitTime,ReviewTime,RequesterFeedback,RejectionReason,"
        "TaskNumber,"
        "Input.review,Answer.sentiment,Answer.notes,"
        "Result.sentiment,Result.notes,Confidence.sentiment,Confidence.notes,Agreement"
    )
    assert text.splitlines() == [header]
