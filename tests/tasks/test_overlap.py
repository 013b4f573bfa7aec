"""Overlap and aggregation (tasks/overlap.py): a task's answers aggregated per field into its TaskResult, and dynamic
overlap asking for one more answer only while they disagree, with the escrow of the answers a task did not need
refunded exactly once. The ledger is checked after every test (tests/conftest.py)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import InvalidTransition
from core.models import Event
from marketplace import escrow
from marketplace import services as job_services
from marketplace.models import Job
from payments.ledger import account_of_job, balance_msat
from payments.models import LedgerTransaction
from tasks import aggregation, overlap, quality, services
from tasks.models import Assignment, AssignmentStatus, Task, TaskResult, WorkerJobAccuracy
from tests.balances import available
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db

FIELDS = [
    {
        "name": "sentiment",
        "kind": "single_choice",
        "label": "Sentiment",
        "required": True,
        "choices": ["Positive", "Negative", "Mixed"],
    },
    {"name": "topics", "kind": "multiple_choice", "label": "Topics", "choices": ["Price", "Service", "Food"]},
    {"name": "stars", "kind": "number", "label": "Stars"},
    {"name": "spam", "kind": "checkbox", "label": "Spam"},
    {"name": "notes", "kind": "short_text", "label": "Notes"},
]


def quality_job(*, tasks: int = 1, most: int = 3, fields=FIELDS, publish: bool = True, **settings) -> Job:
    """A job with the answer form above, up to `most` answers per task and the quality settings given (through the
    settings service, on the draft, as a requester sets them)."""
    job = make_job(tasks=tasks, assignments_per_task=most, publish=False)
    job_services.job_set_builder_form(job=job, actor=job.requester, prompt="Review: {{review}}", fields=fields)
    if settings:
        quality.job_quality_set(job=job, actor=job.requester, **settings)
    if publish:
        job_services.job_publish(job=job, actor=job.requester)
    job.refresh_from_db()
    return job


def answer(sentiment="Positive", topics=(), stars=None, spam=False, notes="") -> dict:
    return {"sentiment": sentiment, "topics": list(topics), "stars": stars, "spam": spam, "notes": notes}


def submit(job: Job, given: dict, worker=None) -> Assignment:
    worker = worker or make_user()
    claimed = services.assignment_claim(job=job, worker=worker)
    return services.assignment_submit_json(assignment=claimed, worker=worker, answer=given)


def result_of(task: Task) -> TaskResult:
    return overlap.task_result_update(task_id=task.pk)


def only_task(job: Job) -> Task:
    return Task.objects.get(job=job)


def escrow_of(job: Job) -> int:
    return balance_msat(account=account_of_job(job=job))


def per_slot(job: Job) -> int:
    return escrow.escrow_per_slot_msat(Job.objects.get(pk=job.pk))


# Aggregation per field kind --------------------------------------------------------------------------------------


def test_majority_vote_aggregates_each_kind_of_field():
    job = quality_job()
    submit(job, answer("Positive", ["Price", "Food"], "4", True, "Great food"))
    submit(job, answer("Positive", ["Food", "Price"], "4.0", False, "  great   FOOD "))
    submit(job, answer("Negative", ["Price"], "5", False, "meh"))

    result = result_of(only_task(job))

    # The result is the first answer given with the winning label: the set of choices ticked, the number 4 however
    # it was written, the text as a worker spelled it.
    assert result.result == {
        "sentiment": "Positive",
        "topics": ["Price", "Food"],
        "stars": "4",
        "spam": False,
        "notes": "Great food",
    }
    assert result.confidence == {name: pytest.approx(2 / 3) for name in result.result}
    assert result.agreement == pytest.approx(2 / 3)
    assert (result.answer_count, result.complete) == (3, True)


def test_a_job_without_quality_control_still_gets_majority_results():
    job = quality_job(most=2)
    submit(job, answer("Mixed"))
    result = result_of(only_task(job))
    assert (result.result["sentiment"], result.confidence["sentiment"]) == ("Mixed", 1.0)
    assert (result.answer_count, result.complete) == (1, False)  # it wants two


def test_all_answers_keeps_every_text_and_leaves_it_out_of_the_agreement():
    job = quality_job(text_aggregation="all")
    submit(job, answer(notes="Great food"))
    submit(job, answer(notes="meh"))
    submit(job, answer(notes="Great food"))

    result = result_of(only_task(job))

    assert result.result["notes"] == ["Great food", "meh"]  # distinct answers, the most common first
    assert result.confidence["notes"] == pytest.approx(2 / 3)
    assert result.agreement == 1.0  # the other fields all agree; the texts are not asked to


def test_a_tie_goes_to_the_label_that_sorts_first_whatever_order_the_answers_came_in():
    for order in (["Positive", "Negative"], ["Negative", "Positive"]):
        job = quality_job(most=2)
        for sentiment in order:
            submit(job, answer(sentiment))
        result = result_of(only_task(job))
        assert (result.result["sentiment"], result.confidence["sentiment"]) == ("Negative", 0.5)


def test_weighted_vote_weighs_each_worker_by_their_control_accuracy():
    job = quality_job(most=4, aggregation_method="weighted")
    expert, novice_a, novice_b, newcomer = (make_user() for _ in range(4))
    for worker, percent in ((expert, 95), (novice_a, 30), (novice_b, 30)):
        WorkerJobAccuracy.objects.create(worker=worker, job=job, controls_answered=10, accuracy_percent=percent)
    submit(job, answer("Negative"), worker=expert)
    submit(job, answer("Positive"), worker=novice_a)
    submit(job, answer("Positive"), worker=novice_b)

    result = result_of(only_task(job))
    # 0.95 against 0.30 + 0.30: the expert outweighs two novices a plain majority would follow.
    assert result.result["sentiment"] == "Negative"
    assert result.confidence["sentiment"] == pytest.approx(0.95 / 1.55)

    # A worker without an accuracy yet weighs aggregation.DEFAULT_SKILL (0.5): now the novices' side wins.
    submit(job, answer("Positive"), worker=newcomer)
    result = result_of(only_task(job))
    assert result.result["sentiment"] == "Positive"
    assert result.confidence["sentiment"] == pytest.approx(1.1 / 2.05)


def test_dawid_skene_learns_from_the_jobs_other_tasks():
    """Two reliable workers and two who get every third task wrong together: Dawid–Skene, run over the whole job,
    is sure where a plain majority says 2/3; the stored result equals aggregation.dawid_skene on the job's answers."""
    tasks = 9
    job = quality_job(tasks=tasks, most=4, aggregation_method="dawid_skene")
    reliable, second, sloppy_a, sloppy_b = (make_user() for _ in range(4))
    truth = {position: "Negative" if position % 2 else "Positive" for position in range(1, tasks + 1)}

    def wrong(position):
        return "Positive" if truth[position] == "Negative" else "Negative"

    for position in range(1, tasks + 1):
        for worker, sentiment in (
            (reliable, truth[position]),
            (sloppy_a, truth[position] if position % 3 else wrong(position)),
            (sloppy_b, truth[position] if position % 3 else wrong(position)),
        ):
            submit(job, answer(sentiment), worker=worker)
    for position in range(1, tasks + 1):  # the second reliable worker skips every third task
        claimed = services.assignment_claim(job=job, worker=second)
        if position % 3:
            services.assignment_submit_json(assignment=claimed, worker=second, answer=answer(truth[position]))
        else:
            services.assignment_return(assignment=claimed, worker=second)

    task = Task.objects.get(job=job, position=3)  # reliable says Positive, both sloppy workers Negative
    result = result_of(task)

    answers = [
        (worker_id, task_id, given["sentiment"])
        for worker_id, task_id, given in Assignment.objects.filter(job=job, status=AssignmentStatus.SUBMITTED)
        .order_by("pk")
        .values_list("worker_id", "task_id", "answer")
    ]
    expected = aggregation.dawid_skene(answers).items[task.pk]
    assert result.result["sentiment"] == expected.label
    assert result.confidence["sentiment"] == pytest.approx(expected.confidence, abs=1e-9)
    majority = aggregation.majority_vote(answers).items[task.pk]
    assert majority.confidence == pytest.approx(2 / 3)
    assert expected.confidence > 0.99  # the job's other tasks taught it whom to believe


