"""Input validation for job pages. Forms only parse and check what people typed; services decide."""

from allauth.account.forms import SignupForm as AllauthSignupForm
from django import forms
from django.conf import settings
from django.utils import timezone

from core.money import MSAT_PER_SAT
from core.text import MAX_DESCRIPTION_CHARS, MAX_INSTRUCTIONS_CHARS, MAX_PROMPT_CHARS
from marketplace.answer_fields import FIELD_KINDS, kind_choices, kind_specific_keys
from marketplace.models import MAX_ASSIGNMENTS_PER_TASK, MAX_AUTO_APPROVE_SECONDS, MAX_REWARD_MSAT, MIN_REWARD_MSAT, Job


class SignupForm(AllauthSignupForm):
    display_name = forms.CharField(
        max_length=80,
        required=False,
        label="Display name",
        help_text="Optional. Shown to requesters and workers instead of your username.",
    )

    def save(self, request):
        user = super().save(request)
        if self.cleaned_data.get("display_name"):
            user.display_name = self.cleaned_data["display_name"].strip()
            user.save(update_fields=["display_name"])
        return user


class JobTermsForm(forms.Form):
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        max_length=MAX_DESCRIPTION_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Markdown. Shown on the job board: what the job is and who it is for.",
    )
    instructions = forms.CharField(
        max_length=MAX_INSTRUCTIONS_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown. Shown above every task: how to do it well, with examples.",
    )
    reward_sats = forms.IntegerField(
        label="Reward per assignment (sats)",
        min_value=MIN_REWARD_MSAT // MSAT_PER_SAT,
        max_value=MAX_REWARD_MSAT // MSAT_PER_SAT,
    )
    assignments_per_task = forms.IntegerField(
        min_value=1,
        max_value=MAX_ASSIGNMENTS_PER_TASK,
        initial=1,
        help_text="How many different workers should do each task.",
    )
    time_limit_minutes = forms.IntegerField(
        label="Time limit per assignment (minutes)",
        min_value=1,
        max_value=7 * 24 * 60,
        initial=10,
    )
    estimated_seconds_per_task = forms.IntegerField(
        label="Estimated time per task (seconds)",
        min_value=1,
        max_value=7 * 24 * 3600,
        required=False,
        initial=60,
        help_text="How long a careful worker takes. Workers see it, with the sats per hour your reward makes.",
    )
    auto_approve_hours = forms.IntegerField(
        label="Auto-approve after (hours)",
        min_value=0,
        max_value=MAX_AUTO_APPROVE_SECONDS // 3600,
        initial=72,
        help_text="Submissions you have not reviewed by then are approved and paid automatically.",
    )
    expires_at = forms.DateTimeField(
        label="Expires (optional)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="After this the job leaves the board and takes no new work.",
    )
    tags = forms.CharField(
        max_length=400, required=False, help_text="Comma-separated, e.g. images, labelling, english."
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].label = f"Expires (optional, {time_zone_name()} time)"

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("Choose a time in the future.")
        return expires_at

    def service_arguments(self) -> dict:
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "instructions": data["instructions"],
            "reward_msat": data["reward_sats"] * MSAT_PER_SAT,
            "assignments_per_task": data["assignments_per_task"],
            "time_limit_seconds": data["time_limit_minutes"] * 60,
            "auto_approve_seconds": data["auto_approve_hours"] * 3600,
            "estimated_seconds_per_task": data["estimated_seconds_per_task"],
            "expires_at": data["expires_at"],
            "tags": [name.strip() for name in data["tags"].split(",") if name.strip()],
        }

    @staticmethod
    def initial_from_job(job: Job) -> dict:
        return {
            "title": job.title,
            "description": job.description,
            "instructions": job.instructions,
            "reward_sats": job.reward_msat // MSAT_PER_SAT,
            "assignments_per_task": job.assignments_per_task,
            "time_limit_minutes": job.time_limit_seconds // 60,
            "auto_approve_hours": job.auto_approve_seconds // 3600,
            "estimated_seconds_per_task": job.estimated_seconds_per_task,
            "expires_at": timezone.localtime(job.expires_at) if job.expires_at else None,
            "tags": ", ".join(tag.name for tag in job.tags.all()),
        }


