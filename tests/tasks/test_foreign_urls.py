"""Someone else's job or assignment answers 404 on every requester and worker URL, and nothing changes."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from marketplace.models import Job, Tag
from tasks.models import Assignment, Task
from tasks.services import assignment_claim
from tests.factories import answer_data, make_html_job, make_job, make_submitted_assignment, make_user

pytestmark = pytest.mark.django_db


def database_state():
    return (
        list(Job.objects.order_by("pk").values()),
        list(Task.objects.order_by("pk").values()),
        list(Assignment.objects.order_by("pk").values()),
        list(Tag.objects.order_by("pk").values()),
    )


@pytest.fixture
def owned(requester, worker):
    """The requester's builder job and HTML job, and the worker's assignments in them: one open, one submitted."""
    job = make_job(requester=requester, tasks=3)
    html_job = make_html_job(requester=requester)
    return {
        "job": job,
        "html_job": html_job,
        "open": assignment_claim(job=job, worker=worker),
        "submitted": make_submitted_assignment(job=job, worker=make_user()),
        "html_open": assignment_claim(job=html_job, worker=worker),
    }


def requester_requests(owned):
    job = owned["job"].public_id
    html_job = owned["html_job"].public_id
    submitted = owned["submitted"].public_id
    terms = {"title": "Hijacked", "description": "x", "reward_sats": "1", "assignments_per_task": "1",
             "time_limit_minutes": "10", "auto_approve_hours": "1", "tags": "hijacked"}  # fmt: skip
    builder = {"form_kind": "builder", "prompt": "x", "fields-TOTAL_FORMS": "1", "fields-INITIAL_FORMS": "0",
               "fields-0-name": "x", "fields-0-label": "x", "fields-0-kind": "short_text", "save": "1"}  # fmt: skip
    return [
        ("get", reverse("job_manage", args=[job]), None),
        ("get", reverse("job_edit", args=[job]), None),
        ("post", reverse("job_edit", args=[job]), terms),
        ("get", reverse("job_form", args=[job]), None),
        ("get", reverse("job_form", args=[html_job]) + "?kind=html", None),
        ("post", reverse("job_form", args=[job]), builder),
        ("post", reverse("job_form", args=[html_job]), {"form_kind": "html", "html_template": "<input name=a>"}),
        ("get", reverse("job_tasks", args=[job]), None),
        ("post", reverse("job_tasks", args=[job]), {"add_csv": "1", "csv_text": "review\nx\n"}),
        ("post", reverse("job_tasks", args=[job]),
         {"add_csv": "1", "csv_file": SimpleUploadedFile("t.csv", b"review\nx\n", "text/csv")}),
        ("post", reverse("job_tasks", args=[job]), {"add_one": "1", "task-column_0": "x"}),
        ("get", reverse("job_preview", args=[job]), None),
        ("get", reverse("job_preview_frame", args=[html_job]), None),
        ("post", reverse("job_expiry", args=[job]), {"expires_at": "2099-01-01T00:00"}),
        ("get", reverse("review_queue", args=[job]), None),
        ("post", reverse("review_queue", args=[job]), {"selected": [str(submitted)], "decision": "approve"}),
        ("get", reverse("results_csv", args=[job]), None),
        *[("post", reverse("job_action", args=[job, action]), None)
          for action in ("publish", "pause", "resume", "close", "cancel")],
        ("post", reverse("assignment_review", args=[submitted]), {"decision": "approve"}),
        ("post", reverse("assignment_review", args=[submitted]), {"decision": "reject", "feedback": "x"}),
    ]  # fmt: skip


def worker_requests(owned):
    open_pk = owned["open"].public_id
    html_open = owned["html_open"].public_id
    return [
        ("get", reverse("assignment_detail", args=[open_pk]), None),
        ("get", reverse("assignment_frame", args=[html_open]), None),
        ("post", reverse("assignment_submit", args=[open_pk]), answer_data("Negative")),
        ("post", reverse("assignment_submit", args=[open_pk]), {**answer_data("Negative"), "next": "1"}),
        ("post", reverse("assignment_submit", args=[html_open]), {"answer_json": '{"sentiment": "x"}'}),
        ("post", reverse("assignment_return", args=[open_pk]), None),
    ]


@pytest.mark.parametrize(
    ("requests_of", "intruders"),
    [
        pytest.param(requester_requests, ("stranger", "worker"), id="requester-urls"),
        pytest.param(worker_requests, ("stranger", "requester"), id="worker-urls"),
    ],
)
def test_other_users_get_404_on_every_url_and_nothing_changes(client, owned, request, requests_of, intruders):
    before = database_state()
    for intruder in [request.getfixturevalue(name) for name in intruders]:
        client.force_login(intruder)
        for method, url, data in requests_of(owned):
            response = getattr(client, method)(url, data or {})
            assert response.status_code == 404, (intruder.username, method, url, response.status_code)
    assert database_state() == before


def test_the_owners_get_200_or_a_redirect_on_the_same_urls(client, owned, requester, worker):
    """The 404s above are about ownership: the same requests work for the owner."""
    client.force_login(worker)
    for method, url, _data in worker_requests(owned):
        if method == "get":
            assert client.get(url).status_code == 200, url
    client.force_login(requester)
    for method, url, _data in requester_requests(owned):
        if method == "get":
            assert client.get(url).status_code in {200, 302}, url  # editing a published job redirects


def test_anonymous_visitors_are_sent_to_log_in(client, owned):
    before = database_state()
    for method, url, data in [*requester_requests(owned), *worker_requests(owned)]:
        response = getattr(client, method)(url, data or {})
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url
    assert database_state() == before


def test_missing_ids_are_404(client, requester):
    client.force_login(requester)
    for url in (
        reverse("job_manage", args=["Z" * 30]),
        reverse("assignment_detail", args=["Z" * 30]),
        reverse("results_csv", args=["Z" * 30]),
    ):
        assert client.get(url).status_code == 404
    assert client.post(reverse("assignment_review", args=["Z" * 30]), {"decision": "approve"}).status_code == 404
    assert client.post(reverse("job_start", args=["Z" * 30])).status_code == 404
