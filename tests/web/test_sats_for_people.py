"""Issue 9: requesters saw fractional sats ("201,224.8") and raw millisatoshis. People see whole sats, grouped by
commas, with "1 sat" in the singular: what they have or receive rounded down, what they must pay rounded up. The
exact amount is shown only where they ask for it (the statement's exact amounts)."""

import re
from html import unescape

import pytest
from django.template import Context, Template
from django.urls import reverse

from core.money import format_whole_sats, sats_rounded_down, sats_rounded_up, sats_word
from payments.errors import InsufficientFunds
from payments.ledger import Line, account_of_user, ledger_post, platform_account
from payments.models import AccountKind, TransactionKind
from tasks.services import assignment_review
from tests.factories import fund, make_draft_job, make_job, make_submitted_assignment, make_user
from tests.html_parsing import visible_text

pytestmark = pytest.mark.django_db

MINUS = "\N{MINUS SIGN}"


@pytest.fixture(autouse=True)
def ten_percent_fee(settings):
    settings.PLATFORM_FEE_BASIS_POINTS = 1_000


def render(template: str, **context) -> str:
    return Template("{% load boltwork %}" + template).render(Context(context))


# The rule -----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("msat", "down", "up"),
    [(0, 0, 0), (1, 0, 1), (999, 0, 1), (1_000, 1, 1), (1_001, 1, 2), (201_224_800, 201_224, 201_225)],
)
def test_what_someone_has_rounds_down_and_what_they_must_pay_rounds_up(msat, down, up):
    assert sats_rounded_down(msat) == down
    assert sats_rounded_up(msat) == up
    assert render("{{ amount|sats }}", amount=msat) == f"{down:,}"
    assert render("{{ amount|sats_due }}", amount=msat) == f"{up:,}"


def test_one_sat_is_a_sat_as_it_is_shown():
    assert render('{{ a|sats }} {{ a|sats_unit }}; {{ a|sats_due }} {{ a|sats_unit:"up" }}', a=1_500) == (
        "1 sat; 2 sats"
    )
    assert render('{{ a|sats_due }} {{ a|sats_unit:"up" }}', a=300) == "1 sat"
    assert render("{{ a|sats }} {{ a|sats_unit }}", a=300) == "0 sats"
    assert sats_word(1) == "sat"
    assert format_whole_sats(1_234_567_890) == "1,234,567"


def test_a_statement_line_rounds_by_its_direction_and_shows_its_sign():
    assert render("{{ a|signed_sats }}|{{ b|signed_sats }}", a=1_999, b=-1_001) == f"+1|{MINUS}2"
    assert render("{{ a|signed_msat }}|{{ b|signed_msat }}", a=1_999, b=-1_001) == f"+1,999|{MINUS}1,001"


def test_a_balance_short_by_a_fraction_of_a_sat_says_a_whole_sat_is_missing():
    user = make_user(funds_sats=0)
    fund(user, 1_000)

    with pytest.raises(InsufficientFunds) as refused:
        ledger_post(
            kind=TransactionKind.BONUS,
            key="test:short",
            lines=[
                Line(account_of_user(user=user, kind=AccountKind.REQUESTER_AVAILABLE), -1_300),
                Line(platform_account(kind=AccountKind.PLATFORM_FEES), 1_300),
            ],
        )

    assert refused.value.message == "Not enough funds: 1 sat missing."  # it said "0 sats missing"


# The pages ----------------------------------------------------------------------------------------------------------

WHOLE_SATS = re.compile(rf"^[+{MINUS}]?\d{{1,3}}(,\d{{3}})*( sats?)?$")


def amounts_on(html: str) -> list[str]:
    """The text of every element the page marks as an amount (class "amount")."""
    found = re.findall(r'<(\w+)[^>]*class="[^"]*\bamount\b[^"]*"[^>]*>(.*?)</\1>', html, flags=re.S)
    return [" ".join(unescape(re.sub(r"<[^>]*>", "", text)).split()) for _tag, text in found]


def assert_whole_sats_only(html: str) -> None:
    amounts = amounts_on(html)
    assert amounts, "the page shows amounts"
    assert [amount for amount in amounts if not WHOLE_SATS.match(amount)] == []
    words = re.sub(r"<[^>]*>", " ", html).replace("Show exact amounts (msat)", "")
    assert "msat" not in words, "no millisatoshis unless asked for"


