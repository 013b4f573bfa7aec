from django import forms

from api.models import ApiScope
from marketplace.models import Job, JobStatus
from mturk.models import Currency

KEY_EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “nightly upload script”.")
    scopes = forms.MultipleChoiceField(
        label="What the key may do",
        choices=ApiScope.choices,
        initial=list(ApiScope.values),
        widget=forms.CheckboxSelectMultiple,
        help_text="Each scope is separate: a script that posts jobs and reads their results needs requester and read.",
        error_messages={"required": "Choose at least one scope: a key without any can do nothing."},
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=KEY_EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        help_text="After that the key stops working, as if revoked.",
    )


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=2000, assume_scheme="https", help_text="https only.")
    job = forms.ModelChoiceField(
        queryset=Job.objects.none(),
        to_field_name="public_id",  # the page names jobs by public id, never by primary key
        required=False,
        empty_label="All my jobs",
        label="Events of",
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job"].queryset = Job.objects.filter(requester=user).exclude(status=JobStatus.CANCELLED)


class MturkCredentialForm(forms.Form):
    currency = forms.ChoiceField(
        label="Amounts in",
        choices=Currency.choices,
        initial=Currency.USD,
        widget=forms.RadioSelect,
        help_text="Rewards, bonuses and balances your scripts send and read. Cannot be changed later: make another "
        "pair for the other currency.",
    )
