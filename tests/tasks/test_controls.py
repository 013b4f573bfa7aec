"""Known answers (issue 12, tasks.controls): controls and training tasks in (CSV, the task page's service, the API in
tests/api/test_known_answers_api.py), equality per field kind, serving controls at the job's rate in the claim and
never giving them away, correctness and accuracy at submission, the stop, and the money of training tasks."""

from decimal import Decimal

import pytest
from django.utils import timezone

from core.errors import InvalidInput
from core.models import Event
from marketplace import services as job_services
from marketplace.answer_fields import FIELD_KINDS, TEMPLATE_FIELD, split_tolerance
from marketplace.models import Job
from notifications.models import Notification, NotificationKind
from payments.ledger import account_of_job, balance_msat, ledger_check
from payments.models import LedgerTransaction
from tasks import controls, selectors, services
from tasks.controls import StoppedOnJob, TrainingRequired
from tasks.errors import NoTaskAvailable, TaskCsvInvalid
from tasks.models import Assignment, JobQuality, Task, TaskKind, WorkerJobAccuracy
from tests.factories import answer_data, make_bare_draft, make_job, make_user
from tests.tasks.test_submit import ALL_KINDS

pytestmark = pytest.mark.django_db

GOLD_NOTE = "zebra-kw-917"  # a known answer no page or API object may ever show a worker


def set_rules(job: Job, **fields) -> JobQuality:
    """The job's quality rules. tasks.quality.job_quality_set is the requester's service (tested with it); here the
    row is written as it leaves it, to test what the claim and the submission do with each rule on its own."""
    quality, _ = JobQuality.objects.update_or_create(job=job, defaults=fields)
    return quality


def quality_job(
    *,
    regular: int,
    controls_count: int,
    training: int = 0,
    publish: bool = True,
    requester=None,
    controls_first: bool = False,
    **terms,
) -> Job:
    """A job rating reviews with `regular` tasks, then `controls_count` controls (known sentiment Negative and notes
    GOLD_NOTE; before the regular ones with `controls_first`), then `training` training tasks (known sentiment
    Positive)."""
    job = make_job(requester=requester, tasks=0, publish=False, **terms)
    plain = [f"Plain review {n},,," for n in range(1, regular + 1)]
    checked = [f"Checked review {n},Negative,{GOLD_NOTE}," for n in range(1, controls_count + 1)]
    lines = ["review,Gold.sentiment,Gold.notes,Training", *(checked + plain if controls_first else plain + checked)]
    lines += [f"Practice review {n},Positive,,yes" for n in range(1, training + 1)]
    services.tasks_add_from_csv(job=job, actor=job.requester, csv_text="\n".join(lines) + "\n")
    if publish:
        job_services.job_publish(job=job, actor=job.requester)
    job.refresh_from_db()
    return job


def kinds_of(job: Job) -> list[str]:
    return list(job.tasks.order_by("position").values_list("kind", flat=True))


def escrow_of(job: Job) -> int:
    return balance_msat(account=account_of_job(job=job))


# Known answers in: the CSV --------------------------------------------------------------------------------------


def test_gold_columns_make_controls_and_never_reach_the_inputs(requester):
    job = make_job(requester=requester, tasks=0, publish=False)
    csv_text = "review,Gold.sentiment,Gold.notes\nFine,,\nAwful,Negative,\nMeh,Mixed,so so\n"
    assert services.tasks_add_from_csv(job=job, actor=requester, csv_text=csv_text) == 3
    job.refresh_from_db()
    assert job.input_columns == ["review"]
    tasks = list(job.tasks.order_by("position"))
    assert [task.kind for task in tasks] == [TaskKind.REGULAR, TaskKind.CONTROL, TaskKind.CONTROL]
    assert [task.input for task in tasks] == [{"review": "Fine"}, {"review": "Awful"}, {"review": "Meh"}]
    assert [task.gold for task in tasks] == [{}, {"sentiment": "Negative"}, {"sentiment": "Mixed", "notes": "so so"}]
    assert job.task_count == 3  # controls are paid tasks


