"""Review by rules (tasks.quality.submission_checked): each rule on both sides of its threshold, in its order, each
decision recorded with its inputs, disputable, and each approval paid exactly once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import ActorKind, Event
from payments.models import LedgerTransaction
from tasks import quality
from tasks.disputes import dispute_open
from tasks.models import Assignment, AssignmentStatus, RejectionReason, ReviewSource, TaskKind
from tasks.services import assignment_claim, assignment_submit, assignments_auto_approve_due
from tests.factories import add_tasks, answer_data, make_job, make_quality_job, make_user, work_and_check

pytestmark = pytest.mark.django_db


def rewards_paid(assignment: Assignment) -> int:
    return LedgerTransaction.objects.filter(key=f"reward:{assignment.pk}").count()


def decision_of(assignment: Assignment) -> dict:
    return Event.objects.get(type="assignment.rule_applied", subject_id=assignment.public_id).data


def assert_waiting(assignment: Assignment) -> None:
    """Checked, and left for the requester or the auto-approve delay: no rule decided."""
    assert assignment.status == AssignmentStatus.SUBMITTED
    assert assignment.quality_checked_at is not None
    assert assignment.flag_reason == ""
    assert assignment.auto_approve_at is not None
    assert not Event.objects.filter(type="assignment.rule_applied", subject_id=assignment.public_id).exists()


# Flags ------------------------------------------------------------------------------------------------------------


def test_an_answer_faster_than_the_threshold_goes_to_the_requester_and_no_rule_approves_it():
    job = make_quality_job(regular=3, flag_faster_than_seconds=5)
    fast = work_and_check(job, seconds=4.9)
    assert fast.status == AssignmentStatus.SUBMITTED
    # The job's review deadline still holds: unrejected by then, it is approved and paid like any submission.
    assert fast.auto_approve_at == fast.submitted_at + timedelta(seconds=job.auto_approve_seconds)
    assert fast.flag_reason.startswith("Sent 4.9 s after the task was taken: answers in under 5 s")
    assert decision_of(fast) | {"checked_at": None} == {
        "assignment_id": fast.public_id,
        "job_id": job.public_id,
        "rule": "fast",
        "outcome": "flagged",
        "inputs": {"working_seconds": 4.9, "threshold_seconds": 5},
        "checked_at": None,
    }
    at_threshold = work_and_check(job, seconds=5)
    assert_waiting(at_threshold)
    # Until the review deadline nothing approves the flagged one; at the deadline it is approved like any other
    # unrejected submission (the job's promise to workers).
    assert assignments_auto_approve_due(now=fast.auto_approve_at - timedelta(seconds=1)) == 0
    later = timezone.now() + timedelta(days=30)
    assert assignments_auto_approve_due(now=later) == 2
    fast.refresh_from_db()
    assert (fast.status, fast.review_source) == (AssignmentStatus.APPROVED, ReviewSource.AUTO)


def test_a_flag_comes_before_any_approval():
    job = make_quality_job(controls=4, control_rate_percent=50, approve_accuracy_percent=50, approve_after_controls=1,
                           flag_faster_than_seconds=5)  # fmt: skip
    worker = make_user()
    assert work_and_check(job, worker).status == AssignmentStatus.APPROVED
    hurried = work_and_check(job, worker, seconds=1)
    assert (hurried.status, decision_of(hurried)["rule"]) == (AssignmentStatus.SUBMITTED, "fast")
    assert rewards_paid(hurried) == 0


def test_an_answer_far_faster_than_the_jobs_median_is_flagged_once_it_has_twenty_answers():
    job = make_quality_job(regular=30, flag_outliers_below_median=True)
    for n in range(19):
        work_and_check(job, seconds=50 + n)  # 50 to 68 s: median 59 s
    too_few = work_and_check(job, seconds=3)  # 19 other answers: not enough to judge
    assert_waiting(too_few)
    work_and_check(job, seconds=60)
    outlier = work_and_check(job, seconds=3)
    assert outlier.flag_reason.startswith("Sent 3.0 s after the task was taken, far faster than usual")
    inputs = decision_of(outlier)["inputs"]
    assert decision_of(outlier)["rule"] == "fast_outlier"
    assert inputs["submissions"] == 21
    assert inputs["median_seconds"] == 59.0
    assert inputs["threshold_seconds"] > 3
    within = work_and_check(job, seconds=inputs["threshold_seconds"] + 1)
    assert_waiting(within)


# A stopped worker's work held -----------------------------------------------------------------------------------


@pytest.mark.parametrize("hold", [True, False])
def test_a_stopped_workers_waiting_work_is_held_when_the_requester_asked(hold):
    job = make_quality_job(controls=5, control_rate_percent=50, stop_below_percent=50, stop_after_controls=2,
                           hold_pending_when_stopped=hold)  # fmt: skip
    worker = make_user()
    first = work_and_check(job, worker, sentiment="Negative")
    assert_waiting(first)  # one wrong answer: not stopped before two
    second = work_and_check(job, worker, sentiment="Negative")
    first.refresh_from_db()
    if not hold:
        assert_waiting(second)
        assert_waiting(first)
        return
    for held in (second, first):
        assert held.status == AssignmentStatus.SUBMITTED
        assert held.auto_approve_at is not None  # the job's review deadline still holds
        assert "recent checked tasks" in held.flag_reason
    decision = decision_of(second)
    assert (decision["rule"], decision["outcome"]) == ("stopped", "held")
    assert decision["inputs"]["accuracy_percent"] == 0
    assert decision["inputs"]["stop_below_percent"] == 50


# Rejecting wrong controls ----------------------------------------------------------------------------------------


def test_a_wrong_control_is_rejected_with_the_right_answer_and_can_be_disputed():
    job = make_quality_job(controls=3, control_rate_percent=50, reject_wrong_controls=True)
    worker = make_user()
    right = work_and_check(job, worker, sentiment="Positive")
    assert_waiting(right)
    wrong = work_and_check(job, worker, sentiment="Negative")
    assert wrong.task.kind == TaskKind.CONTROL
    assert wrong.status == AssignmentStatus.REJECTED
    assert wrong.review_source == ReviewSource.RULE
    assert wrong.review_rule == "wrong_control"
    assert wrong.rejection_reason == RejectionReason.WRONG_CHECKED_ANSWER
    assert wrong.feedback.endswith("The right answer: sentiment: Positive.")
    assert wrong.task.slots_open == 1  # the slot is back for another worker, as a person's rejection gives it
    rejected = Event.objects.get(type="assignment.rejected", subject_id=wrong.public_id)
    assert (rejected.actor_kind, rejected.rule) == (ActorKind.SYSTEM, "review rule: wrong_control")
    decision = decision_of(wrong)
    assert (decision["rule"], decision["outcome"]) == ("wrong_control", "rejected")
    assert decision["inputs"] == {
        "answer": {"sentiment": "Negative", "notes": ""},
        "known_answer": {"sentiment": "Positive"},
    }
    dispute = dispute_open(assignment_id=wrong.public_id, worker=worker, message="The review is positive.")
    assert dispute.is_live


def test_a_wrong_control_stays_waiting_unless_the_requester_allows_rejecting_it():
    job = make_quality_job(controls=2, control_rate_percent=50)
    assert_waiting(work_and_check(job, sentiment="Negative"))


def test_rule_rejections_are_never_held_as_a_mass_rejection(settings):
    settings.MASS_REJECTION_MIN_COUNT = 3
    job = make_quality_job(controls=5, control_rate_percent=50, reject_wrong_controls=True)
    worker = make_user()
    wrong = [work_and_check(job, worker, sentiment="Mixed") for _ in range(5)]
    assert [item.status for item in wrong] == [AssignmentStatus.REJECTED] * 5
    assert all(item.rejection_held_at is None for item in wrong)


# Approving on accuracy -------------------------------------------------------------------------------------------


def test_approved_on_accuracy_once_enough_controls_and_at_the_threshold_not_below():
    job = make_quality_job(controls=6, control_rate_percent=50, approve_accuracy_percent=75, approve_after_controls=3)
    worker = make_user()
    first, second = work_and_check(job, worker), work_and_check(job, worker)
    assert_waiting(first)  # 100% but over one control only
    assert_waiting(second)
    third = work_and_check(job, worker)
    assert third.status == AssignmentStatus.APPROVED
    assert (third.review_source, third.review_rule) == (ReviewSource.RULE, "accuracy")
    assert third.feedback.startswith("Approved by the rule: at least 75% of your last 20 checked tasks are right")
    assert decision_of(third)["inputs"] == {
        "accuracy_percent": 100, "controls": 3, "threshold": 75, "after_controls": 3, "window": 20,
    }  # fmt: skip
    assert rewards_paid(third) == 1
    at_threshold = work_and_check(job, worker, sentiment="Negative")  # 3 of 4 right: 75%
    assert at_threshold.status == AssignmentStatus.APPROVED
    below = work_and_check(job, worker, sentiment="Negative")  # 3 of 5: 60%
    assert_waiting(below)


def test_regular_work_is_approved_on_the_accuracy_the_controls_showed():
    job = make_quality_job(controls=2, control_rate_percent=50, approve_accuracy_percent=100, approve_after_controls=2)
    worker, newcomer = make_user(), make_user()
    work_and_check(job, worker)
    work_and_check(job, worker)
    add_tasks(job, regular=2)
    regular = work_and_check(job, worker, sentiment="Mixed")
    assert (regular.task.kind, regular.status) == (TaskKind.REGULAR, AssignmentStatus.APPROVED)
    assert_waiting(work_and_check(job, newcomer))  # no controls answered: nothing to go by


# Approving on agreement -----------------------------------------------------------------------------------------


def test_answers_agreeing_with_the_complete_result_are_approved_the_others_wait():
    # Two of three agreeing is 67%: enough for a job asking 60% agreement.
    job = make_quality_job(regular=1, assignments_per_task=3, approve_on_agreement=True, agreement_percent=60)
    first = work_and_check(job, sentiment="Positive")
    assert_waiting(first)  # one of three answers in: no result yet
    other = work_and_check(job, sentiment="Negative")
    assert_waiting(other)
    last = work_and_check(job, sentiment="Positive")
    first.refresh_from_db()
    other.refresh_from_db()
    assert last.status == first.status == AssignmentStatus.APPROVED
    assert (first.review_rule, last.review_rule) == ("agreement", "agreement")
    assert first.feedback == "Approved by the rule: your answer agrees with the other workers' (3 answered)."
    assert other.status == AssignmentStatus.SUBMITTED
    inputs = decision_of(first)["inputs"]
    assert inputs["answers"] == 3
    assert inputs["result"]["sentiment"] == "Positive"
    assert inputs["agreement"] == pytest.approx(2 / 3)
    assert rewards_paid(first) == rewards_paid(last) == 1
    assert rewards_paid(other) == 0


def test_a_flagged_answer_is_not_approved_by_agreement():
    job = make_quality_job(regular=1, assignments_per_task=3, approve_on_agreement=True, flag_faster_than_seconds=5)
    hurried = work_and_check(job, seconds=1)
    agreeing = [work_and_check(job) for _ in range(2)]
    for assignment in (hurried, *agreeing):
        assignment.refresh_from_db()
    assert [item.status for item in agreeing] == [AssignmentStatus.APPROVED] * 2
    assert hurried.status == AssignmentStatus.SUBMITTED
    assert hurried.flag_reason


def test_text_kept_as_all_answers_leaves_nothing_to_agree_on(requester):
    job = make_job(requester=requester, tasks=0, publish=False, assignments_per_task=2)
    from marketplace import services as job_services
    from tasks.services import tasks_add

    job_services.job_set_builder_form(
        job=job, actor=requester, prompt="{{word}}",
        fields=[{"name": "meaning", "kind": "short_text", "label": "Meaning", "required": True}],
    )  # fmt: skip
    tasks_add(job=job, actor=requester, columns=["word"], rows=[{"word": "run"}])
    quality.job_quality_set(job=job, actor=requester, approve_on_agreement=True, text_aggregation="all")
    job_services.job_publish(job=job, actor=requester)
    answers = []
    for _ in range(2):
        worker = make_user()
        assignment = assignment_claim(job=job, worker=worker, now=timezone.now() - timedelta(seconds=30))
        assignment_submit(assignment=assignment, worker=worker, data={"answer-meaning": "to move fast"})
        quality.submission_checked(assignment_id=assignment.pk)
        answers.append(Assignment.objects.get(pk=assignment.pk))
    assert [item.status for item in answers] == [AssignmentStatus.SUBMITTED] * 2


# Once, and only once ----------------------------------------------------------------------------------------------


def test_a_second_run_does_nothing():
    job = make_quality_job(controls=3, control_rate_percent=50, approve_accuracy_percent=50, approve_after_controls=1)
    approved = work_and_check(job)
    events = Event.objects.count()
    assert quality.submission_checked(assignment_id=approved.pk) == []
    assert Event.objects.count() == events
    assert rewards_paid(approved) == 1


def test_a_job_without_quality_control_is_only_marked_checked(requester):
    job = make_job(requester=requester, tasks=1)
    assignment = work_and_check(job)
    assert_waiting(assignment)


def test_the_handler_runs_the_rules_on_commit_of_the_submission(
    django_capture_on_commit_callbacks, background_jobs_run_at_once
):
    job = make_quality_job(controls=2, control_rate_percent=50, approve_accuracy_percent=50, approve_after_controls=1)
    worker = make_user()
    assignment = assignment_claim(job=job, worker=worker, now=timezone.now() - timedelta(seconds=20))
    with django_capture_on_commit_callbacks(execute=True):
        assignment_submit(assignment=assignment, worker=worker, data=answer_data("Positive"))
    assignment.refresh_from_db()
    assert assignment.status == AssignmentStatus.APPROVED
    assert assignment.quality_checked_at is not None
    assert (assignment.reviewed_at - assignment.submitted_at).total_seconds() < 5


def test_the_sweeper_checks_what_was_missed_a_minute_on():
    job = make_quality_job(controls=3, control_rate_percent=50, approve_accuracy_percent=50, approve_after_controls=1)
    worker = make_user()
    missed = []
    for _ in range(2):
        assignment = assignment_claim(job=job, worker=worker, now=timezone.now() - timedelta(seconds=90))
        assignment_submit(
            assignment=assignment, worker=worker, data=answer_data(), now=timezone.now() - timedelta(seconds=70)
        )
        missed.append(assignment)
    fresh = assignment_claim(job=job, worker=worker)
    assignment_submit(assignment=fresh, worker=worker, data=answer_data())
    assert quality.submissions_check_missed() == 2
    assert set(Assignment.objects.filter(quality_checked_at__isnull=False).values_list("pk", flat=True)) == {
        item.pk for item in missed
    }
    assert quality.submissions_check_missed() == 0


def test_the_worker_is_told_a_rule_decided():
    from notifications.messages import work_approved, work_rejected

    job = make_quality_job(controls=3, control_rate_percent=50, reject_wrong_controls=True,
                           approve_accuracy_percent=50, approve_after_controls=2)  # fmt: skip
    worker = make_user()
    rejected = work_and_check(job, worker, sentiment="Negative")
    [draft] = work_rejected(Event.objects.get(type="assignment.rejected", subject_id=rejected.public_id))
    assert "Why: Rejected by the rule: this task was checked" in draft.body
    assert "Message from the requester" not in draft.body
    work_and_check(job, worker)
    approved = work_and_check(job, worker)
    [draft] = work_approved(Event.objects.get(type="assignment.approved", subject_id=approved.public_id))
    assert "was approved by a rule of the job, as soon as it was checked" in draft.body


def test_agreement_never_approves_an_answer_whose_own_rules_have_not_run():
    """The check of one answer must not approve its partner before the partner's own rules ran: a fast answer agreeing
    with the result is flagged by its own check, not paid by its partner's."""
    job = make_quality_job(regular=1, assignments_per_task=2, flag_faster_than_seconds=5, approve_on_agreement=True)
    now = timezone.now()
    slow_worker, fast_worker = make_user(), make_user()
    slow = assignment_claim(job=job, worker=slow_worker, now=now - timedelta(seconds=30))
    fast = assignment_claim(job=job, worker=fast_worker, now=now - timedelta(seconds=1))
    assignment_submit(assignment=slow, worker=slow_worker, data=answer_data("Positive"), now=now)
    assignment_submit(assignment=fast, worker=fast_worker, data=answer_data("Positive"), now=now)
    quality.submission_checked(assignment_id=slow.pk)  # the task is complete and agrees: the slow one is approved
    fast.refresh_from_db()
    assert fast.status == AssignmentStatus.SUBMITTED
    quality.submission_checked(assignment_id=fast.pk)
    fast.refresh_from_db()
    assert fast.status == AssignmentStatus.SUBMITTED
    assert fast.flag_reason.startswith("Sent 1.0 s after the task was taken")
    assert rewards_paid(fast) == 0


def test_agreement_approves_nobody_when_a_task_ends_still_disagreeing():
    """At its maximum a task's result is complete even when split (a tie goes to the label sorting first): that is no
    agreement to approve anyone on."""
    job = make_quality_job(regular=1, assignments_per_task=2, approve_on_agreement=True, agreement_percent=80)
    first = work_and_check(job, sentiment="Positive")
    second = work_and_check(job, sentiment="Negative")
    for assignment in (first, second):
        assignment.refresh_from_db()
        assert assignment.status == AssignmentStatus.SUBMITTED
        assert rewards_paid(assignment) == 0
