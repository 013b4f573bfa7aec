"""Job services: creating, editing, publishing, pausing, closing, cancelling and expiring jobs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.errors import InvalidInput, InvalidTransition, NotFound
from marketplace import services
from marketplace.models import FormKind, Job, JobStatus, Tag
from tasks.services import tasks_add
from tests.factories import (
    HTML_TEMPLATE,
    SENTIMENT_FIELDS,
    make_bare_draft,
    make_draft_job,
    make_job,
    make_user,
)

GOOD_TERMS = {
    "title": "Label photos",
    "description": "Say what is in a photo.",
    "reward_msat": 5_000,
}


def terms(**changes):
    return {**GOOD_TERMS, **changes}


# job_create -----------------------------------------------------------------------------------------------------


def test_job_create_makes_a_draft_with_clean_terms(requester):
    job = services.job_create(
        requester=requester,
        title="  Label photos  ",
        description=" Say what is in a photo. ",
        instructions=" Be careful. ",
        reward_msat=5_000,
        assignments_per_task=3,
        time_limit_seconds=300,
        auto_approve_seconds=0,
        tags=["Images", "images", "Cute Cats", ""],
    )
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT
    assert job.requester == requester
    assert job.title == "Label photos"
    assert job.description == "Say what is in a photo."
    assert job.instructions == "Be careful."
    assert (job.reward_msat, job.assignments_per_task, job.time_limit_seconds) == (5_000, 3, 300)
    assert sorted(tag.name for tag in job.tags.all()) == ["cute-cats", "images"]
    assert (job.task_count, job.open_slot_count) == (0, 0)
    assert job.published_at is None


def test_job_create_reuses_existing_tags(requester):
    services.job_create(requester=requester, **terms(tags=["images"]))
    services.job_create(requester=requester, **terms(tags=["images", "text"]))
    assert sorted(Tag.objects.values_list("name", flat=True)) == ["images", "text"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param({"title": ""}, id="empty-title"),
        pytest.param({"title": "   "}, id="blank-title"),
        pytest.param({"title": "x" * 201}, id="long-title"),
        pytest.param({"description": ""}, id="empty-description"),
        pytest.param({"description": " \n "}, id="blank-description"),
        pytest.param({"description": "x" * 5_001}, id="long-description"),
        pytest.param({"instructions": "x" * 50_001}, id="long-instructions"),
        pytest.param({"reward_msat": 0}, id="zero-reward"),
        pytest.param({"reward_msat": 999}, id="reward-below-one-sat"),
        pytest.param({"reward_msat": 1_000_000_001}, id="reward-too-high"),
        pytest.param({"reward_msat": -1_000}, id="negative-reward"),
        pytest.param({"assignments_per_task": 0}, id="zero-assignments"),
        pytest.param({"assignments_per_task": 101}, id="too-many-assignments"),
        pytest.param({"time_limit_seconds": 59}, id="time-limit-too-short"),
        pytest.param({"time_limit_seconds": 7 * 24 * 3600 + 1}, id="time-limit-too-long"),
        pytest.param({"auto_approve_seconds": -1}, id="negative-auto-approve"),
        pytest.param({"auto_approve_seconds": 14 * 24 * 3600 + 1}, id="auto-approve-too-long"),
        pytest.param({"expires_at": "past"}, id="expiry-in-the-past"),
        pytest.param({"expires_at": "now"}, id="expiry-now"),
        pytest.param({"tags": [f"tag{n}" for n in range(11)]}, id="eleven-tags"),
    ],
)
def test_job_create_refuses_every_bad_term_and_creates_nothing(requester, bad):
    if bad.get("expires_at") == "past":
        bad = {"expires_at": timezone.now() - timedelta(hours=1)}
    elif bad.get("expires_at") == "now":
        bad = {"expires_at": timezone.now()}
    with pytest.raises(InvalidInput):
        services.job_create(requester=requester, **terms(**bad))
    assert Job.objects.count() == 0
    assert Tag.objects.count() == 0


def test_job_create_accepts_the_bounds(requester):
    services.job_create(
        requester=requester,
        **terms(
            title="x" * 200,
            description="y" * 5_000,
            instructions="z" * 50_000,
            reward_msat=1_000,
            assignments_per_task=100,
            time_limit_seconds=60,
            auto_approve_seconds=14 * 24 * 3600,
            tags=[f"tag{n}" for n in range(10)],
            expires_at=timezone.now() + timedelta(days=1),
        ),
    )
    services.job_create(requester=requester, **terms(reward_msat=1_000_000_000, time_limit_seconds=7 * 24 * 3600))
    assert Job.objects.count() == 2


# Status transitions ---------------------------------------------------------------------------------------------


def test_publish_puts_a_ready_draft_on_the_board(requester):
    job = make_draft_job(requester=requester, tasks=2, assignments_per_task=2)
    published = services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert published.status == job.status == JobStatus.PUBLISHED
    assert job.published_at is not None
    assert (job.task_count, job.open_slot_count) == (2, 4)


def test_publish_without_a_form_is_refused(requester):
    job = make_bare_draft(requester=requester)
    tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "ok"}])
    with pytest.raises(InvalidInput, match="answer form"):
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT
    assert job.published_at is None


def test_publish_without_tasks_is_refused(requester):
    job = make_draft_job(requester=requester, tasks=0)
    with pytest.raises(InvalidInput, match="task"):
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT


def test_publish_with_an_expiry_in_the_past_is_refused(requester):
    job = make_draft_job(requester=requester, expires_at=timezone.now() + timedelta(hours=1))
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(InvalidInput):
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.DRAFT


def test_publish_twice_is_a_no_op(requester):
    job = make_job(requester=requester)
    first_published_at = job.published_at
    again = services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert again.status == job.status == JobStatus.PUBLISHED
    assert job.published_at == first_published_at


def test_pause_and_resume(requester):
    job = make_job(requester=requester)
    published_at = job.published_at
    services.job_pause(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED
    services.job_pause(job=job, actor=requester)  # no-op
    job.refresh_from_db()
    assert job.status == JobStatus.PAUSED
    services.job_resume(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.PUBLISHED
    assert job.published_at == published_at, "resuming keeps the board position of the first publication"


@pytest.mark.parametrize("from_status", [JobStatus.PUBLISHED, JobStatus.PAUSED])
def test_close_from_published_or_paused(requester, from_status):
    job = make_job(requester=requester)
    if from_status == JobStatus.PAUSED:
        services.job_pause(job=job, actor=requester)
    services.job_close(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.CLOSED
    assert job.closed_at is not None
    closed_at = job.closed_at
    services.job_close(job=job, actor=requester)  # no-op
    job.refresh_from_db()
    assert job.closed_at == closed_at


def test_cancel_a_draft(requester):
    job = make_draft_job(requester=requester)
    services.job_cancel(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.closed_at is not None
    services.job_cancel(job=job, actor=requester)  # no-op
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED


def _job_in(status, requester):
    job = make_draft_job(requester=requester)
    if status == JobStatus.DRAFT:
        return job
    if status == JobStatus.CANCELLED:
        return services.job_cancel(job=job, actor=requester)
    services.job_publish(job=job, actor=requester)
    if status == JobStatus.PAUSED:
        services.job_pause(job=job, actor=requester)
    elif status == JobStatus.CLOSED:
        services.job_close(job=job, actor=requester)
    job.refresh_from_db()
    assert job.status == status
    return job


@pytest.mark.parametrize(
    ("from_status", "action"),
    [
        (JobStatus.DRAFT, services.job_pause),
        (JobStatus.DRAFT, services.job_close),
        (JobStatus.PUBLISHED, services.job_cancel),
        (JobStatus.PAUSED, services.job_cancel),
        (JobStatus.CLOSED, services.job_publish),
        (JobStatus.CLOSED, services.job_resume),
        (JobStatus.CLOSED, services.job_pause),
        (JobStatus.CLOSED, services.job_cancel),
        (JobStatus.CANCELLED, services.job_publish),
        (JobStatus.CANCELLED, services.job_pause),
        (JobStatus.CANCELLED, services.job_close),
    ],
    ids=lambda value: getattr(value, "__name__", str(value)),
)
def test_refused_transitions_change_nothing(requester, from_status, action):
    job = _job_in(from_status, requester)
    before = Job.objects.values().get(pk=job.pk)
    with pytest.raises(InvalidTransition):
        action(job=job, actor=requester)
    assert Job.objects.values().get(pk=job.pk) == before


@pytest.mark.parametrize("action", [services.job_publish, services.job_pause, services.job_close, services.job_cancel])
def test_someone_elses_job_is_not_found(requester, stranger, action):
    job = make_job(requester=requester)
    draft = make_draft_job(requester=requester)
    before = list(Job.objects.order_by("pk").values())
    for target in (job, draft):
        with pytest.raises(NotFound):
            action(job=target, actor=stranger)
    assert list(Job.objects.order_by("pk").values()) == before


# Drafts are editable, published jobs are not --------------------------------------------------------------------


def _update_arguments(**changes):
    return {
        "title": "New title",
        "description": "New description",
        "instructions": "New instructions",
        "reward_msat": 7_000,
        "assignments_per_task": 2,
        "time_limit_seconds": 900,
        "auto_approve_seconds": 3600,
        "expires_at": None,
        "tags": ["fresh"],
        **changes,
    }


def test_job_update_draft_changes_terms_and_slots(requester):
    job = make_draft_job(requester=requester, tasks=3, assignments_per_task=1)
    services.job_update_draft(job=job, actor=requester, **_update_arguments(assignments_per_task=4))
    job.refresh_from_db()
    assert job.title == "New title"
    assert job.reward_msat == 7_000
    assert job.assignments_per_task == 4
    assert job.open_slot_count == 12
    assert set(job.tasks.values_list("slots_open", flat=True)) == {4}
    assert [tag.name for tag in job.tags.all()] == ["fresh"]


def test_job_update_draft_refuses_bad_terms(requester):
    job = make_draft_job(requester=requester)
    before = Job.objects.values().get(pk=job.pk)
    with pytest.raises(InvalidInput):
        services.job_update_draft(job=job, actor=requester, **_update_arguments(reward_msat=10))
    with pytest.raises(InvalidInput):
        services.job_update_draft(job=job, actor=requester, **_update_arguments(tags=[f"t{n}" for n in range(11)]))
    assert Job.objects.values().get(pk=job.pk) == before


def test_job_update_draft_of_someone_else_is_not_found(requester, stranger):
    job = make_draft_job(requester=requester)
    with pytest.raises(NotFound):
        services.job_update_draft(job=job, actor=stranger, **_update_arguments())
    job.refresh_from_db()
    assert job.title == "Rate a review"


@pytest.mark.parametrize("status", [JobStatus.PUBLISHED, JobStatus.PAUSED, JobStatus.CLOSED])
def test_published_jobs_terms_and_form_are_fixed(requester, status):
    job = _job_in(status, requester)
    before = Job.objects.values().get(pk=job.pk)
    with pytest.raises(InvalidTransition):
        services.job_update_draft(job=job, actor=requester, **_update_arguments())
    with pytest.raises(InvalidTransition):
        services.job_set_builder_form(
            job=job, actor=requester, prompt="Changed {{review}}", fields=SENTIMENT_FIELDS[:1]
        )
    with pytest.raises(InvalidTransition):
        services.job_set_html_template(job=job, actor=requester, html_template=HTML_TEMPLATE)
    assert Job.objects.values().get(pk=job.pk) == before


def test_set_builder_form_on_a_draft(requester):
    job = make_bare_draft(requester=requester)
    services.job_set_builder_form(job=job, actor=requester, prompt="  Is {{word}} a noun? ", fields=SENTIMENT_FIELDS)
    job.refresh_from_db()
    assert job.form_kind == FormKind.BUILDER
    assert job.prompt == "Is {{word}} a noun?"
    assert job.answer_fields == ["sentiment", "notes"]
    assert services.job_placeholders(job) == ["word"]


def test_switching_a_draft_between_builder_and_html(requester):
    job = make_bare_draft(requester=requester)
    services.job_set_html_template(job=job, actor=requester, html_template=HTML_TEMPLATE)
    job.refresh_from_db()
    assert job.form_kind == FormKind.HTML
    assert job.answer_fields == ["sentiment", "notes"]
    assert services.job_placeholders(job) == ["review"]
    services.job_set_builder_form(job=job, actor=requester, prompt="{{review}}", fields=SENTIMENT_FIELDS[:1])
    job.refresh_from_db()
    assert job.form_kind == FormKind.BUILDER
    assert job.html_template == ""
    assert job.answer_fields == ["sentiment"]


@pytest.mark.parametrize(
    "template",
    [
        pytest.param("", id="empty"),
        pytest.param("   \n", id="blank"),
        pytest.param("<p>No form controls ${review}</p>", id="no-fields"),
        pytest.param("<input name='a'>" + "x" * 200_000, id="too-long"),
    ],
)
def test_set_html_template_refuses_bad_templates(requester, template):
    job = make_bare_draft(requester=requester)
    with pytest.raises(InvalidInput):
        services.job_set_html_template(job=job, actor=requester, html_template=template)
    job.refresh_from_db()
    assert not job.has_form


def test_set_builder_form_refuses_a_long_prompt(requester):
    job = make_bare_draft(requester=requester)
    with pytest.raises(InvalidInput):
        services.job_set_builder_form(job=job, actor=requester, prompt="x" * 20_001, fields=SENTIMENT_FIELDS)
    job.refresh_from_db()
    assert not job.has_form


# Placeholders against the tasks' CSV header ---------------------------------------------------------------------


def test_form_placeholders_must_be_columns_of_existing_tasks(requester):
    job = make_draft_job(requester=requester, tasks=2)  # tasks have the column "review"
    with pytest.raises(InvalidInput, match="image_url"):
        services.job_set_builder_form(
            job=job, actor=requester, prompt="![x]({{image_url}}) {{review}}", fields=SENTIMENT_FIELDS
        )
    with pytest.raises(InvalidInput, match="image_url"):
        services.job_set_html_template(
            job=job, actor=requester, html_template="<img src='${image_url}'><input name='label'>"
        )
    job.refresh_from_db()
    assert job.prompt == "Review: {{review}}"
    assert job.form_kind == FormKind.BUILDER
    # A form that only uses existing columns is fine.
    services.job_set_builder_form(job=job, actor=requester, prompt="Again: {{ review }}", fields=SENTIMENT_FIELDS)


def test_tasks_must_carry_the_forms_placeholders(requester):
    job = make_bare_draft(requester=requester)
    services.job_set_builder_form(job=job, actor=requester, prompt="{{word}} in {{sentence}}", fields=SENTIMENT_FIELDS)
    with pytest.raises(InvalidInput, match="sentence"):
        tasks_add(job=job, actor=requester, columns=["word"], rows=[{"word": "run"}])
    job.refresh_from_db()
    assert (job.task_count, job.input_columns) == (0, [])


def test_later_tasks_must_have_the_same_columns(requester):
    job = make_draft_job(requester=requester, tasks=1)
    with pytest.raises(InvalidInput):
        tasks_add(job=job, actor=requester, columns=["review", "extra"], rows=[{"review": "a", "extra": "b"}])
    job.refresh_from_db()
    assert job.task_count == 1


def test_tasks_cannot_be_added_to_closed_or_cancelled_jobs(requester):
    for status in (JobStatus.CLOSED, JobStatus.CANCELLED):
        job = _job_in(status, requester)
        with pytest.raises(InvalidTransition):
            tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "late"}])
        job.refresh_from_db()
        assert job.task_count == 3


def test_tasks_added_to_a_published_job_open_slots(requester):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    tasks_add(job=job, actor=requester, columns=["review"], rows=[{"review": "more"}])
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count) == (3, 9)
    assert list(job.tasks.values_list("position", flat=True)) == [1, 2, 3]


def test_tasks_cannot_be_added_to_someone_elses_job(requester, stranger):
    job = make_draft_job(requester=requester, tasks=1)
    with pytest.raises(NotFound):
        tasks_add(job=job, actor=stranger, columns=["review"], rows=[{"review": "x"}])
    job.refresh_from_db()
    assert job.task_count == 1


# Expiry ---------------------------------------------------------------------------------------------------------


def test_a_draft_expiry_can_move_earlier_or_later(requester):
    in_two_days = timezone.now() + timedelta(days=2)
    job = make_draft_job(requester=requester, expires_at=in_two_days)
    tomorrow = timezone.now() + timedelta(days=1)
    services.job_extend_expiry(job=job, actor=requester, expires_at=tomorrow)
    job.refresh_from_db()
    assert job.expires_at == tomorrow


@pytest.mark.parametrize("status", [JobStatus.PUBLISHED, JobStatus.PAUSED])
def test_a_published_expiry_only_moves_later(requester, status):
    in_two_days = timezone.now() + timedelta(days=2)
    job = make_job(requester=requester, expires_at=in_two_days)
    if status == JobStatus.PAUSED:
        services.job_pause(job=job, actor=requester)
    with pytest.raises(InvalidInput):
        services.job_extend_expiry(job=job, actor=requester, expires_at=in_two_days - timedelta(hours=1))
    job.refresh_from_db()
    assert job.expires_at == in_two_days
    later = in_two_days + timedelta(days=5)
    services.job_extend_expiry(job=job, actor=requester, expires_at=later)
    job.refresh_from_db()
    assert job.expires_at == later
    services.job_extend_expiry(job=job, actor=requester, expires_at=None)
    job.refresh_from_db()
    assert job.expires_at is None


def test_expiry_must_be_in_the_future(requester):
    job = make_job(requester=requester)
    with pytest.raises(InvalidInput):
        services.job_extend_expiry(job=job, actor=requester, expires_at=timezone.now() - timedelta(seconds=1))
    job.refresh_from_db()
    assert job.expires_at is None


@pytest.mark.parametrize("status", [JobStatus.CLOSED, JobStatus.CANCELLED])
def test_expiry_of_an_ended_job_cannot_change(requester, status):
    job = _job_in(status, requester)
    with pytest.raises(InvalidTransition):
        services.job_extend_expiry(job=job, actor=requester, expires_at=timezone.now() + timedelta(days=3))
    job.refresh_from_db()
    assert job.expires_at is None


def test_expiry_of_someone_elses_job_is_not_found(requester, stranger):
    job = make_job(requester=requester)
    with pytest.raises(NotFound):
        services.job_extend_expiry(job=job, actor=stranger, expires_at=timezone.now() + timedelta(days=3))
    job.refresh_from_db()
    assert job.expires_at is None


def test_jobs_close_expired_closes_only_published_and_paused_jobs_past_their_expiry(requester):
    soon = timezone.now() + timedelta(hours=1)
    later = timezone.now() + timedelta(days=10)
    published = make_job(requester=requester, expires_at=soon)
    paused = make_job(requester=requester, expires_at=soon)
    services.job_pause(job=paused, actor=requester)
    draft = make_draft_job(requester=requester, expires_at=soon)
    not_yet = make_job(requester=requester, expires_at=later)
    no_expiry = make_job(requester=requester)

    assert services.jobs_close_expired() == 0
    assert services.jobs_close_expired(now=timezone.now() + timedelta(hours=2)) == 2
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {
        published.pk: JobStatus.CLOSED,
        paused.pk: JobStatus.CLOSED,
        draft.pk: JobStatus.DRAFT,
        not_yet.pk: JobStatus.PUBLISHED,
        no_expiry.pk: JobStatus.PUBLISHED,
    }
    assert Job.objects.get(pk=published.pk).closed_at is not None
    # Running the sweep again finds nothing more to do.
    assert services.jobs_close_expired(now=timezone.now() + timedelta(hours=2)) == 0


def test_other_requesters_drafts_are_not_affected_by_my_actions(requester):
    other = make_user()
    mine = make_draft_job(requester=requester)
    theirs = make_draft_job(requester=other)
    services.job_publish(job=mine, actor=requester)
    theirs.refresh_from_db()
    assert theirs.status == JobStatus.DRAFT


def test_a_published_jobs_review_deadline_cannot_be_lengthened(requester):
    """Issue 10: the auto-approve delay is a term the worker counts on; after publishing the terms are fixed."""
    job = make_job(requester=requester, auto_approve_seconds=3 * 24 * 3600)
    with pytest.raises(InvalidTransition):
        services.job_revise_draft(
            job=job, actor=requester, terms={"auto_approve_seconds": 14 * 24 * 3600}, form=services.AnswerFormChange()
        )
    job.refresh_from_db()
    assert job.auto_approve_seconds == 3 * 24 * 3600
