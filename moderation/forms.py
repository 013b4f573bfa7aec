"""What moderators type in the admin's action pages: input validation only (the services decide)."""

from django import forms

from marketplace.models import MAX_MODERATION_REASON_CHARS
from moderation.services import BalanceDecision


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label="Reason",
        max_length=MAX_MODERATION_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="Recorded in the audit log. The person concerned reads it too.",
    )


class ReportResolveForm(forms.Form):
    note = forms.CharField(
        label="Resolution note",
        max_length=MAX_MODERATION_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="What you found and what you did. Also the reason of a ban or hide chosen below.",
    )
    ban_user = forms.BooleanField(
        label="Ban the reported user (for a job: its requester)",
        required=False,
    )
    hide_job = forms.BooleanField(label="Hide the reported job (reports of a job only)", required=False)


class BalanceDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        label="What happens to their earned balance",
        choices=BalanceDecision.CHOICES,
        widget=forms.RadioSelect,
        help_text="The balance stays theirs either way.",
    )
    note = forms.CharField(
        label="Note",
        max_length=MAX_MODERATION_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )
