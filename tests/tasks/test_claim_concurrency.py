"""Claims racing on PostgreSQL: many workers, each on their own connection, pressing "Start working" at once.

Each thread is a different worker with its own database connection, as separate web processes would be. A barrier
lines them up so the claims really overlap.
"""

from collections import Counter

import pytest
from django.db.models import Count, Q

from core.errors import DomainError
from marketplace.escrow import escrow_per_slot_msat
from payments.ledger import account_of_job, balance_msat, ledger_check
from tasks import services
from tasks.errors import NoTaskAvailable
from tasks.models import SLOT_HOLDING_STATUSES, Assignment, Task
from tests.concurrency import run_in_threads
from tests.factories import answer_data, make_job, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def assert_invariants(job, *, slots_per_task: int) -> None:
    """No task over-assigned, no worker twice on a task, every slot taken exactly once, counters at zero."""
    assignments = list(Assignment.objects.filter(job=job).values_list("task_id", "worker_id"))
    pairs = Counter(assignments)
    assert max(pairs.values()) == 1, "a worker got the same task twice"
    live = Task.objects.filter(job=job).annotate(
        live=Count("assignments", filter=Q(assignments__status__in=SLOT_HOLDING_STATUSES))
    )
    for task in live:
        assert task.live <= slots_per_task, f"task {task.position} has {task.live} live assignments"
        assert task.live == slots_per_task, f"task {task.position} has an untaken slot"
        assert task.slots_open == 0
    job.refresh_from_db()
    assert job.open_slot_count == 0
    assert len(assignments) == job.task_count * slots_per_task


def test_twenty_workers_race_for_fifteen_slots():
    job = make_job(tasks=5, assignments_per_task=3)
    workers = [make_user() for _ in range(20)]

    results = run_in_threads(
        20, lambda index: services.assignment_claim(job=job, worker=workers[index]), what="a claim"
    )

    claimed = [result for result in results if not isinstance(result, Exception)]
    refused = [result for result in results if isinstance(result, Exception)]
    unexpected = [result for result in refused if not isinstance(result, NoTaskAvailable)]
    assert not unexpected, unexpected
    assert len(claimed) == 15, f"{len(claimed)} claims succeeded, {len(refused)} were told there was no task"
    assert len(refused) == 5
    assert len({assignment.worker_id for assignment in claimed}) == 15
    assert_invariants(job, slots_per_task=3)


def test_ten_workers_claim_and_submit_until_the_job_runs_out():
    # Ten answers wanted per task and ten workers: every worker must get every task, so a worker told "no task
    # left" while a task they have not done still has a slot leaves that slot open.
    job = make_job(tasks=3, assignments_per_task=10)
    workers = [make_user() for _ in range(10)]

    def work(index: int) -> list[int]:
        worker = workers[index]
        done = []
        for _ in range(job.task_count + 1):
            try:
                assignment = services.assignment_claim(job=job, worker=worker)
            except NoTaskAvailable:
                return done
            services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())
            done.append(assignment.task_id)
        raise AssertionError("a worker was offered more tasks than the job has")

    results = run_in_threads(10, work, what="a claim")

    errors = [result for result in results if isinstance(result, (DomainError, Exception))]
    assert not errors, errors
    for done in results:
        assert len(done) == len(set(done)), "a worker got the same task twice"
    assert [len(done) for done in results] == [3] * 10, "some workers were turned away while work was left"
    assert_invariants(job, slots_per_task=10)


def test_one_worker_double_clicking_from_many_tabs_gets_one_assignment():
    job = make_job(tasks=5, assignments_per_task=1)
    worker = make_user()

    results = run_in_threads(8, lambda index: services.assignment_claim(job=job, worker=worker), what="a claim")

    errors = [result for result in results if isinstance(result, Exception)]
    assert not errors, errors
    assert {assignment.pk for assignment in results} == {results[0].pk}
    assert Assignment.objects.filter(job=job).count() == 1
    job.refresh_from_db()
    assert job.open_slot_count == 4
    assert sorted(Task.objects.filter(job=job).values_list("slots_open", flat=True)) == [0, 1, 1, 1, 1]


def test_removing_tasks_while_workers_claim_them_pays_back_only_untaken_slots():
    """Issue 9: a requester removes every task of a live job while eight workers claim. Each task is either claimed
    (and stays) or removed (with its escrow refunded), never both; the escrow left pays exactly the slots taken."""
    job = make_job(tasks=8)
    workers = [make_user() for _ in range(8)]
    tasks = list(Task.objects.filter(job=job).order_by("position"))

    def act(index: int):
        if index < 8:
            return services.assignment_claim(job=job, worker=workers[index])
        return services.task_remove(job=job, actor=job.requester, task_id=tasks[index - 8].public_id)

    results = run_in_threads(16, act, what="a claim or a removal")

    problems = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
    assert not problems, problems
    job.refresh_from_db()
    remaining = Task.objects.filter(job=job)
    claimed = Assignment.objects.filter(job=job)
    assert remaining.count() == job.task_count == claimed.count()
    assert set(claimed.values_list("task_id", flat=True)) == set(remaining.values_list("id", flat=True))
    assert job.open_slot_count == 0
    assert balance_msat(account=account_of_job(job=job)) == escrow_per_slot_msat(job) * claimed.count()
    assert ledger_check() == []
