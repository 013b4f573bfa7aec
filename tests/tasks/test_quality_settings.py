"""The quality control settings of a job (tasks.quality.job_quality_set): who may change them, when, and every
refusal saying which setting is wrong."""

import pytest

from core.errors import InvalidInput, InvalidTransition, NotFound
from core.models import Event
from marketplace import services as job_services
from tasks import quality
from tasks.models import JobQuality
from tests.factories import make_draft_job, make_job, make_quality_job

pytestmark = pytest.mark.django_db


def refusal(job, actor, **settings) -> dict:
    with pytest.raises(quality.QualitySettingsInvalid) as caught:
        quality.job_quality_set(job=job, actor=actor, **settings)
    return caught.value.details["fields"]


def test_the_owner_sets_rules_and_they_are_recorded_with_what_changed(requester):
    job = make_job(requester=requester, tasks=2, assignments_per_task=3)
    saved = quality.job_quality_set(
        job=job,
        actor=requester,
        control_rate_percent=10,
        approve_accuracy_percent=90,
        approve_after_controls=5,
        approve_on_agreement=True,
        flag_faster_than_seconds=5,
    )
    row = JobQuality.objects.get(job=job)
    assert (row.control_rate_percent, row.approve_accuracy_percent, row.approve_on_agreement) == (10, 90, True)
    assert saved.flag_faster_than_seconds == 5
    event = Event.objects.get(type="job.quality_changed")
    assert event.data["changes"]["approve_accuracy_percent"] == 90
    # A later change names only what changed; the rest stays as it was.
    quality.job_quality_set(job=job, actor=requester, flag_faster_than_seconds=None)
    row.refresh_from_db()
    assert (row.flag_faster_than_seconds, row.approve_accuracy_percent) == (None, 90)
    assert Event.objects.filter(type="job.quality_changed").last().data["changes"] == {"flag_faster_than_seconds": None}


def test_only_the_owner_and_only_while_the_job_is_open(requester, stranger):
    job = make_job(requester=requester, tasks=1)
    with pytest.raises(NotFound):
        quality.job_quality_set(job=job, actor=stranger, control_rate_percent=10)
    with pytest.raises(NotFound):
        quality.job_quality_get(job=job, actor=stranger)
    job_services.job_close(job=job, actor=requester)
    with pytest.raises(InvalidTransition, match="closed"):
        quality.job_quality_set(job=job, actor=requester, control_rate_percent=10)
    assert not JobQuality.objects.exists()


def test_a_paused_job_takes_changes(requester):
    job = make_job(requester=requester, tasks=1)
    job_services.job_pause(job=job, actor=requester)
    assert quality.job_quality_set(job=job, actor=requester, flag_outliers_below_median=True).flag_outliers_below_median


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"control_rate_percent": 51}, "control_rate_percent", "from 0 to 50"),
        ({"control_rate_percent": -1}, "control_rate_percent", "from 0 to 50"),
        ({"accuracy_window": 0}, "accuracy_window", "from 1 to 1,000"),
        ({"agreement_percent": 101}, "agreement_percent", "from 1 to 100"),
        ({"approve_accuracy_percent": "many"}, "approve_accuracy_percent", "whole number"),
        ({"approve_accuracy_percent": True}, "approve_accuracy_percent", "whole number"),
        ({"reject_wrong_controls": "yes"}, "reject_wrong_controls", "true or false"),
        ({"aggregation_method": "vote"}, "aggregation_method", "majority, weighted, dawid_skene"),
        ({"approve_accuracy_percent": 90}, "approve_accuracy_percent", "needs controls"),
        ({"reject_wrong_controls": True}, "reject_wrong_controls", "needs controls"),
        ({"stop_below_percent": 60}, "stop_below_percent", "needs controls"),
        ({"hold_pending_when_stopped": True}, "hold_pending_when_stopped", "percentage to stop below"),
        (
            {"control_rate_percent": 10, "approve_accuracy_percent": 90, "accuracy_window": 10,
             "approve_after_controls": 11},
            "approve_after_controls",
            "at most 10",
        ),
        ({"approve_on_agreement": True}, "approve_on_agreement", "at least two workers"),
        ({"flag_faster_than_seconds": 600}, "flag_faster_than_seconds", "time limit of 600 seconds"),
        ({"overlap_start": 2}, "overlap_start", "from 1 to 1"),
    ],
)  # fmt: skip
def test_a_bad_setting_is_refused_naming_it_and_nothing_changes(requester, changes, field, message):
    job = make_job(requester=requester, tasks=1, time_limit_seconds=600)
    errors = refusal(job, requester, **changes)
    assert field in errors
    assert message in errors[field]
    assert not JobQuality.objects.exists()
    assert not Event.objects.filter(type="job.quality_changed").exists()