class ExpiryForm(forms.Form):
    expires_at = forms.DateTimeField(
        label="New expiry",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for no expiry.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["expires_at"].label = f"New expiry ({time_zone_name()} time)"


def time_zone_name() -> str:
    """The zone times are typed in: the browser's (web.middleware.BrowserTimeZoneMiddleware), else UTC."""
    return timezone.get_current_timezone_name()


class BuilderPromptForm(forms.Form):
    prompt = forms.CharField(
        max_length=MAX_PROMPT_CHARS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Markdown shown above the fields. Put a task's values in with {{column}}, e.g. "
        "![photo]({{image_url}}) or “Is {{word}} a noun?”.",
    )


class KindSelect(forms.Select):
    """The builder's menu of kinds. Each option names the kind-specific inputs its kind uses (`data-uses="min max"`),
    from the registry, so the builder's script shows only those when the kind changes."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        kind = FIELD_KINDS.get(str(value))
        if kind is not None:
            option["attrs"]["data-uses"] = " ".join(kind.definition_keys)
        return option


class BuilderFieldForm(forms.Form):
    name = forms.CharField(max_length=40, help_text="Column name in the results, e.g. label.")
    label = forms.CharField(max_length=300, help_text="The question the worker sees.")
    kind = forms.ChoiceField(choices=kind_choices, widget=KindSelect)
    required = forms.BooleanField(required=False, initial=True)
    help_text = forms.CharField(max_length=500, required=False, label="Help text")
    choices = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For choice fields: one choice per line.",
    )
    min = forms.DecimalField(required=False, label="Minimum", help_text="For number fields.")
    max = forms.DecimalField(required=False, label="Maximum", help_text="For number fields.")

    @property
    def kind_inputs_used(self) -> tuple[str, ...]:
        """The kind-specific inputs (choices, min, max) that the chosen kind uses; the page hides the others.

        A kind the registry does not know counts as the menu's first kind, the one a browser shows selected."""
        first_kind = next(iter(FIELD_KINDS.values()))
        return FIELD_KINDS.get(str(self["kind"].value()), first_kind).definition_keys

    def clean(self) -> dict:
        cleaned_data = super().clean()
        for key in kind_specific_keys():
            if key not in self.kind_inputs_used:
                # A hidden input may still hold what was typed before the kind changed: neither checked nor kept.
                self.errors.pop(key, None)
                cleaned_data[key] = self.fields[key].to_python("")
        return cleaned_data

    def as_field_definition(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "label": data["label"],
            "kind": data["kind"],
            "required": data["required"],
            "help_text": data["help_text"],
            "choices": data["choices"],
            "min": data["min"],
            "max": data["max"],
        }


BuilderFieldFormSet = forms.formset_factory(BuilderFieldForm, extra=0, can_delete=True, max_num=50)


def builder_field_initial(field: dict) -> dict:
    return {**field, "choices": "\n".join(field.get("choices") or [])}


class HtmlTemplateForm(forms.Form):
    html_template = forms.CharField(
        label="HTML template",
        max_length=200_000,
        widget=forms.Textarea(attrs={"rows": 18, "class": "code", "spellcheck": "false"}),
        help_text="A Mechanical Turk style template: put a task's values in with ${column}. It runs in a "
        "sandbox; its <form> is submitted for the worker by Boltwork.",
    )
    asset_hosts = forms.CharField(
        label="Asset hosts (optional)",
        required=False,
        max_length=2_000,
        widget=forms.Textarea(attrs={"rows": 3, "class": "code", "spellcheck": "false"}),
        help_text="The template may load files (scripts, styles, images, fonts, media) only from this site, unless "
        "you name other https origins here, one per line, e.g. https://cdn.example.com. Workers see this list: "
        "what they type can reach these hosts.",
    )

    def asset_host_list(self) -> list[str]:
        return self.cleaned_data["asset_hosts"].split()


class TaskCsvForm(forms.Form):
    csv_file = forms.FileField(label="CSV file", required=False, help_text="UTF-8, with a header row.")
    csv_text = forms.CharField(
        label="…or paste CSV",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "class": "code", "spellcheck": "false"}),
    )

    def clean_csv_file(self):
        upload = self.cleaned_data.get("csv_file")
        if upload and upload.size > settings.TASK_CSV_MAX_BYTES:
            megabytes = settings.TASK_CSV_MAX_BYTES // (1024 * 1024)
            raise forms.ValidationError(f"The file is larger than {megabytes} MB. Split it into several uploads.")
        return upload

    def clean(self):
        data = super().clean()
        if not self.errors and not data.get("csv_file") and not data.get("csv_text", "").strip():
            raise forms.ValidationError("Choose a CSV file or paste CSV text.")
        if data.get("csv_file") and data.get("csv_text", "").strip():
            raise forms.ValidationError("Give either a file or pasted text, not both.")
        return data


class SingleTaskForm(forms.Form):
    """One task typed in by hand: a text box per input column."""

    def __init__(self, columns: list[str], *args, **kwargs) -> None:
        kwargs.setdefault("prefix", "task")
        super().__init__(*args, **kwargs)
        for index, column in enumerate(columns):
            self.fields[f"column_{index}"] = forms.CharField(label=column, max_length=10_000, required=False)
        self.columns = columns

    def row(self) -> dict[str, str]:
        return {column: self.cleaned_data[f"column_{index}"] for index, column in enumerate(self.columns)}


class BoardFilterForm(forms.Form):
    q = forms.CharField(label="Search", max_length=100, required=False)
    tag = forms.SlugField(label="Tag", max_length=40, required=False)
    min_reward = forms.IntegerField(label="Minimum reward (sats)", min_value=0, required=False)
    sort = forms.ChoiceField(
        label="Sort by",
        choices=[("newest", "Newest"), ("reward", "Highest reward"), ("sats_per_hour", "Most sats per hour")],
        required=False,
    )
    qualified = forms.BooleanField(label="Only jobs I qualify for", required=False)
