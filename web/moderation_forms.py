"""The report form: input validation only (moderation.services.report_file decides)."""

from django import forms

from moderation.models import MAX_REPORT_TEXT_CHARS, ReportReason


class ReportForm(forms.Form):
    reason = forms.ChoiceField(label="What is wrong?", choices=ReportReason.choices, widget=forms.RadioSelect)
    text = forms.CharField(
        label="Details",
        required=False,
        max_length=MAX_REPORT_TEXT_CHARS,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What a moderator should look at. Needed for “Other”.",
    )
