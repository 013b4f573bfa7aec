"""The wallet's statement as its reader sees it: one line per movement of their money (a transfer between their
balance and their job's escrow is one line, not one per side), the platform fee on its own line beside each reward
and bonus, every line naming its job and task; and the payouts page saying which work each payout pays."""

import re
from datetime import timedelta
from html import unescape
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import timezone

from marketplace import services as job_services
from payments.lightning import get_backend
from payments.models import AccountKind, LedgerEntry, Payout, PayoutSource, PayoutState
from payments.payouts import payout_advance
from payments.selectors import statement_page, wallet_summary
from payments.withdraw import withdraw_claim, withdraw_link_create
from tasks.bonuses import bonus_pay
from tasks.services import assignment_review, task_remove
from tests.factories import make_job, make_submitted_assignment, make_user
from tests.html_parsing import visible_text

MINUS = "\N{MINUS SIGN}"  # as the statement writes money that went out

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued", "small_withdrawals")]

REWARD = 3_000  # 3 sats; at a 10 % fee, 300 msat on each: fractions of a sat on purpose
FEE = 300
SLOT = REWARD + FEE


@pytest.fixture(autouse=True)
def ten_percent_fee(settings):
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000


class _StatementRows(HTMLParser):
    """Each line of the statement table: the text of what it is, of the account it moved and of its amount."""

    PARTS = {"statement-what": 0, "statement-account": 1, "num": 2}

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_table = self.in_body = False
        self.part: int | None = None
        self.depth = 0  # of elements open inside the part being read

    def handle_starttag(self, tag, attrs):
        classes = (dict(attrs).get("class") or "").split()
        if tag == "table" and "statement" in classes:
            self.in_table = True
        elif self.in_table and tag == "tbody":
            self.in_body = True
        elif not self.in_body:
            return
        elif self.part is not None:
            self.depth += 1
            if tag == "br":
                self.depth -= 1
                self.rows[-1][self.part] += " "
        elif tag == "tr":
            self.rows.append(["", "", ""])
        elif self.rows and (part := next((self.PARTS[c] for c in classes if c in self.PARTS), None)) is not None:
            self.part, self.depth = part, 0

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_table = self.in_body = False
        elif self.part is not None:
            if self.depth == 0:
                self.part = None
            else:
                self.depth -= 1

    def handle_data(self, data):
        if self.in_body and self.part is not None:
            self.rows[-1][self.part] += data


def statement_rows(html: str) -> list[tuple[str, str, str]]:
    """(what, account, amount) of each line of the statement, as the page shows them."""
    parser = _StatementRows()
    parser.feed(html)
    return [tuple(" ".join(text.split()) for text in row) for row in parser.rows if any(row)]


def approve(job, worker):
    return assignment_review(
        assignment=make_submitted_assignment(job=job, worker=worker), reviewer=job.requester, approve=True
    )


def give_bonus(assignment, amount_msat: int, reason: str = "Thanks") -> None:
    """The requester of the assignment's job pays its worker a bonus for it."""
    bonus_pay(
        requester=assignment.job.requester,
        worker_id=assignment.worker.public_id,
        amount_msat=amount_msat,
        reason=reason,
        assignment_id=assignment.public_id,
    )


def withdraw(user, amount_msat: int, *, source: str = PayoutSource.EARNINGS, fails: bool = False) -> Payout:
    """The user's wallet withdraws `amount_msat` (from earnings or unspent balance); paid, or failed for good (its
    invoice expired before the payout got to it, so the money returns)."""
    invoice = get_backend().create_invoice(amount_msat=amount_msat, expiry_seconds=45)
    payout = withdraw_claim(k1=withdraw_link_create(worker=user, source=source).k1, invoice=invoice.bolt11)
    later = timezone.now() + timedelta(seconds=40 if fails else 0)
    payout = payout_advance(payout_id=payout.pk, now=later)
    assert payout.state == (PayoutState.FAILED if fails else PayoutState.SUCCEEDED)
    return payout


@pytest.fixture
def carol():
    return make_user("carol")  # a requester with 1,000,000 sats deposited


@pytest.fixture
def bob():
    return make_user("bob", funds_sats=0)  # a worker


@pytest.fixture
def cats(carol):
    return make_job(requester=carol, tasks=3, reward_msat=REWARD, title="Label cats")


