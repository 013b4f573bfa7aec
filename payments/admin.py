"""Moderator screens for money.

Nothing here edits a row, for anybody, superusers included: accounts, ledger transactions and entries, deposits,
payouts, withdraw links and bonuses are shown, and money moves only through the services. Payouts waiting for a
moderator get two actions, retry and cancel (the money back in the worker's earnings), each through
payments/moderation.py and recorded with the moderator as actor; a payout's page shows its attempt history. The
ledger has a reconciliation screen: its Lightning accounts against the backend wallet's balance. Moderators (the
`Moderators` group) have the view permissions and `change_payout`, which is what the payout actions require.
"""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.money import MSAT_PER_SAT
from payments import moderation
from payments.models import Account, Bonus, Deposit, LedgerEntry, LedgerTransaction, Payout, PayoutState, WithdrawLink


def signed_sats(msat: int | None) -> str:
    """Millisatoshis as sats for moderators: thousands grouped, a fraction only when there is one, a minus sign for
    what a ledger account owes (lightning_in, routing fees)."""
    if msat is None:
        return ""
    whole, rest = divmod(abs(int(msat)), MSAT_PER_SAT)
    text = f"{whole:,}" + (f".{rest:03d}".rstrip("0") if rest else "")
    return f"-{text}" if msat < 0 else text


def sats(field: str, description: str):
    """A column or read-only field showing a `*_msat` field in sats, sortable by the field."""

    @admin.display(description=description, ordering=field)
    def shown(obj) -> str:
        return signed_sats(getattr(obj, field))

    shown.__name__ = f"{field.removesuffix('_msat')}_sats"
    return shown


_SATS_FIELDS: dict[tuple[type, str], object] = {}


def shown_in_sats(model, name: str):
    """A `*_msat` field of `model` as a read-only field in sats (the same object each time, as the admin needs);
    any other name as it is."""
    if not name.endswith("_msat"):
        return name
    key = (model, name)
    if key not in _SATS_FIELDS:
        label = str(model._meta.get_field(name).verbose_name).removesuffix(" msat")
        _SATS_FIELDS[key] = sats(name, f"{label} (sats)")
    return _SATS_FIELDS[key]


