"""A published job alerts the workers whose saved searches it matches: once per job, each criterion on both sides of
its boundary, never in the publish request, by email only when the search and the notification settings say so."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alerts import background, selectors, services
from alerts.models import AlertMatch, JobAlertScan, SavedSearch
from core.models import Event
from marketplace import blocks
from marketplace import services as job_services
from marketplace.models import APPROVAL_RATE_TYPE_ID, Job, WorkerStats
from marketplace.qualifications import Guard
from moderation.services import user_ban
from notifications import handlers
from notifications.models import EmailState, NotificationPreference
from tasks.services import assignment_claim, assignment_return
from tests.alerts.conftest import alerts_of, save_search
from tests.factories import make_job, make_moderator, make_user

pytestmark = pytest.mark.django_db

TITLE = "Label street photos"
MATCHING_QUERIES = 14
DESCRIPTION = "Draw boxes around every bicycle in a photo taken in Lisbon."


def alerted(job) -> set[int]:
    return set(AlertMatch.objects.filter(job=job).values_list("worker_id", flat=True))


# Each criterion, matching and not ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("keywords", "matches"),
    [
        ("bicycle", True),
        ("BICYCLE lisbon", True),  # any case, any order
        ("street bicycle", True),  # one word in the title, one in the description
        ("photo", True),  # a word may be part of a longer one ("photos"), as on the board
        ("bicycle madrid", False),  # every word must be in the job
        ("car", False),
        ("100%", False),  # a % is a character, not a wildcard
    ],
)
def test_keywords_match_when_every_word_is_in_the_title_or_description(publish, worker, keywords, matches):
    save_search(worker, keywords=keywords)
    job = publish(title=TITLE, description=DESCRIPTION)
    assert alerted(job) == ({worker.pk} if matches else set())
    assert len(alerts_of(worker)) == (1 if matches else 0)


def test_a_tag_matches_only_a_job_with_that_tag(publish, worker, stranger):
    save_search(worker, tag="Street Photos")  # normalised as jobs' tags are: street-photos
    save_search(stranger, tag="audio")
    job = publish(tags=["street photos", "images"])
    assert alerted(job) == {worker.pk}


def test_a_minimum_reward_matches_a_reward_equal_or_above(publish, worker, stranger):
    save_search(worker, min_reward_msat=20_000)
    save_search(stranger, min_reward_msat=20_001)
    job = publish(reward_msat=20_000)
    assert alerted(job) == {worker.pk}


def test_a_minimum_of_sats_per_hour_matches_the_rate_the_board_shows(publish, worker, stranger):
    # 10 sats a task, a minute a task: 600 sats per hour.
    save_search(worker, min_sats_per_hour=600)
    save_search(stranger, min_sats_per_hour=601)
    job = publish(reward_msat=10_000, estimated_seconds_per_task=60)
    assert job.shown_sats_per_hour == 600
    assert alerted(job) == {worker.pk}


def test_a_job_without_a_rate_meets_no_minimum_of_sats_per_hour(publish, worker, stranger):
    save_search(worker, min_sats_per_hour=1)
    save_search(stranger, keywords="review")
    job = publish(estimated_seconds_per_task=None)
    assert job.shown_sats_per_hour is None
    assert alerted(job) == {stranger.pk}


def test_all_criteria_together_must_hold(publish, worker):
    save_search(worker, keywords="bicycle", tag="images", min_reward_msat=10_000, min_sats_per_hour=100)
    missing_tag = publish(title=TITLE, description=DESCRIPTION, tags=["audio"], estimated_seconds_per_task=60)
    matching = publish(title=TITLE, description=DESCRIPTION, tags=["images"], estimated_seconds_per_task=60)
    assert alerted(missing_tag) == set()
    assert alerted(matching) == {worker.pk}


def test_the_requester_is_not_alerted_to_their_own_job(publish, requester, worker):
    save_search(requester, keywords="review")
    save_search(worker, keywords="review")
    assert alerted(publish()) == {worker.pk}


def test_a_worker_the_requester_blocked_is_not_alerted(publish, requester, worker, stranger):
    blocks.worker_block(requester=requester, worker_id=worker.public_id, reason="Careless answers.")
    save_search(worker, keywords="review")
    save_search(stranger, keywords="review")
    assert alerted(publish()) == {stranger.pk}


def test_a_banned_worker_is_not_alerted(publish, worker, stranger):
    save_search(worker, keywords="review")
    save_search(stranger, keywords="review")
    user_ban(user=worker, moderator=make_moderator(), reason="Spam answers.")
    assert alerted(publish()) == {stranger.pk}


def test_a_search_saved_after_the_job_was_published_does_not_alert_to_it(publish, committed, worker):
    job = publish()
    save_search(worker, keywords="review")
    job_services.job_pause(job=job, actor=job.requester)
    with committed():
        job_services.job_resume(job=job, actor=job.requester)  # job.published again
    assert alerted(job) == set()


def test_a_job_taken_off_the_board_before_the_matching_ran_alerts_nobody(requester, worker):
    save_search(worker, keywords="review")
    job = make_job(requester=requester)  # published, its handlers not run
    job_services.job_pause(job=job, actor=requester)
    assert services.job_alerts_match(job_id=job.public_id) == []
    assert alerted(job) == set()


# Qualifications ----------------------------------------------------------------------------------------------------


def requirement(comparator: str, values: list[int], guard: str = Guard.ACCEPT) -> dict:
    """The approval rate (in percent) compared with `values`."""
    return {
        "qualification_type_id": APPROVAL_RATE_TYPE_ID,
        "comparator": comparator,
        "integer_values": values,
        "actions_guarded": guard,
    }


def with_approval_rate(percent: int):
    worker = make_user()
    WorkerStats.objects.create(
        worker=worker,
        approved_count=percent,
        rejected_count=100 - percent,
        approval_percent=percent,
        refreshed_at=timezone.now(),
    )
    return worker


def test_qualified_only_alerts_only_workers_who_may_accept_the_job(publish):
    qualified, unqualified, not_asking = with_approval_rate(95), with_approval_rate(94), with_approval_rate(94)
    for worker in (qualified, unqualified):
        save_search(worker, keywords="review", qualified_only=True)
    save_search(not_asking, keywords="review")  # the job is on their board: they may preview it, not take it
    job = publish(rules={"requirements": [requirement("GreaterThanOrEqualTo", [95])]})
    assert alerted(job) == {qualified.pk, not_asking.pk}


def test_a_job_hidden_from_the_unqualified_alerts_none_of_them(publish):
    qualified, unqualified = with_approval_rate(95), with_approval_rate(94)
    for worker in (qualified, unqualified):
        save_search(worker, keywords="review")
    job = publish(
        rules={"requirements": [requirement("GreaterThanOrEqualTo", [95], Guard.DISCOVER_PREVIEW_AND_ACCEPT)]}
    )
    assert job.hides_from_unqualified
    assert alerted(job) == {qualified.pk}


def test_qualified_only_leaves_out_workers_of_an_excluded_job(publish, requester):
    first_study = make_job(requester=requester, title="Study 1")
    veteran, newcomer = make_user(), make_user()
    assignment_return(assignment=assignment_claim(job=first_study, worker=veteran), worker=veteran)
    for worker in (veteran, newcomer):
        save_search(worker, keywords="study", qualified_only=True)
    second_study = publish(title="Study 2", rules={"excluded_job_ids": [first_study.public_id]})
    assert alerted(second_study) == {newcomer.pk}


def test_a_job_that_restricts_nobody_asks_no_qualification_query(django_assert_num_queries, requester):
    job = make_job(requester=requester)
    Job.objects.filter(pk=job.pk).update(published_at=timezone.now() + timedelta(seconds=1))
    for _ in range(3):
        save_search(make_user(), keywords="review", qualified_only=True)
    # As the matching's count, plus one: whether the job excludes the workers of earlier jobs.
    with django_assert_num_queries(MATCHING_QUERIES + 1):
        assert len(services.job_alerts_match(job_id=job.public_id)) == 3


# Once per job ------------------------------------------------------------------------------------------------------


def test_two_matching_searches_of_one_worker_alert_once(publish, worker):
    save_search(worker, keywords="review")
    save_search(worker, min_reward_msat=1_000)
    job = publish()
    assert len(alerts_of(worker)) == 1
    assert AlertMatch.objects.filter(job=job, worker=worker).count() == 1


def test_matching_the_same_job_again_alerts_nobody_twice(publish, committed, worker):
    save_search(worker, keywords="review")
    job = publish()
    with committed():
        assert services.job_alerts_match(job_id=job.public_id) == []
        background.match_job_to_alerts.delay(job.public_id)
    assert len(alerts_of(worker)) == 1
    assert Event.objects.filter(type="alert.matched", subject_id=job.public_id).count() == 1


def test_the_matched_event_handled_again_tells_nobody_twice(publish, worker):
    save_search(worker, keywords="review", email=True)
    job = publish()
    event = Event.objects.get(type="alert.matched", subject_id=job.public_id)
    handlers.notify(event)
    handlers.notify(event)
    assert len(alerts_of(worker)) == 1
    assert len(mail.outbox) == 1


def test_a_worker_alerted_once_is_not_alerted_when_the_job_is_resumed(publish, committed, worker):
    save_search(worker, keywords="review")
    job = publish()
    job_services.job_pause(job=job, actor=job.requester)
    with committed():
        job_services.job_resume(job=job, actor=job.requester)
    assert len(alerts_of(worker)) == 1


# Where and when it runs --------------------------------------------------------------------------------------------


def test_the_publish_request_only_enqueues_the_matching(django_capture_on_commit_callbacks, requester, worker):
    """Celery is not eager here: the handler's enqueue goes to the broker, and nothing is matched in the request
    (the message is left to whichever worker reads this test's Redis database: its job will not exist there)."""
    from marketplace.celery import app

    app.conf.task_always_eager = False
    save_search(worker, keywords="review")
    draft = make_job(requester=requester, publish=False)
    with django_capture_on_commit_callbacks(execute=True):
        job_services.job_publish(job=draft, actor=requester)
    assert alerted(draft) == set()
    assert not JobAlertScan.objects.filter(job=draft).exists()

    background.match_job_to_alerts.apply(args=[draft.public_id])  # what the Celery worker does with it
    assert alerted(draft) == {worker.pk}


def test_the_sweeper_matches_a_job_whose_message_was_lost(worker, requester):
    save_search(worker, keywords="review")
    job = make_job(requester=requester)  # published, its handlers not run: as if the message was lost
    assert selectors.jobs_not_matched_to_alerts() == []  # its own background job may still be on its way
    later = timezone.now() + selectors.UNSCANNED_GRACE + timedelta(seconds=1)
    assert selectors.jobs_not_matched_to_alerts(now=later) == [job.public_id]

    Job.objects.filter(pk=job.pk).update(published_at=job.published_at - selectors.UNSCANNED_GRACE * 2)
    SavedSearch.objects.filter(worker=worker).update(created_at=job.published_at - selectors.UNSCANNED_GRACE * 3)
    assert background.match_unmatched_jobs_to_alerts.apply().get() == 1
    assert alerted(job) == {worker.pk}
    assert selectors.jobs_not_matched_to_alerts(now=later) == []


def test_the_matching_query_count_does_not_grow_with_searches(django_assert_num_queries, requester):
    workers = [make_user() for _ in range(12)]
    first, second = make_job(requester=requester), make_job(requester=requester)
    Job.objects.update(published_at=timezone.now() + timedelta(seconds=1))  # after the searches below
    save_search(workers[0], keywords="review")
    # The job, its tags, the scan row (a savepoint, select for update, insert), the searches, the event, its
    # audience, the matches, and the savepoints of the tests' transaction.
    with django_assert_num_queries(MATCHING_QUERIES):
        assert services.job_alerts_match(job_id=first.public_id) == [workers[0].pk]

    for worker in workers[1:]:
        save_search(worker, keywords="review", min_reward_msat=1_000)
        save_search(worker, tag="images")
    with django_assert_num_queries(MATCHING_QUERIES):
        assert len(services.job_alerts_match(job_id=second.public_id)) == 12


# Email -------------------------------------------------------------------------------------------------------------


def test_email_only_for_a_search_that_asks_for_it(publish, worker, stranger):
    save_search(worker, keywords="review", email=True)
    save_search(stranger, keywords="review")
    job = publish()
    assert [message.to for message in mail.outbox] == [[worker.email]]
    assert job.title in mail.outbox[0].subject
    assert f"/jobs/{job.public_id}/" in mail.outbox[0].body
    (told,) = alerts_of(stranger)
    assert told.email_state == EmailState.NOT_WANTED
    assert told.link == f"/jobs/{job.public_id}/"


def test_no_email_when_the_notification_settings_refuse_it(publish, worker):
    NotificationPreference.objects.create(user=worker, kind="work_alert", in_app=True, email=False)
    save_search(worker, keywords="review", email=True)
    publish()
    assert mail.outbox == []
    assert len(alerts_of(worker)) == 1


def test_one_of_two_matching_searches_asking_for_email_is_enough(publish, worker):
    save_search(worker, keywords="review")
    save_search(worker, min_reward_msat=1_000, email=True)
    publish()
    assert len(alerts_of(worker)) == 1
    assert len(mail.outbox) == 1


def test_the_alert_names_the_job_its_pay_and_the_search(publish, worker):
    save_search(worker, keywords="review", tag="images", min_reward_msat=5_000)
    publish(reward_msat=21_000, estimated_seconds_per_task=60, tags=["images"])
    (told,) = alerts_of(worker)
    assert told.title == "New work: “Rate a review”"
    assert "21 sats a task (about 1,260 sats per hour)" in told.body
    assert "your work alert “review” · tag images · at least 5 sats a task" in told.body
