from django import forms

# 1 BTC, the bound payout_destination_set refuses beyond; far below where sats × 1000 stops fitting the database's
# 64-bit integer (9223372036854776 sats was a 500). The API's `minimum_payout_msat` stops at the same amount.
MAX_MINIMUM_PAYOUT_SATS = 100_000_000


class DepositForm(forms.Form):
    amount_sats = forms.IntegerField(label="Amount (sats)", min_value=1)


class PayoutDestinationForm(forms.Form):
    address = forms.CharField(
        label="Lightning Address or LNURL-pay",
        required=False,
        max_length=2000,
        help_text="e.g. you@walletofsatoshi.com, or an lnurl1… string. Leave empty to withdraw by QR code instead.",
    )
    auto_payout = forms.BooleanField(
        label="Pay me automatically as soon as work is approved", required=False, initial=True
    )
    minimum_payout_sats = forms.IntegerField(
        label="Minimum payout (sats)",
        min_value=1,
        max_value=MAX_MINIMUM_PAYOUT_SATS,
        initial=1,
        help_text="Automatic payouts wait until your balance reaches this.",
    )
    password = forms.CharField(
        label="Your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed only to change the address, so that nobody at a computer you left signed in can send your "
        "earnings elsewhere.",
    )

    def __init__(self, *args, current_address: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_address = current_address

    def address_changes(self) -> bool:
        """Whether saving would change where money goes (setting, replacing or removing the address). The automatic
        payout switch and the minimum only change when money goes, so they need no password."""
        return self.cleaned_data["address"] != self.current_address

    def clean(self) -> dict:
        cleaned = super().clean()
        if "address" in cleaned and self.address_changes() and not cleaned.get("password"):
            self.add_error("password", "Enter your password to change where you are paid.")
        return cleaned


class BonusForm(forms.Form):
    amount_sats = forms.IntegerField(label="Bonus (sats)", min_value=1, max_value=10_000_000)
    reason = forms.CharField(label="Reason (the worker sees it)", max_length=1_000)
