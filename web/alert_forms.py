"""The work alert form: a board search to be told about, amounts in sats (the service takes msat)."""

from django import forms

from alerts.models import MAX_KEYWORDS_CHARS, MAX_MIN_SATS_PER_HOUR, MAX_TAG_CHARS
from core.money import MSAT_PER_SAT
from marketplace.models import MAX_REWARD_MSAT


class SavedSearchForm(forms.Form):
    keywords = forms.CharField(
        max_length=MAX_KEYWORDS_CHARS,
        required=False,
        help_text="Every word must be in the job's title or description.",
    )
    tag = forms.CharField(label="Tag", max_length=MAX_TAG_CHARS, required=False)
    min_reward = forms.IntegerField(
        label="Minimum reward (sats)", min_value=0, max_value=MAX_REWARD_MSAT // MSAT_PER_SAT, required=False
    )
    min_sats_per_hour = forms.IntegerField(
        label="Minimum sats per hour",
        min_value=0,
        max_value=MAX_MIN_SATS_PER_HOUR,
        required=False,
        help_text="As the board shows it: a job without an estimate of its time does not match a minimum.",
    )
    qualified_only = forms.BooleanField(label="Only jobs I qualify for", required=False)
    email = forms.BooleanField(
        label="Email me too",
        required=False,
        help_text="If your notification settings allow emails of work alerts.",
    )

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "keywords": data["keywords"],
            "tag": data["tag"],
            "min_reward_msat": data["min_reward"] * MSAT_PER_SAT if data["min_reward"] else None,
            "min_sats_per_hour": data["min_sats_per_hour"] or None,
            "qualified_only": data["qualified_only"],
            "email": data["email"],
        }