def test_dawid_skene_reads_at_most_the_jobs_most_recent_answers(monkeypatch):
    job = quality_job(tasks=3, most=2, aggregation_method="dawid_skene")
    workers = [make_user(), make_user()]
    for worker in workers:
        for _ in range(3):
            submit(job, answer("Positive"), worker=worker)
    monkeypatch.setattr(overlap, "DAWID_SKENE_MAX_ANSWERS", 2)
    seen = []
    real = aggregation.dawid_skene
    monkeypatch.setattr(aggregation, "dawid_skene", lambda answers: seen.append(len(answers)) or real(answers))
    result_of(Task.objects.get(job=job, position=1))
    # One run per choice field (sentiment, topics, spam), each over the job's two most recent answers (the second
    # worker's to tasks 3 and 2) and the task's own two.
    assert seen == [4, 4, 4]


# Dynamic overlap -------------------------------------------------------------------------------------------------


def test_tasks_start_with_the_overlap_start_and_escrow_funds_the_maximum():
    requester = make_user()
    before = available(requester)
    job = make_job(requester=requester, tasks=4, assignments_per_task=5, publish=False)
    quality.job_quality_set(job=job, actor=requester, overlap_start=3)
    assert set(Task.objects.filter(job=job).values_list("answers_wanted", "slots_open")) == {(3, 3)}
    job_services.job_publish(job=job, actor=requester)
    job.refresh_from_db()

    assert job.open_slot_count == 4 * 3
    assert escrow_of(job) == 4 * 5 * per_slot(job)
    assert before - available(requester) == 4 * 5 * per_slot(job)


