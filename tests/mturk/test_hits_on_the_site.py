"""HITs made through the Mechanical Turk API, seen on the requester's own pages: the job, the review screen and the
results CSV show every answer field, though a HIT's question fixes none in advance."""

import csv
import io

import pytest
from django.urls import reverse

from tasks import services
from tests.factories.users import make_user
from tests.mturk.clients import make_hit

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered_hit(requester):
    task = make_hit(requester)
    worker = make_user()
    assignment = services.assignment_claim(job=task.job, worker=worker)
    services.assignment_submit(assignment=assignment, worker=worker, data={"sentiment": "positive", "notes": "short"})
    return task


def test_the_review_screen_shows_every_field_of_a_hits_answer(requester_client, answered_hit):
    page = requester_client.get(reverse("review_queue", args=[answered_hit.job.public_id]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "sentiment" in text
    assert "positive" in text
    assert "short" in text


def test_the_results_csv_has_a_column_for_every_answer_field(requester_client, answered_hit):
    response = requester_client.get(reverse("results_csv", args=[answered_hit.job.public_id]))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    assert rows[0]["Answer.notes"] == "short"
    assert rows[0]["Answer.sentiment"] == "positive"


def test_the_job_pages_of_a_hit_type_open(requester_client, answered_hit):
    job_id = answered_hit.job.public_id
    for name in ("job_manage", "job_tasks", "job_detail"):
        assert requester_client.get(reverse(name, args=[job_id])).status_code == 200, name


def test_the_job_page_shows_the_dollar_rate_its_reward_was_converted_at(client, answered_hit):
    page = client.get(reverse("job_detail", args=[answered_hit.job.public_id]))
    assert b"1,000 sats per US dollar" in page.content
