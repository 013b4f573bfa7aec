"""Money: a double-entry ledger in millisatoshis, deposits, payouts, LNURL-withdraw links.

Sign convention: an entry's amount adds to its account's balance. Every transaction's entries sum to zero, so the
sum over all accounts is always zero. Money from outside enters through `lightning_in` (which goes negative) and
leaves through `lightning_out` (which grows); user accounts can never go below zero (a database constraint).

Two books (issue 13): real money, and the sandbox's play money, which the sandbox mint issues (it goes negative as
`lightning_in` does) and which never leaves. Every account belongs to one book, written on its row; a transaction's
accounts are all of one book (`ledger_post` refuses any other, `ledger_check` looks for any that slipped through),
so no path moves play money into real money or back.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.ids import public_id_field


class AccountKind(models.TextChoices):
    REQUESTER_AVAILABLE = "requester_available", "Requester balance"
    JOB_ESCROW = "job_escrow", "Job escrow"
    # The reward + fee of a disputed assignment, out of the escrow's refunds and the requester's balance until a
    # decision: an overturn pays the worker from it, an upheld rejection gives it back.
    DISPUTE_HOLD = "dispute_hold", "Dispute hold"
    WORKER_EARNED = "worker_earned", "Worker earnings"
    PAYOUTS_IN_FLIGHT = "payouts_in_flight", "Payouts in flight"
    PLATFORM_FEES = "platform_fees", "Platform fees"
    ROUTING_FEES = "routing_fees", "Lightning routing fees"
    LIGHTNING_IN = "lightning_in", "Lightning deposits (outside world)"
    LIGHTNING_OUT = "lightning_out", "Lightning payouts (outside world)"
    # The sandbox's play money: its own user and platform accounts, so that no code reading a real kind (payouts,
    # withdrawals, the wallet page, the sweepers) ever sees a play balance.
    SANDBOX_REQUESTER_AVAILABLE = "sandbox_requester_available", "Sandbox balance (play money)"
    SANDBOX_WORKER_EARNED = "sandbox_worker_earned", "Sandbox earnings (play money)"
    SANDBOX_PLATFORM_FEES = "sandbox_platform_fees", "Sandbox platform fees (play money)"
    SANDBOX_MINT = "sandbox_mint", "Sandbox mint (issues play money)"


class Book(models.TextChoices):
    REAL = "real", "Real money"
    PLAY = "play", "Play money (sandbox)"


USER_ACCOUNT_KINDS = frozenset(
    {
        AccountKind.REQUESTER_AVAILABLE,
        AccountKind.WORKER_EARNED,
        AccountKind.SANDBOX_REQUESTER_AVAILABLE,
        AccountKind.SANDBOX_WORKER_EARNED,
    }
)
# A job's accounts are of the job's book: play for a sandbox job (Job.sandbox, fixed when the job is made).
JOB_ACCOUNT_KINDS = frozenset({AccountKind.JOB_ESCROW, AccountKind.DISPUTE_HOLD})
PLAY_ACCOUNT_KINDS = frozenset(
    {
        AccountKind.SANDBOX_REQUESTER_AVAILABLE,
        AccountKind.SANDBOX_WORKER_EARNED,
        AccountKind.SANDBOX_PLATFORM_FEES,
        AccountKind.SANDBOX_MINT,
    }
)
REAL_ACCOUNT_KINDS = frozenset(set(AccountKind) - PLAY_ACCOUNT_KINDS - JOB_ACCOUNT_KINDS)


class PayoutSource(models.TextChoices):
    """Which of the user's balances a payout (or withdraw link) takes its amount from."""

    EARNINGS = AccountKind.WORKER_EARNED.value, "Earnings"
    BALANCE = AccountKind.REQUESTER_AVAILABLE.value, "Unspent balance"


# Accounts that hold money somebody is owed: never below zero.
NON_NEGATIVE_KINDS = frozenset(
    {
        AccountKind.REQUESTER_AVAILABLE,
        AccountKind.WORKER_EARNED,
        AccountKind.JOB_ESCROW,
        AccountKind.DISPUTE_HOLD,
        AccountKind.PAYOUTS_IN_FLIGHT,
        AccountKind.SANDBOX_REQUESTER_AVAILABLE,
        AccountKind.SANDBOX_WORKER_EARNED,
    }
)