def test_publishing_applies_the_overlap_start_even_after_the_drafts_terms_changed():
    job = make_job(tasks=2, assignments_per_task=4, publish=False)
    quality.job_quality_set(job=job, actor=job.requester, overlap_start=2)
    # Changing the draft's terms resets every task's slots to the new maximum...
    job_services.job_update_draft(
        job=job,
        actor=job.requester,
        title=job.title,
        description=job.description,
        instructions=job.instructions,
        reward_msat=job.reward_msat,
        assignments_per_task=5,
        time_limit_seconds=job.time_limit_seconds,
        auto_approve_seconds=job.auto_approve_seconds,
        expires_at=None,
        tags=[],
    )
    job_services.job_publish(job=job, actor=job.requester)
    job.refresh_from_db()
    # ...and publishing starts them at the overlap start again.
    assert set(Task.objects.filter(job=job).values_list("answers_wanted", "slots_open")) == {(2, 2)}
    assert job.open_slot_count == 4
    assert escrow_of(job) == 2 * 5 * per_slot(job)


def test_the_overlap_start_cannot_be_applied_once_published():
    job = quality_job(most=3, overlap_start=2)
    with pytest.raises(InvalidTransition):
        overlap.overlap_start_apply(job)


def test_agreeing_answers_complete_the_task_and_refund_the_unused_slots_once():
    job = quality_job(tasks=2, most=5, overlap_start=3, agreement_percent=70)
    requester = job.requester
    task = Task.objects.get(job=job, position=1)
    before = available(requester)
    for _ in range(3):
        submit(job, answer("Positive"))

    result = result_of(task)

    assert (result.complete, result.agreement, result.answer_count) == (True, 1.0, 3)
    refund = 2 * per_slot(job)  # five funded, three used
    assert available(requester) - before == refund
    assert escrow_of(job) == (3 + 5) * per_slot(job)  # this task's three answers, the other task's five
    task.refresh_from_db()
    assert (task.answers_wanted, task.slots_open) == (3, 0)
    event = Event.objects.get(type="task.result_completed", subject_id=task.public_id)
    assert (event.data["refunded_msat"], event.rule) == (refund, "dynamic overlap")

    # Idempotent: again on the same answers, nothing changes, nothing is recorded, no money moves.
    updated_at = result.updated_at
    assert result_of(task).updated_at == updated_at
    assert available(requester) - before == refund
    assert LedgerTransaction.objects.filter(key=f"overlap-unused:{task.pk}").count() == 1
    assert Event.objects.filter(subject_id=task.public_id, type__startswith="task.").count() == 1


def test_disagreement_opens_one_slot_at_a_time_up_to_the_maximum():
    job = quality_job(most=5, overlap_start=3, agreement_percent=70)
    task = only_task(job)
    requester = job.requester
    before = available(requester)
    for sentiment in ("Positive", "Positive", "Negative"):
        submit(job, answer(sentiment))

    result = result_of(task)  # 2/3 < 70%: one more
    task.refresh_from_db()
    job.refresh_from_db()
    assert (result.complete, task.answers_wanted, task.slots_open, job.open_slot_count) == (False, 4, 1, 1)
    assert result_of(task).complete is False  # idempotent: still one slot, not two
    task.refresh_from_db()
    assert (task.answers_wanted, task.slots_open) == (4, 1)

    submit(job, answer("Negative"))
    result_of(task)  # 2 against 2: one more
    task.refresh_from_db()
    assert (task.answers_wanted, task.slots_open) == (5, 1)

    submit(job, answer("Positive"))
    result = result_of(task)  # 3/5 is still below 70%, but five is the most the job asked for
    task.refresh_from_db()
    job.refresh_from_db()
    assert (result.complete, result.answer_count, result.agreement) == (True, 5, pytest.approx(0.6))
    assert result.result["sentiment"] == "Positive"
    assert (task.slots_open, job.open_slot_count) == (0, 0)
    assert available(requester) == before  # every funded slot was used: nothing to refund
    assert escrow_of(job) == 5 * per_slot(job)
    assert Event.objects.filter(type="task.overlap_extended", subject_id=task.public_id).count() == 2