def test_a_training_column_makes_unpaid_training_tasks(requester):
    job = make_job(requester=requester, tasks=0, publish=False, assignments_per_task=2)
    csv_text = "review,Training,Gold.sentiment\nA,,\nB,yes,Positive\nC,1,Negative\nD,no,Mixed\n"
    services.tasks_add_from_csv(job=job, actor=requester, csv_text=csv_text)
    job.refresh_from_db()
    tasks = list(job.tasks.order_by("position"))
    assert [task.kind for task in tasks] == ["regular", "training", "training", "control"]
    assert [task.slots_open for task in tasks] == [2, 0, 0, 2]
    assert (job.task_count, job.open_slot_count) == (2, 4)


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        pytest.param(
            "review,Gold.sentiment\nA,negative\n",
            "Row 2, column “Gold.sentiment”: Select a valid choice. negative is not one of the available choices.",
            id="not-one-of-the-choices",
        ),
        pytest.param(
            "review,Gold.notes\nA,fine\n",
            "Row 2: a task with known answers needs one for every required answer field; column “Gold.sentiment” is "
            "empty.",
            id="required-field-without-gold",
        ),
        pytest.param(
            "review,Gold.colour\nA,Red\n",
            "Row 2: column “Gold.colour” names no answer field of the job; its fields are sentiment, notes.",
            id="no-such-field",
        ),
        pytest.param(
            "review,Training,Gold.sentiment\nA,,\nB,yes,\n",
            "Row 3: a training task needs its known answers in Gold.<field> columns.",
            id="training-without-gold",
        ),
        pytest.param(
            "review,Training,Gold.sentiment\nA,maybe,Positive\n",
            'Row 2, column “Training”: write "yes" for a training task, or leave it empty.',
            id="training-not-yes-or-no",
        ),
    ],
)
def test_known_answers_are_checked_like_answers_naming_the_row(requester, csv_text, message):
    job = make_job(requester=requester, tasks=0, publish=False)
    with pytest.raises(InvalidInput) as refused:
        services.tasks_add_from_csv(job=job, actor=requester, csv_text=csv_text)
    assert refused.value.message == message
    assert not Task.objects.filter(job=job).exists()  # all or nothing


def test_later_uploads_may_add_gold_columns_to_the_same_inputs(requester):
    job = make_job(requester=requester, tasks=2, publish=False)
    services.tasks_add_from_csv(job=job, actor=requester, csv_text="review,Gold.sentiment\nLater,Positive\n")
    assert kinds_of(job) == ["regular", "regular", "control"]
    with pytest.raises(TaskCsvInvalid, match="must match the job's existing tasks: review"):
        services.tasks_add_from_csv(job=job, actor=requester, csv_text="review,more,Gold.sentiment\nA,B,Positive\n")


def test_known_answers_need_the_answer_form_first(requester):
    job = make_bare_draft(requester=requester)
    with pytest.raises(InvalidInput, match="known answers need the job's answer form"):
        services.tasks_add_from_csv(job=job, actor=requester, csv_text="review,Gold.answer\nA,yes\n")


def test_every_kind_of_gold_cell_is_stored_as_that_kind_of_answer(requester):
    job = make_bare_draft(requester=requester)
    job_services.job_set_builder_form(job=job, actor=requester, prompt="{{review}}", fields=ALL_KINDS)
    header = "review,Gold.word,Gold.colour,Gold.sizes,Gold.count,Gold.agree"
    csv_text = f"{header}\nr1,  Cat ,Blue,L|S,7 +- 0.50,yes\n"
    services.tasks_add_from_csv(job=job, actor=requester, csv_text=csv_text)
    task = job.tasks.get()
    assert task.gold == {"word": "Cat", "colour": "Blue", "sizes": ["L", "S"], "count": "7±0.5", "agree": True}
    for bad_count, problem in [("11", "less than or equal to 10"), ("7±x", "tolerance"), ("7±-1", "tolerance")]:
        with pytest.raises(InvalidInput, match=problem):
            services.tasks_add_from_csv(job=job, actor=requester, csv_text=f"{header}\nr2,cat,Blue,S,{bad_count},yes\n")


# Known answers in: the task page's service ----------------------------------------------------------------------