def book_of_kind(kind: str, *, sandbox_job: bool = False) -> str:
    """The book an account of this kind belongs to; a job's accounts follow the job."""
    if kind in JOB_ACCOUNT_KINDS:
        return Book.PLAY if sandbox_job else Book.REAL
    return Book.PLAY if kind in PLAY_ACCOUNT_KINDS else Book.REAL


class Account(models.Model):
    kind = models.CharField(max_length=32, choices=AccountKind.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    job = models.ForeignKey("marketplace.Job", null=True, blank=True, on_delete=models.PROTECT)
    # Which book the account is in, written when it is made (book_of_kind) and never changed: ledger_post reads it
    # from the rows it locks anyway, so keeping the books apart costs no query.
    book = models.CharField(max_length=8, choices=Book.choices, default=Book.REAL)
    # A cache of the sum of this account's entries, updated in the same transaction as each entry under a row lock.
    # The entries are the truth; `ledger_check` compares the two.
    balance_msat = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "user"], condition=Q(user__isnull=False), name="account_one_per_user_and_kind"
            ),
            models.UniqueConstraint(
                fields=["kind", "job"], condition=Q(job__isnull=False), name="account_one_per_job_and_kind"
            ),
            models.UniqueConstraint(
                fields=["kind"], condition=Q(user__isnull=True, job__isnull=True), name="account_one_platform_kind"
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=sorted(NON_NEGATIVE_KINDS)) | Q(balance_msat__gte=0),
                name="account_owed_money_never_negative",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=sorted(USER_ACCOUNT_KINDS), user__isnull=False, job__isnull=True)
                    | Q(kind__in=sorted(JOB_ACCOUNT_KINDS), user__isnull=True, job__isnull=False)
                    | (
                        ~Q(kind__in=[*sorted(USER_ACCOUNT_KINDS), *sorted(JOB_ACCOUNT_KINDS)])
                        & Q(user__isnull=True, job__isnull=True)
                    )
                ),
                name="account_owner_matches_kind",
            ),
            # Kind ↔ book wherever the kind decides it; a job's accounts may be of either (its job decides, which
            # a constraint cannot see: ledger_check compares them).
            models.CheckConstraint(
                condition=(
                    Q(kind__in=sorted(PLAY_ACCOUNT_KINDS), book=Book.PLAY)
                    | Q(kind__in=sorted(REAL_ACCOUNT_KINDS), book=Book.REAL)
                    | Q(kind__in=sorted(JOB_ACCOUNT_KINDS), book__in=Book.values)
                ),
                name="account_book_matches_kind",
            ),
        ]

    def __str__(self) -> str:
        owner = self.user or self.job or "platform"
        return f"{self.get_kind_display()} ({owner})"


class TransactionKind(models.TextChoices):
    DEPOSIT = "deposit", "Deposit"
    ESCROW_FUND = "escrow_fund", "Escrow funded"
    REWARD = "reward", "Reward for approved work"
    ESCROW_REFUND = "escrow_refund", "Escrow refunded"
    BONUS = "bonus", "Bonus"
    PAYOUT_START = "payout_start", "Payout started"
    PAYOUT_SUCCESS = "payout_success", "Payout sent"
    PAYOUT_RETURN = "payout_return", "Payout failed, returned"
    DISPUTE_HOLD = "dispute_hold", "Held for a dispute"
    DISPUTE_RELEASE = "dispute_release", "Dispute hold released"
    SANDBOX_TOP_UP = "sandbox_top_up", "Sandbox balance topped up (play money)"


