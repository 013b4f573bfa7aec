"""The wallet's statement and the payout receipts, with the work they concern named: which job, which task.

The ledger (payments) knows the assignment a reward or a bonus is for only by its number; assignments and tasks live
in this layer, which names them. One query for a whole page, whatever it shows.
"""

from typing import Any

from django.core.paginator import Page
from django.db.models import F, Q

from marketplace.models import User
from payments import selectors as money_selectors
from payments.models import Payout
from tasks.models import Assignment


def wallet_statement(*, user: User, page_number: Any, page_size: int) -> Page:
    """A page of the user's statement (payments.selectors.statement_page); each line of a reward or a bonus has
    its `assignment`, with the task, the job and the worker."""
    page = money_selectors.statement_page(user=user, page_number=page_number, page_size=page_size)
    lines = page.object_list
    by_pk, by_bonus = _assignments_named(
        assignment_pks={line.assignment_pk for line in lines if line.assignment_pk},
        bonus_pks={line.bonus_pk for line in lines if line.bonus_pk},
    )
    for line in lines:
        line.assignment = by_pk.get(line.assignment_pk) or by_bonus.get(line.bonus_pk)
    return page


def payouts_with_paid_work(*, worker: User, page_number: Any, page_size: int) -> Page:
    """A page of the worker's payouts, each with what it pays (payments.selectors.payouts_page) and, when that is
    one reward or one bonus, its assignment (`paid_assignment`, `paid_bonus_assignment`)."""
    page = money_selectors.payouts_page(worker=worker, page_number=page_number, page_size=page_size)
    _name_paid_work(page.object_list)
    return page


def payout_with_paid_work_get(*, worker: User, public_id: str) -> Payout:
    """One of the worker's payouts, as a page of them shows it. NotFound for anyone else's."""
    payout = money_selectors.payout_with_paid_work_get(worker=worker, public_id=public_id)
    _name_paid_work([payout])
    return payout


def _name_paid_work(payouts: list[Payout]) -> None:
    works = [payout.paid_work for payout in payouts if payout.paid_work is not None]
    by_pk, by_bonus = _assignments_named(
        assignment_pks={work.assignment_pk for work in works if work.assignment_pk},
        bonus_pks={work.bonus_pk for work in works if work.bonus_pk},
    )
    for payout in payouts:
        work = payout.paid_work
        payout.paid_assignment = by_pk.get(work.assignment_pk) if work else None
        payout.paid_bonus_assignment = by_bonus.get(work.bonus_pk) if work else None


def _assignments_named(
    *, assignment_pks: set[int], bonus_pks: set[int]
) -> tuple[dict[int, Assignment], dict[int, Assignment]]:
    """Assignments with their task, job and worker, by primary key and by the primary key of a bonus paid for
    them (a bonus given without an assignment names none). One query."""
    found = (
        Assignment.objects.filter(
            Q(pk__in=money_selectors.pks_or_none_found(assignment_pks))
            | Q(bonus__pk__in=money_selectors.pks_or_none_found(bonus_pks))
        )
        .select_related("task", "job", "worker")
        .annotate(bonus_pk=F("bonus__pk"))
    )
    by_pk: dict[int, Assignment] = {}
    by_bonus: dict[int, Assignment] = {}
    for assignment in found:
        by_pk[assignment.pk] = assignment
        if assignment.bonus_pk is not None:
            by_bonus[assignment.bonus_pk] = assignment
    return by_pk, by_bonus
