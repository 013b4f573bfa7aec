"""Moderator screens for money: everything read-only; payouts that wait for a moderator get two actions."""

from django.contrib import admin, messages

from core.admin import sats_column
from core.errors import DomainError
from payments.models import Account, Bonus, Deposit, LedgerEntry, LedgerTransaction, Payout, PayoutState, WithdrawLink
from payments.payouts import payout_fail_by_moderator, payout_retry_by_moderator


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows change only through the services: the admin shows them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.concrete_fields]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "user", "job", sats_column("balance_msat", "balance (sats)"))
    list_filter = ("kind",)
    list_select_related = ("user", "job")
    search_fields = ("user__username", "job__title")


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account", "amount_msat", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "key", "memo", "created_at")
    list_filter = ("kind",)
    search_fields = ("key", "memo")
    inlines = [LedgerEntryInline]


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", sats_column("amount_msat", "amount (sats)"), "status", "created_at", "paid_at")
    list_filter = ("status",)
    list_select_related = ("user",)
    search_fields = ("user__username", "payment_hash")


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "worker",
        "kind",
        sats_column("amount_msat", "amount (sats)"),
        "state",
        "attempts",
        "created_at",
        "settled_at",
    )
    list_filter = ("state", "kind")
    list_select_related = ("worker",)
    search_fields = ("worker__username", "payment_hash", "destination")
    actions = ["retry_payouts", "fail_payouts"]

    @admin.action(description="Retry the selected payouts that wait for a moderator", permissions=["change"])
    def retry_payouts(self, request, queryset) -> None:
        retried = 0
        for payout in queryset.filter(state=PayoutState.NEEDS_MODERATOR):
            payout_retry_by_moderator(payout=payout, moderator=request.user)
            retried += 1
        self.message_user(request, f"{retried} payout(s) sent back to be retried.")

    @admin.action(
        description="Fail the selected payouts (money back to the worker) once the node confirms",
        permissions=["change"],
    )
    def fail_payouts(self, request, queryset) -> None:
        for payout in queryset.filter(state=PayoutState.NEEDS_MODERATOR):
            try:
                payout_fail_by_moderator(payout=payout, reason=f"by {request.user.username}", moderator=request.user)
            except DomainError as error:
                self.message_user(request, f"Payout {payout.pk}: {error.message}", messages.WARNING)
            else:
                self.message_user(request, f"Payout {payout.pk} failed; the amount is back in the balance.")


@admin.register(WithdrawLink)
class WithdrawLinkAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "worker",
        sats_column("max_withdrawable_msat", "up to (sats)"),
        "created_at",
        "expires_at",
        "claimed_at",
    )
    list_select_related = ("worker",)
    exclude = ("k1",)

    def get_readonly_fields(self, request, obj=None):
        return [field for field in super().get_readonly_fields(request, obj) if field != "k1"]


@admin.register(Bonus)
class BonusAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "requester",
        "worker",
        sats_column("amount_msat", "amount (sats)"),
        sats_column("fee_msat", "fee (sats)"),
        "created_at",
    )
    list_select_related = ("requester", "worker")
