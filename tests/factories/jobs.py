"""Plain factory functions for tests: they go through the services, so test data obeys the same rules."""

import itertools
import uuid
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db.models import F
from django.utils import timezone

from marketplace import services
from marketplace.models import Job, JobStatus, User
from payments.ledger import Line, account_of_user, ledger_post, platform_account
from payments.models import AccountKind, TransactionKind
from tasks.models import Assignment, AssignmentStatus, Task
from tasks.services import assignment_claim, assignment_submit, tasks_add

_counter = itertools.count(1)

SENTIMENT_FIELDS = [
    {
        "name": "sentiment",
        "kind": "single_choice",
        "label": "How does the customer feel?",
        "required": True,
        "choices": ["Positive", "Negative", "Mixed"],
    },
    {"name": "notes", "kind": "short_text", "label": "Notes", "required": False},
]


def make_user(username: str | None = None, *, funds_sats: int = 1_000_000, **extra) -> User:
    """A user with a password and a verified email address (so they can log in; verification is mandatory) and,
    unless told otherwise, a requester balance as if they had made a deposit."""
    number = next(_counter)
    username = username or f"user{number}"
    user = User.objects.create_user(
        username=username, email=f"{username}@example.com", password="correct horse battery", **extra
    )
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    if funds_sats:
        fund(user, funds_sats * 1000)
    return user


def fund(user: User, amount_msat: int) -> None:
    """Credit a requester's balance the way a settled deposit does (lightning_in → requester available)."""
    ledger_post(
        kind=TransactionKind.DEPOSIT,
        key=f"test-deposit:{uuid.uuid4()}",
        lines=[
            Line(platform_account(kind=AccountKind.LIGHTNING_IN), -amount_msat),
            Line(account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE), amount_msat),
        ],
    )


def make_job(
    *,
    requester: User | None = None,
    tasks: int = 3,
    assignments_per_task: int = 1,
    publish: bool = True,
    reward_msat: int = 10_000,
    **terms,
) -> Job:
    """A job with a form-builder form over a `review` column and `tasks` tasks; published unless told so."""
    requester = requester or make_user()
    job = services.job_create(
        requester=requester,
        title=terms.pop("title", "Rate a review"),
        description=terms.pop("description", "Say whether a review is positive."),
        reward_msat=reward_msat,
        assignments_per_task=assignments_per_task,
        **terms,
    )
    services.job_set_builder_form(job=job, actor=requester, prompt="Review: {{review}}", fields=SENTIMENT_FIELDS)
    if tasks:
        rows = [{"review": f"Review number {n}"} for n in range(1, tasks + 1)]
        tasks_add(job=job, actor=requester, columns=["review"], rows=rows)
    if publish:
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    assert publish is False or job.status == JobStatus.PUBLISHED
    return job


def make_submitted_assignment(*, job: Job, worker: User | None = None, sentiment: str = "Positive") -> Assignment:
    worker = worker or make_user()
    assignment = assignment_claim(job=job, worker=worker)
    return assignment_submit(
        assignment=assignment, worker=worker, data={"answer-sentiment": sentiment, "answer-notes": ""}
    )


# Added for the marketplace and tasks suites ----------------------------------------------------------------

HTML_TEMPLATE = """<p>Review: ${review}</p>
<form>
  <label>Sentiment
    <select name="sentiment"><option>Positive</option><option>Negative</option></select>
  </label>
  <textarea name="notes"></textarea>
  <button type="submit">Submit</button>
</form>"""


def answer_data(sentiment: str = "Positive", notes: str = "") -> dict[str, str]:
    """POST data for the SENTIMENT_FIELDS answer form, as a worker's browser sends it."""
    return {"answer-sentiment": sentiment, "answer-notes": notes}


def make_draft_job(*, requester: User | None = None, tasks: int = 3, **terms) -> Job:
    """A draft with a form and tasks, ready to publish."""
    return make_job(requester=requester, tasks=tasks, publish=False, **terms)


def make_bare_draft(*, requester: User | None = None, **terms) -> Job:
    """A draft straight from job_create: no form, no tasks."""
    requester = requester or make_user()
    return services.job_create(
        requester=requester,
        title=terms.pop("title", "Bare draft"),
        description=terms.pop("description", "A draft without form or tasks."),
        reward_msat=terms.pop("reward_msat", 10_000),
        **terms,
    )


