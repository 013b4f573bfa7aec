"""The ledger, deposits, payouts, withdraw links and bonuses; the platform's own accounts exist from the start, so no money
movement ever has to create one; moderators see the money and can retry or fail payouts that wait for them.

The migrations of the project's first months, squashed into one (issue 8); a database that had them all
skips it."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from core.migration_operations import grant_to_moderators


PLATFORM_KINDS = ["payouts_in_flight", "platform_fees", "routing_fees", "lightning_in", "lightning_out"]


def create_platform_accounts(apps, schema_editor):
    Account = apps.get_model("payments", "Account")
    for kind in PLATFORM_KINDS:
        Account.objects.get_or_create(kind=kind, user=None, job=None)


class Migration(migrations.Migration):
    initial = True

    replaces = [
        ("payments", "0001_initial"),
        ("payments", "0002_platform_accounts"),
        ("payments", "0003_moderators_see_money"),
        ("payments", "0004_payout_source_and_fair_deposit_sweep"),
        ("payments", "0005_payout_fee_reserve"),
    ]

    dependencies = [
        ("marketplace", "0001_squashed_0007_job_live_assignment_count"),
        ("tasks", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DevInvoice",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("payment_hash", models.CharField(max_length=64, unique=True)),
                ("preimage", models.CharField(max_length=64)),
                ("bolt11", models.TextField()),
                ("amount_msat", models.PositiveBigIntegerField()),
                ("memo", models.CharField(blank=True, max_length=640)),
                ("expires_at", models.DateTimeField()),
                ("paid_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name="Account",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("requester_available", "Requester balance"),
                            ("job_escrow", "Job escrow"),
                            ("worker_earned", "Worker earnings"),
                            ("payouts_in_flight", "Payouts in flight"),
                            ("platform_fees", "Platform fees"),
                            ("routing_fees", "Lightning routing fees"),
                            ("lightning_in", "Lightning deposits (outside world)"),
                            ("lightning_out", "Lightning payouts (outside world)"),
                        ],
                        max_length=32,
                    ),
                ),
                ("balance_msat", models.BigIntegerField(default=0)),
                (
                    "job",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to="marketplace.job"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Bonus",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount_msat", models.PositiveBigIntegerField()),
                ("fee_msat", models.PositiveBigIntegerField(default=0)),
                ("reason", models.TextField(max_length=1000)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "assignment",
                    models.ForeignKey(
                        blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, to="tasks.assignment"
                    ),
                ),
                (
                    "requester",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bonuses_given",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="bonuses_received",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Deposit",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount_msat", models.PositiveBigIntegerField()),
                ("bolt11", models.TextField()),
                ("payment_hash", models.CharField(max_length=64, unique=True)),
                (
                    "status",
                    models.CharField(
                        choices=[("pending", "Waiting for payment"), ("paid", "Paid"), ("expired", "Expired")],
                        default="pending",
                        max_length=16,
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                ("paid_at", models.DateTimeField(blank=True, null=True)),
                ("last_checked_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="deposits",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="LedgerTransaction",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("deposit", "Deposit"),
                            ("escrow_fund", "Escrow funded"),
                            ("reward", "Reward for approved work"),
                            ("escrow_refund", "Escrow refunded"),
                            ("bonus", "Bonus"),
                            ("payout_start", "Payout started"),
                            ("payout_success", "Payout sent"),
                            ("payout_return", "Payout failed, returned"),
                        ],
                        max_length=32,
                    ),
                ),
                ("key", models.CharField(max_length=200, unique=True)),
                ("memo", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
            options={
                "indexes": [models.Index(fields=["-created_at"], name="ledger_tx_created_idx")],
            },
        ),
        migrations.CreateModel(
            name="LedgerEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("amount_msat", models.BigIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="entries", to="payments.account"
                    ),
                ),
                (
                    "transaction",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="entries",
                        to="payments.ledgertransaction",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Payout",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("lnurl_pay", "Paid to Lightning Address"),
                            ("withdraw", "Withdrawn with LNURL-withdraw"),
                        ],
                        max_length=16,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[("worker_earned", "Earnings"), ("requester_available", "Unspent balance")],
                        default="worker_earned",
                        max_length=32,
                    ),
                ),
                ("amount_msat", models.PositiveBigIntegerField()),
                ("destination", models.CharField(blank=True, max_length=2000)),
                (
                    "state",
                    models.CharField(
                        choices=[
                            ("created", "Created"),
                            ("invoice_requested", "Asking the wallet for an invoice"),
                            ("invoice_verified", "Invoice checked"),
                            ("sending", "Sending"),
                            ("succeeded", "Paid"),
                            ("failed", "Failed (money returned to your balance)"),
                            ("needs_moderator", "Waiting for a moderator"),
                        ],
                        default="created",
                        max_length=24,
                    ),
                ),
                ("bolt11", models.TextField(blank=True)),
                ("payment_hash", models.CharField(blank=True, max_length=64, null=True, unique=True)),
                ("preimage", models.CharField(blank=True, max_length=64)),
                ("fee_limit_msat", models.PositiveBigIntegerField(default=0)),
                ("fee_reserve_msat", models.PositiveBigIntegerField(default=0)),
                ("fee_msat", models.PositiveBigIntegerField(blank=True, null=True)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("last_error", models.TextField(blank=True)),
                ("success_action", models.JSONField(blank=True, null=True)),
                ("next_attempt_at", models.DateTimeField(blank=True, null=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("settled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="payouts", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="PayoutDestination",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("address", models.CharField(blank=True, max_length=2000)),
                (
                    "wallet_name",
                    models.CharField(blank=True, help_text="What the wallet said about itself.", max_length=300),
                ),
                ("auto_payout", models.BooleanField(default=True)),
                ("minimum_payout_msat", models.PositiveBigIntegerField(default=1000)),
                ("verified_at", models.DateTimeField(blank=True, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "user",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="payout_destination",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="WithdrawLink",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "source",
                    models.CharField(
                        choices=[("worker_earned", "Earnings"), ("requester_available", "Unspent balance")],
                        default="worker_earned",
                        max_length=32,
                    ),
                ),
                ("k1", models.CharField(max_length=64, unique=True)),
                ("min_withdrawable_msat", models.PositiveBigIntegerField()),
                ("max_withdrawable_msat", models.PositiveBigIntegerField()),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                ("claimed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "payout",
                    models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="withdraw_link",
                        to="payments.payout",
                    ),
                ),
                (
                    "worker",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="withdraw_links",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("user__isnull", False)),
                fields=("kind", "user"),
                name="account_one_per_user_and_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("job__isnull", False)), fields=("kind", "job"), name="account_one_per_job_and_kind"
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.UniqueConstraint(
                condition=models.Q(("job__isnull", True), ("user__isnull", True)),
                fields=("kind",),
                name="account_one_platform_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("kind__in", ["job_escrow", "payouts_in_flight", "requester_available", "worker_earned"]),
                        _negated=True,
                    ),
                    ("balance_msat__gte", 0),
                    _connector="OR",
                ),
                name="account_owed_money_never_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="account",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("job__isnull", True),
                        ("kind__in", ["requester_available", "worker_earned"]),
                        ("user__isnull", False),
                    ),
                    models.Q(("job__isnull", False), ("kind", "job_escrow"), ("user__isnull", True)),
                    models.Q(
                        models.Q(("kind__in", ["requester_available", "worker_earned", "job_escrow"]), _negated=True),
                        ("job__isnull", True),
                        ("user__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="account_owner_matches_kind",
            ),
        ),
        migrations.AddConstraint(
            model_name="bonus",
            constraint=models.CheckConstraint(condition=models.Q(("amount_msat__gt", 0)), name="bonus_amount_positive"),
        ),
        migrations.AddIndex(
            model_name="deposit",
            index=models.Index(fields=["user", "-created_at"], name="deposit_user_idx"),
        ),
        migrations.AddIndex(
            model_name="deposit",
            index=models.Index(
                condition=models.Q(("status", "pending")), fields=["expires_at"], name="deposit_pending_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="deposit",
            index=models.Index(
                condition=models.Q(("status__in", ["pending", "expired"])),
                fields=["last_checked_at", "id"],
                name="deposit_sweep_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="deposit",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_msat__gt", 0)), name="deposit_amount_positive"
            ),
        ),
        migrations.AddIndex(
            model_name="ledgerentry",
            index=models.Index(fields=["account", "-id"], name="entry_account_idx"),
        ),
        migrations.AddConstraint(
            model_name="ledgerentry",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_msat", 0), _negated=True), name="entry_amount_not_zero"
            ),
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(fields=["worker", "-created_at"], name="payout_worker_idx"),
        ),
        migrations.AddIndex(
            model_name="payout",
            index=models.Index(
                condition=models.Q(("state__in", ["created", "invoice_requested", "invoice_verified", "sending"])),
                fields=["next_attempt_at"],
                name="payout_open_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(("amount_msat__gt", 0)), name="payout_amount_positive"
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(("source__in", ["worker_earned", "requester_available"])), name="payout_source_valid"
            ),
        ),
        migrations.AddConstraint(
            model_name="payout",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("state__in", ["invoice_verified", "sending", "succeeded"]), _negated=True),
                    ("payment_hash__isnull", False),
                    _connector="OR",
                ),
                name="payout_sent_only_with_invoice",
            ),
        ),
        migrations.AddIndex(
            model_name="withdrawlink",
            index=models.Index(
                condition=models.Q(("claimed_at__isnull", True)), fields=["worker", "source"], name="withdraw_open_idx"
            ),
        ),
        migrations.AddConstraint(
            model_name="withdrawlink",
            constraint=models.CheckConstraint(
                condition=models.Q(("min_withdrawable_msat__lte", models.F("max_withdrawable_msat"))),
                name="withdraw_bounds_ordered",
            ),
        ),
        migrations.AddConstraint(
            model_name="withdrawlink",
            constraint=models.CheckConstraint(
                condition=models.Q(("source__in", ["worker_earned", "requester_available"])),
                name="withdraw_source_valid",
            ),
        ),
        migrations.RunPython(create_platform_accounts, migrations.RunPython.noop),
        grant_to_moderators(
            "payments",
            [
                "view_account",
                "view_ledgertransaction",
                "view_ledgerentry",
                "view_deposit",
                "view_payout",
                "change_payout",
                "view_withdrawlink",
                "view_bonus",
            ],
        ),
    ]
