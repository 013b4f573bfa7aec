"""Issue 15, "a web request that dies mid-way leaves no half-written rows": each service that changes state is made to
fail inside its own transaction at every point where it records a domain event (a recorder that raises, run in the
service's transaction as webhook deliveries are) or ends a ledger transaction, in turn; every row of every table is
then exactly as before.

A service records its events after (or between) its writes, so failing at its last event is the worst case: every
row it meant to write, every ledger entry and every counter is already written, and must all be undone.
"""

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.apps import apps
from django.db import transaction
from django.utils import timezone

from core import events
from marketplace import services as jobs
from marketplace.models import Job
from mturk.hit_types import HitTypeTerms, hit_type_get_or_create
from mturk.questions import parse_question
from payments import ledger
from tasks import disputes, hits, services
from tasks.bonuses import bonus_pay
from tests.factories import answer_data, make_job, make_moderator, make_user
from tests.factories.assignments import make_submitted_assignment
from tests.mturk.clients import HTML_QUESTION

pytestmark = pytest.mark.django_db

APPS = ("core", "marketplace", "tasks", "payments", "moderation", "alerts", "api", "notifications", "mturk", "lnauth")


class InjectedFault(Exception):
    """The failure injected inside a service's transaction."""


class Rollback(Exception):
    """Ends the dry run that counts a service's events, undoing it."""


def snapshot() -> dict:
    """Every row of every table of the project's apps, field by field."""
    rows = {}
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            rows[model._meta.label] = list(model.objects.order_by("pk").values())
    return rows


class FailingAt:
    """Counts the fault points passed (an event recorded, a ledger transaction's balances updated) and raises at the
    `at`-th (None: never)."""

    def __init__(self, at: int | None) -> None:
        self.at = at
        self.seen = 0

    def __call__(self, where) -> None:
        self.seen += 1
        if self.seen == self.at:
            raise InjectedFault(f"injected at point {self.seen}: {getattr(where, 'type', where)}")


def recording_with(monkeypatch, recorder: FailingAt) -> None:
    """Fault points: every event's recorders (core.events runs them in the event's transaction), and the end of
    every ledger transaction (its entries written and its balances updated)."""
    monkeypatch.setattr(events, "_recorders", _EveryType(events._recorders, recorder))
    add_to_balances = ledger._add_to_balances

    def then_maybe_fail(change) -> None:
        add_to_balances(change)
        recorder("ledger transaction")

    monkeypatch.setattr(ledger, "_add_to_balances", then_maybe_fail)


class _EveryType(dict):
    """The recorders, with `recorder` added for every event type, including those nobody subscribed to."""

    def __init__(self, existing: dict, recorder: FailingAt) -> None:
        super().__init__(existing)
        self.recorder = recorder

    def get(self, name, default=()):
        return [*super().get(name, ()), self.recorder]


@dataclass
class Scenario:
    name: str
    prepare: Callable[[], Callable[[], object]]  # makes the state, returns the action


def _published():
    return make_job(tasks=2, assignments_per_task=2)


def _claim():
    job = _published()
    worker = make_user(funds_sats=0)
    return lambda: services.assignment_claim(job=job, worker=worker)


def _submit():
    job = _published()
    worker = make_user(funds_sats=0)
    assignment = services.assignment_claim(job=job, worker=worker)
    return lambda: services.assignment_submit(assignment=assignment, worker=worker, data=answer_data())


def _review(approve: bool):
    def prepare():
        assignment = make_submitted_assignment(job=_published())
        return lambda: services.assignment_review(
            assignment=assignment, reviewer=assignment.job.requester, approve=approve, feedback="Not what was asked."
        )

    return prepare


def _rejected():
    assignment = make_submitted_assignment(job=_published())
    services.assignment_review(
        assignment=assignment, reviewer=assignment.job.requester, approve=False, feedback="Not what was asked."
    )
    return assignment


def _dispute_open():
    assignment = _rejected()
    return lambda: disputes.dispute_open(assignment_id=assignment.public_id, worker=assignment.worker, message="Why?")


