"""Worker pages through the Django test client: start working, do the task, submit, submit and take the next,
return, and the worker dashboard."""

import json

import pytest
from django.urls import reverse

from marketplace import services as job_services
from tasks import services
from tasks.models import Assignment, AssignmentStatus
from tests.factories import answer_data, make_draft_job, make_html_job, make_job, make_user
from tests.pages import messages_of

pytestmark = pytest.mark.django_db


def start(client, job):
    return client.post(reverse("job_start", args=[job.public_id]))


def test_start_working_claims_a_task_and_opens_it(worker_client, worker):
    job = make_job(tasks=2)
    response = start(worker_client, job)
    assignment = Assignment.objects.get(worker=worker)
    assert response.status_code == 302
    assert response["Location"] == reverse("assignment_detail", args=[assignment.public_id])
    # A double click opens the same assignment.
    assert start(worker_client, job)["Location"] == reverse("assignment_detail", args=[assignment.public_id])
    assert Assignment.objects.filter(worker=worker).count() == 1

    page = worker_client.get(reverse("assignment_detail", args=[assignment.public_id]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "Review number 1" in content
    assert reverse("assignment_submit", args=[assignment.public_id]) in content
    assert reverse("assignment_return", args=[assignment.public_id]) in content


def test_start_working_needs_a_login_and_a_post(client, worker):
    job = make_job()
    response = start(client, job)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    client.force_login(worker)
    assert client.get(reverse("job_start", args=[job.public_id])).status_code == 405
    assert not Assignment.objects.exists()


def test_start_working_on_a_draft_is_404(worker_client, requester):
    job = make_draft_job(requester=requester)
    assert start(worker_client, job).status_code == 404
    assert not Assignment.objects.exists()


def test_start_working_on_a_paused_job_explains_and_claims_nothing(worker_client, requester):
    job = make_job(requester=requester)
    job_services.job_pause(job=job, actor=requester)
    response = start(worker_client, job)
    assert response["Location"] == reverse("job_detail", args=[job.public_id])
    assert any("not taking new work" in message for message in messages_of(worker_client.get(response["Location"])))
    assert not Assignment.objects.exists()


def test_start_working_on_an_exhausted_job_sends_the_worker_to_their_dashboard(worker_client):
    job = make_job(tasks=1)
    services.assignment_claim(job=job, worker=make_user())
    response = start(worker_client, job)
    assert response["Location"] == reverse("worker_dashboard")
    assert any("no task left" in message for message in messages_of(worker_client.get(response["Location"])))


def test_submit_a_valid_answer(worker_client, worker):
    job = make_job(tasks=2)
    assignment = services.assignment_claim(job=job, worker=worker)
    response = worker_client.post(
        reverse("assignment_submit", args=[assignment.public_id]), {**answer_data("Mixed", "Hmm"), "submit": "1"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("worker_dashboard")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.answer == {"sentiment": "Mixed", "notes": "Hmm"}
    page = worker_client.get(reverse("assignment_detail", args=[assignment.public_id]))
    assert reverse("assignment_submit", args=[assignment.public_id]) not in page.content.decode()


def test_submit_an_invalid_answer_shows_the_errors_and_keeps_the_input(worker_client, worker):
    job = make_job(tasks=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    response = worker_client.post(
        reverse("assignment_submit", args=[assignment.public_id]), answer_data("Furious", "keep this text")
    )
    assert response.status_code == 400
    form = response.context["answer_form"]
    assert "sentiment" in form.errors
    content = response.content.decode()
    assert "keep this text" in content
    assert "Some answers need attention" in content
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.ACCEPTED, None)


def test_submit_twice_keeps_the_first_answer(worker_client, worker):
    job = make_job(tasks=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    url = reverse("assignment_submit", args=[assignment.public_id])
    worker_client.post(url, answer_data("Positive"))
    response = worker_client.post(url, answer_data("Negative"), follow=True)
    assert any("already submitted" in message for message in messages_of(response))
    assignment.refresh_from_db()
    assert assignment.answer["sentiment"] == "Positive"


def test_submit_and_take_the_next_task(worker_client, worker):
    job = make_job(tasks=2)
    first = services.assignment_claim(job=job, worker=worker)
    response = worker_client.post(reverse("assignment_submit", args=[first.public_id]), {**answer_data(), "next": "1"})
    second = Assignment.objects.exclude(pk=first.pk).get(worker=worker)
    assert response["Location"] == reverse("assignment_detail", args=[second.public_id])
    assert second.task_id != first.task_id
    response = worker_client.post(reverse("assignment_submit", args=[second.public_id]), {**answer_data(), "next": "1"})
    assert response["Location"] == reverse("worker_dashboard"), "no task left: back to the dashboard"
    assert Assignment.objects.filter(worker=worker, status=AssignmentStatus.SUBMITTED).count() == 2


def test_return_a_task(worker_client, worker):
    job = make_job(tasks=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    response = worker_client.post(reverse("assignment_return", args=[assignment.public_id]))
    assert response["Location"] == reverse("worker_dashboard")
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.RETURNED
    job.refresh_from_db()
    assert job.open_slot_count == 1
    # The returned task is not offered to the same worker again.
    assert start(worker_client, job)["Location"] == reverse("worker_dashboard")


def test_worker_dashboard_lists_only_my_assignments_and_filters_by_status(worker_client, worker):
    job = make_job(tasks=3, title="Dashboard job")
    submitted = services.assignment_claim(job=job, worker=worker)
    services.assignment_submit(assignment=submitted, worker=worker, data=answer_data())
    in_progress = services.assignment_claim(job=job, worker=worker)
    someone_elses = services.assignment_claim(job=job, worker=make_user())
    response = worker_client.get(reverse("worker_dashboard"))
    shown = [item.pk for item in response.context["page"].object_list]
    assert sorted(shown) == sorted([submitted.pk, in_progress.pk])
    assert someone_elses.pk not in shown
    assert response.context["stats"]["submitted"] == 1
    assert response.context["stats"]["in_progress"] == 1
    filtered = worker_client.get(reverse("worker_dashboard"), {"status": "submitted"})
    assert [item.pk for item in filtered.context["page"].object_list] == [submitted.pk]
    unknown = worker_client.get(reverse("worker_dashboard"), {"status": "bogus"})
    assert len(unknown.context["page"].object_list) == 2


# HTML template tasks --------------------------------------------------------------------------------------------


def test_html_task_runs_in_a_sandboxed_frame_with_escaped_values(worker_client, worker):
    job = make_html_job(rows=[{"review": "<img src=x onerror=alert(1)> \"quoted\" & 'single'"}])
    assignment = services.assignment_claim(job=job, worker=worker)
    page = worker_client.get(reverse("assignment_detail", args=[assignment.public_id]))
    frame_url = reverse("assignment_frame", args=[assignment.public_id])
    assert f'src="{frame_url}"' in page.content.decode()
    assert 'sandbox="allow-scripts allow-forms"' in page.content.decode()

    frame = worker_client.get(frame_url)
    assert frame.status_code == 200
    policy = frame["Content-Security-Policy"]
    directives = {part.strip().split(" ", 1)[0]: part.strip() for part in policy.split(";")}
    assert directives["sandbox"] == "sandbox allow-scripts allow-forms"
    assert "allow-same-origin" not in policy, "the frame must not share the site's origin (cookies, storage)"
    assert frame["X-Frame-Options"] == "SAMEORIGIN"
    content = frame.content.decode()
    assert "<img src=x onerror=alert(1)>" not in content
    assert "&lt;img src=x onerror=alert(1)&gt; &quot;quoted&quot; &amp; &#x27;single&#x27;" in content


def test_builder_task_has_no_frame(worker_client, worker):
    job = make_job(tasks=1)
    assignment = services.assignment_claim(job=job, worker=worker)
    assert worker_client.get(reverse("assignment_frame", args=[assignment.public_id])).status_code == 404


def test_submit_an_html_task(worker_client, worker):
    job = make_html_job()
    assignment = services.assignment_claim(job=job, worker=worker)
    url = reverse("assignment_submit", args=[assignment.public_id])
    for bad in ("not json", "", json.dumps({}), json.dumps({"sentiment": ["a", 1]})):
        response = worker_client.post(url, {"answer_json": bad})
        assert response.status_code == 400, bad  # the task page again, with the problem on it
        assert 'class="error-summary"' in response.content.decode(), bad
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.ACCEPTED
    answer = {"sentiment": "Negative", "notes": "Rude"}
    response = worker_client.post(url, {"answer_json": json.dumps(answer)})
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert (assignment.status, assignment.answer) == (AssignmentStatus.SUBMITTED, answer)