def test_a_rejection_reopens_a_slot_and_the_task_completes_with_a_replacement():
    job = quality_job(most=4, overlap_start=2, agreement_percent=100)
    task = only_task(job)
    requester = job.requester
    before = available(requester)
    first = submit(job, answer("Positive"))
    wrong = submit(job, answer("Negative"))
    result_of(task)  # they disagree: three wanted
    task.refresh_from_db()
    assert (task.answers_wanted, task.slots_open) == (3, 1)

    services.assignment_review(assignment=wrong, reviewer=requester, approve=False, feedback="Not what was asked.")
    result = result_of(task)  # the rejected answer no longer counts
    task.refresh_from_db()
    assert (result.answer_count, result.result["sentiment"], result.complete) == (1, "Positive", False)
    assert (task.answers_wanted, task.slots_open) == (3, 2)  # slots + slot-holding assignments = wanted

    submit(job, answer("Positive"))
    submit(job, answer("Positive"))
    result = result_of(task)
    task.refresh_from_db()
    assert (result.complete, result.answer_count, result.agreement) == (True, 3, 1.0)
    assert task.slots_open == 0
    assert available(requester) - before == 1 * per_slot(job)  # four funded, three used
    services.assignment_review(assignment=first, reviewer=requester, approve=True)
    assert escrow_of(job) == 2 * per_slot(job)  # the two waiting answers


def test_after_the_refund_a_rejection_never_lets_the_task_grow_again():
    job = quality_job(most=3, overlap_start=2, agreement_percent=100)
    task = only_task(job)
    requester = job.requester
    before = available(requester)
    first = submit(job, answer("Positive"))
    submit(job, answer("Positive"))
    assert result_of(task).complete
    assert available(requester) - before == per_slot(job)

    services.assignment_review(assignment=first, reviewer=requester, approve=False, feedback="Copied.")
    assert result_of(task).complete is False  # one answer of the two it wants
    submit(job, answer("Negative"))  # the rejected slot's escrow pays for the replacement
    result = result_of(task)
    task.refresh_from_db()
    # They disagree, but the third slot's escrow went back: the task is complete as it is.
    assert (result.complete, result.agreement, task.answers_wanted, task.slots_open) == (True, 0.5, 2, 0)
    assert available(requester) - before == per_slot(job)
    assert escrow_of(job) == 2 * per_slot(job)


def test_a_rejection_brings_the_result_up_to_date_through_its_event(django_capture_on_commit_callbacks):
    job = quality_job(most=2)
    task = only_task(job)
    submit(job, answer("Positive"))
    wrong = submit(job, answer("Negative"))
    assert result_of(task).answer_count == 2
    with django_capture_on_commit_callbacks(execute=True):
        services.assignment_review(
            assignment=wrong, reviewer=job.requester, approve=False, feedback="Not what was asked."
        )
    task.result.refresh_from_db()
    assert (task.result.answer_count, task.result.result["sentiment"]) == (1, "Positive")


def test_a_closed_job_refunds_at_close_not_again_when_its_tasks_complete():
    job = quality_job(tasks=2, most=3, overlap_start=2, agreement_percent=50)
    requester = job.requester
    before = available(requester)
    workers = [make_user(), make_user()]
    claimed = [services.assignment_claim(job=job, worker=worker) for worker in workers]  # both on task 1
    job_services.job_close(job=job, actor=requester)
    # Everything but the two live assignments went back at close.
    assert escrow_of(job) == 2 * per_slot(job)
    refunded_at_close = available(requester) - before
    for assignment, worker in zip(claimed, workers, strict=True):
        services.assignment_submit_json(assignment=assignment, worker=worker, answer=answer("Positive"))

    result = result_of(claimed[0].task)

    assert result.complete
    assert available(requester) - before == refunded_at_close
    assert not LedgerTransaction.objects.filter(key__startswith="overlap-unused:").exists()
    for assignment in claimed:
        services.assignment_review(assignment=assignment, reviewer=requester, approve=True)
    assert escrow_of(job) == 0