def make_html_job(
    *,
    requester: User | None = None,
    rows: list[dict[str, str]] | None = None,
    template: str = HTML_TEMPLATE,
    publish: bool = True,
    **terms,
) -> Job:
    """A job with a Mechanical Turk style HTML template over a `review` column."""
    requester = requester or make_user()
    job = services.job_create(
        requester=requester,
        title=terms.pop("title", "Rate a review (HTML)"),
        description=terms.pop("description", "Say whether a review is positive."),
        reward_msat=terms.pop("reward_msat", 10_000),
        **terms,
    )
    services.job_set_html_template(job=job, actor=requester, html_template=template)
    rows = rows if rows is not None else [{"review": "Great"}, {"review": "Awful"}]
    if rows:
        tasks_add(job=job, actor=requester, columns=list(rows[0]), rows=rows)
    if publish:
        services.job_publish(job=job, actor=requester)
    job.refresh_from_db()
    return job


def make_claimed_assignment(*, job: Job, worker: User | None = None) -> Assignment:
    return assignment_claim(job=job, worker=worker or make_user())


def make_board_jobs(count: int, *, requester: User | None = None, tags: list[str] | None = None) -> list[Job]:
    """`count` published jobs, each with two tasks and a few tags, for board and dashboard pages."""
    requester = requester or make_user()
    return [
        make_job(
            requester=requester,
            tasks=2,
            title=f"Board job {n}",
            tags=tags if tags is not None else ["images", f"batch-{n % 4}"],
        )
        for n in range(count)
    ]


def make_many_submitted_assignments(*, job: Job, count: int, answer: dict | None = None) -> list[Assignment]:
    """`count` submitted assignments, one per task from the first, by new workers, inserted in bulk.

    For pages and exports measured at scale: rows as the services would leave them (slots taken, answers valid),
    without paying for `count` claims and submits. Needs `count` tasks with an open slot each.
    """
    now = timezone.now()
    tasks = list(Task.objects.filter(job=job, slots_open__gt=0).order_by("position")[:count])
    assert len(tasks) == count, "not enough open tasks"
    number = next(_counter)
    workers = User.objects.bulk_create(
        User(username=f"bulk{number}_{n}", email=f"bulk{number}_{n}@example.com") for n in range(count)
    )
    assignments = Assignment.objects.bulk_create(
        Assignment(
            task=task,
            job=job,
            worker=worker,
            status=AssignmentStatus.SUBMITTED,
            accepted_at=now,
            deadline_at=now,
            submitted_at=now,
            auto_approve_at=now + timedelta(seconds=job.auto_approve_seconds),
            answer=answer or {"sentiment": "Positive", "notes": ""},
        )
        for task, worker in zip(tasks, workers, strict=True)
    )
    Task.objects.filter(pk__in=[task.pk for task in tasks]).update(slots_open=F("slots_open") - 1)
    Job.objects.filter(pk=job.pk).update(
        open_slot_count=F("open_slot_count") - count, live_assignment_count=F("live_assignment_count") + count
    )
    return assignments


# Added for the payments suite ------------------------------------------------------------------------------

from payments.models import PayoutDestination  # noqa: E402 - kept with the functions that need it
from tasks.services import assignment_review  # noqa: E402


def give_earnings(worker: User, amount_msat: int, *, requester: User | None = None) -> Assignment:
    """Earn `amount_msat` (at least 1 sat) the way workers do: a one-task job with that reward, done and approved.

    Returns the approved assignment (its job's requester can pay the worker a bonus). Enqueues the worker's payout
    on commit, as approval does.
    """
    requester = requester or make_user()
    job = make_job(requester=requester, tasks=1, reward_msat=amount_msat, title=f"Paid task {next(_counter)}")
    assignment = make_submitted_assignment(job=job, worker=worker)
    return assignment_review(assignment=assignment, reviewer=requester, approve=True)


def set_payout_destination(
    user: User, address: str, *, auto_payout: bool = True, minimum_payout_msat: int = 1_000
) -> PayoutDestination:
    """Save a payout destination as `payout_destination_set` would, without resolving the address first (for tests
    whose subject is what happens at payout time; the resolution itself has tests of its own)."""
    destination, _ = PayoutDestination.objects.update_or_create(
        user=user,
        defaults={
            "address": address,
            "auto_payout": auto_payout,
            "minimum_payout_msat": minimum_payout_msat,
            "verified_at": timezone.now() if address else None,
        },
    )
    return destination
