"""The work loop runs a fixed number of queries however many tasks, assignments and workers there are.

Each test measures with few rows, adds many more, and asserts the same count again. The expected counts are pinned
so that a change shows up in review. Service counts include the SAVEPOINT and RELEASE of `transaction.atomic`
(inside the test's transaction); page counts include the session and user lookups of a logged-in request.
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tasks import services
from tasks.models import Task
from tests.factories import (
    answer_data,
    make_job,
    make_many_submitted_assignments,
    make_submitted_assignment,
    make_user,
)

pytestmark = pytest.mark.django_db

# job, savepoint, worker lock, open assignment?, task (skip locked), task, job, insert, the event and its readers,
# release
CLAIM = 11
START_VIEW = 2 + 1 + CLAIM  # session, user, the job (not its tags: the page is not shown), the claim
EVENT = 3  # the event, who may read it, and the webhook consumer's endpoints of the subject's owner
SUBMIT = 4 + EVENT  # savepoint, assignment + job locked, update, the event, release
# A control's submit (issue 12, tasks.controls): besides, the job's quality rules, the worker's accuracy row on the
# job locked, and its update; their first control creates the row (savepoint, insert, release). A regular task's
# submit costs SUBMIT, rules or not.
CONTROL_SUBMIT = SUBMIT + 3
FIRST_CONTROL_SUBMIT = CONTROL_SUBMIT + 3
# The control that stops the worker records the event and its readers as well (no webhook is sent for it).
STOPPING_CONTROL_SUBMIT = CONTROL_SUBMIT + 2
# Approve: savepoint, assignment + job locked, update, the job's live count, the three ledger accounts (the
# worker's is created: select, savepoint, insert, release), then the ledger posting (savepoint, key check, account
# locks, transaction, entries, one balance update, release), the event, the approved count (is the job complete?),
# release.
APPROVE = 19 + EVENT
# Reject: savepoint, assignment + job locked, the worker's rejections in the job within the hour and their
# submissions to it (is this a mass rejection, held for a moderator?), update, the task's and the job's open slots,
# the job locked to see whether a closed job's escrow is refunded, the event, release.
REJECT = 9 + EVENT
BULK_FIXED = 3  # the ownership check, savepoint, release
BULK_PER_ITEM = APPROVE
AUTO_APPROVE_FIXED = 1  # the due ids; then one review each
RESULTS_CSV = 5  # session, user, job, its tags, the rows
BELL = 1  # the header's unread-notification count (issue 10)
WORKER_DASHBOARD = 5 + BELL  # session, user, count, page, stats
# session, user, job, its tags, count, page (with the workers' figures), the workers' grants of the requester's
# qualification types (issue 11)
REVIEW_QUEUE = 7 + BELL


def queries_of(action) -> int:
    with CaptureQueriesContext(connection) as context:
        action()
    return len(context.captured_queries)


def crowded_job(tasks: int, **terms):
    """A job where many other workers already hold or finished assignments."""
    job = make_job(tasks=tasks, assignments_per_task=3, **terms)
    make_many_submitted_assignments(job=job, count=tasks // 2)
    for _ in range(3):
        services.assignment_claim(job=job, worker=make_user())
    return job


# Services -------------------------------------------------------------------------------------------------------


def test_claim_queries_do_not_grow(django_assert_num_queries):
    small = make_job(tasks=3)
    worker = make_user()
    with django_assert_num_queries(CLAIM):
        services.assignment_claim(job=small, worker=worker)
    big = crowded_job(300)
    veteran = make_user()
    for _ in range(20):  # a worker who already did many of the job's tasks
        done = services.assignment_claim(job=big, worker=veteran)
        services.assignment_submit(assignment=done, worker=veteran, data=answer_data())
    for worker in (make_user(), veteran):
        with django_assert_num_queries(CLAIM):
            services.assignment_claim(job=big, worker=worker)


def test_start_working_view_queries_do_not_grow(client, django_assert_num_queries):
    small = make_job(tasks=3, tags=["a"])
    big = crowded_job(300, tags=[f"tag{n}" for n in range(10)])
    for job in (small, big):
        client.force_login(make_user())
        with django_assert_num_queries(START_VIEW):
            assert client.post(reverse("job_start", args=[job.public_id])).status_code == 302


def test_submit_queries_do_not_grow(django_assert_num_queries):
    for job in (make_job(tasks=3), crowded_job(300)):
        worker = make_user()
        assignment = services.assignment_claim(job=job, worker=worker)
        with django_assert_num_queries(SUBMIT):
            services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())


def test_a_controls_submit_costs_a_few_queries_more_and_a_regular_tasks_none(django_assert_num_queries):
    from tests.tasks.test_controls import GOLD_NOTE, quality_job, set_rules

    for regular in (3, 300):
        job = quality_job(regular=regular, controls_count=3, controls_first=True, assignments_per_task=2)
        set_rules(job, stop_below_percent=50, stop_after_controls=3, accuracy_window=5)
        # One worker answers the three controls wrong and is stopped; another answers them right, then a regular task.
        for worker, sentiment, counts in [
            (make_user(), "Positive", [FIRST_CONTROL_SUBMIT, CONTROL_SUBMIT, STOPPING_CONTROL_SUBMIT]),
            (make_user(), "Negative", [FIRST_CONTROL_SUBMIT, CONTROL_SUBMIT, CONTROL_SUBMIT, SUBMIT]),
        ]:
            for count in counts:
                assignment = services.assignment_claim(job=job, worker=worker)
                with django_assert_num_queries(count):
                    services.assignment_submit(
                        assignment=assignment, worker=worker, data=answer_data(sentiment, GOLD_NOTE)
                    )
            assert Task.objects.get(pk=assignment.task_id).kind == ("regular" if count == SUBMIT else "control")


@pytest.mark.parametrize(("approve", "expected"), [(True, APPROVE), (False, REJECT)])
def test_review_queries_do_not_grow(django_assert_num_queries, approve, expected):
    for job in (make_job(tasks=3), crowded_job(300)):
        assignment = make_submitted_assignment(job=job)
        requester = job.requester
        with django_assert_num_queries(expected):
            services.assignment_review(assignment=assignment, reviewer=requester, approve=approve, feedback="Reason.")


def test_bulk_review_costs_the_same_per_item(django_assert_num_queries):
    job = make_job(tasks=60)
    requester = job.requester
    batches = [make_many_submitted_assignments(job=job, count=n) for n in (1, 5, 20)]
    for batch in batches:
        with django_assert_num_queries(BULK_FIXED + BULK_PER_ITEM * len(batch)):
            services.assignments_review_bulk(
                job=job, reviewer=requester, approve_ids=[item.public_id for item in batch], reject={}
            )


def test_auto_approve_costs_the_same_per_item():
    job = make_job(tasks=30, auto_approve_seconds=60)
    later = timezone.now() + timedelta(hours=1)
    make_many_submitted_assignments(job=job, count=2)
    few = queries_of(lambda: services.assignments_auto_approve_due(now=later))
    make_many_submitted_assignments(job=job, count=12)
    many = queries_of(lambda: services.assignments_auto_approve_due(now=later))
    assert few == AUTO_APPROVE_FIXED + 2 * APPROVE
    assert many == AUTO_APPROVE_FIXED + 12 * APPROVE


# Pages ----------------------------------------------------------------------------------------------------------


def test_results_csv_queries_do_not_grow(client, django_assert_num_queries):
    small = make_job(tasks=3)
    make_many_submitted_assignments(job=small, count=3)
    big = make_job(tasks=300, requester=small.requester)
    make_many_submitted_assignments(job=big, count=300)
    client.force_login(small.requester)
    for job, rows in ((small, 3), (big, 300)):
        with django_assert_num_queries(RESULTS_CSV):
            response = client.get(reverse("results_csv", args=[job.public_id]))
            content = b"".join(response.streaming_content)
        assert content.count(b"\r\n") == rows + 1


def test_worker_dashboard_queries_do_not_grow(client, django_assert_num_queries, worker):
    client.force_login(worker)
    job = make_job(tasks=3)
    make_submitted_assignment(job=job, worker=worker)
    with django_assert_num_queries(WORKER_DASHBOARD):
        assert client.get(reverse("worker_dashboard")).status_code == 200
    for _ in range(15):
        other = make_job(tasks=2)
        make_submitted_assignment(job=other, worker=worker)
        services.assignment_claim(job=other, worker=worker)
    with django_assert_num_queries(WORKER_DASHBOARD):
        response = client.get(reverse("worker_dashboard"))
        assert len(response.context["page"].object_list) == 25
    with django_assert_num_queries(WORKER_DASHBOARD):
        client.get(reverse("worker_dashboard"), {"status": "accepted"})


def test_review_queue_queries_do_not_grow(client, django_assert_num_queries, requester):
    client.force_login(requester)
    job = make_job(requester=requester, tasks=80)
    make_many_submitted_assignments(job=job, count=3)
    with django_assert_num_queries(REVIEW_QUEUE):
        assert len(client.get(reverse("review_queue", args=[job.public_id])).context["page"].object_list) == 3
    make_many_submitted_assignments(job=job, count=70)
    with django_assert_num_queries(REVIEW_QUEUE):
        assert len(client.get(reverse("review_queue", args=[job.public_id])).context["page"].object_list) == 50
