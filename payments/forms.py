from django import forms


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
        initial=1,
        help_text="Automatic payouts wait until your balance reaches this.",
    )


class BonusForm(forms.Form):
    amount_sats = forms.IntegerField(label="Bonus (sats)", min_value=1, max_value=10_000_000)
    reason = forms.CharField(label="Reason (the worker sees it)", max_length=1_000)