@pytest.fixture
def a_month_of_work(carol, bob, cats):
    """Carol publishes a job, approves Bob's work, pays him a bonus for it and closes the job."""
    assignment = approve(cats, bob)
    give_bonus(assignment, 2_000, "Sharp eyes")
    job_services.job_close(job=cats, actor=carol)
    return assignment


# The requester's side ----------------------------------------------------------------------------------------------


def test_the_requester_sees_one_line_per_movement_and_each_fee_on_its_own_line(client, carol, a_month_of_work):
    client.force_login(carol)

    html = client.get(reverse("wallet") + "?exact=1").content.decode()

    assert statement_rows(html) == [
        ("Escrow of Label cats back in your balance", "Requester balance", "+6,600"),  # the two slots not done
        (
            "Bonus to worker " + a_month_of_work.worker.public_id + " for task 1 of Label cats Bonus: Sharp eyes",
            "Requester balance",
            f"{MINUS}2,000",
        ),
        ("Platform fee on the bonus for task 1 of Label cats", "Requester balance", f"{MINUS}200"),
        (
            "Reward for task 1 of Label cats to worker " + a_month_of_work.worker.public_id,
            "Job escrow",
            f"{MINUS}3,000",
        ),
        ("Platform fee on the reward for task 1 of Label cats", "Job escrow", f"{MINUS}300"),
        ("Held in escrow for Label cats", "Requester balance", f"{MINUS}9,900"),  # once: not also "+9,900 to escrow"
        ("Deposit", "Requester balance", "+1,000,000,000"),
    ]


def test_the_lines_on_the_requesters_balance_add_up_to_it(carol, a_month_of_work):
    lines = statement_page(user=carol, page_number=1, page_size=30).object_list

    on_balance = sum(line.amount_msat for line in lines if line.account_kind == AccountKind.REQUESTER_AVAILABLE)

    assert on_balance == wallet_summary(user=carol)["available_msat"] == 1_000_000_000 - 3 * SLOT - 2_200 + 2 * SLOT


def test_the_statement_links_the_job_and_the_task_where_the_requester_may_see_them(
    client, carol, cats, a_month_of_work
):
    client.force_login(carol)

    html = client.get(reverse("wallet")).content.decode()

    review = reverse("review_queue", args=[cats.public_id])
    assert f'<a href="{review}?status=approved&amp;worker={a_month_of_work.worker.public_id}">task 1</a>' in html
    assert f'<a href="{reverse("job_manage", args=[cats.public_id])}">Label cats</a>' in html


def test_a_task_removed_before_anyone_claimed_it_gives_its_escrow_back_on_one_line(client, carol, cats):
    task_remove(job=cats, actor=carol, task_id=cats.tasks.order_by("position").last().public_id)
    client.force_login(carol)

    rows = statement_rows(client.get(reverse("wallet")).content.decode())

    assert rows[:2] == [
        ("Escrow of a removed task of Label cats back in your balance", "Requester balance", "+3"),  # 3.3, rounded down
        ("Held in escrow for Label cats", "Requester balance", f"{MINUS}10"),
    ]


def test_a_strangers_money_is_not_on_the_statement(client, carol, cats):
    stranger = make_user("mallory")
    make_job(requester=stranger, tasks=1, title="Stranger's job")
    approve(cats, stranger)
    client.force_login(stranger)

    rows = statement_rows(client.get(reverse("wallet")).content.decode())

    assert [what for what, _, _ in rows] == [
        "Reward for task 1 of Label cats",  # the reward they earned, not Carol's side of it
        "Held in escrow for Stranger's job",
        "Deposit",
    ]


# The worker's side --------------------------------------------------------------------------------------------------


def test_the_worker_sees_what_they_earned_for_which_task_and_what_was_paid_out(client, bob, cats, a_month_of_work):
    paid = withdraw(bob, 5_000)
    client.force_login(bob)

    html = client.get(reverse("wallet")).content.decode()

    assert statement_rows(html) == [
        (f"Payout of earnings {paid.public_id}", "Worker earnings", f"{MINUS}5"),
        ("Bonus for task 1 of Label cats Bonus: Sharp eyes", "Worker earnings", "+2"),
        ("Reward for task 1 of Label cats", "Worker earnings", "+3"),
    ]
    assert f'<a href="{reverse("assignment_detail", args=[a_month_of_work.public_id])}">task 1</a>' in html
    assert f'<a href="{reverse("job_detail", args=[cats.public_id])}">Label cats</a>' in html
    assert f'href="{reverse("payouts")}#payout-{paid.public_id}"' in html


