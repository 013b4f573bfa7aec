"""Forms of the qualification pages: input parsing only; the services in marketplace.qualifications check the rest."""

from django import forms

from marketplace.qualifications import GUARD_LABELS, GUARDS, MAX_REQUIREMENTS_PER_JOB, SYSTEM_TYPES
from marketplace.services import MAX_TASKS_PER_WORKER

COMPARATOR_CHOICES = [
    ("GreaterThanOrEqualTo", "at least (≥)"),
    ("GreaterThan", "more than (>)"),
    ("LessThanOrEqualTo", "at most (≤)"),
    ("LessThan", "less than (<)"),
    ("EqualTo", "exactly (=)"),
    ("NotEqualTo", "anything but (≠)"),
    ("In", "one of"),
    ("NotIn", "none of"),
    ("Exists", "has it"),
    ("DoesNotExist", "does not have it"),
]


class QualificationTypeForm(forms.Form):
    name = forms.CharField(max_length=100)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2_000, required=False)
    auto_grant_value = forms.IntegerField(
        label="Grant on request with score",
        required=False,
        help_text="Leave empty to grant it yourself (or by a test). With a score, any worker who asks gets it.",
    )


class GrantForm(forms.Form):
    worker_id = forms.CharField(label="Worker id", max_length=14, help_text="Like A1B2C3D4E5F6G7.")
    value = forms.IntegerField(label="Score", initial=1)


class GrantCsvForm(forms.Form):
    csv_file = forms.FileField(
        label="CSV of worker ids", help_text="One worker id per row, optionally with a score (worker_id,value)."
    )


class RequirementForm(forms.Form):
    qualification_type_id = forms.ChoiceField(label="Qualification", required=False)
    comparator = forms.ChoiceField(label="Comparison", choices=COMPARATOR_CHOICES)
    integer_values = forms.CharField(
        label="Value(s)", required=False, max_length=200, help_text="A whole number; for “one of”, several: 1, 2, 3"
    )
    actions_guarded = forms.ChoiceField(
        label="Needed for", choices=[(guard, GUARD_LABELS[guard].capitalize()) for guard in GUARDS]
    )

    def __init__(self, *args, type_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["qualification_type_id"].choices = [("", "—"), *type_choices]

    def clean_integer_values(self) -> list[int]:
        text = self.cleaned_data["integer_values"].strip()
        if not text:
            return []
        try:
            return [int(part) for part in text.replace(";", ",").split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError("Give whole numbers, separated by commas.") from None

    def requirement(self) -> dict | None:
        if not self.cleaned_data.get("qualification_type_id"):
            return None
        return {name: self.cleaned_data[name] for name in RequirementForm.base_fields}


RequirementFormSet = forms.formset_factory(
    RequirementForm, extra=2, max_num=MAX_REQUIREMENTS_PER_JOB, validate_max=True, absolute_max=MAX_REQUIREMENTS_PER_JOB
)


class WorkerRulesForm(forms.Form):
    excluded_job_ids = forms.MultipleChoiceField(
        label="Not workers who took any of these jobs",
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    max_tasks_per_worker = forms.IntegerField(
        label="At most this many tasks per worker",
        min_value=1,
        max_value=MAX_TASKS_PER_WORKER,
        required=False,
        help_text="Empty: no cap.",
    )

    def __init__(self, *args, other_jobs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["excluded_job_ids"].choices = list(other_jobs)


def requirement_initial(requirements: list[dict]) -> list[dict]:
    """A job's stored requirements as the formset shows them (values as "95, 96")."""
    return [
        {**requirement, "integer_values": ", ".join(str(value) for value in requirement.get("integer_values") or [])}
        for requirement in requirements
    ]


def type_choices(custom_types) -> list[tuple[str, str]]:
    """The choices of a requirement's type: Boltwork's system types, then the requester's own."""
    system = [(type_id, system.name) for type_id, system in SYSTEM_TYPES.items()]
    return system + [(qualification.public_id, qualification.name) for qualification in custom_types]
