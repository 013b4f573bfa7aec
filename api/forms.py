from django import forms

from marketplace.models import Job, JobStatus


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What will use it, e.g. “nightly upload script”.")


class WebhookEndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=2000, assume_scheme="https", help_text="https only.")
    job = forms.ModelChoiceField(
        queryset=Job.objects.none(), required=False, empty_label="All my jobs", label="Events of"
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["job"].queryset = Job.objects.filter(requester=user).exclude(status=JobStatus.CANCELLED)
