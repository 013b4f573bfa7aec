"""The refund at close against an approval committing in the middle of it, on two real PostgreSQL connections.

The refund reads how many assignments are still live and how much escrow there is. An approval ends a live
assignment and pays its slot out of the escrow in one transaction; if it committed between those two reads, the
refund would see it half (still live, already paid) and keep a slot's escrow that nothing will ever claim.
"""

import threading
import time

import pytest
from django.db import connection

from marketplace import escrow
from marketplace import services as job_services
from marketplace.escrow import escrow_per_slot_msat
from payments import background
from payments.ledger import account_of_job, account_of_user, balance_msat
from payments.models import AccountKind
from tasks import services as task_services
from tasks.models import AssignmentStatus
from tests.factories import make_job, make_submitted_assignment

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT_SECONDS = 30


class NoBroker:
    """The payout job the approval enqueues on commit: recorded, not sent (this test is about the escrow)."""

    def __init__(self) -> None:
        self.worker_ids: list[int] = []

    def delay(self, worker_id: int) -> None:
        self.worker_ids.append(worker_id)


def backend_is_waiting_for_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


def test_an_approval_committing_during_the_refund_at_close_strands_no_escrow(monkeypatch):
    job = make_job(tasks=2, assignments_per_task=1)
    submitted = make_submitted_assignment(job=job)  # one slot live, one open
    per_slot = escrow_per_slot_msat(job)
    requester_before = balance_msat(account=account_of_user(user=job.requester, kind=AccountKind.REQUESTER_AVAILABLE))
    monkeypatch.setattr(background, "pay_out_worker", NoBroker())

    approval: dict = {}

    def approve_on_another_connection() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                approval["pid"] = cursor.fetchone()[0]
            approval["result"] = task_services.assignment_review(
                assignment=submitted, reviewer=job.requester, approve=True
            )
        except Exception as error:  # noqa: BLE001 - handed back to the test, which asserts on it
            approval["result"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=approve_on_another_connection)
    per_slot_of = escrow.escrow_per_slot_msat
    refund_thread = threading.current_thread()

    def read_then_let_the_approval_run(job_being_closed):
        # Inside the refund, after it read the live count and the escrow: the approval either commits now (the
        # race) or, if the refund holds what it needs, waits for it; go on once it has done one or the other.
        if threading.current_thread() is refund_thread and not thread.is_alive() and "pid" not in approval:
            thread.start()
            deadline = time.monotonic() + TIMEOUT_SECONDS
            while thread.is_alive() and time.monotonic() < deadline:
                if "pid" in approval and backend_is_waiting_for_a_lock(approval["pid"]):
                    break
                time.sleep(0.02)
        return per_slot_of(job_being_closed)

    monkeypatch.setattr(escrow, "escrow_per_slot_msat", read_then_let_the_approval_run)

    job_services.job_close(job=job, actor=job.requester)
    thread.join(TIMEOUT_SECONDS)

    assert not thread.is_alive(), "the approval hung"
    assert not isinstance(approval["result"], Exception), approval["result"]
    submitted.refresh_from_db()
    assert submitted.status == AssignmentStatus.APPROVED
    # Every slot is accounted for: one paid to the worker, the open one back with the requester, nothing left over.
    assert balance_msat(account=account_of_job(job=job)) == 0
    requester_after = balance_msat(account=account_of_user(user=job.requester, kind=AccountKind.REQUESTER_AVAILABLE))
    assert requester_after - requester_before == per_slot