def test_disagreement_on_a_closed_job_opens_no_slot():
    job = quality_job(most=3, overlap_start=2, agreement_percent=100)
    task = only_task(job)
    workers = [make_user(), make_user()]
    claimed = [services.assignment_claim(job=job, worker=worker) for worker in workers]
    job_services.job_close(job=job, actor=job.requester)
    for assignment, worker, sentiment in zip(claimed, workers, ("Positive", "Negative"), strict=True):
        services.assignment_submit_json(assignment=assignment, worker=worker, answer=answer(sentiment))
    result = result_of(task)
    task.refresh_from_db()
    assert (result.complete, task.answers_wanted, task.slots_open) == (True, 2, 0)


def test_tasks_added_to_a_published_job_start_at_the_overlap_start():
    job = quality_job(tasks=1, most=4, overlap_start=2)
    services.tasks_add(job=job, actor=job.requester, columns=["review"], rows=[{"review": "New"}, {"review": "Old"}])
    job.refresh_from_db()
    assert set(Task.objects.filter(job=job).values_list("answers_wanted", "slots_open")) == {(2, 2)}
    assert job.open_slot_count == 3 * 2
    assert escrow_of(job) == 3 * 4 * per_slot(job)


def test_removing_an_unclaimed_task_refunds_all_its_funded_slots():
    job = quality_job(tasks=2, most=4, overlap_start=2)
    requester = job.requester
    before = available(requester)
    task = Task.objects.get(job=job, position=2)
    services.task_remove(job=job, actor=requester, task_id=task.public_id)
    job.refresh_from_db()
    assert available(requester) - before == 4 * per_slot(job)
    assert (job.open_slot_count, escrow_of(job)) == (2, 4 * per_slot(job))


def test_without_dynamic_overlap_the_task_wants_the_maximum_and_nothing_is_refunded():
    job = quality_job(most=2, agreement_percent=100)
    task = only_task(job)
    before = available(job.requester)
    submit(job, answer("Positive"))
    submit(job, answer("Negative"))
    result = result_of(task)
    task.refresh_from_db()
    assert (result.complete, task.answers_wanted, task.slots_open) == (True, None, 0)
    assert available(job.requester) == before


# Cost --------------------------------------------------------------------------------------------------------------


# Savepoint, the task locked, the job with its quality, the task's answers, the result read and written, the
# completion event and its reader, release; weighted reads the workers' accuracies, Dawid–Skene the job's recent
# answers.
UPDATE = 9


@pytest.mark.parametrize(
    ("method", "expected"), [("majority", UPDATE), ("weighted", UPDATE + 1), ("dawid_skene", UPDATE + 1)]
)
def test_an_update_costs_the_same_queries_however_big_the_job(method, expected):
    for tasks in (2, 30):
        job = quality_job(tasks=tasks, most=2, aggregation_method=method)
        for _ in range(2):
            worker = make_user()
            for _ in range(tasks):
                submit(job, answer("Positive", stars=Decimal(3)), worker=worker)
        task = Task.objects.get(job=job, position=1)
        with CaptureQueriesContext(connection) as context:
            result_of(task)
        assert len(context.captured_queries) == expected


def test_a_job_is_completed_when_the_answers_its_tasks_came_to_want_are_approved():
    """With dynamic overlap a task may want fewer answers than the maximum it funded: the job is complete when they
    are approved, not when the maximum is."""
    job = quality_job(tasks=1, most=5, overlap_start=3, agreement_percent=70)
    task = only_task(job)
    submitted = [submit(job, answer("Positive")) for _ in range(3)]
    assert result_of(task).complete
    for assignment in submitted:
        services.assignment_review(assignment=assignment, reviewer=job.requester, approve=True)
    completed = Event.objects.filter(type="job.completed", subject_id=job.public_id)
    assert [event.data["approved_assignments"] for event in completed] == [3]


def test_the_task_edit_page_shows_the_refund_of_every_slot_the_task_funded(client):
    job = quality_job(tasks=2, most=5, overlap_start=3)
    task = only_task(job) if job.task_count == 1 else Task.objects.filter(job=job).first()
    client.force_login(job.requester)
    page = client.get(f"/requester/jobs/{job.public_id}/tasks/{task.public_id}/").content.decode()
    refund_sats = 5 * per_slot(job) // 1000  # five funded, three open
    assert f"its escrow, {refund_sats} sat" in page