def test_a_task_nobody_took_is_marked_and_unmarked_as_a_control(requester):
    job = make_job(requester=requester, tasks=2)
    escrow = escrow_of(job)
    task = job.tasks.order_by("position").first()
    marked = services.task_known_answers_set(
        job=job, actor=requester, task_id=task.public_id, gold={"sentiment": "Mixed"}
    )
    assert (marked.kind, marked.gold) == (TaskKind.CONTROL, {"sentiment": "Mixed"})
    with pytest.raises(InvalidInput, match="Select a valid choice"):
        services.task_known_answers_set(job=job, actor=requester, task_id=task.public_id, gold={"sentiment": "Odd"})
    unmarked = services.task_known_answers_set(job=job, actor=requester, task_id=task.public_id, gold={})
    assert (unmarked.kind, unmarked.gold) == (TaskKind.REGULAR, {})
    job.refresh_from_db()
    assert (job.task_count, job.open_slot_count, escrow_of(job)) == (2, 2, escrow)  # a control is paid like any task
    assert Event.objects.filter(type="task.known_answers_set", subject_id=task.public_id).count() == 2


def test_a_taken_task_keeps_its_known_answers(requester, worker):
    job = make_job(requester=requester, tasks=2)
    taken = services.assignment_claim(job=job, worker=worker).task
    with pytest.raises(Exception, match="already taken this task"):
        services.task_known_answers_set(job=job, actor=requester, task_id=taken.public_id, gold={"sentiment": "Mixed"})


# Money: training tasks take no slot and no escrow --------------------------------------------------------------


def test_training_tasks_take_no_escrow_at_publish_nor_when_added_nor_removed(requester):
    job = quality_job(
        requester=requester, regular=2, controls_count=1, training=2, publish=False, assignments_per_task=3
    )
    per_slot = job.reward_msat + job_services.escrow.platform_fee_msat(job.reward_msat)
    assert job_services.escrow.publish_cost_msat(job) == 3 * 3 * per_slot
    job_services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert escrow_of(job) == 3 * 3 * per_slot
    assert (job.task_count, job.open_slot_count) == (3, 9)
    services.tasks_add_from_csv(
        job=job, actor=requester, csv_text="review,Training,Gold.sentiment\nMore,,\nPractice,yes,Mixed\n"
    )
    job.refresh_from_db()
    assert escrow_of(job) == 4 * 3 * per_slot
    assert (job.task_count, job.open_slot_count) == (4, 12)
    training = job.tasks.filter(kind=TaskKind.TRAINING).first()
    transactions = LedgerTransaction.objects.count()
    services.task_remove(job=job, actor=requester, task_id=training.public_id)
    job.refresh_from_db()
    assert LedgerTransaction.objects.count() == transactions  # nothing was funded, nothing is refunded
    assert (job.task_count, job.open_slot_count, escrow_of(job)) == (4, 12, 4 * 3 * per_slot)
    assert ledger_check() == []


def test_a_draft_keeps_its_training_tasks_without_slots_when_its_overlap_changes(requester):
    job = quality_job(requester=requester, regular=1, controls_count=1, training=1, publish=False)
    job_services.job_update_draft(
        job=job,
        actor=requester,
        title=job.title,
        description=job.description,
        instructions=job.instructions,
        reward_msat=job.reward_msat,
        assignments_per_task=3,
        time_limit_seconds=job.time_limit_seconds,
        auto_approve_seconds=job.auto_approve_seconds,
        expires_at=None,
        tags=[],
    )
    job.refresh_from_db()
    assert list(job.tasks.order_by("position").values_list("slots_open", flat=True)) == [3, 3, 0]
    assert job.open_slot_count == 6


def test_training_tasks_have_a_cap_per_job(requester, monkeypatch):
    monkeypatch.setattr(controls, "MAX_TRAINING_TASKS", 2)
    job = quality_job(regular=1, controls_count=0, training=2, publish=False)
    with pytest.raises(InvalidInput, match="at most 2 training tasks"):
        services.tasks_add_from_csv(
            job=job, actor=job.requester, csv_text="review,Training,Gold.sentiment\nOne more,yes,Positive\n"
        )


# Equality per field kind -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "answer", "known", "matches"),
    [
        ("short_text", "  Hello   World ", "hello world", True),
        ("short_text", "Hello World", "Hello Worlds", False),
        ("long_text", "Line one\nline TWO", "line one line two", True),
        ("single_choice", "Positive", "Positive", True),
        ("single_choice", "Positive", "Negative", False),
        ("multiple_choice", ["L", "S"], ["S", "L"], True),
        ("multiple_choice", ["S"], ["S", "L"], False),
        ("number", "1.50", "1.5", True),
        ("number", "1.51", "1.5", False),
        ("number", "12.4", "12.5±0.1", True),
        ("number", "12.6", "12.5±0.1", True),
        ("number", "12.61", "12.5±0.1", False),
        ("number", "12.39", "12.5±0.1", False),
        ("number", "13", "12.5±0.5", True),
        ("number", None, "12.5±0.5", False),
        ("number", "7", "7±0", True),
        ("checkbox", True, True, True),
        ("checkbox", False, True, False),
        ("checkbox", False, False, True),
    ],
)
def test_each_kind_compares_an_answer_with_a_known_answer(kind, answer, known, matches):
    assert FIELD_KINDS[kind].matches_known(answer, known) is matches


