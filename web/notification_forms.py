"""The notification preferences form: two checkboxes per kind, in the site and by email."""

from django import forms

from notifications.models import NotificationKind

CHANNELS = {"in_app": "in the site", "email": "by email"}


class NotificationPreferencesForm(forms.Form):
    def __init__(self, *args, current: dict[str, tuple[bool, bool]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for kind in NotificationKind:
            for position, (channel, words) in enumerate(CHANNELS.items()):
                self.fields[f"{kind.value}-{channel}"] = forms.BooleanField(
                    required=False, initial=current[kind.value][position], label=f"{kind.label}: {words}"
                )

    def fields_of(self, kind: str) -> dict[str, forms.BoundField]:
        return {f"{channel}_field": self[f"{kind}-{channel}"] for channel in CHANNELS}

    def choices(self) -> dict[str, tuple[bool, bool]]:
        """kind → (in the site, by email), from the cleaned form."""
        data = self.cleaned_data
        return {kind: (data[f"{kind}-in_app"], data[f"{kind}-email"]) for kind in NotificationKind.values}