def test_a_failed_payout_comes_back_on_its_own_line(client, bob, cats):
    approve(cats, bob)
    failed = withdraw(bob, 3_000, fails=True)
    client.force_login(bob)

    rows = statement_rows(client.get(reverse("wallet")).content.decode())

    assert rows[:2] == [
        (f"Payout {failed.public_id} failed: the amount is back in your earnings", "Worker earnings", "+3"),
        (f"Payout of earnings {failed.public_id}", "Worker earnings", f"{MINUS}3"),
    ]


def test_a_withdrawal_of_unspent_balance_shows_the_routing_fee_limit_held_and_given_back(client, carol):
    payout = withdraw(carol, 100_000, source=PayoutSource.BALANCE)
    client.force_login(carol)

    rows = statement_rows(client.get(reverse("wallet")).content.decode())

    reserve = payout.fee_reserve_msat
    assert reserve > 0
    assert rows[:3] == [
        (
            f"Routing fee not needed by withdrawal {payout.public_id}, back in your balance",
            "Requester balance",
            f"+{reserve // 1000:,}",
        ),
        (f"Withdrawal of unspent balance {payout.public_id}", "Requester balance", f"{MINUS}100"),
        (
            f"Routing fee limit held for withdrawal {payout.public_id} (what the route does not cost comes back)",
            "Requester balance",
            f"{MINUS}{-(-reserve // 1000):,}",
        ),
    ]


# Whole sats, and the exact amounts when asked for ----------------------------------------------------------------


def test_the_statement_shows_whole_sats_and_the_exact_amounts_when_asked(client, carol, cats, bob):
    approve(cats, bob)
    client.force_login(carol)

    whole = client.get(reverse("wallet")).content.decode()
    exact = client.get(reverse("wallet") + "?exact=1").content.decode()

    # 3,000 msat reward and 300 msat fee went out: rounded up. 999,990,100 msat left: rounded down.
    assert [amount for _, _, amount in statement_rows(whole)] == [f"{MINUS}3", f"{MINUS}1", f"{MINUS}10", "+1,000,000"]
    assert [amount for _, _, amount in statement_rows(exact)] == [
        f"{MINUS}3,000",
        f"{MINUS}300",
        f"{MINUS}9,900",
        "+1,000,000,000",
    ]
    assert 'id="available-balance">999,990<' in whole
    assert 'id="available-balance">999,990<' in exact  # the balances at the top stay whole sats
    assert "your balance is 999,990,100 msat" in visible_text(exact)
    assert '<th scope="col" class="num">Sats</th>' in whole
    assert '<th scope="col" class="num">msat</th>' in exact
    assert "money that came in is rounded down, money that went out is rounded up" in visible_text(whole)
    assert f'href="{reverse("wallet")}?exact=1"' in whole
    assert "." not in "".join(amount for _, _, amount in statement_rows(whole)), "no fraction of a sat"


def test_the_exact_amounts_stay_on_when_turning_pages(client, carol):
    for _ in range(35):
        make_job(requester=carol, tasks=1, reward_msat=REWARD)
    client.force_login(carol)

    html = client.get(reverse("wallet") + "?exact=1").content.decode()

    assert 'href="?exact=1&amp;page=2"' in html


# Query counts ------------------------------------------------------------------------------------------------------


def test_the_wallet_page_asks_the_same_few_queries_however_many_lines(client, django_assert_max_num_queries):
    requester = make_user("dora")
    worker = make_user("eli", funds_sats=0)
    client.force_login(requester)
    make_job(requester=requester, tasks=1, title="First")
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("wallet"))

    jobs = [make_job(requester=requester, tasks=6, reward_msat=REWARD, title=f"Job {n}") for n in range(4)]
    for job in jobs:
        for _ in range(3):
            assignment = approve(job, worker)
            give_bonus(assignment, 1_000, "Thanks")
        job_services.job_close(job=job, actor=requester)
    withdraw(requester, 10_000, source=PayoutSource.BALANCE)
    lines = len(statement_page(user=requester, page_number=1, page_size=30).object_list)
    assert lines > 45, "a page full of rewards and bonuses, each with its fee"

    with django_assert_max_num_queries(12) as many:
        response = client.get(reverse("wallet"))
    client.force_login(worker)
    with django_assert_max_num_queries(12) as for_the_worker:
        client.get(reverse("wallet"))

    assert len(response.context["page"].object_list) == lines
    assert len(few) == len(many) == len(for_the_worker)
    assert LedgerEntry.objects.count() > 90