@pytest.mark.parametrize(
    ("answer", "known", "matches"),
    [("Cat ", "cat", True), (["b", "A"], "a|b", True), (["a"], "a|b", False), ("a|b", "a|b", True)],
)
def test_an_html_template_field_compares_lists_with_a_csv_cell(answer, known, matches):
    assert TEMPLATE_FIELD.matches_known(answer, known) is matches


def test_a_tolerance_is_read_in_one_place():
    assert split_tolerance("12.5±0.1") == ("12.5", Decimal("0.1"))
    assert split_tolerance(" 12.5 +- 0.1 ") == ("12.5", Decimal("0.1"))
    assert split_tolerance("12.5") == ("12.5", None)
    for bad in ("12.5±", "12.5±-1", "12.5±abc", "12.5±inf"):
        with pytest.raises(InvalidInput, match="tolerance"):
            split_tolerance(bad)


def test_an_answer_matches_only_when_every_known_field_does(requester):
    job = make_bare_draft(requester=requester)
    job_services.job_set_builder_form(job=job, actor=requester, prompt="{{review}}", fields=ALL_KINDS)
    job.refresh_from_db()
    gold = {"word": "Cat", "colour": "Blue", "sizes": ["S", "L"], "count": "7±0.5"}
    answer = {"word": " cat", "colour": "Blue", "sizes": ["L", "S"], "count": "7.4", "agree": True, "essay": ""}
    assert controls.answer_matches_gold(job, answer, gold) is True
    assert controls.answer_matches_gold(job, {**answer, "count": "7.6"}, gold) is False
    assert controls.answer_matches_gold(job, {**answer, "colour": "Red"}, gold) is False
    # A known answer of a field the form no longer has judges nothing.
    assert controls.control_result(job, answer, {"gone": "x"}) is None


# Serving controls ----------------------------------------------------------------------------------------------


def claim_kinds(job: Job, count: int) -> list[str]:
    workers = [make_user() for _ in range(count)]
    return [services.assignment_claim(job=job, worker=worker).task.kind for worker in workers]


def test_controls_are_served_at_the_jobs_rate_over_many_claims():
    """1,000 claims at 10%: the count of controls is binomial (n 1,000, p 0.1: mean 100, standard deviation 9.5), so
    60 to 140 lies 4.2 deviations either side, which fails about once in 40,000 runs by chance, while a rate of 5%
    or 15% (mean 50 or 150) falls outside it almost always. The draw is secrets.randbelow: unseeded, different each
    run, as in production."""
    job = quality_job(regular=1_050, controls_count=200)
    set_rules(job, control_rate_percent=10)
    kinds = claim_kinds(job, 1_000)
    served = kinds.count(TaskKind.CONTROL)
    assert 60 <= served <= 140, served
    assert TaskKind.TRAINING not in kinds


def test_without_a_rate_controls_are_served_in_row_order():
    job = quality_job(regular=2, controls_count=2)
    assert claim_kinds(job, 4) == ["regular", "regular", "control", "control"]


@pytest.fixture
def draws(monkeypatch):
    """The claim's draws in the order given (0: a control at any rate; 99: a regular task below 100)."""
    planned = []
    monkeypatch.setattr(controls.secrets, "randbelow", lambda bound: planned.pop(0))
    return planned


def test_a_control_draw_takes_a_control_first_and_each_falls_back_to_the_other_kind(draws):
    job = quality_job(regular=2, controls_count=2)
    set_rules(job, control_rate_percent=20)
    draws += [0, 99, 99, 99]
    assert claim_kinds(job, 4) == ["control", "regular", "regular", "control"]  # no regular task left for the 4th
    job = quality_job(regular=1, controls_count=1)
    set_rules(job, control_rate_percent=50)
    draws += [0, 0]
    assert claim_kinds(job, 2) == ["control", "regular"]  # no control left for the 2nd