class ReadOnlyAdmin(admin.ModelAdmin):
    """Money rows change only through the services: the admin shows them and refuses every add, change and delete,
    whoever asks (a POST to a change or delete page is a 403). A row's page shows its fields read-only, amounts in
    sats."""

    def get_fields(self, request, obj=None):
        names = self.fields or [
            field.name for field in self.opts.fields if field.name != "id" and field.name not in (self.exclude or ())
        ]
        return [shown_in_sats(self.model, name) for name in names]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# The ledger -------------------------------------------------------------------------------------------------------


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "book", "user", "job", sats("balance_msat", "balance (sats)"))
    list_filter = ("book", "kind")
    list_select_related = ("user", "job")
    search_fields = ("user__username", "=user__public_id", "job__title", "=job__public_id")
    fields = ("kind", "book", "user", "job", "balance_msat", "entries")
    show_full_result_count = False

    @admin.display(description="entries")
    def entries(self, account: Account) -> str:
        url = reverse("admin:payments_ledgerentry_changelist") + f"?account__id__exact={account.pk}"
        return format_html('<a href="{}">Every entry of this account, newest first</a>', url)

    def get_urls(self):
        reconciliation = path(
            "reconciliation/",
            self.admin_site.admin_view(self.reconciliation_view),
            name="payments_reconciliation",
        )
        return [reconciliation, *super().get_urls()]

    def reconciliation_view(self, request: HttpRequest) -> HttpResponse:
        """The ledger's Lightning accounts against the backend wallet's balance, with the difference explained or
        flagged. Anyone who may see the accounts may see it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        report = moderation.ledger_reconciliation()
        context = {
            **self.admin_site.each_context(request),
            "title": "Reconciliation with the Lightning wallet",
            "opts": self.opts,
            "report": report,
            "shown": _reconciliation_in_sats(report),
        }
        return TemplateResponse(request, "admin/payments/reconciliation.html", context)


def _reconciliation_in_sats(report: moderation.Reconciliation) -> dict[str, str]:
    difference = report.difference_msat or 0
    if difference < 0:
        difference_words = f"{signed_sats(-difference)} sats less than the ledger says"
        explanation = f"in flight: up to {signed_sats(report.maybe_sent_up_to_msat)} sats"
    else:
        difference_words = f"{signed_sats(difference)} sats more than the ledger says"
        explanation = f"deposits not yet credited: up to {signed_sats(report.unpaid_deposits_up_to_msat)} sats"
    return {
        "lightning_in": signed_sats(report.lightning_in_msat),
        "lightning_out": signed_sats(report.lightning_out_msat),
        "payouts_in_flight": signed_sats(report.payouts_in_flight_msat),
        "routing_fees": signed_sats(report.routing_fees_msat),
        "expected": signed_sats(report.expected_msat),
        "wallet": signed_sats(report.wallet_msat),
        "difference": signed_sats(report.difference_msat),
        "difference_words": difference_words,
        "explanation": explanation,
        "explained": signed_sats(abs(report.explained_msat)),
        "unexplained": signed_sats(report.unexplained_msat),
        "maybe_sent": signed_sats(report.maybe_sent_up_to_msat),
        "unpaid_deposits": signed_sats(report.unpaid_deposits_up_to_msat),
    }


class LedgerEntryInline(admin.TabularInline):
    model = LedgerEntry
    fields = ("account", "amount", "created_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user", "account__job")

    @admin.display(description="amount (sats)")
    def amount(self, entry: LedgerEntry) -> str:
        return signed_sats(entry.amount_msat)

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LedgerTransaction)
class LedgerTransactionAdmin(ReadOnlyAdmin):
    list_display = ("id", "kind", "key", "memo", "created_at")
    list_filter = ("kind",)
    search_fields = ("=key", "memo")
    fields = ("kind", "key", "memo", "created_at")
    inlines = [LedgerEntryInline]
    date_hierarchy = "created_at"
    show_full_result_count = False


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ("id", "created_at", "transaction_shown", "account", sats("amount_msat", "amount (sats)"))
    list_filter = ("account__kind", "transaction__kind")
    list_select_related = ("transaction", "account__user", "account__job")
    search_fields = ("=transaction__key",)
    fields = ("transaction", "account", "amount_msat", "created_at")
    ordering = ("-id",)
    show_full_result_count = False

    @admin.display(description="transaction")
    def transaction_shown(self, entry: LedgerEntry) -> str:
        url = reverse("admin:payments_ledgertransaction_change", args=[entry.transaction_id])
        return format_html('<a href="{}">{}</a>', url, entry.transaction)


# Money in and out -------------------------------------------------------------------------------------------------


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", sats("amount_msat", "amount (sats)"), "status", "created_at", "paid_at")
    list_filter = ("status",)
    list_select_related = ("user",)
    search_fields = ("user__username", "=payment_hash")


class WaitingForModeratorFilter(admin.SimpleListFilter):
    """The attention queue: payouts that stopped retrying and wait for a moderator, oldest first."""

    title = "attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("waiting", "Waiting for a moderator")]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(state=PayoutState.NEEDS_MODERATOR).order_by("updated_at")
        return queryset


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "worker",
        "kind",
        sats("amount_msat", "amount (sats)"),
        "state",
        "attempts",
        "last_error_short",
        "updated_at",
    )
    list_filter = (WaitingForModeratorFilter, "state", "kind")
    list_select_related = ("worker",)
    search_fields = ("worker__username", "=worker__public_id", "=public_id", "=payment_hash", "destination")
    actions = ["retry_payouts", "cancel_payouts"]
    show_full_result_count = False

    @admin.display(description="last error")
    def last_error_short(self, payout: Payout) -> str:
        return payout.last_error if len(payout.last_error) <= 80 else payout.last_error[:79] + "…"

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        """Retrying and cancelling payouts: Moderators have it through `change_payout` (nothing else uses it)."""
        return request.user.has_perm("payments.change_payout")

    # The attention queue and the payout's page

    def changelist_view(self, request: HttpRequest, extra_context=None):
        waiting = Payout.objects.filter(state=PayoutState.NEEDS_MODERATOR).count()
        return super().changelist_view(request, {**(extra_context or {}), "waiting_for_moderator": waiting})

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None):
        payout = self.get_object(request, object_id)
        extra = {**(extra_context or {})}
        if payout is not None:
            extra.update(
                history=moderation.payout_history(payout=payout),
                waits_for_moderator=payout.state == PayoutState.NEEDS_MODERATOR,
                can_moderate=self.has_moderate_permission(request),
                reason_limit=moderation.MAX_REASON_CHARS,
            )
        return super().change_view(request, object_id, form_url, extra)

    def get_urls(self):
        retry = self.admin_site.admin_view(require_POST(self.retry_view))
        cancel = self.admin_site.admin_view(require_POST(self.cancel_view))
        own = [
            path("<path:object_id>/retry/", retry, name="payments_payout_retry"),
            path("<path:object_id>/cancel/", cancel, name="payments_payout_cancel"),
        ]
        return [*own, *super().get_urls()]

    def _payout_to_moderate(self, request: HttpRequest, object_id: str) -> Payout:
        if not self.has_moderate_permission(request):
            raise PermissionDenied
        payout = self.get_object(request, object_id)
        if payout is None:
            raise Http404("No such payout.")
        return payout

    def _back_to(self, payout: Payout) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:payments_payout_change", args=[payout.pk]))

    def retry_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payout = self._payout_to_moderate(request, object_id)
        self._retry(request, payout)
        return self._back_to(payout)

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        payout = self._payout_to_moderate(request, object_id)
        self._cancel(request, payout, reason=request.POST.get("reason", ""))
        return self._back_to(payout)

    # The actions, one payout at a time: each is its own transaction, and one refusal stops none of the others.

    def _retry(self, request: HttpRequest, payout: Payout) -> bool:
        try:
            moderation.payout_retry(payout=payout, moderator=request.user)
        except DomainError as error:
            self.message_user(request, error.message, messages.WARNING)
            return False
        self.message_user(request, f"Payout {payout.public_id} will be tried again now, with fresh attempts.")
        return True

    def _cancel(self, request: HttpRequest, payout: Payout, *, reason: str) -> bool:
        try:
            moderation.payout_cancel(payout=payout, moderator=request.user, reason=reason)
        except DomainError as error:
            self.message_user(request, f"Payout {payout.public_id}: {error.message}", messages.WARNING)
            return False
        self.message_user(
            request, f"Payout {payout.public_id} cancelled: its amount is back in the balance it came from."
        )
        return True

    @admin.action(description="Retry the selected payouts that wait for a moderator", permissions=["moderate"])
    def retry_payouts(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        for payout in queryset.order_by("pk"):
            self._retry(request, payout)

    @admin.action(
        description="Cancel the selected payouts that wait for a moderator (money back to the worker)…",
        permissions=["moderate"],
    )
    def cancel_payouts(self, request: HttpRequest, queryset: QuerySet[Payout]) -> TemplateResponse | None:
        """First a page that lists them and asks for the reason the workers will see; then the cancellations."""
        payouts = list(queryset.select_related("worker").order_by("pk"))
        for payout in payouts:
            payout.amount_sats = signed_sats(payout.amount_msat)
        reason = request.POST.get("reason", "")
        if request.POST.get("confirmed") and reason.strip():
            for payout in payouts:
                self._cancel(request, payout, reason=reason)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Cancel payouts",
            "opts": self.opts,
            "payouts": payouts,
            "waiting": [payout for payout in payouts if payout.state == PayoutState.NEEDS_MODERATOR],
            "reason": reason,
            "reason_missing": bool(request.POST.get("confirmed")),
            "reason_limit": moderation.MAX_REASON_CHARS,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/payments/payout/cancel_selected.html", context)


@admin.register(WithdrawLink)
class WithdrawLinkAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "worker",
        sats("max_withdrawable_msat", "up to (sats)"),
        "created_at",
        "expires_at",
        "claimed_at",
    )
    list_select_related = ("worker",)
    exclude = ("k1",)


@admin.register(Bonus)
class BonusAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "requester",
        "worker",
        sats("amount_msat", "amount (sats)"),
        sats("fee_msat", "fee (sats)"),
        "created_at",
    )
    list_select_related = ("requester", "worker")
