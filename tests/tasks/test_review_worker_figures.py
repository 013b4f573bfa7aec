"""The worker's figures on the review screen: approval rate, approved count (the reputation sweeper's WorkerStats) and
their scores on the reviewing requester's own qualification types."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace.qualifications import qualification_grant, qualification_type_create
from tasks.reputations import reputations_refresh
from tests.factories import (
    make_job,
    make_many_submitted_assignments,
    make_submitted_assignment,
    make_user,
    reviewed,
    worked,
)
from tests.html_parsing import visible_text
from tests.tasks.test_query_counts import REVIEW_QUEUE

pytestmark = pytest.mark.django_db


def item_text(response, assignment) -> str:
    html = response.content.decode()
    start = html.index(f'id="review-{assignment.public_id}"')
    return visible_text(html[start : html.index("</article>", start)])


def test_the_review_screen_shows_the_workers_record_and_their_scores_on_my_qualifications(requester_client, requester):
    veteran = make_user("veteran", funds_sats=0)
    earlier = make_job(tasks=5)  # another requester's job
    day_ago = timezone.now() - timedelta(days=1)
    for approve in (True, True, True, False):
        reviewed(worked(earlier, worker=veteran, accepted_at=day_ago, seconds=60), approve=approve, after_seconds=60)
    reputations_refresh()
    german = qualification_type_create(owner=requester, name="Fluent German")
    qualification_grant(qualification=german, actor=requester, worker_id=veteran.public_id, value=80)
    theirs = qualification_type_create(owner=earlier.requester, name="Their secret type")
    qualification_grant(qualification=theirs, actor=earlier.requester, worker_id=veteran.public_id, value=5)

    job = make_job(requester=requester, tasks=3)
    from_veteran = make_submitted_assignment(job=job, worker=veteran)
    from_newcomer = make_submitted_assignment(job=job)
    page = requester_client.get(reverse("review_queue", args=[job.public_id]))

    veteran_text = item_text(page, from_veteran)
    assert "Worker's record: 75% of reviewed work approved · 3 approved · your qualifications: Fluent German 80" in (
        veteran_text
    )
    assert "Their secret type" not in veteran_text
    assert "Worker's record: no reviewed work yet" in item_text(page, from_newcomer)

    # The row htmx swaps in after a review says the same.
    response = requester_client.post(
        reverse("assignment_review", args=[from_veteran.public_id]), {"decision": "approve"}, HTTP_HX_REQUEST="true"
    )
    assert "3 approved · your qualifications: Fluent German 80" in visible_text(response.content.decode())


def test_the_workers_figures_cost_one_query_for_the_whole_page(requester_client, requester, django_assert_num_queries):
    german = qualification_type_create(owner=requester, name="Fluent German")
    job = make_job(requester=requester, tasks=60)
    for assignment in make_many_submitted_assignments(job=job, count=3):
        qualification_grant(qualification=german, actor=requester, worker_id=assignment.worker.public_id, value=1)
    reputations_refresh()
    url = reverse("review_queue", args=[job.public_id])
    with django_assert_num_queries(REVIEW_QUEUE):
        assert "Fluent German 1" in requester_client.get(url).content.decode()
    for assignment in make_many_submitted_assignments(job=job, count=40):
        qualification_grant(qualification=german, actor=requester, worker_id=assignment.worker.public_id, value=2)
    with django_assert_num_queries(REVIEW_QUEUE):
        assert len(requester_client.get(url).context["page"].object_list) == 43


def test_the_review_screen_shows_the_workers_accuracy_on_the_jobs_checked_tasks(requester_client, requester):
    from tasks.models import WorkerJobAccuracy

    job = make_job(requester=requester, tasks=3)
    submitted = make_submitted_assignment(job=job)
    WorkerJobAccuracy.objects.create(
        worker=submitted.worker, job=job, controls_answered=12, controls_correct=9, recent=[True] * 9 + [False] * 3,
        accuracy_percent=75,
    )  # fmt: skip
    response = requester_client.get(reverse("review_queue", args=[job.public_id]))
    assert "75% right on this job's recent checked tasks (12 answered)" in item_text(response, submitted)