def test_a_worker_never_gets_the_same_control_twice(draws):
    job = quality_job(regular=3, controls_count=1)
    set_rules(job, control_rate_percent=50)
    worker = make_user()
    draws += [0, 0, 0]
    first = services.assignment_claim(job=job, worker=worker)
    services.assignment_return(assignment=first, worker=worker)
    second = services.assignment_claim(job=job, worker=worker)
    assert (first.task.kind, second.task.kind) == ("control", "regular")


def test_training_tasks_are_never_claimed():
    job = quality_job(regular=1, controls_count=0, training=3)
    set_rules(job, control_rate_percent=50)
    services.assignment_claim(job=job, worker=make_user())
    with pytest.raises(NoTaskAvailable):
        services.assignment_claim(job=job, worker=make_user())
    assert not Assignment.objects.filter(task__kind=TaskKind.TRAINING).exists()


def test_the_preview_never_shows_a_control_first():
    job = quality_job(regular=0, controls_count=2, publish=False)
    services.tasks_add_from_csv(job=job, actor=job.requester, csv_text="review\nPlain one\n")
    job_services.job_publish(job=job, actor=job.requester)
    assert selectors.task_to_preview(job=job).kind == TaskKind.REGULAR


# At submission: correctness, accuracy, the stop -----------------------------------------------------------------


def answer_controls(job: Job, worker, sentiments: list[str]) -> list[Assignment]:
    """The worker claims and answers one control per sentiment (the job serves only controls)."""
    done = []
    for sentiment in sentiments:
        assignment = services.assignment_claim(job=job, worker=worker)
        assert assignment.task.kind == TaskKind.CONTROL
        data = answer_data(sentiment, notes=GOLD_NOTE)
        done.append(services.assignment_submit(assignment=assignment, worker=worker, data=data))
    return done


def test_a_control_is_marked_right_or_wrong_at_submission_and_a_regular_task_is_not(worker):
    job = quality_job(regular=1, controls_count=2)
    regular = services.assignment_claim(job=job, worker=worker)
    services.assignment_submit(assignment=regular, worker=worker, data=answer_data("Negative", notes=GOLD_NOTE))
    right, wrong = answer_controls(job, worker, ["Negative", "Positive"])
    results = dict(Assignment.objects.values_list("pk", "control_correct"))
    assert results == {regular.pk: None, right.pk: True, wrong.pk: False}
    row = controls.accuracy_of(worker.pk, job.pk)
    assert (row.controls_answered, row.controls_correct, row.recent, row.accuracy_percent) == (2, 1, [True, False], 50)


def test_accuracy_is_over_the_recent_window(worker):
    job = quality_job(regular=0, controls_count=5)
    set_rules(job, accuracy_window=3)
    answer_controls(job, worker, ["Negative", "Positive", "Negative", "Negative", "Positive"])
    row = controls.accuracy_of(worker.pk, job.pk)
    assert row.recent == [True, True, False]
    assert (row.controls_answered, row.controls_correct, row.accuracy_percent) == (5, 3, 66)
    assert row.stopped_at is None  # no stop rule


@pytest.mark.parametrize(
    ("stop_below", "stop_after", "sentiments", "stopped"),
    [
        pytest.param(67, 3, ["Negative", "Negative", "Positive"], True, id="66-below-67"),
        pytest.param(66, 3, ["Negative", "Negative", "Positive"], False, id="66-not-below-66"),
        pytest.param(80, 3, ["Positive", "Negative"], False, id="too-few-controls-yet"),
        pytest.param(80, 2, ["Positive", "Negative"], True, id="enough-controls"),
    ],
)
def test_a_worker_below_the_threshold_is_stopped_at_its_boundary(
    worker, django_capture_on_commit_callbacks, stop_below, stop_after, sentiments, stopped
):
    job = quality_job(regular=0, controls_count=4)
    set_rules(job, stop_below_percent=stop_below, stop_after_controls=stop_after)
    with django_capture_on_commit_callbacks(execute=True):
        answer_controls(job, worker, sentiments)
    row = controls.accuracy_of(worker.pk, job.pk)
    assert (row.stopped_at is not None) is stopped
    events = Event.objects.filter(type="worker.stopped_on_job", subject_id=job.public_id)
    assert events.count() == (1 if stopped else 0)
    told = Notification.objects.filter(user=worker, kind=NotificationKind.STOPPED_ON_JOB, subject_id=job.public_id)
    assert told.count() == (1 if stopped else 0)
    if stopped:
        assert (
            f"is {row.accuracy_percent}% over your last {len(row.recent)}, below the {stop_below}%" in told.get().body
        )


