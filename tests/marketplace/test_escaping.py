"""Everything a requester or a worker types comes back escaped or sanitized on every page that shows it."""

import pytest
from django.test import Client
from django.urls import reverse

from marketplace import services
from tasks import services as task_services
from tests.factories import answer_data, make_user
from tests.html_parsing import start_tags

pytestmark = pytest.mark.django_db

SCRIPT = '<script>alert("xss")</script>'
IMG = "<img src=x onerror=alert(1)>"
PAYLOAD = SCRIPT + IMG


def assert_no_injected_markup(content: str) -> None:
    """No inline script, style or event handler anywhere on the page (the site's CSP would block them, or they
    were injected), no javascript: URL, and the payload never verbatim."""
    assert SCRIPT not in content
    assert IMG not in content
    for tag, attrs in start_tags(content):
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        assert "style" not in attrs, ("inline styles are blocked by style-src 'self'", tag, attrs)
        assert tag != "style", "inline styles are blocked by style-src 'self'"
        if tag == "script":
            assert attrs.get("src"), "an inline script on a page whose policy is script-src 'self'"
        for name in ("href", "src", "action"):
            assert not (attrs.get(name) or "").strip().lower().startswith("javascript:"), (tag, attrs)


@pytest.fixture
def hostile_job():
    """A published job where every field a requester or worker can type carries markup."""
    requester = make_user("evil_requester", display_name=PAYLOAD)
    job = services.job_create(
        requester=requester,
        title=PAYLOAD,
        description=f"Hello {IMG} {SCRIPT} [click](javascript:alert(2))",
        instructions=f"Do it {SCRIPT} <a href='javascript:alert(3)' onclick='alert(4)'>here</a>",
        reward_msat=10_000,
        assignments_per_task=2,
        tags=["ok"],  # a tag with markup is refused (tests/web/test_newcomer_fixes.py)
    )
    fields = [
        {"name": "sentiment", "kind": "single_choice", "label": PAYLOAD, "help_text": PAYLOAD, "required": True,
         "choices": [PAYLOAD, "Fine"]},
        {"name": "notes", "kind": "short_text", "label": "Notes", "required": False},
    ]  # fmt: skip
    services.job_set_builder_form(job=job, actor=requester, prompt=f"Review: {{{{review}}}} {IMG}", fields=fields)
    task_services.tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": PAYLOAD}] * 3)
    services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    return job


def test_hostile_text_is_escaped_on_every_page(hostile_job):
    job = hostile_job
    requester = job.requester
    worker = make_user("evil_worker", display_name=PAYLOAD)
    submitted = task_services.assignment_claim(job=job, worker=worker)
    task_services.assignment_submit(
        assignment=submitted, worker=worker, data={"answer-sentiment": PAYLOAD, "answer-notes": PAYLOAD}
    )
    rejected_worker = make_user()
    rejected = task_services.assignment_claim(job=job, worker=rejected_worker)
    task_services.assignment_submit(assignment=rejected, worker=rejected_worker, data=answer_data("Fine", PAYLOAD))
    task_services.assignment_review(assignment=rejected, reviewer=requester, approve=False, feedback=PAYLOAD)
    open_worker = make_user()
    open_assignment = task_services.assignment_claim(job=job, worker=open_worker)

    anonymous = Client()
    as_requester = Client()
    as_requester.force_login(requester)
    as_worker = Client()
    as_worker.force_login(worker)
    as_rejected = Client()
    as_rejected.force_login(rejected_worker)
    as_open = Client()
    as_open.force_login(open_worker)

    pages = [
        (anonymous, reverse("board")),
        (anonymous, reverse("board") + "?q=script"),
        (anonymous, reverse("job_detail", args=[job.public_id])),
        (as_requester, reverse("job_manage", args=[job.public_id])),
        (as_requester, reverse("job_form", args=[job.public_id])),
        (as_requester, reverse("job_tasks", args=[job.public_id])),
        (as_requester, reverse("job_preview", args=[job.public_id])),
        (as_requester, reverse("review_queue", args=[job.public_id])),
        (as_requester, reverse("review_queue", args=[job.public_id]) + "?status=rejected"),
        (as_worker, reverse("worker_dashboard")),
        (as_worker, reverse("assignment_detail", args=[submitted.public_id])),
        (as_rejected, reverse("worker_dashboard")),
        (as_rejected, reverse("assignment_detail", args=[rejected.public_id])),
        (as_open, reverse("assignment_detail", args=[open_assignment.public_id])),
    ]
    for client, url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        assert_no_injected_markup(content)

    board = anonymous.get(reverse("board")).content.decode()
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in board, "the title is shown, as text"
    review_page = as_requester.get(reverse("review_queue", args=[job.public_id])).content.decode()
    assert "&lt;script&gt;" in review_page, "the worker's answer is shown, as text"

    htmx = as_requester.post(
        reverse("assignment_review", args=[submitted.public_id]),
        {"decision": "reject", "feedback": PAYLOAD},
        HTTP_HX_REQUEST="true",
    )
    assert htmx.status_code == 200
    assert_no_injected_markup(htmx.content.decode())


def test_hostile_title_is_escaped_on_the_requester_dashboard(hostile_job):
    client = Client()
    client.force_login(hostile_job.requester)
    response = client.get(reverse("requester_dashboard"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;" in content
    assert_no_injected_markup(content)


def test_markdown_description_is_sanitized_on_the_board_and_job_page(client):
    requester = make_user()
    job = services.job_create(
        requester=requester,
        title="Markdown job",
        description="**Bold** and <img src=x onerror=alert(1)> and [a link](https://example.com)",
        reward_msat=10_000,
    )
    services.job_set_builder_form(job=job, actor=requester, prompt="Go", fields=[
        {"name": "answer", "kind": "short_text", "label": "Answer", "required": True},
    ])  # fmt: skip
    task_services.tasks_add(job=job, actor=requester, columns=["x"], rows=[{"x": "1"}])
    services.job_publish(job=job, actor=requester)
    page = client.get(reverse("job_detail", args=[job.public_id])).content.decode()
    assert "<strong>Bold</strong>" in page
    assert 'href="https://example.com"' in page
    board = client.get(reverse("board")).content.decode()
    assert "Bold and and a link" in board, "the board shows the description's text, as an excerpt"
    assert "<strong>Bold</strong>" not in board
    for content in (page, board):
        assert "onerror" not in content
        assert_no_injected_markup(content)


def test_csv_error_messages_escape_the_column_names(client):
    requester = make_user()
    job = services.job_create(requester=requester, title="t", description="d", reward_msat=10_000)
    client.force_login(requester)
    response = client.post(
        reverse("job_tasks", args=[job.public_id]), {"add_csv": "1", "csv_text": f"{IMG},{IMG}\na,b\n"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "appears twice" in content
    assert_no_injected_markup(content)