def _dispute_decide(overturn: bool):
    def prepare():
        assignment = _rejected()
        dispute = disputes.dispute_open(assignment_id=assignment.public_id, worker=assignment.worker, message="Why?")
        moderator = make_moderator()
        return lambda: disputes.dispute_decide(
            dispute_id=dispute.public_id, moderator=moderator, overturn=overturn, reason="Read the answer."
        )

    return prepare


def _rejection_override():
    assignment = _rejected()
    return lambda: disputes.rejection_override(assignment_id=assignment.public_id, requester=assignment.job.requester)


def _publish():
    job = make_job(tasks=3, publish=False)
    return lambda: jobs.job_publish(job=job, actor=job.requester)


def _close():
    job = _published()
    make_submitted_assignment(job=job)
    return lambda: jobs.job_close(job=job, actor=job.requester)


def _add_tasks():
    job = _published()
    return lambda: services.tasks_add_from_csv(job=job, actor=job.requester, csv_text="review\nNew one\nAnother\n")


def _bonus():
    assignment = make_submitted_assignment(job=_published())
    requester = assignment.job.requester
    return lambda: bonus_pay(
        requester=requester, worker_id=assignment.worker.public_id, amount_msat=5_000, reason="Thanks",
        assignment_id=assignment.public_id,
    )  # fmt: skip


def _hit(requester=None):
    requester = requester or make_user()
    job = hit_type_get_or_create(
        requester=requester,
        sandbox=False,
        terms=HitTypeTerms("A HIT", "One question.", "", 20_000, 1_000, 600, 3600, []),
    )
    return job, requester


def _hit_add():
    job, requester = _hit()
    return lambda: hits.hit_add(
        job=job, actor=requester, question=parse_question(HTML_QUESTION), question_xml=HTML_QUESTION,
        max_assignments=3, lifetime_seconds=3600,
    )  # fmt: skip


def _hit_expire():
    job, requester = _hit()
    task = hits.hit_add(
        job=job, actor=requester, question=parse_question(HTML_QUESTION), question_xml=HTML_QUESTION,
        max_assignments=3, lifetime_seconds=3600,
    )  # fmt: skip
    return lambda: hits.hit_expiry_set(task=task, actor=requester, expires_at=timezone.now())


SCENARIOS = [
    Scenario("publish a job (escrow funded)", _publish),
    Scenario("add tasks to a published job (escrow topped up)", _add_tasks),
    Scenario("claim a task", _claim),
    Scenario("submit an answer", _submit),
    Scenario("approve (reward paid out of escrow)", _review(approve=True)),
    Scenario("reject (slot re-opened)", _review(approve=False)),
    Scenario("open a dispute (reward held)", _dispute_open),
    Scenario("overturn a rejection (paid from the hold)", _dispute_decide(overturn=True)),
    Scenario("uphold a rejection (hold returned)", _dispute_decide(overturn=False)),
    Scenario("override a rejection (Mechanical Turk API)", _rejection_override),
    Scenario("close a job (escrow refunded)", _close),
    Scenario("pay a bonus", _bonus),
    Scenario("add a HIT (escrow funded, job published)", _hit_add),
    Scenario("expire a HIT (escrow refunded)", _hit_expire),
]


def events_recorded_by(action, monkeypatch) -> int:
    """How many events the action records, counted in a dry run that is then undone."""
    counter = FailingAt(None)
    with monkeypatch.context() as patched:
        recording_with(patched, counter)
        try:
            with transaction.atomic():
                action()
                raise Rollback
        except Rollback:
            pass
    return counter.seen


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.name for scenario in SCENARIOS])
def test_a_service_failing_at_any_of_its_events_leaves_every_row_as_it_was(scenario, monkeypatch):
    action = scenario.prepare()
    points = events_recorded_by(action, monkeypatch)
    assert points >= 1, "the service passes no fault point: nothing to fail at"
    before = snapshot()
    for point in range(1, points + 1):
        with monkeypatch.context() as patched:
            recording_with(patched, FailingAt(point))
            with pytest.raises(InjectedFault):
                action()
        assert snapshot() == before, f"{scenario.name}: half-written rows after a failure at event {point}"
    print(f"\n{scenario.name}: {points} fault points, every row as before after each")
    # And without a fault the action still does its work (the state it was given was not spoiled).
    action()
    assert snapshot() != before
    assert Job.objects.exists()