class LedgerTransaction(models.Model):
    """A group of entries that sum to zero. `key` makes each money movement happen at most once."""

    kind = models.CharField(max_length=32, choices=TransactionKind.choices)
    key = models.CharField(max_length=200, unique=True)
    memo = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["-created_at"], name="ledger_tx_created_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class LedgerEntry(models.Model):
    transaction = models.ForeignKey(LedgerTransaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount_msat = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [models.CheckConstraint(condition=~Q(amount_msat=0), name="entry_amount_not_zero")]
        indexes = [models.Index(fields=["account", "-id"], name="entry_account_idx")]

    def __str__(self) -> str:
        return f"{self.amount_msat:+} msat on {self.account_id}"


class DepositStatus(models.TextChoices):
    PENDING = "pending", "Waiting for payment"
    PAID = "paid", "Paid"
    EXPIRED = "expired", "Expired"


class Deposit(models.Model):
    """A requester's Lightning invoice: paid, it credits their balance exactly once (keyed by payment hash)."""

    public_id = public_id_field()
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="deposits")
    amount_msat = models.PositiveBigIntegerField()
    bolt11 = models.TextField()
    payment_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=DepositStatus.choices, default=DepositStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # When the sweeper last asked the backend about it (its creation time until then): the sweeper visits the least
    # recently checked first, so a flood of unpaid deposits cannot keep anyone else's paid one from being noticed.
    last_checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount_msat__gt=0), name="deposit_amount_positive")]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="deposit_user_idx"),
            models.Index(fields=["expires_at"], condition=Q(status="pending"), name="deposit_pending_idx"),
            models.Index(
                fields=["last_checked_at", "id"],
                condition=Q(status__in=["pending", "expired"]),
                name="deposit_sweep_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Deposit {self.pk} ({self.status})"


class PayoutDestination(models.Model):
    """Where a worker is paid: a Lightning Address (LUD-16) or an LNURL-pay string (bech32 or lnurlp://)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="payout_destination")
    address = models.CharField(max_length=2000, blank=True)
    wallet_name = models.CharField(max_length=300, blank=True, help_text="What the wallet said about itself.")
    auto_payout = models.BooleanField(default=True)
    minimum_payout_msat = models.PositiveBigIntegerField(default=1_000)
    verified_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.address or "(withdraw only)"


class PayoutKind(models.TextChoices):
    LNURL_PAY = "lnurl_pay", "Paid to Lightning Address"
    WITHDRAW = "withdraw", "Withdrawn with LNURL-withdraw"


class PayoutState(models.TextChoices):
    CREATED = "created", "Created"
    INVOICE_REQUESTED = "invoice_requested", "Asking the wallet for an invoice"
    INVOICE_VERIFIED = "invoice_verified", "Invoice checked"
    SENDING = "sending", "Sending"
    SUCCEEDED = "succeeded", "Paid"
    FAILED = "failed", "Failed (money returned to your balance)"
    NEEDS_MODERATOR = "needs_moderator", "Waiting for a moderator"


PAYOUT_TRANSITIONS: dict[str, set[str]] = {
    PayoutState.CREATED: {PayoutState.INVOICE_REQUESTED, PayoutState.FAILED, PayoutState.NEEDS_MODERATOR},
    PayoutState.INVOICE_REQUESTED: {
        PayoutState.INVOICE_VERIFIED,
        PayoutState.CREATED,  # the wallet's answer was refused or lost: ask again later
        PayoutState.FAILED,
        PayoutState.NEEDS_MODERATOR,
    },
    # An invoice that expired before it was sent can never be paid: drop it and ask again.
    PayoutState.INVOICE_VERIFIED: {PayoutState.SENDING, PayoutState.CREATED, PayoutState.FAILED},
    # From SENDING only the backend's answer about the stored payment hash moves it on; a payment that might still
    # succeed is never failed and never given a new invoice. A definite failure may ask for a new one (CREATED).
    PayoutState.SENDING: {
        PayoutState.SUCCEEDED,
        PayoutState.CREATED,
        PayoutState.FAILED,
        PayoutState.NEEDS_MODERATOR,
    },
    # A moderator retries or fails it; asking the node about a stored invoice may also find it paid.
    PayoutState.NEEDS_MODERATOR: {PayoutState.CREATED, PayoutState.FAILED, PayoutState.SENDING, PayoutState.SUCCEEDED},
    PayoutState.SUCCEEDED: set(),
    PayoutState.FAILED: set(),
}
OPEN_PAYOUT_STATES = frozenset(
    {
        PayoutState.CREATED,
        PayoutState.INVOICE_REQUESTED,
        PayoutState.INVOICE_VERIFIED,
        PayoutState.SENDING,
        PayoutState.NEEDS_MODERATOR,
    }
)


class Payout(models.Model):
    """Money going out to a worker. Every state is written before the outside call it guards."""

    public_id = public_id_field()
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="payouts")
    kind = models.CharField(max_length=16, choices=PayoutKind.choices)
    # Workers are paid their earnings; a requester may take unspent balance back out (withdraw only).
    source = models.CharField(max_length=32, choices=PayoutSource.choices, default=PayoutSource.EARNINGS)
    amount_msat = models.PositiveBigIntegerField()
    destination = models.CharField(max_length=2000, blank=True)
    state = models.CharField(max_length=24, choices=PayoutState.choices, default=PayoutState.CREATED)
    bolt11 = models.TextField(blank=True)
    payment_hash = models.CharField(max_length=64, null=True, blank=True, unique=True)
    preimage = models.CharField(max_length=64, blank=True)
    fee_limit_msat = models.PositiveBigIntegerField(default=0)
    # The part of the fee limit the user pays, held beside the amount while the payout is open; what the route did
    # not cost goes back to them. 0 when the platform pays the routing fee (workers' earnings).
    fee_reserve_msat = models.PositiveBigIntegerField(default=0)
    fee_msat = models.PositiveBigIntegerField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    success_action = models.JSONField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount_msat__gt=0), name="payout_amount_positive"),
            models.CheckConstraint(condition=Q(source__in=PayoutSource.values), name="payout_source_valid"),
            models.CheckConstraint(
                condition=~Q(state__in=["invoice_verified", "sending", "succeeded"]) | Q(payment_hash__isnull=False),
                name="payout_sent_only_with_invoice",
            ),
        ]
        indexes = [
            models.Index(fields=["worker", "-created_at"], name="payout_worker_idx"),
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(state__in=["created", "invoice_requested", "invoice_verified", "sending"]),
                name="payout_open_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Payout {self.pk} ({self.state})"


class WithdrawLink(models.Model):
    """An LNURL-withdraw (LUD-03) offer of a worker's balance: k1 is random, single use and expires."""

    public_id = public_id_field()
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="withdraw_links")
    source = models.CharField(max_length=32, choices=PayoutSource.choices, default=PayoutSource.EARNINGS)
    k1 = models.CharField(max_length=64, unique=True)
    min_withdrawable_msat = models.PositiveBigIntegerField()
    max_withdrawable_msat = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    payout = models.OneToOneField(Payout, null=True, blank=True, on_delete=models.PROTECT, related_name="withdraw_link")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(min_withdrawable_msat__lte=models.F("max_withdrawable_msat")),
                name="withdraw_bounds_ordered",
            ),
            models.CheckConstraint(condition=Q(source__in=PayoutSource.values), name="withdraw_source_valid"),
        ]
        indexes = [
            models.Index(fields=["worker", "source"], condition=Q(claimed_at__isnull=True), name="withdraw_open_idx"),
        ]

    def __str__(self) -> str:
        return f"Withdraw link {self.pk}"


class Bonus(models.Model):
    public_id = public_id_field()
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bonuses_given")
    worker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="bonuses_received")
    assignment = models.ForeignKey("tasks.Assignment", null=True, blank=True, on_delete=models.PROTECT)
    amount_msat = models.PositiveBigIntegerField()
    fee_msat = models.PositiveBigIntegerField(default=0)
    reason = models.TextField(max_length=1_000)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "bonuses"
        constraints = [models.CheckConstraint(condition=Q(amount_msat__gt=0), name="bonus_amount_positive")]

    def __str__(self) -> str:
        return f"Bonus {self.pk}"


class DevInvoice(models.Model):
    """Invoices of the built-in development Lightning backend: real signed BOLT11, no real money."""

    payment_hash = models.CharField(max_length=64, unique=True)
    preimage = models.CharField(max_length=64)
    bolt11 = models.TextField()
    amount_msat = models.PositiveBigIntegerField()
    memo = models.CharField(max_length=640, blank=True)
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Dev invoice {self.payment_hash[:12]}…"