# Payout receipts name the work they pay -----------------------------------------------------------------------------


def paid_work_texts(html: str) -> list[str]:
    """The "what it pays" sentence of each payout card, newest first."""
    return [inline_text(part.split("</p>")[0]) for part in html.split('<p class="small paid-work">')[1:]]


def inline_text(fragment: str) -> str:
    """The words of a fragment of inline HTML as a browser runs them together (links are no word boundary)."""
    return " ".join(unescape(re.sub(r"<[^>]*>", "", fragment)).split())


def test_a_payout_that_pays_one_task_names_it_and_its_job(client, bob, cats):
    assignment = approve(cats, bob)
    payout = withdraw(bob, 3_000)
    client.force_login(bob)

    html = client.get(reverse("payouts")).content.decode()
    card = client.get(reverse("payout_card", args=[payout.public_id])).content.decode()

    assert paid_work_texts(html) == ["For task 1 of Label cats."]
    assert paid_work_texts(card) == ["For task 1 of Label cats."]
    assert f'<a href="{reverse("assignment_detail", args=[assignment.public_id])}">task 1</a>' in html
    assert f'<a href="{reverse("job_detail", args=[cats.public_id])}">Label cats</a>' in html


def test_each_payout_names_the_work_since_the_previous_one(client, bob, cats):
    birds = make_job(tasks=4, reward_msat=2_000, title="Count birds")
    approve(cats, bob)
    approve(cats, bob)
    approve(birds, bob)
    withdraw(bob, 8_000)  # three tasks
    assignment = approve(birds, bob)
    give_bonus(assignment, 1_000, "Thanks")
    withdraw(bob, 3_000)  # a task and a bonus
    give_bonus(assignment, 4_000, "More")
    withdraw(bob, 4_000)  # a bonus
    client.force_login(bob)

    texts = paid_work_texts(client.get(reverse("payouts")).content.decode())

    assert texts == [
        "For a bonus on task 2 of Count birds.",
        "For task 2 of Count birds and a bonus on task 2 of Count birds.",
        "For 3 tasks.",
    ]


def test_a_payout_after_a_failed_one_pays_the_failed_ones_work_too(client, bob, cats):
    approve(cats, bob)
    withdraw(bob, 3_000, fails=True)
    approve(make_job(tasks=1, reward_msat=2_000, title="Count birds"), bob)
    withdraw(bob, 5_000)
    client.force_login(bob)

    texts = paid_work_texts(client.get(reverse("payouts")).content.decode())

    assert texts == ["For 2 tasks.", "For task 1 of Label cats."]


def test_a_withdrawal_of_unspent_balance_says_so(client, carol):
    withdraw(carol, 50_000, source=PayoutSource.BALANCE)
    client.force_login(carol)

    texts = paid_work_texts(client.get(reverse("payouts")).content.decode())

    assert texts == ["Withdrawal of your unspent balance (not pay for work)."]


def test_the_routing_fee_on_a_receipt_is_in_sats(client, bob, cats):
    approve(cats, bob)
    payout = withdraw(bob, 3_000)
    Payout.objects.filter(pk=payout.pk).update(fee_msat=1_234)
    client.force_login(bob)

    text = visible_text(client.get(reverse("payouts")).content.decode())

    assert "Routing fee (paid by Boltwork) 2 sats" in text
    assert "msat" not in text


def test_the_payouts_page_asks_the_same_few_queries_however_many_payouts(client, django_assert_max_num_queries):
    worker = make_user("fay", funds_sats=0)
    approve(make_job(tasks=1, reward_msat=REWARD), worker)
    withdraw(worker, 3_000)
    client.force_login(worker)
    with django_assert_max_num_queries(11) as few:
        client.get(reverse("payouts"))

    job = make_job(tasks=40, reward_msat=REWARD)
    for number in range(30):
        assignment = approve(job, worker)
        if number % 3 == 0:
            give_bonus(assignment, 1_000, "Thanks")
        withdraw(worker, 3_000 if number % 3 else 4_000, fails=number % 5 == 4)
    with django_assert_max_num_queries(11) as many:
        response = client.get(reverse("payouts"))

    assert len(response.context["page"].object_list) == 25
    assert len(few) == len(many)
    named = [p for p in response.context["page"].object_list if p.paid_assignment is not None]
    assert len(named) > 15, "most payouts here pay one task, named"
