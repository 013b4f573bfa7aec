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

    def __init__(self, *args, current_address: str = "", password_needed: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_address = current_address
        if not password_needed:
            del self.fields["password"]

    def address_changes(self) -> bool:
        """Whether saving would change where money goes (setting, replacing or removing the address). The automatic
        payout switch and the minimum only change when money goes, so they need no password."""
        return self.cleaned_data["address"] != self.current_address

    def clean(self) -> dict:
        cleaned = super().clean()
        if (
            "password" in self.fields
            and "address" in cleaned
            and self.address_changes()
            and not cleaned.get("password")
        ):
            self.add_error("password", "Enter your password to change where you are paid.")
        return cleaned


class BonusForm(forms.Form):
    amount_sats = forms.IntegerField(label="Bonus (sats)", min_value=1, max_value=10_000_000)
    reason = forms.CharField(label="Reason (the worker sees it)", max_length=1_000)


class PaymentStepForm(forms.Form):
    """The page right after sign-up: a Lightning Address to be paid to automatically, or withdrawing by QR code.
    Which one is the button pressed (`choice`); the password only when the page asks for it."""

    ADDRESS = "address"
    WITHDRAW = "withdraw"

    choice = forms.ChoiceField(choices=[(ADDRESS, "Lightning Address"), (WITHDRAW, "Withdraw with a QR code")])
    address = forms.CharField(
        label="Your Lightning Address",
        required=False,
        max_length=2000,
        help_text="e.g. you@walletofsatoshi.com, or an lnurl1… string from your wallet.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )
    password = forms.CharField(
        label="Your password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Needed to change where you are paid, so that nobody at a computer you left signed in can send "
        "your earnings elsewhere.",
    )

    def __init__(self, *args, current_address: str = "", password_needed: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.current_address = current_address
        if not password_needed:
            del self.fields["password"]

    def new_address(self) -> str:
        """Where money goes after saving: the address typed, or none (withdraw by QR code)."""
        return self.cleaned_data["address"] if self.cleaned_data["choice"] == self.ADDRESS else ""

    def address_changes(self) -> bool:
        return self.new_address() != self.current_address

    def clean(self) -> dict:
        cleaned = super().clean()
        choice = cleaned.get("choice")
        if choice is None or (choice == self.ADDRESS and "address" not in cleaned):
            return cleaned  # the field's own error says what is wrong
        if choice == self.ADDRESS and not cleaned["address"]:
            self.add_error("address", "Enter your Lightning Address, or choose to withdraw with a QR code.")
        elif "password" in self.fields and self.address_changes() and not cleaned.get("password"):
            self.add_error("password", "Enter your password to change where you are paid.")
        return cleaned