@pytest.fixture
def fractions():
    """A requester and a worker whose every amount has a fraction of a sat: 3.3-sat slots (a 3-sat reward and its
    0.3-sat fee), a 3.5-sat reward."""
    requester = make_user("carol")
    worker = make_user("bob", funds_sats=0)
    job = make_job(requester=requester, tasks=3, reward_msat=3_000, title="Label cats")
    odd = make_job(requester=requester, tasks=2, reward_msat=3_500, title="Count birds")
    assignment_review(assignment=make_submitted_assignment(job=job, worker=worker), reviewer=requester, approve=True)
    assignment_review(assignment=make_submitted_assignment(job=odd, worker=worker), reviewer=requester, approve=True)
    make_submitted_assignment(job=odd, worker=worker)  # waiting for review
    draft = make_draft_job(requester=requester, tasks=3, reward_msat=3_000, title="Draft")
    return requester, worker, job, odd, draft


def test_the_requesters_pages_show_whole_sats(client, fractions):
    requester, _worker, job, odd, draft = fractions
    client.force_login(requester)

    for url in [
        reverse("wallet"),
        reverse("requester_dashboard"),
        reverse("job_manage", args=[draft.public_id]),
        reverse("job_manage", args=[job.public_id]),
        reverse("review_queue", args=[odd.public_id]),
        reverse("payouts"),
    ]:
        html = client.get(url).content.decode()
        if url == reverse("wallet"):
            assert_whole_sats_only(html)
        else:
            assert "msat" not in re.sub(r"<[^>]*>", " ", html), url
            assert [a for a in amounts_on(html) if not WHOLE_SATS.match(a)] == [], url


def test_the_wallet_balance_is_rounded_down_where_it_showed_a_fraction(client, fractions):
    requester = fractions[0]
    client.force_login(requester)

    html = client.get(reverse("wallet")).content.decode()

    # 1,000,000 sats less 3 × 3.3 and 2 × 3.85 sats in escrow: 999,982,400 msat, once shown as "999,982.4".
    assert 'id="available-balance">999,982<' in html
    assert "999,982.4" not in html


def test_the_publish_cost_is_rounded_up(client, fractions):
    requester, *_, draft = fractions
    client.force_login(requester)

    html = client.get(reverse("job_manage", args=[draft.public_id])).content.decode()

    # 3 slots of 3.3 sats: 9.9 sats to pay, shown as 10 (it was "9.9 sats").
    assert 'publishing moves <strong class="amount">10 sats</strong>' in html


def test_the_workers_pages_show_whole_sats(client, fractions):
    _requester, worker, _job, odd, _draft = fractions
    client.force_login(worker)

    for url in [
        reverse("wallet"),
        reverse("worker_dashboard"),
        reverse("board"),
        reverse("job_detail", args=[odd.public_id]),
    ]:
        html = client.get(url).content.decode()
        assert "msat" not in re.sub(r"<[^>]*>", " ", html).replace("Show exact amounts (msat)", ""), url
        assert [a for a in amounts_on(html) if not WHOLE_SATS.match(a)] == [], url

    dashboard = client.get(reverse("worker_dashboard")).content.decode()
    assert 'id="approved-earnings">6<' in dashboard  # 3 + 3.5 sats earned: 6.5, rounded down


def test_the_deposit_limits_group_their_thousands(client, settings):
    settings.DEPOSIT_MAX_MSAT = 10_000_000_000
    client.force_login(make_user(funds_sats=0))

    html = client.get(reverse("deposit_new")).content.decode()

    assert "Deposits are between 1 and 10,000,000 sats." in html


def test_what_a_job_will_cost_is_rounded_up_while_it_is_written(client):
    client.force_login(make_user(funds_sats=0))
    terms = {
        "title": "",  # sent back with an error, so the page shows the cost of the terms typed
        "description": "Say what is in a photo.",
        "reward_sats": "15",
        "assignments_per_task": "3",
        "time_limit_minutes": "10",
        "auto_approve_hours": "72",
    }

    text = visible_text(client.post(reverse("job_create"), terms).content.decode())

    # A 1.5-sat fee on a 15-sat reward: 16.5 sats an assignment, 49.5 a task.
    assert "Platform fee (10%) 2 sats" in text
    assert "Each task costs 50 sats" in text
    assert "100 tasks cost 4,950 sats" in text