def test_every_refusal_is_said_at_once(requester):
    job = make_job(requester=requester, tasks=1)
    errors = refusal(job, requester, control_rate_percent=90, accuracy_window=0, approve_on_agreement=True)
    assert set(errors) == {"control_rate_percent", "accuracy_window"}  # the type checks first, then how they fit


def test_unknown_settings_are_refused(requester):
    job = make_job(requester=requester, tasks=1)
    with pytest.raises(InvalidInput, match="Unknown quality settings: colour"):
        quality.job_quality_set(job=job, actor=requester, colour="red")


def test_the_starting_overlap_changes_on_a_draft_only(requester):
    draft = make_draft_job(requester=requester, tasks=2, assignments_per_task=3)
    quality.job_quality_set(job=draft, actor=requester, overlap_start=2)
    draft.refresh_from_db()
    assert draft.open_slot_count == 4  # tasks.overlap applied it: two answers wanted per task to start with
    assert set(draft.tasks.values_list("slots_open", flat=True)) == {2}
    job_services.job_publish(job=draft, actor=requester)
    errors = refusal(draft, requester, overlap_start=3)
    assert "fixed when the job is published" in errors["overlap_start"]
    # Other settings still change, the starting overlap staying as it was.
    assert quality.job_quality_set(job=draft, actor=requester, agreement_percent=80).overlap_start == 2


def test_the_defaults_of_a_job_without_quality_control(requester):
    job = make_job(requester=requester, tasks=1)
    defaults = quality.job_quality_get(job=job, actor=requester)
    assert defaults._state.adding
    assert (defaults.control_rate_percent, defaults.approve_accuracy_percent) == (0, None)
    assert quality.rules_described(job, defaults) == []


def test_the_sentences_workers_read(requester):
    job = make_quality_job(
        requester=requester,
        regular=2,
        controls=1,
        assignments_per_task=3,
        control_rate_percent=10,
        accuracy_window=20,
        stop_below_percent=60,
        stop_after_controls=4,
        hold_pending_when_stopped=True,
        approve_accuracy_percent=90,
        approve_after_controls=5,
        approve_on_agreement=True,
        overlap_start=2,
        reject_wrong_controls=True,
        flag_faster_than_seconds=5,
        flag_outliers_below_median=True,
    )
    assert quality.rules_described(job) == [
        "Some tasks are checked against answers the requester knows; they look like all the others.",
        (
            "If fewer than 60% of your last 20 checked tasks are right (after 4), you can take no more tasks of this "
            "job and your work waiting for review goes to the requester."
        ),
        "Approved as soon as you submit when at least 90% of your last 20 checked tasks are right (after 5).",
        (
            "Approved when your answer agrees with the other workers' (once 2 have answered, "
            "and at least 70% of the answers agree)."
        ),
        "A wrong answer on a checked task may be rejected; you will see the right answer.",
        "Answers sent in under 5 s go to the requester for review.",
        "Answers sent far faster than usual for this job go to the requester for review.",
    ]