def test_a_stopped_worker_is_refused_in_the_claim_and_told_why_on_the_job_page(worker, client):
    job = quality_job(regular=2, controls_count=3, controls_first=True)
    set_rules(job, stop_below_percent=80, stop_after_controls=3)
    answer_controls(job, worker, ["Negative", "Negative", "Positive"])
    with pytest.raises(StoppedOnJob) as refused:
        services.assignment_claim(job=job, worker=worker)
    assert refused.value.message == (
        "Your accuracy on this job's checked tasks is 66%, below the 80% it asks: you cannot take more of its tasks."
    )
    client.force_login(worker)
    page = client.get(f"/jobs/{job.public_id}/").content.decode()
    assert "your accuracy on this job&#x27;s checked tasks is 66%, below the 80% it asks" in page
    assert 'action="/jobs/' + job.public_id + '/start/"' not in page
    # A requester who lowers the threshold lets the worker back.
    set_rules(job, stop_below_percent=60, stop_after_controls=3)
    assert services.assignment_claim(job=job, worker=worker).task.kind == TaskKind.REGULAR


# Training in the claim (the training page itself: tests/web/test_training_pages.py) ----------------------------


def test_a_job_asking_for_training_refuses_a_worker_who_has_not_passed_it(worker, client):
    job = quality_job(regular=2, controls_count=0, training=1)
    set_rules(job, training_pass_percent=100)
    with pytest.raises(TrainingRequired, match=r"^Do this job's training first"):
        services.assignment_claim(job=job, worker=worker)
    client.force_login(worker)
    page = client.get(f"/jobs/{job.public_id}/").content.decode()
    assert "you have not passed this job&#x27;s training yet" in page
    WorkerJobAccuracy.objects.create(worker=worker, job=job, training_score=100, training_passed_at=timezone.now())
    assert services.assignment_claim(job=job, worker=worker).task.kind == TaskKind.REGULAR


def test_a_pass_mark_without_training_tasks_asks_nothing(worker):
    job = quality_job(regular=1, controls_count=0)
    set_rules(job, training_pass_percent=80)
    assert services.assignment_claim(job=job, worker=worker)


# Query counts ----------------------------------------------------------------------------------------------------


def test_the_claim_costs_the_same_for_a_control_and_a_regular_task_with_every_rule(draws, django_assert_num_queries):
    from tests.tasks.test_query_counts import CLAIM

    job = quality_job(regular=40, controls_count=40, training=2)
    set_rules(job, control_rate_percent=30, stop_below_percent=50, training_pass_percent=50)
    kinds = []
    for draw in (0, 99, 0, 99):
        worker = make_user()
        WorkerJobAccuracy.objects.create(worker=worker, job=job, training_score=100, training_passed_at=timezone.now())
        draws.append(draw)
        with django_assert_num_queries(CLAIM):
            assignment = services.assignment_claim(job=job, worker=worker)
        kinds.append(Task.objects.get(pk=assignment.task_id).kind)
    assert kinds == ["control", "regular", "control", "regular"]


def test_a_stopped_worker_is_refused_within_the_claims_queries(worker, django_assert_num_queries):
    job = quality_job(regular=1, controls_count=2, controls_first=True)
    set_rules(job, stop_below_percent=80, stop_after_controls=1)
    answer_controls(job, worker, ["Positive"])
    # savepoint, the worker's row locked, the job (with its rules), the worker's checks with their stop in them,
    # rollback to and release of the savepoint
    with django_assert_num_queries(6), pytest.raises(StoppedOnJob):
        services.assignment_claim(job=job, worker=worker)


def test_a_control_is_found_in_the_row_order_of_a_long_job(draws):
    """The control draw walks the open tasks in row order: with controls at the end of 300 tasks it still finds one."""
    job = quality_job(regular=300, controls_count=1)
    set_rules(job, control_rate_percent=10)
    draws.append(0)
    assert services.assignment_claim(job=job, worker=make_user()).task.kind == TaskKind.CONTROL
